"""dtype: what integer, bool and complex inputs give, and the effective constants, once per
implementation and device (a user's function is only defined on the float dtypes)."""

from __future__ import annotations

import numpy as np

import reference
from reference import format_of

from ..axes import CheckName
from ..findings import Finding, finding_id
from ..findings import finding as make_finding
from ..measure import Figure, as_float64, encoding_distance, hexf
from ..process.worker import WorkerError
from .base import Check, Scope

_OTHER_DTYPES = ("int32", "int64", "bool", "complex64")


class DtypeHandling(Check):
    name = CheckName.DTYPE
    scope = Scope.IMPLEMENTATION

    def applies(self, target, device: str) -> bool:
        return target.user is None

    def run(self, ctx) -> list[Finding]:
        return [_dtype_handling(ctx)]


def _dtype_handling(ctx) -> Finding:
    """What integer, bool and complex inputs give, and the effective constants.

    An error or a promotion to a floating (or, for complex input, complex) result are both
    acceptable; a result that silently keeps an integer or bool dtype (truncated values)
    or drops the imaginary part of complex input is a failure. The effective constants,
    λ = selu(1) and λα = -selu(-inf) as the implementation computes them, are recorded
    against the correctly rounded constants of each dtype (their accuracy is judged by
    the special-value check).
    """
    engine, target, device = ctx.engine, ctx.target, ctx.device
    worker = engine.worker(target)
    record = {"impl": target.id, "device": device, "inputs": {}, "constants": {}}
    values = np.array([-2, -1, 0, 1, 2])
    problems = []
    for name in _OTHER_DTYPES:
        x = values.astype(name)
        try:
            (result,) = worker.call(target.variant, "forward", device, [(x, None)])
            if result.error:
                outcome = f"error: {result.error}"
            else:
                kind = result.output.dtype.kind
                outcome = f"{result.output.dtype}: " + ", ".join(
                    str(v) for v in result.output.ravel().tolist()
                )
                if kind in "iub" or (x.dtype.kind == "c" and kind != "c"):
                    problems.append(f"{name} input gave {outcome}")
        except WorkerError as error:
            outcome = f"worker {error}"
            problems.append(f"{name} input: the worker {error}")
        record["inputs"][name] = outcome
    for dtype in target.dtypes:
        fmt = format_of(dtype)
        x = np.array([1.0, -np.inf]).astype(fmt.dtype)
        expected = reference.selu(x)
        try:
            (result,) = worker.call(target.variant, "forward", device, [(x, None)])
            ok = result.output is not None and result.output.dtype == x.dtype
            got = as_float64(result.output) if ok else None
        except WorkerError:
            got = None
        exp = as_float64(expected)
        entry = {
            "lambda": None if got is None else hexf(got[0]),
            "lambda_correct": hexf(exp[0]),
            "lambda_alpha": None if got is None else hexf(-got[1]),
            "lambda_alpha_correct": hexf(-exp[1]),
        }
        if got is not None:
            entry["lambda_ulp"] = float(encoding_distance(result.output[:1], expected[:1])[0])
            entry["lambda_alpha_ulp"] = float(encoding_distance(result.output[1:], expected[1:])[0])
        record["constants"][dtype] = entry
    tid = finding_id(target.id, device, "all", None, CheckName.DTYPE)
    summary = "; ".join(f"{k} -> {v}" for k, v in record["inputs"].items())
    off = [
        f"{d}: λ {c['lambda']} (correct {c['lambda_correct']}), λα {c['lambda_alpha']} "
        f"(correct {c['lambda_alpha_correct']})"
        for d, c in record["constants"].items()
        if c.get("lambda_ulp") or c.get("lambda_alpha_ulp")
    ]
    message = f"{tid}: {summary}" + (
        "\n  effective constants off: " + "; ".join(off) if off else ""
    )
    if problems:
        message += "\n  silently wrong: " + "; ".join(problems)
    # A result that keeps an integer or bool dtype, or drops an imaginary part, is the
    # failure kind wrong-dtype: unexplained by any profile, it fails unless the policy
    # records it as a deviation of check "dtype".
    figure = Figure(0.0, dict.fromkeys(["wrong-dtype"] if problems else []))
    verdict = engine.policy.judge(
        engine.profile,
        impl=target.id,
        version=ctx.version,
        device=device,
        dtype="all",
        quantity="forward",
        check=CheckName.DTYPE,
        figure=figure,
        bound=0.0,
    )
    return make_finding(tid, CheckName.DTYPE.value, verdict, message, record)
