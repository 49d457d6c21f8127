"""threads: the first accuracy set's inputs with one intra-op thread, bitwise against the
default pool (on the CPU, for the registered implementations: a user's numpy function has
no pool of ours)."""

from __future__ import annotations

import numpy as np

from .. import layout
from ..axes import CheckName
from ..context import CallFailed
from ..findings import Finding
from .base import Check
from .compare import self_comparison


class Threads(Check):
    name = CheckName.THREADS

    def applies(self, target, device: str) -> bool:
        return target.user is None and device == "cpu"

    def run(self, ctx) -> list[Finding]:
        return [_compare(ctx, *next(iter(ctx.accuracy_outputs.values())))]


def _compare(ctx, x: np.ndarray, plain: np.ndarray | None) -> Finding:
    check = "threads"
    try:
        if plain is None:
            (plain,) = ctx.call([(x, None)])
        (single,) = ctx.call([(x, None)], threads=1)
    except CallFailed as failure:
        return ctx.finding_from_failure(check, failure)
    variant = layout.Variant("one intra-op thread", x, None, np.arange(x.size))
    return self_comparison(ctx, check, x, plain, [variant], [single])
