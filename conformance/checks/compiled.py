"""eager-vs-compiled: a compiled variant (torch.compile, XLA, jit) on the first accuracy
set's inputs, bitwise against its eager counterpart (`Variant.eager`)."""

from __future__ import annotations

import numpy as np

from .. import layout
from ..axes import CheckName
from ..context import CallFailed
from ..findings import Finding
from .base import Check
from .compare import self_comparison


class EagerVsCompiled(Check):
    name = CheckName.EAGER_VS_COMPILED

    def applies(self, target, device: str) -> bool:
        return target.eager is not None

    def run(self, ctx) -> list[Finding]:
        return [_compare(ctx, *next(iter(ctx.accuracy_outputs.values())))]


def _compare(ctx, x: np.ndarray, compiled: np.ndarray | None) -> Finding:
    check = "eager-vs-compiled"
    try:
        if compiled is None:
            (compiled,) = ctx.call([(x, None)])
        (eager,) = ctx.call([(x, None)], variant=ctx.target.eager)
    except CallFailed as failure:
        return ctx.finding_from_failure(check, failure)
    variant = layout.Variant(
        f"compiled, against eager {ctx.target.eager}", x, None, np.arange(x.size)
    )
    return self_comparison(ctx, check, x, eager, [variant], [compiled])
