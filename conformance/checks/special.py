"""special: every special case of data/special_values.toml (`inputs.special_cases`) alone,
in the body, the tail and a one-element array (`inputs.SPECIAL_POSITIONS`). A case that
hangs or crashes the implementation is learned (`learned.py`) and left out of every later
call of the implementation and quantity."""

from __future__ import annotations

import numpy as np

from .. import inputs
from ..axes import CheckName
from ..context import CallFailed
from ..findings import Finding, attach_verdict, worse
from ..findings import finding as make_finding
from ..learned import LEARNED_KINDS, FailedInput
from ..measure import Figure, as_float64, hexf, round_significant
from ..policy import Verdict
from .base import Check


class Special(Check):
    name = CheckName.SPECIAL

    def run(self, ctx) -> list[Finding]:
        return [_special(ctx)]


def _special(ctx) -> Finding:
    """Every special case alone, in the body, the tail and a one-element array."""
    check = "special"
    cases = inputs.special_cases(ctx.dtype)
    values = inputs.special_array(ctx.dtype)
    arrays = inputs.special_arrays(values)
    n = inputs.SPECIAL_ELEMENTS
    x_all = np.concatenate(arrays)
    outcomes = _outcomes(ctx, cases, arrays)
    got_all = np.concatenate(
        [
            o if isinstance(o, np.ndarray) else np.zeros_like(a)
            for o, a in zip(outcomes, arrays, strict=True)
        ]
    )
    left, right = ctx.expected("special", x_all)
    cmp, _ = ctx.comparison(x_all, got_all, left, right)
    # The right-hand derivative at ±0, by index into x_all (the other correct answer).
    right_at = {}
    if right is not None:
        zeros, evaluation = right
        indices = np.flatnonzero(zeros).tolist()
        right_at = dict(zip(indices, as_float64(evaluation.values).tolist(), strict=True))
    records, bad, worst = [], [], Verdict("pass")
    for i, case in enumerate(cases):
        span = slice(i * n, (i + 1) * n)
        expected = [hexf(as_float64(left.values[span.start]))]
        if span.start in right_at:
            expected.append(hexf(right_at[span.start]))
        rec, verdict, line = _case(ctx,
            case, values[i : i + 1], expected, got_all[span], cmp, span,
            outcomes[2 * i : 2 * i + 2],
        )  # fmt: skip
        records.append(rec)
        if line:
            bad.append(f"{line} [{verdict.verdict}]")
        worst = worse(worst, verdict)
    message = f"{ctx.id(check)}: {len(cases) - len(bad)} of {len(cases)} special cases right"
    message += " (each alone: in the body, the tail, a one-element array)"
    if bad:
        for r in records:  # a reproducer for each wrong case (each is one call)
            if not r["ok"] and r["output"] is not None:
                r["reproduce"] = ctx.snippet(r["input"])
        message += "\n" + "\n".join(bad)
        first_bad = next((r for r in records if r.get("reproduce")), None)
        if first_bad:
            message += f"\n  reproduce: {first_bad['reproduce']}"
    record = ctx.base_record(check=check, cases=records)
    return make_finding(ctx.id(check), check, worst, message, record)


def _outcomes(ctx, cases, arrays) -> list:
    """The outcome of every array of `special_arrays`: an output, a CallFailed, or
    the FailedInput learned before that stands for its value (not called)."""
    outcomes: list = [None] * len(arrays)
    queue = list(range(len(arrays)))
    while queue:
        for k in queue:
            for failed in ctx.learned.inputs:
                if failed.matches(arrays[k][:1])[0]:
                    outcomes[k] = failed
        queue = [k for k in queue if outcomes[k] is None]
        if not queue:
            break
        try:
            for k, outcome in zip(
                queue, ctx.outcomes([(arrays[k], None) for k in queue]), strict=True
            ):
                outcomes[k] = outcome
            break
        except CallFailed as failure:
            for k, outcome in zip(queue, failure.done, strict=False):
                outcomes[k] = outcome
            k = queue[failure.index]
            outcomes[k] = failure
            if failure.kind in LEARNED_KINDS and not ctx.learned.exhausted:
                case = cases[k // 2]
                where = f"{ctx.dtype} {ctx.quantity}, special case {case.name}"
                value = float(as_float64(arrays[k][0]))
                ctx.learned.add(FailedInput(value, failure.kind, where, failure.message))
            elif ctx.learned.exhausted:
                for j in queue[failure.index + 1 :]:
                    outcomes[j] = CallFailed(failure.kind, ctx.learned.exhausted)
                break
            queue = queue[failure.index + 1 :]
    return outcomes


def _case(ctx, case, x0, expected, got, cmp, span, outcomes) -> tuple[dict, Verdict, str]:
    """The record of one special case, its verdict and, when it is wrong, the line that
    says so. `expected`: its correct values (hex; at ±0 the derivative has two);
    `outcomes`: those of its long array and of its one-element array."""
    errors = cmp.ulp[span]
    kinds_of = {k: m[span] for k, m in cmp.kinds.items()}
    called = np.zeros(errors.size, dtype=bool)
    outputs, wrong, failed, kinds, position_ulp = {}, [], {}, set(), []
    for position, where in inputs.SPECIAL_POSITIONS.items():
        outcome = outcomes[0 if where.stop <= inputs.SPECIAL_LENGTH else 1]
        if not isinstance(outcome, np.ndarray):
            failed[position] = outcome
            outputs[position] = None
            continue
        idx = np.arange(errors.size)[where]
        called[idx] = True
        # The worst element of the position: a violation first, then the largest error.
        score = np.where(np.isnan(errors[idx]), np.inf, errors[idx])
        for mask in kinds_of.values():
            score = np.where(mask[idx], np.inf, score)
        j = int(idx[np.argmax(score)])
        position_kinds = [k for k, mask in kinds_of.items() if mask[j]]
        error = None if np.isnan(errors[j]) else float(errors[j])
        outputs[position] = hexf(as_float64(got[j]))
        if position_kinds or error is None or error > ctx.bound:
            wrong.append(position)
        kinds |= set(position_kinds)
        if error is not None:
            position_ulp.append(error)
    failure_kinds = {f.kind for f in failed.values()}
    ok = not wrong and not failed
    first_wrong = next((p for p in (*wrong, *outputs) if outputs[p] is not None), None)
    rec = ctx.base_record(
        case=case.name,
        input=hexf(as_float64(x0)[0]),
        output=outputs[first_wrong] if first_wrong else None,
        outputs=outputs,
        expected=expected,
        ok=ok,
        ulp=round_significant(max(position_ulp)) if position_ulp else None,
        kinds=sorted(kinds | failure_kinds),
        wrong_positions=[p for p in outputs if p in wrong or p in failed],
    )
    if failed:
        reason = next(iter(failed.values()))
        rec["error"] = (
            f"not called: {reason.describe()}"
            if isinstance(reason, FailedInput)
            else reason.message
        )
    if ok:
        verdict = Verdict("pass")
    else:
        figure = Figure.of(errors[called], {k: m[called] for k, m in kinds_of.items()})
        if failed:
            figure = Figure(np.inf, {**figure.kinds, **dict.fromkeys(failure_kinds)}, None)
        verdict = ctx.judge("special", figure, ctx.bound, case=case.name)
    rec["verdict"] = verdict.verdict
    attach_verdict(rec, verdict)
    if ok:
        return rec, verdict, ""
    return rec, verdict, f"  {case.name}: x = {rec['input']}: {position_text(rec)}"


def position_text(record: dict) -> str:
    """What a wrong special case gave, by position: "got λ in the tail and one-element,
    nan in the body; expected nan (nan-not-propagated)"."""
    by_output: dict = {}
    for position, output in record["outputs"].items():
        by_output.setdefault(output, []).append(position)
    parts = []
    for output, positions in by_output.items():
        where = " and ".join(positions)
        if output is None:
            parts.append(f"{record.get('error', 'failed')} ({where})")
        elif len(by_output) == 1:
            parts.append(f"got {output}")
        else:
            parts.append(f"{output} in the {where}")
    kinds = ", ".join(record["kinds"])
    # The error where it has a figure; a wrong class is named by its kind alone.
    ulp = "" if record["ulp"] is None or (kinds and not record["ulp"]) else f"{record['ulp']:g} ulp"
    detail = ", ".join(t for t in (kinds, ulp) if t)
    text = "; ".join(parts) + f"; expected {' or '.join(record['expected'])}"
    return text + (f" ({detail})" if detail else "")
