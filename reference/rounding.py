"""Rounding to nearest, ties to even, into a Format: the reference's own code.

Two entry points, one per path of the reference:

- `round_mpf(value, fmt)`: an exact binary number (an mpmath mpf, any precision, any
  exponent) to the nearest value of the format, as a Python float. Pure integer arithmetic
  on the mpf's (sign, mantissa, exponent), so nothing here depends on the hardware's
  rounding, its flush-to-zero mode or numpy's casts.
- `round_float64(y, fmt)`: the same rounding for a float64 array whose values are to be
  rounded into a narrower format, element by element in a compiled loop
  (`kernels.round_bits`); also returns how far each value
  lies from the nearest rounding boundary, which is what the fast path's certificate needs.

Both handle the whole range: signed zeros, subnormal results (quantum 2^qmin below the
normal range), and overflow (|value| >= max_finite + ulp/2 rounds to ±inf).
Every format's values are float64 values, so a Python float carries any result exactly.
"""

from __future__ import annotations

import math

import numpy as np
from mpmath.libmp import fnan, fzero

from . import kernels
from .formats import Format


def round_mpf(value, fmt: Format) -> float:
    """`value` rounded to nearest-even in `fmt`, returned as an (exact) Python float.

    `value`: an mpmath mpf, or mpmath's raw (sign, mantissa, exponent, bitcount) tuple.
    ±inf and NaN map to themselves; a zero keeps its sign (mpmath has only +0, so a
    negative zero reaches here only as a negative value that rounds to zero).
    """
    raw = getattr(value, "_mpf_", value)
    sign_bit, man, exp, _ = raw  # |value| = man * 2**exp
    if not man:  # zero, infinity or NaN
        if raw == fzero:
            return 0.0
        if raw == fnan:
            return math.nan
        return -math.inf if sign_bit else math.inf
    sign = -1.0 if sign_bit else 1.0
    man = int(man)  # a gmpy2 or Python integer
    # The quantum of the result: 2^(e - p + 1) in the binade 2^e <= |value| < 2^(e+1),
    # and 2^qmin below the normal range.
    e = exp + man.bit_length() - 1
    q = max(e, fmt.emin) - fmt.precision + 1
    shift = q - exp
    if shift <= 0:
        n = man << -shift  # already a multiple of the quantum: exact
    else:
        n = man >> shift
        rest = man - (n << shift)
        half = 1 << (shift - 1)
        if rest > half or (rest == half and n & 1):
            n += 1
    if n.bit_length() + q - 1 > fmt.emax:  # 2^(emax+1) or more: beyond max_finite
        return math.copysign(math.inf, sign)
    return math.copysign(math.ldexp(n, q), sign)  # exact: n <= 2^p, q within float64's range


def round_float64(y: np.ndarray, fmt: Format) -> tuple[np.ndarray, np.ndarray]:
    """Round float64 values `y` to nearest-even in `fmt` (p <= 26), element-wise.

    Returns (rounded, margin). `rounded`: the results, float64 (exact). `margin` (int64):
    how far y lies from the nearest rounding boundary of the format (a midpoint between
    two neighbouring values of the format, or the overflow threshold), counted in float64
    encodings; every number within (margin/2)·ulp(y) of y rounds as y does (a boundary in
    the binade below y is counted in that binade's ulps, half of y's). The fast path
    compares it with its error bound. (Above the format's range, |y| >= 2^(emax+1), where
    everything rounds to infinity, the margin is merely a lower bound.)

    Integer arithmetic on the float64 encoding, which is monotone in |y| and whose low
    53 - p bits are exactly what rounding into a normal number of `fmt` drops: rounding the
    magnitude's encoding to a multiple of 2^(53-p), half to even, is rounding the value,
    a carry into the exponent included. Results below 2^emin (the subnormal range of
    `fmt`) have the fixed quantum 2^qmin instead and are rounded from the significand.
    |y| < 2^-1000 (float64 subnormals and zero) rounds to a signed zero in every format
    this handles, inf and NaN round to themselves; their margin is the int64 maximum.
    """
    if fmt.precision > 26:
        raise ValueError(f"round_float64 rounds into formats of at most 26 bits, not {fmt}")
    flat = np.ascontiguousarray(y, dtype=np.float64).reshape(-1)
    rounded = np.empty_like(flat)
    margin = np.empty(flat.shape, dtype=np.int64)
    kernels.round_loop(flat, kernels.format_code(fmt), rounded, margin)
    shape = np.shape(y)
    return rounded.reshape(shape), margin.reshape(shape)
