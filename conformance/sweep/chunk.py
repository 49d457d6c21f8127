"""One chunk of a sweep: the bit patterns [start, stop) of a format, measured in the worker.

The worker process that holds the implementation builds the inputs itself (a range of
integers viewed as the format: nothing but two integers crosses the pipe), calls the
implementation once on the whole chunk, evaluates the reference and returns a `RangeSummary`.

The measurement is `measure.compare`'s, the gate's own, but only where it is needed: one
compiled pass (`fused.measure`) settles every output whose bits equal the correctly rounded
value (its error is the reference's residual) and every finite nonzero output where a
finite nonzero value is due (`measure.ulp_error`'s formula); only the rest (none to a few
per million for most implementations) go through `compare_one_sided`, which classifies
special-value violations and accepts either one-sided derivative at x = ±0.
tests/test_sweep.py checks the result against the gate's full comparison of every output.
"""

from __future__ import annotations

import ctypes
import time

import numpy as np

import reference
from reference import Format, format_of
from reference.kernels import format_code

from ..measure import as_float64, compare_one_sided, error_columns, hexf
from . import fused
from .call import ChunkError, call, functions
from .call import inputs as bit_patterns
from .summary import BUCKETS, TOP, RangeSummary


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
    """What every implementation of a chunk is measured against: the inputs and the
    reference's correctly rounded values with their residuals, in the form `fused.measure`
    reads (float32 as it is, the 16-bit formats as float64)."""

    def __init__(self, fmt: Format, quantity: str, start: int, stop: int):
        self.fmt, self.quantity, self.start, self.stop = fmt, quantity, start, stop
        self.bits = inputs(fmt, start, stop)
        self.x = self.bits.view(fmt.dtype)
        t = time.perf_counter()
        stats = reference.EvalStats()
        self.evaluation = reference.evaluate(quantity, self.x, stats=stats)
        self.reference_seconds = time.perf_counter() - t
        self.mpmath = stats.mpmath
        self.native = fmt.dtype == np.float32
        self.x_values = self.scanned(self.x)
        self.e_values = self.scanned(self.evaluation.values)
        self.code = format_code(fmt)

    def scanned(self, values: np.ndarray) -> np.ndarray:
        return values if self.native else as_float64(values)


def _summarize(truth: _Truth, got: np.ndarray) -> RangeSummary:
    fmt, quantity, start, stop = truth.fmt, truth.quantity, truth.start, truth.stop
    bits, x, evaluation = truth.bits, truth.x, truth.evaluation
    shift = fmt.precision - 1
    lanes = np.zeros((fused.LANES, 1 << (fmt.bits - shift), len(BUCKETS)), dtype=np.int64)
    errors = np.empty(bits.size)
    columns = np.empty(bits.size, dtype=np.uint8)
    maxima = np.empty(-(-bits.size // fused.BLOCK), dtype=np.int64)
    fused.measure(
        bits, shift, truth.x_values, truth.e_values, evaluation.residual, truth.scanned(got),
        truth.code, errors, columns, lanes, maxima,
    )  # fmt: skip
    counts = lanes.sum(axis=0)
    rare = np.flatnonzero(columns == fused.RARE)
    settled_worst = fused.worst(errors, maxima)

    # The rare outputs go through the gate's whole comparison, which names their kinds.
    kinds: dict[str, int] = {}
    kind_max: dict[str, float | None] = {}
    first: dict[str, dict] = {}
    rare_errors = np.zeros(0)
    violating = np.zeros(0, dtype=bool)
    expected = as_float64(evaluation.values[rare])
    if rare.size:
        xs = x[rare]
        left = reference.Evaluation(evaluation.values[rare], evaluation.residual[rare])
        right = None
        zeros = as_float64(xs) == 0
        if quantity == "gradient" and zeros.any():
            right = (zeros, reference.evaluate(quantity, xs[zeros], at_zero="right"))
        comparison, expected = compare_one_sided(xs, got[rare], left, right, fmt)
        rare_errors = comparison.ulp  # NaN: no ulp figure
        for kind, mask in comparison.kinds.items():
            if mask.any():
                kinds[kind] = int(mask.sum())
                figures = rare_errors[mask]
                figures = figures[~np.isnan(figures)]
                kind_max[kind] = float(figures.max()) if figures.size else None
                j = int(np.flatnonzero(mask)[0])
                ulp = None if np.isnan(rare_errors[j]) else float(rare_errors[j])
                first[kind] = _example(bits, x, got, expected, int(rare[j]), j, ulp=ulp)
        violating = comparison.violations()
        np.add.at(counts, (bits[rare] >> bits.dtype.type(shift), error_columns(rare_errors)), 1)

    settled = (errors[settled_worst], settled_worst)

    def worst(keep):
        return _top(
            bits, x, got, evaluation, settled, rare[keep], rare_errors[keep], expected[keep]
        )

    figured = ~np.isnan(rare_errors)
    rows = {row: counts[row].tolist() for row in range(start >> shift, ((stop - 1) >> shift) + 1)}
    return RangeSummary(
        count=int(bits.size),
        rows=rows,
        kinds=kinds,
        first=first,
        top=worst(figured),
        kind_max=kind_max,
        top_ordinary=worst(figured & ~violating),
        mpmath=truth.mpmath,
    )


def _top(bits, x, got, evaluation, settled, rare, rare_errors, rare_expected) -> list[dict]:
    """The TOP largest errors, ties to the lower bit pattern (the lower index), of the
    settled outputs (errors, indices) and the rare ones given (their errors and expected
    values: the comparison's, which may be the right-hand derivative at zero)."""
    errors = np.concatenate([settled[0], rare_errors])
    index = np.concatenate([settled[1], rare])
    order = np.lexsort((index, -errors))[:TOP]
    expected = np.concatenate([as_float64(evaluation.values[settled[1]]), rare_expected])
    return [
        _example(bits, x, got, expected, int(index[k]), int(k), ulp=float(errors[k]))
        for k in order.tolist()
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
    keep_freed_memory()
    live = list(outputs)
    given = [lambda x, y=outputs[i]: y for i in live]
    return _reply(live, measure_many(given, dtype, quantity, start, stop), {})


def keep_freed_memory() -> None:
    """Let glibc's malloc keep the blocks a chunk frees (up to 32 MiB each, the most it
    allows) for the next chunk, instead of giving them back to the system: a chunk's
    arrays (about 40 MB) would otherwise fault in their pages anew on every chunk, which
    costs as much as measuring it. Elsewhere than glibc, nothing."""
    global _KEPT
    if _KEPT:
        return
    _KEPT = True
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return
    m_trim_threshold, m_mmap_threshold = -1, -3  # <malloc.h>
    mallopt(m_mmap_threshold, 32 << 20)
    mallopt(m_trim_threshold, 1 << 30)


_KEPT = False


def serve(module, members, threads, quantity, device, dtype, start, stop) -> dict:
    """The worker task of one chunk (`Worker.task`): the bit patterns [start, stop) of
    `dtype` measured for each (framework module, variant) of `members`, modules other than
    the worker's own loaded beside it (a sweep of several implementations shares one worker
    and one reference evaluation): {"summaries": {i: RangeSummary as JSON}, "errors": {i: why
    member i failed on them}}."""
    from reference import fast

    fast.set_threads(1)  # one worker per core already
    keep_freed_memory()
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
