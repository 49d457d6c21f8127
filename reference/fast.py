"""The certified fast path: SELU in float64 with a proven error bound, for narrow formats.

For inputs of float16, bfloat16 and float32, SELU and its derivative are evaluated in
float64, element by element in loops compiled by numba (`kernels.certify_loop`: the
approximation, its rounding and its certificate, at memory speed). Where the float64
value lies farther than its error bound from every rounding boundary of the target format,
its rounding is the correctly rounded result;
only the other inputs (a few in a million for float32) go to the mpmath path.

Error bound, relative to the exact value q(x), for finite nonzero x:

    forward,  x > 0:  λ64·x                 constant 2^-53, product 2^-53
    forward,  x < 0:  λα64·expm1(x)          constant 2^-53, expm1 E_LIBM, product 2^-53
    gradient, x > 0:  λ64                    2^-53
    gradient, x < 0:  λα64·exp(x)            constant 2^-53, exp E_LIBM, product 2^-53

E_LIBM bounds the relative error of the float64 exp and expm1 the kernel calls: numba
compiles `math.exp` and `math.expm1` to calls of the C library's (glibc's manual lists at
most 1 ulp for both on x86-64; numpy's own loops, used here before, call the same or, on
AVX-512 machines, Intel's SVML, at most 4 ulp: numpy/numpy#19478). We take E_LIBM = 2^-46,
64 ulp, so that the bound holds with a wide margin on any of them, and
tests/test_fast_path.py measures the actual error of the kernel's evaluation against MPFR
on every float16 and bfloat16 input and on float32 samples (1 ulp on the machine this was
written on). Numba compiles without fast-math: every product and call is the IEEE-754
operation written, in that order. Where the call's float64 value is known without it
(`kernels.needs_call`: |x| < 2^-54, expm1 below -39, exp below -746), that value is used;
it lies within 2^-54 of the exact one, inside E_LIBM.
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

from . import kernels
from .constants import derive
from .formats import Format

RELATIVE_BOUND = 2.0**-44
#: The same bound as a `round_float64` margin: |y| < 2^53 ulp(y), so an error below
#: RELATIVE_BOUND·|y| is below 2^9 ulp(y), and a margin m guarantees m/2 ulp(y).
MARGIN = 2 * int(RELATIVE_BOUND * 2**53)
#: Elements per work item of the threads (numba's loops release the GIL).
CHUNK = 1 << 16
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
    """q(x) in float64, within RELATIVE_BOUND of the exact value (see above), for finite x:
    what `certified` rounds. At x = ±0 the values are meaningless (the caller treats zeros
    exactly)."""
    lam, lam_alpha = _constants64()
    x = np.ascontiguousarray(x, dtype=np.float64).reshape(-1)
    out = np.empty_like(x)
    kernels.approximate_loop(quantity == "forward", x, lam, lam_alpha, out)
    return out


def certified(
    quantity: str, x: np.ndarray, fmt: Format, residual: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(out, ok, r): q(x) correctly rounded in `fmt` where `ok`; elsewhere, mpmath's job.

    `x` is a 1-d array of `fmt` (float16, bfloat16 or float32); `out` has x's dtype. NaN
    inputs give NaN. Zeros and infinities are never `ok`: they are the exact special
    cases, with the one-sided choice at zero, left to the caller. With `residual`, `r`
    holds (exact - out)/ulp(out) where ok and out is finite, to within RELATIVE_BOUND·|q|
    (NaN where out is not finite). Works in blocks of CHUNK on all cores.
    """
    lam, lam_alpha = _constants64()
    # The kernel reads float32 as it is; the 16-bit formats, which numba cannot hold, as
    # float64 (exact), and writes float64 values of the format (cast back exactly).
    native = fmt.dtype == np.float32
    with np.errstate(invalid="ignore"):  # signalling NaNs become quiet NaNs
        values = np.ascontiguousarray(x) if native else x.astype(np.float64)
    out = np.empty_like(values)
    ok = np.empty(x.shape, dtype=bool)
    r = np.empty(x.shape, dtype=np.float64)
    code = kernels.format_code(fmt)
    forward = quantity == "forward"

    def work(b: slice) -> None:
        kernels.certify_loop(forward, values[b], code, lam, lam_alpha, MARGIN, out[b], ok[b], r[b])

    if _threads == 1 or x.size <= CHUNK:
        work(slice(None))
    else:
        with ThreadPoolExecutor(max_workers=_threads) as pool:
            list(pool.map(work, (slice(a, a + CHUNK) for a in range(0, x.size, CHUNK))))
    return (out if native else out.astype(fmt.dtype)), ok, (r if residual else None)
