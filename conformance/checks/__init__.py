"""The checks, one module each behind one interface (`base.Check`), and the plan that
pytest (`test_gate.py`), `run`, `check` and the report share:

    special             the special cases of data/special_values.toml, each on its own
    accuracy            every input of an input set against the correctly rounded reference
    layout              the same values in other layouts, bitwise against the plain call
    threads             one intra-op thread against the default pool, bitwise
    eager-vs-compiled   a compiled variant against its eager counterpart, bitwise
    dtype               the output dtype, and what integer, bool and complex inputs do

`CHECKS` is their order of running: the special values first, each in arrays of its own,
since an input that hangs or crashes an implementation is most often one of them, and is
then known (and left out) before the large arrays of the other checks are called; the
checks that compare an implementation with itself reuse the first accuracy set's outputs.
"""

from __future__ import annotations

from dataclasses import dataclass

from .accuracy import Accuracy
from .base import Check, Scope
from .compiled import EagerVsCompiled
from .dtype import DtypeHandling
from .layout import Layout
from .special import Special
from .threads import Threads

CHECKS: tuple[Check, ...] = (
    Special(),
    Accuracy(),
    Layout(),
    Threads(),
    EagerVsCompiled(),
    DtypeHandling(),
)


@dataclass(frozen=True)
class Planned:
    """One finding a run will produce: its check, dtype ("all" for the implementation
    scope), quantity (None there) and the last part of its id."""

    check: Check
    dtype: str
    quantity: str | None
    part: str


def plan(target, device: str, dtypes=None) -> list[Planned]:
    """Every finding of `target` (engine.Target) on `device`, for the dtypes asked for that
    it supports, in the order they are produced."""
    out = []
    for dtype in [d for d in target.dtypes if dtypes is None or d in dtypes]:
        for quantity in target.quantities:
            out += _planned(target, device, Scope.QUANTITY, dtype, quantity)
    return out + _planned(target, device, Scope.IMPLEMENTATION, "all", None)


def _planned(target, device, scope, dtype, quantity) -> list[Planned]:
    return [
        Planned(check, dtype, quantity, part)
        for check in CHECKS
        if check.scope is scope and check.applies(target, device)
        for part in check.ids(dtype, quantity)
    ]


__all__ = ["CHECKS", "Check", "Planned", "Scope", "plan"]
