"""The reference's element-wise arithmetic, compiled with numba: no numpy temporaries.

Each function here works on one float64 value and is plain IEEE-754 double arithmetic and
integer operations on encodings (numba compiles without fast-math, so nothing is
reassociated or contracted into a fused multiply-add). The array loops that use them are
`round_loop` (`rounding.round_float64`) and `certify_loop` (`fast.certified`); the
sweeps' measurement (`conformance/sweep/fused.py`) calls `per_ulp` and `finite_nonzero`
too.

`FormatCode` is what a kernel needs to know of a `Format`, as plain integers and floats:
numba cannot take the dataclass.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import NamedTuple

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

SIGN = np.uint64(1 << 63)
FRACTION = np.uint64((1 << 52) - 1)
_IMPLICIT = np.uint64(1 << 52)
INF_BITS = np.uint64(0x7FF << 52)
_TINY_BITS = np.uint64((1023 - 1000) << 52)  # the encoding of 2^-1000
_FAR = np.int64(np.iinfo(np.int64).max)
#: Elements per block of the loops' passes: their arrays stay in the core's cache.
BLOCK = 4096


@intrinsic
def as_bits(typingctx, value):
    """The encoding of a float64 as a uint64 (a bit cast, no arithmetic)."""

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return types.uint64(types.float64), codegen


@intrinsic
def from_bits(typingctx, bits):
    """The float64 whose encoding is the uint64 `bits`."""

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(types.uint64), codegen


class FormatCode(NamedTuple):
    """A format (p <= 26) as the kernels read it."""

    precision: int
    emin: int
    max_finite_bits: int  # float64 encodings of the format's largest finite value,
    smallest_normal_bits: int  # its smallest normal value
    smallest_subnormal: float
    two_smallest_normal: float  # 2^(emin+1): the first power of two above the lowest binade


@lru_cache
def format_code(fmt) -> FormatCode:
    def bits(value: float) -> int:
        return int(np.array(value, dtype=np.float64).view(np.uint64))

    return FormatCode(
        fmt.precision,
        fmt.emin,
        bits(fmt.max_finite),
        bits(fmt.smallest_normal),
        fmt.smallest_subnormal,
        2.0 * fmt.smallest_normal,
    )


@numba.njit(cache=True, nogil=True)
def in_normal_range(y: float, code: FormatCode) -> bool:
    """Whether `round_normal` rounds y: its magnitude is at least the format's smallest
    normal value and finite (an overflow included). One unsigned comparison: below the
    normals the difference wraps around to a huge number."""
    mag = as_bits(y) & ~SIGN
    smallest_normal = np.uint64(code.smallest_normal_bits)
    return mag - smallest_normal < INF_BITS - smallest_normal


@numba.njit(cache=True, nogil=True)
def round_normal(y: float, code: FormatCode) -> tuple:
    """`round_bits` where `in_normal_range(y)`, without a branch (which way an input rounds
    is a coin toss, and a mispredicted branch costs more than the rounding): drop
    s = 53 - p bits of the encoding, half to even, a carry into the exponent field being
    the rounding up to the next binade; beyond the largest finite value, infinity.
    Elsewhere its result is meaningless (but computed without a fault)."""
    bits = as_bits(y)
    sign = bits & SIGN
    mag = bits & ~SIGN
    s = np.uint64(53 - code.precision)
    half = np.uint64(1) << (s - np.uint64(1))
    low = mag & ((np.uint64(1) << s) - np.uint64(1))
    n = mag >> s
    n += np.uint64(low > half) | (np.uint64(low == half) & n & np.uint64(1))
    rounded = n << s
    rounded = INF_BITS if rounded > np.uint64(code.max_finite_bits) else rounded
    margin = abs(np.int64(low) - np.int64(half))
    return from_bits(rounded | sign), margin


@numba.njit(cache=True, nogil=True)
def round_bits(y: float, code: FormatCode) -> tuple:
    """(rounded, margin) of one float64 `y` into the format: `rounding.round_float64`'s
    contract, element by element."""
    if in_normal_range(y, code):
        return round_normal(y, code)
    return _round_rare(y, as_bits(y) & ~SIGN, code)


@numba.njit(cache=True, nogil=True)
def _round_rare(y: float, mag, code: FormatCode) -> tuple:
    """`round_bits` for inf, NaN, and magnitudes below the format's normal range."""
    if mag >= INF_BITS:  # inf and NaN round to themselves
        return y, _FAR
    if mag < _TINY_BITS:  # float64 zeros and subnormals, and everything below 2^-1000
        return math.copysign(0.0, y), _FAR
    # The format's subnormal range: the quantum 2^qmin, from the 53-bit significand.
    e = np.int64(mag >> np.uint64(52)) - 1023
    significand = np.int64((mag & FRACTION) | _IMPLICIT)
    shift = min(53 - code.precision + code.emin - e, 55)  # >= 55: rounds to 0
    half = np.int64(1) << (shift - 1)
    n = significand >> shift
    rest = significand - (n << shift)
    if rest > half or (rest == half and (n & 1) == 1):
        n += 1
    return math.copysign(n * code.smallest_subnormal, y), abs(rest - half)


@numba.njit(cache=True, nogil=True)
def per_ulp(value: float, code: FormatCode) -> float:
    """1 / ulp(value) in the format (`formats.ulp`), exactly (a power of two within
    float64's range for p <= 26): a product by it is the division by the ulp, bit for bit,
    and cheaper. NaN at NaN and infinities. Without a branch."""
    biased = np.int64((as_bits(value) >> np.uint64(52)) & np.uint64(0x7FF))
    exponent = max(biased - 1023, code.emin) - code.precision + 1
    inverse = from_bits(np.uint64(1023 - exponent) << np.uint64(52))
    return math.nan if biased == 0x7FF else inverse


@numba.njit(cache=True, nogil=True)
def round_loop(y, code: FormatCode, rounded, margin) -> None:
    for i in range(y.size):
        rounded[i], margin[i] = round_bits(y[i], code)


@numba.njit(cache=True, nogil=True)
def approximate_one(forward: bool, x: float, lam: float, lam_alpha: float) -> float:
    """SELU (forward) or its derivative at x in float64: λ·x or λα·expm1(x), λ or λα·exp(x),
    with the C library's expm1 and exp (the error bound: fast.py) where `needs_call`."""
    if needs_call(forward, x):
        return called(forward, x, lam_alpha)
    return without_call(forward, x, lam, lam_alpha)


@numba.njit(cache=True, nogil=True)
def needs_call(forward: bool, x: float) -> bool:
    """Whether x < 0 is one where the float64 value of expm1 or exp is not known without
    calling it, which costs more than the rest of an element's work: -2^-54 >= x > `call_floor`.
    Known: for |x| < 2^-54, expm1(x) = x and exp(x) = 1 (their relative distance from the
    exact value is below 2^-54); expm1(x) = -1 for x <= -39 (e^x < 2^-56) and exp(x) = 0
    for x <= -746 (below half the smallest float64); glibc returns exactly these values."""
    return x <= -(2.0**-54) and x > call_floor(forward)


@numba.njit(cache=True, nogil=True)
def call_floor(forward: bool) -> float:
    return -39.0 if forward else -746.0


@numba.njit(cache=True, nogil=True)
def called(forward: bool, x: float, lam_alpha: float) -> float:
    return lam_alpha * (math.expm1(x) if forward else math.exp(x))


@numba.njit(cache=True, nogil=True)
def without_call(forward: bool, x: float, lam: float, lam_alpha: float) -> float:
    """q(x) where not `needs_call` (meaningless elsewhere), without a branch."""
    tiny = x > -(2.0**-54)
    if forward:
        return lam * x if x > 0 else (lam_alpha * x if tiny else -lam_alpha)
    return lam if x > 0 else (lam_alpha if tiny else 0.0)


@numba.njit(cache=True, nogil=True)
def approximate_loop(forward, x, lam, lam_alpha, out) -> None:
    for i in range(x.size):
        out[i] = approximate_one(forward, np.float64(x[i]), lam, lam_alpha)


@numba.njit(cache=True, nogil=True)
def certify_one(forward, xs, code, lam, lam_alpha, margin_needed) -> tuple:
    """(out, ok, residual) of `certify_loop` for one input, as a float64, by the plain route."""
    if xs != xs:  # NaN: NaN, certified
        return xs, True, math.nan
    if xs == 0 or math.isinf(xs):  # the exact special cases: the caller's
        return xs, False, math.nan
    y = approximate_one(forward, xs, lam, lam_alpha)
    rounded, margin = round_bits(y, code)
    return rounded, margin > margin_needed, (y - rounded) * per_ulp(rounded, code)


@numba.njit(cache=True, nogil=True)
def certify_loop(forward, x, code, lam, lam_alpha, margin_needed, out, ok, residual) -> None:
    """`fast.certified` on a 1-d array `x` (float32 or float64 values): out[i] the rounding
    of the float64 approximation, ok[i] whether its margin certifies it (never at ±0, ±inf;
    always at NaN), residual[i] (approximation - out)/ulp(out) in ulps of the format (NaN
    where out is not finite; unused where not ok).

    `certify_one` element by element, in passes the compiler can vectorise, over blocks of
    BLOCK elements that stay in the core's cache: the approximations without a call, the
    C library's calls where they are needed, then the rounding of every input whose input
    and result are ordinary (x finite and nonzero, the result in the normal range), the
    rest by `certify_one` itself. The same operations on the same values: the passes change the
    order of the elements, not the arithmetic."""
    # The approximations, apart from `residual`: in an array read and written by the same
    # pass the compiler keeps the rounding scalar.
    y = np.empty(min(BLOCK, x.size))
    for a in range(0, x.size, BLOCK):
        b = min(a + BLOCK, x.size)
        _certify_block(
            forward,
            x[a:b],
            code,
            lam,
            lam_alpha,
            margin_needed,
            out[a:b],
            ok[a:b],
            residual[a:b],
            y,
        )


@numba.njit(cache=True, nogil=True)
def _certify_block(forward, x, code, lam, lam_alpha, margin_needed, out, ok, residual, y):
    for i in range(x.size):
        y[i] = without_call(forward, np.float64(x[i]), lam, lam_alpha)
    for i in range(x.size):
        xs = np.float64(x[i])
        if needs_call(forward, xs):
            y[i] = called(forward, xs, lam_alpha)
    for i in range(x.size):
        xs, yv = np.float64(x[i]), y[i]
        rounded, margin = round_normal(yv, code)
        ordinary = finite_nonzero(xs) & in_normal_range(yv, code)
        out[i] = rounded
        ok[i] = ordinary & (margin > margin_needed)
        residual[i] = (yv - rounded) * per_ulp(rounded, code) if ordinary else math.inf
    for i in range(x.size):
        if residual[i] == math.inf:  # not ordinary (no residual is infinite)
            out[i], ok[i], residual[i] = certify_one(
                forward, np.float64(x[i]), code, lam, lam_alpha, margin_needed
            )


@numba.njit(cache=True, nogil=True)
def finite_nonzero(value: float) -> bool:
    """Whether a float64 is finite and not ±0, without a branch."""
    mag = as_bits(value) & ~SIGN
    return (mag != 0) & (mag < INF_BITS)
