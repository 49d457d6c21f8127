"""The certified fast path: SELU in float64 with a proven error bound, for narrow formats.

For inputs of float16, bfloat16 and float32, SELU and its derivative are evaluated in
float64 with numpy. Where the float64 value lies farther than its error bound from every
rounding boundary of the target format, its rounding is the correctly rounded result;
only the other inputs (a few in a million for float32) go to the mpmath path.

Error bound, relative to the exact value q(x), for finite nonzero x:

    forward,  x > 0:  λ64·x                 constant 2^-53, product 2^-53
    forward,  x < 0:  λα64·expm1(x)          constant 2^-53, expm1 E_LIBM, product 2^-53
    gradient, x > 0:  λ64                    2^-53
    gradient, x < 0:  λα64·exp(x)            constant 2^-53, exp E_LIBM, product 2^-53

E_LIBM bounds the relative error of numpy's float64 exp and expm1. numpy calls either the
C library (glibc's manual lists at most 1 ulp for both on x86-64) or, on AVX-512 machines,
Intel's SVML (at most 4 ulp over all its functions: numpy/numpy#19478; numpy's earlier
AVX-512 exp is Tang's, < 0.77 ulp: numpy/numpy#15648). We take E_LIBM = 2^-46, 64 ulp,
so that the bound holds with a wide margin on any of them, and tests/test_fast_path.py
measures the actual error against MPFR on every float16 and bfloat16 input and on float32
samples (1 ulp on the machine this was written on).
The total is below 2^-45 relative to q(x), hence below RELATIVE_BOUND = 2^-44 relative to
the float64 value. The inputs of these formats keep float64 far from its own overflow and
underflow, except exp(x) for x < -708, where float64 underflows: there the float64 value
and the exact one both lie below 2^-1000, far below half the smallest subnormal of any of
these formats, and `round_float64` rounds every such value to zero, which is exact.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .constants import derive
from .formats import Format
from .rounding import round_float64

RELATIVE_BOUND = 2.0**-44
#: The same bound as a `round_float64` margin: |y| < 2^53 ulp(y), so an error below
#: RELATIVE_BOUND·|y| is below 2^9 ulp(y), and a margin m guarantees m/2 ulp(y).
MARGIN = 2 * int(RELATIVE_BOUND * 2**53)
#: Elements per work item: the temporaries of one chunk stay in the CPU's cache.
CHUNK = 1 << 15
_threads = os.cpu_count() or 1


def set_threads(n: int | None) -> None:
    """Threads the fast path may use (default: every core; None restores that). Processes
    that already run one per core, such as the exhaustive sweeps' workers, ask for 1."""
    global _threads
    _threads = max(1, n) if n else (os.cpu_count() or 1)


def _constants64() -> tuple[float, float]:
    """λ and λα, each correctly rounded to float64 (|error| <= 2^-53 relative)."""
    c = derive(53)
    return float(c.lam), float(c.lam_alpha)


def approximate(quantity: str, x: np.ndarray) -> np.ndarray:
    """q(x) in float64, within RELATIVE_BOUND of the exact value (see above), for finite x.

    At x = ±0 the values are meaningless (the caller treats zeros exactly).
    """
    lam, lam_alpha = _constants64()
    positive = x > 0
    if quantity == "forward":
        # expm1 of min(x, 0): no overflow for the positive half, whose result is discarded.
        negative_branch = np.expm1(np.minimum(x, 0.0))
        negative_branch *= lam_alpha
        return np.where(positive, lam * x, negative_branch)
    negative_branch = np.exp(np.minimum(x, 0.0))
    negative_branch *= lam_alpha
    return np.where(positive, lam, negative_branch)


def certified(
    quantity: str, x: np.ndarray, fmt: Format, keep_approximation: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(out, ok, y): q(x) correctly rounded in `fmt` where `ok`; elsewhere, mpmath's job.

    `x` is a 1-d array of `fmt` (float16, bfloat16 or float32); `out` has x's dtype. NaN
    inputs give NaN. Zeros and infinities are never `ok`: they are the exact special
    cases, with the one-sided choice at zero, left to the caller. With
    `keep_approximation`, `y` holds the float64 values (within RELATIVE_BOUND of exact).
    Works in cache-sized chunks, on all cores (numpy releases the GIL in its loops).
    """
    out = np.empty_like(x)
    ok = np.empty(x.shape, dtype=bool)
    kept = np.empty(x.shape, dtype=np.float64) if keep_approximation else None

    def work(start: int) -> None:
        chunk = slice(start, start + CHUNK)
        with np.errstate(invalid="ignore"):
            xs = x[chunk].astype(np.float64)  # signalling NaNs become quiet NaNs
            finite = np.isfinite(xs) & (xs != 0)
            # NaN stays NaN (the invalid flag is a signalling NaN's, harmless).
            y = approximate(quantity, np.where(finite | np.isnan(xs), xs, 1.0))
        rounded, margin = round_float64(y, fmt)
        out[chunk] = rounded.astype(fmt.dtype)  # exact: the values belong to fmt
        ok[chunk] = (finite & (margin > MARGIN)) | np.isnan(xs)
        if kept is not None:
            kept[chunk] = y

    starts = range(0, x.size, CHUNK)
    if len(starts) <= 1 or _threads == 1:
        for start in starts:
            work(start)
    else:
        with ThreadPoolExecutor(max_workers=_threads) as pool:
            list(pool.map(work, starts))
    return out, ok, kept
