"""One chunk of a sweep: the bit patterns [start, stop) of a format, measured in the worker.

The worker process that holds the implementation builds the inputs itself (a range of
integers viewed as the format: nothing but two integers crosses the pipe), calls the
implementation once on the whole chunk, evaluates the reference and returns a `RangeSummary`.

The measurement is `measure.compare`, the gate's own, but only where it is needed: an
output whose bits equal the correctly rounded value (any NaN for NaN) is within 0.5 ulp by
definition, and its error is the reference's residual, read off without comparing classes.
Only the other outputs (none to a few per million for a careful implementation) go
through `compare_one_sided`, which also accepts either one-sided derivative at x = ±0.
This keeps the sweep at memory speed: the reference's float64 fast path is the main cost.
"""

from __future__ import annotations

import time

import numpy as np

import reference
from reference import Format, format_of

from ..measure import as_float64, compare_one_sided, error_columns, hexf, ulp_error
from .call import ChunkError, call, functions
from .call import inputs as bit_patterns
from .summary import BUCKETS, NO_FIGURE, TOP, RangeSummary


def inputs(fmt: Format, start: int, stop: int) -> np.ndarray:
    """Every value of `fmt` whose bit pattern lies in [start, stop), in that order."""
    return bit_patterns(fmt.dtype, start, stop)


def measure(function, dtype: str, quantity: str, start: int, stop: int) -> RangeSummary:
    """Call `function` on the chunk and measure it; ChunkError if the call goes wrong."""
    (result,) = measure_many([function], dtype, quantity, start, stop)
    if isinstance(result, ChunkError):
        raise result
    return result


def measure_many(functions, dtype: str, quantity: str, start: int, stop: int) -> list:
    """Measure several implementations on the same chunk, evaluating the reference once:
    a RangeSummary, or the ChunkError, for each function. The reference's time (and the part of
    the measurement they share) is split evenly between them."""
    fmt = format_of(dtype)
    t0 = time.perf_counter()
    truth = _Truth(fmt, quantity, start, stop)
    shared = time.perf_counter() - t0 - truth.reference_seconds
    out = []
    for function in functions:
        t1 = time.perf_counter()
        x = truth.bits.copy().view(fmt.dtype)  # the implementation's copy
        try:
            got = call(function, x, truth.bits, dtype)
        except ChunkError as error:
            out.append(error)
            continue
        t2 = time.perf_counter()
        summary = _summarize(truth, got)
        t3 = time.perf_counter()
        summary.seconds = {
            "implementation": t2 - t1,
            "reference": truth.reference_seconds / len(functions),
            "measurement": shared / len(functions) + (t3 - t2),
        }
        out.append(summary)
    return out


class _Truth:
    """What every implementation of a chunk is measured against: the inputs, the
    reference and the error each correctly rounded output would have."""

    def __init__(self, fmt: Format, quantity: str, start: int, stop: int):
        self.fmt, self.quantity, self.start, self.stop = fmt, quantity, start, stop
        self.bits = inputs(fmt, start, stop)
        self.x = self.bits.view(fmt.dtype)
        t = time.perf_counter()
        stats = reference.EvalStats()
        self.evaluation = evaluation = reference.evaluate(quantity, self.x, stats=stats)
        self.reference_seconds = time.perf_counter() - t
        self.mpmath = stats.mpmath
        uint = self.bits.dtype.type
        self.sign_bit = uint(1 << (fmt.bits - 1))
        self.inf_bits = uint(((1 << (fmt.bits - fmt.precision)) - 1) << (fmt.precision - 1))
        self.e_bits = e_bits = evaluation.values.view(self.bits.dtype)

        # A correctly rounded output's error is |residual|, in ulps of the exact value's
        # binade (twice the residual where the exact value lies just below a power of two
        # and was rounded up to it, as `measure.compare` counts it); NaN and ±inf: exact.
        with np.errstate(invalid="ignore"):
            errors = np.abs(evaluation.residual)
            np.fmax(errors, 0.0, out=errors)  # NaN -> 0
        fraction = uint((1 << (fmt.precision - 1)) - 1)
        power_of_two = np.flatnonzero((e_bits & fraction) == 0)
        power_of_two = power_of_two[
            ((e_bits[power_of_two] & ~self.sign_bit) >> uint(fmt.precision - 1)) >= 2
        ]
        if power_of_two.size:
            e = as_float64(evaluation.values[power_of_two])
            with np.errstate(invalid="ignore"):
                below = evaluation.residual[power_of_two] * np.sign(e) < 0
            errors[power_of_two[below]] *= 2
        self.errors = errors


def _summarize(truth: _Truth, got: np.ndarray) -> RangeSummary:
    fmt, quantity, start, stop = truth.fmt, truth.quantity, truth.start, truth.stop
    bits, x, evaluation = truth.bits, truth.x, truth.evaluation
    uint = bits.dtype.type
    sign_bit, inf_bits, e_bits = truth.sign_bit, truth.inf_bits, truth.e_bits
    g_bits = got.view(bits.dtype)
    # Bits equal, or both NaN (whatever the payload): correctly rounded.
    other = np.flatnonzero(g_bits != e_bits)
    both_nan = ((g_bits[other] & ~sign_bit) > inf_bits) & ((e_bits[other] & ~sign_bit) > inf_bits)
    other = other[~both_nan]
    errors = truth.errors.copy()

    # The others. Where both values are finite and nonzero (and x is not ±0, where the
    # derivative has two right values) only the size of the error is in question:
    # `ulp_error`. The rest, rare, go through the gate's whole comparison.
    kinds: dict[str, int] = {}
    kind_max: dict[str, float | None] = {}
    first: dict[str, dict] = {}
    violating = np.zeros(0, dtype=np.int64)
    columns = np.full(other.size, NO_FIGURE, dtype=np.int64)
    expected = as_float64(evaluation.values[other])
    if other.size:
        g, xs = as_float64(got[other]), x[other]
        with np.errstate(invalid="ignore"):
            ordinary = np.isfinite(g) & np.isfinite(expected) & (g != 0) & (expected != 0)
            ordinary &= as_float64(xs) != 0
        residual = evaluation.residual[other]
        o = ordinary
        errors[other[o]] = ulp_error(g[o], expected[o], residual[o], fmt)
        rare = np.flatnonzero(~ordinary)
        if rare.size:
            left = reference.Evaluation(evaluation.values[other[rare]], residual[rare])
            right = None
            zeros = as_float64(xs[rare]) == 0
            if quantity == "gradient" and zeros.any():
                right = (zeros, reference.evaluate(quantity, xs[rare][zeros], at_zero="right"))
            comparison, expected[rare] = compare_one_sided(
                xs[rare], got[other[rare]], left, right, fmt
            )
            errors[other[rare]] = comparison.ulp  # NaN: no ulp figure
            for kind, mask in comparison.kinds.items():
                if mask.any():
                    kinds[kind] = int(mask.sum())
                    figures = comparison.ulp[mask]
                    figures = figures[~np.isnan(figures)]
                    kind_max[kind] = float(figures.max()) if figures.size else None
                    i = int(rare[np.flatnonzero(mask)[0]])
                    error = errors[other[i]]
                    ulp = None if np.isnan(error) else float(error)
                    first[kind] = _example(bits, x, got, expected, other[i], i, ulp=ulp)
            violating = other[rare[comparison.violations()]]
        columns = error_columns(errors[other])
    top = _top(bits, x, got, evaluation, errors, other, expected)
    # The worst of the inputs without a violation (all but a few of `other`).
    top_ordinary = top
    if violating.size:
        errors[violating] = np.nan  # the local copy, no longer needed whole
        top_ordinary = _top(bits, x, got, evaluation, errors, other, expected)
    rows_other = (bits[other] >> uint(fmt.precision - 1)).astype(np.int64)
    cells = np.bincount(rows_other * len(BUCKETS) + columns)

    rows = {}
    shift = fmt.precision - 1
    for row in range(start >> shift, ((stop - 1) >> shift) + 1):
        counts = [0] * len(BUCKETS)
        counts[0] = min(stop, (row + 1) << shift) - max(start, row << shift)
        base = row * len(BUCKETS)
        for column, n in enumerate(cells[base : base + len(BUCKETS)].tolist()):
            counts[0] -= n
            counts[column] += n
        rows[row] = counts

    return RangeSummary(
        count=int(bits.size),
        rows=rows,
        kinds=kinds,
        first=first,
        top=top,
        kind_max=kind_max,
        top_ordinary=top_ordinary,
        mpmath=truth.mpmath,
    )


def _top(bits, x, got, evaluation, errors, other, expected_other) -> list[dict]:
    """The TOP largest errors, ties to the lower bit pattern (the lower index)."""
    ranked = np.where(np.isnan(errors), -1.0, errors)
    if ranked.size > TOP:
        threshold = np.partition(ranked, ranked.size - TOP)[ranked.size - TOP]
        above = np.flatnonzero(ranked > threshold)
        tied = np.flatnonzero(ranked == threshold)[: TOP - above.size]
        chosen = np.concatenate([above, tied])
    else:
        chosen = np.arange(ranked.size)
    chosen = chosen[ranked[chosen] >= 0]
    chosen = chosen[np.lexsort((chosen, -ranked[chosen]))]
    expected = as_float64(evaluation.values[chosen])
    # Where the comparison chose the right-hand derivative at zero, report that value.
    if other.size:
        position = np.minimum(np.searchsorted(other, chosen), other.size - 1)
        hit = other[position] == chosen
        expected[hit] = expected_other[position[hit]]
    return [
        _example(bits, x, got, expected, int(i), k, ulp=float(errors[i]))
        for k, i in enumerate(chosen.tolist())
    ]


def _example(bits, x, got, expected, i, k, ulp=None) -> dict:
    return {
        "ulp": ulp,
        "bits": int(bits[i]),
        "input": hexf(as_float64(x[i])),
        "output": hexf(as_float64(got[i])),
        "expected": hexf(expected[k]),
    }


def measure_outputs(outputs: dict, dtype: str, quantity: str, start: int, stop: int) -> dict:
    """The RangeSummary (as JSON) of each member's outputs on [start, stop), the reference
    evaluated once here: the suite's side of `call.outputs`."""
    live = list(outputs)
    given = [lambda x, y=outputs[i]: y for i in live]
    return _reply(live, measure_many(given, dtype, quantity, start, stop), {})


def serve(module, members, threads, quantity, device, dtype, start, stop) -> dict:
    """The worker task of one chunk (`Worker.task`): the bit patterns [start, stop) of
    `dtype` measured for each (framework module, variant) of `members`, modules other than
    the worker's own loaded beside it (a sweep of several implementations shares one worker
    and one reference evaluation): {"summaries": {i: RangeSummary as JSON}, "errors": {i: why
    member i failed on them}}."""
    from reference import fast

    fast.set_threads(1)  # one worker per core already
    built, errors = functions(module, members, threads, quantity, device)
    live = [i for i, f in enumerate(built) if f is not None]
    outcomes = measure_many([built[i] for i in live], dtype, quantity, start, stop)
    return _reply(live, outcomes, errors)


def _reply(live: list[int], outcomes: list, errors: dict) -> dict:
    summaries = {}
    for i, outcome in zip(live, outcomes, strict=True):
        if isinstance(outcome, ChunkError):
            errors[i] = str(outcome)
        else:
            summaries[i] = outcome.as_json()
    return {"summaries": summaries, "errors": errors}
