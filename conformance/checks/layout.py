"""layout: the special values and the first accuracy set's finite inputs in other memory
layouts (`layout.variants`: strided, transposed, offset, 0-d, ...), bitwise against the
plain contiguous call."""

from __future__ import annotations

import numpy as np

from .. import inputs, layout
from ..axes import CheckName
from ..context import CallFailed
from ..findings import Finding
from ..measure import as_float64
from .base import Check
from .compare import self_comparison


class Layout(Check):
    name = CheckName.LAYOUT

    def run(self, ctx) -> list[Finding]:
        return [_layout(ctx)]


def _layout(ctx) -> Finding:
    check = "layout"
    specials = inputs.special_array(ctx.dtype)
    specials = specials[~ctx.learned.mask(specials)]
    ordinary = next(iter(inputs.accuracy_sets(ctx.dtype, ctx.quantity).values()))
    usable = np.isfinite(as_float64(ordinary)) & ~ctx.learned.mask(ordinary)
    base = layout.base_vector(specials, ordinary[usable])
    variants = layout.variants(base, specials.size)
    left_out = ctx.learned.left_out(inputs.special_array(ctx.dtype))
    try:
        outputs = ctx.call([(v.array, v.view) for v in variants])
        (plain,) = ctx.call([(base, None)])
    except CallFailed as failure:
        return ctx.finding_from_failure(check, failure, left_out=left_out)
    return self_comparison(ctx, check, base, plain, variants, outputs, left_out)
