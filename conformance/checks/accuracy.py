"""accuracy: every input of each input set of the dtype and quantity (`inputs.accuracy_sets`:
exhaustive, sampled, and the worst-case corpus, replayed input by input) against the
correctly rounded reference, judged by the profile's bound and the recorded deviations."""

from __future__ import annotations

import numpy as np

from .. import corpus, inputs
from ..axes import CheckName
from ..findings import Finding
from ..findings import finding as make_finding
from ..io import CHECKOUT
from ..machine import cpu_level
from ..measure import Figure, summarize
from ..policy import Verdict
from .base import Check


class Accuracy(Check):
    name = CheckName.ACCURACY

    def ids(self, dtype: str, quantity: str | None) -> tuple[str, ...]:
        return inputs.accuracy_set_names(dtype, quantity)

    def run(self, ctx) -> list[Finding]:
        """One finding per input set; the inputs called and their outputs are kept in
        `ctx.accuracy_outputs` for the checks that compare the implementation with
        itself."""
        out = []
        for set_name, x in inputs.accuracy_sets(ctx.dtype, ctx.quantity).items():
            found, called = measure_set(ctx, set_name, x)
            out.append(found)
            ctx.accuracy_outputs[set_name] = called
        return out


def measure_set(ctx, set_name: str, x: np.ndarray) -> tuple[Finding, tuple]:
    """The accuracy finding of one input set, and (inputs called, their outputs) for
    the checks that compare the implementation with itself."""
    check = "accuracy"
    tid = ctx.id(set_name)
    where = f"{ctx.dtype} {ctx.quantity}, {set_name} inputs"
    called = ctx.call_array(x, where, pad=set_name == "corpus")
    left_out = ctx.learned.left_out(x)
    kept = x.ravel()[called.keep]
    if called.output is None:
        finding = ctx.finding_from_failure(
            check, called.failure, input_set=set_name, source=set_name, left_out=left_out
        )
        finding.finding_id = tid
        return finding, (kept, None)
    got = called.output
    cmp, expected = ctx.comparison(kept, got, *ctx.expected(set_name, x, called.keep))
    summary = summarize(kept, got, expected, cmp)
    failed_kinds = {r["kind"]: None for r in left_out}
    figure = summary.figure
    if failed_kinds:
        figure = Figure(figure.max_ulp, {**figure.kinds, **failed_kinds}, None)
    verdict = ctx.judge(check, figure, ctx.bound)
    record = ctx.base_record(input_set=set_name, source=set_name, **summary.as_dict())
    lines = [
        f"{tid}: {summary.count} inputs, max error {summary.max_ulp:g} ulp (bound {ctx.bound:g})"
    ]
    if summary.in_figure < summary.count:
        lines[0] += (
            f"; {summary.count - summary.in_figure} without an ulp figure (NaN given, "
            "or ±inf or NaN due)"
        )
    if left_out:
        record["left_out"] = left_out
        lines.append(f"  {ctx.left_out_text(left_out)}")
    if set_name == "corpus":
        verdict = replay(ctx, kept, cmp, record, lines, verdict)
    if summary.max_ulp > ctx.bound:
        lines.append(
            f"  worst: x = {summary.worst_input}: got {summary.worst_output}, "
            f"expected {summary.worst_expected}"
        )
        record["reproduce"] = ctx.snippet(summary.worst_input)
        lines.append(f"  reproduce: {record['reproduce']}")
    if summary.violations:
        counts = ", ".join(f"{k} x{n}" for k, n in summary.violations.items())
        first = summary.first_violation
        lines.append(
            f"  special-value violations: {counts}; first: {first['kind']} at "
            f"x = {first['input']}: got {first['output']}, expected "
            f"{first['expected']}"
        )
        first["reproduce"] = ctx.snippet(first["input"])
        lines.append(f"  reproduce: {first['reproduce']}")
    return make_finding(tid, check, verdict, "\n".join(lines), record), (kept, got)


def replay(ctx, kept, cmp, record, lines, verdict: Verdict) -> Verdict:
    """The corpus lines of this implementation, device and version, input by input: an
    error grown, or a class changed, at one of them fails the check."""
    found = corpus.replay(
        corpus.entries(ctx.dtype, ctx.quantity),
        impl=ctx.target.id,
        device=ctx.device,
        cpu=cpu_level(),
        version=ctx.version,
        x=kept,
        errors=cmp.ulp,
        kinds=cmp.kinds,
    )
    record["corpus"] = {
        "file": str(corpus.path(ctx.dtype, ctx.quantity).relative_to(CHECKOUT)),
        "compared": found.compared,
        "regressions": found.regressions,
        "improved": found.improved,
        "not_compared": found.others,
    }
    if found.others and not found.compared:
        lines.append(
            f"  its corpus lines ({', '.join(found.others)}) are not compared input by "
            f"input here ({ctx.version} on {cpu_level()}): `make sweep` adds this machine's"
        )
    if found.improved:
        lines.append(f"  {found.improved} corpus inputs improved: `make sweep` refreshes them")
    if not found.regressions:
        return verdict
    lines.append(
        f"  worse than the corpus at {len(found.regressions)} of {found.compared} of its "
        f"inputs: " + "; ".join(found.regressions[:5])
    )
    return Verdict(
        "fail", verdict.deviation, f"regression at {len(found.regressions)} corpus inputs"
    )
