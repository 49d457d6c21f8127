"""The comparison of an implementation with itself that the layout, threads and
eager-vs-compiled checks share: bitwise, with the distance in encodings where the bits
differ (judged against a bound of 0)."""

from __future__ import annotations

import numpy as np

from ..findings import Finding
from ..findings import finding as make_finding
from ..measure import Figure, as_float64, bitwise_differences, encoding_distance, hexf


def self_comparison(ctx, check, base, plain, variants, outputs, left_out=()) -> Finding:
    mismatched, max_distance, first = 0, 0.0, None
    for variant, out in zip(variants, outputs, strict=True):
        expected = plain.ravel()[variant.index]
        differ = bitwise_differences(out.ravel(), expected)
        if differ.any():
            mismatched += 1
            distance = encoding_distance(out.ravel()[differ], expected[differ])
            max_distance = max(max_distance, float(distance.max()))
            if first is None:
                i = int(np.flatnonzero(differ)[0])
                first = {
                    "layout": variant.describe(),
                    "input": hexf(as_float64(base)[variant.index[i]]),
                    "output": hexf(as_float64(out.ravel())[i]),
                    "plain_output": hexf(as_float64(expected)[i]),
                }
    kinds = {r["kind"]: None for r in left_out}
    verdict = ctx.judge(check, Figure(max_distance, kinds, max_distance), 0.0)
    record = ctx.base_record(
        check=check,
        variants=len(variants),
        mismatched=mismatched,
        max_ulp=max_distance,
        first_mismatch=first,
    )
    message = (
        f"{ctx.id(check)}: {mismatched} of {len(variants)} layouts differ from the "
        f"plain contiguous call"
    )
    if first:
        message += (
            f" (up to {max_distance:g} ulp); first: {first['layout']}, x = "
            f"{first['input']}: {first['output']} instead of {first['plain_output']}"
        )
    if left_out:
        record["left_out"] = list(left_out)
        message += f"\n  {ctx.left_out_text(list(left_out))}"
    return make_finding(ctx.id(check), check, verdict, message, record)
