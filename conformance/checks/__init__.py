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


@dataclass(frozen=True)
class Step:
    """The checks that run in one context: a dtype and quantity, or ("all", None) for the
    implementation scope."""

    scope: Scope
    dtype: str
    quantity: str | None
    checks: tuple[Check, ...]


def steps(target, device: str, dtypes=None) -> list[Step]:
    """The steps of `target` (engine.Target) on `device`, for the dtypes asked for that it
    supports, in the order they run; the engine runs them, `plan` lists their findings."""
    wanted = [
        (Scope.QUANTITY, dtype, quantity)
        for dtype in target.dtypes
        if dtypes is None or dtype in dtypes
        for quantity in target.quantities
    ]
    out = []
    for scope, dtype, quantity in [*wanted, (Scope.IMPLEMENTATION, "all", None)]:
        chosen = [c for c in CHECKS if c.scope is scope and c.applies(target, device)]
        if chosen:
            out.append(Step(scope, dtype, quantity, tuple(chosen)))
    return out


def plan(target, device: str, dtypes=None) -> list[Planned]:
    """Every finding of `target` on `device`, in the order they are produced."""
    return [
        Planned(check, step.dtype, step.quantity, part)
        for step in steps(target, device, dtypes)
        for check in step.checks
        for part in check.ids(step.dtype, step.quantity)
    ]


__all__ = ["CHECKS", "Check", "Planned", "Scope", "Step", "plan", "steps"]
