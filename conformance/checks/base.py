"""The interface of a check.

A check has a `name` (`axes.CheckName`), a `scope` (run once per dtype and quantity, or
once per implementation and device), says which targets it applies to (`applies`) and
which findings it produces (`ids`: the last parts of their finding ids, which are also the
pytest ids), and `run`s on a context (`engine.Context`, or `engine.ImplementationContext`
for the implementation scope) to give those findings, each judged through the policy
(`ctx.judge`).
"""

from __future__ import annotations

from enum import Enum

from ..axes import CheckName


class Scope(Enum):
    QUANTITY = "quantity"  # once per (dtype, quantity)
    IMPLEMENTATION = "implementation"  # once per implementation and device (dtype "all")


class Check:
    name: CheckName
    scope: Scope = Scope.QUANTITY

    def applies(self, target, device: str) -> bool:
        """Whether it runs for `target` (engine.Target) on `device`."""
        return True

    def ids(self, dtype: str, quantity: str | None) -> tuple[str, ...]:
        """The last parts of the finding ids it produces."""
        return (self.name.value,)

    def run(self, ctx) -> list:
        """Its findings (findings.Finding), in the order of `ids`."""
        raise NotImplementedError
