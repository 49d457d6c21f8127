"""SELU and its derivative for one input, correctly rounded, by Ziv's strategy in mpmath.

For a finite nonzero x, `_approximate` returns an mpmath number v at working precision P
with |v - exact| <= 2^-P·|v| (the error analysis is in its comments). If both ends of
[v - 2^-P·|v|, v + 2^-P·|v|] round to the same value of the target format, that value is
the correctly rounded exact result, because rounding to nearest is monotone. Otherwise P
is doubled and the evaluation repeated. The loop ends because SELU's values at nonzero
floating-point inputs are transcendental numbers (λ·x with λ irrational, λα·(e^x - 1)
and λα·e^x with e^x transcendental for rational x ≠ 0 by Lindemann–Weierstrass, assuming
the constants do not conspire), so none is exactly a rounding boundary; a cap on P turns
a counterexample into an error instead of an endless loop.

The error analysis assumes what mpmath documents for its low-level functions: exp rounded
to W bits is within 2^(2-W) relative of e^x (mpmath evaluates with guard bits and is
accurate to about half an ulp). The constants come from `constants.derive`, within one
ulp of the precision asked for.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from mpmath.libmp import (
    fone,
    from_float,
    mpf_abs,
    mpf_add,
    mpf_div,
    mpf_exp,
    mpf_mul,
    mpf_neg,
    mpf_shift,
    mpf_sub,
    to_float,
)

from .constants import derive
from .formats import Format
from .rounding import round_mpf

# All arithmetic here is on mpmath's raw values (sign, mantissa, exponent, bitcount) with
# mpmath.libmp, where each operation states its own precision (0 or None: exact). The
# mpf-object operators would round to the global context's precision (53 bits) instead.

#: First working precision beyond the format's own: rounding is then ambiguous for about
#: one input in 2^30, and each retry doubles the precision.
INITIAL_GUARD_BITS = 30
#: Working precision at which Ziv's loop gives up (an exact rounding boundary, or a bug).
MAX_PRECISION = 1 << 15

QUANTITIES = ("forward", "gradient")
ZERO_SIDES = ("left", "right")


def _approximate(quantity: str, x: float, prec: int) -> tuple:
    """A raw mpf v with |v - q(x)| <= 2^-prec·|v| for q = selu or selu', x finite, nonzero."""
    c = derive(prec + 8)  # λ and λα each within 2^-(prec+8) relative
    lam, lam_alpha = c.lam._mpf_, c.lam_alpha._mpf_
    xm = from_float(x)  # exact
    if quantity == "forward":
        if x > 0:
            # λ·x: constant 2^-(P+8), one rounding 2^-(P+4).
            return mpf_mul(lam, xm, prec + 4, "n")
        if x < -0.7 * (prec + 10):
            # e^x < 2^-(P+10) (0.7 > ln 2): e^x - 1 = -1 within 2^-(P+10) relative.
            return mpf_neg(lam_alpha)
        # e^x - 1 with |e^x - 1| >= min(|x|, 1)/2 >= 2^(min(k-1, 0) - 1), where
        # 2^(k-1) <= |x| < 2^k. exp at W = P + 8 + max(0, 1 - k) bits has absolute error
        # <= 2^(2-W) (e^x <= 1), which relative to e^x - 1 is <= 2^-(P+5); the subtraction
        # adds 2^-W, the product with λα 2^-(P+4), λα itself 2^-(P+8): in all < 2^-(P+3).
        k = math.frexp(x)[1]
        w = prec + 8 + max(0, 1 - k)
        em1 = mpf_sub(mpf_exp(xm, w, "n"), fone, w, "n")
        return mpf_mul(lam_alpha, em1, prec + 4, "n")
    if x > 0:
        return lam
    # λα·e^x: exp 2^-(P+6), constant 2^-(P+8), product 2^-(P+4).
    return mpf_mul(lam_alpha, mpf_exp(xm, prec + 8, "n"), prec + 4, "n")


class Rounded(NamedTuple):
    """One correctly rounded value, and how it was obtained.

    value: the result in the format, as an exact Python float. precision: the working
    precision Ziv's loop ended at (0 for results needing no mpmath). residual: (exact -
    value) / ulp(value), the rounding error in ulps of the format (|residual| <= 1/2;
    0 where the value is exact or a rounded-away underflow, NaN for NaN and infinities).
    """

    value: float
    precision: int
    residual: float


def _residual(v: tuple, value: float, fmt: Format) -> float:
    """(v - value) / ulp(value) as a float, from the raw mpf v (good to 2^-30 ulp)."""
    if math.isinf(value):
        return math.nan
    difference = mpf_sub(v, from_float(value), 64, "n")
    return to_float(mpf_div(difference, from_float(fmt.ulp(value)), 64, "n"))


def _same(a: float, b: float) -> bool:
    return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)


def correctly_rounded(quantity: str, x: float, fmt: Format, at_zero: str = "left") -> Rounded:
    """q(x) correctly rounded in `fmt` (see `Rounded` for what comes with it).

    `quantity` is "forward" (selu) or "gradient" (selu'). `x` is any float64 value (a
    value of `fmt`, in practice). Special inputs follow the reference's contract: NaN ->
    NaN; selu(±0) = ±0, selu(+inf) = +inf, selu(-inf) = -λα; selu'(+inf) = λ,
    selu'(-inf) = +0, and selu'(±0) is the one-sided value chosen by `at_zero`: "left"
    (λα, the default) or "right" (λ). The precision is 0 for answers needing no mpmath.
    """
    if quantity not in QUANTITIES:
        raise ValueError(f"quantity must be one of {QUANTITIES}, not {quantity!r}")
    if at_zero not in ZERO_SIDES:
        raise ValueError(f"at_zero must be one of {ZERO_SIDES}, not {at_zero!r}")
    if math.isnan(x):
        return Rounded(math.nan, 0, math.nan)
    if quantity == "forward":
        if x == 0 or x == math.inf:
            return Rounded(x, 0, 0.0 if x == 0 else math.nan)  # λ·(±0) = ±0, λ·inf = inf
        if x == -math.inf:
            return _ziv(lambda p: mpf_neg(derive(p + 8).lam_alpha._mpf_), fmt, quantity, x)
    else:
        if x < -0.7 * (2 - fmt.qmin):
            # -inf too. λα·e^x < 2·e^x < 2^(qmin-1) (0.7 > ln 2): below half the smallest
            # subnormal, so the result rounds to +0.
            return Rounded(0.0, 0, 0.0)
        if x == math.inf or (x == 0 and at_zero == "right"):
            return _ziv(lambda p: derive(p + 8).lam._mpf_, fmt, quantity, x)
        if x == 0:
            return _ziv(lambda p: derive(p + 8).lam_alpha._mpf_, fmt, quantity, x)
    return _ziv(lambda p: _approximate(quantity, x, p), fmt, quantity, x)


def _ziv(value_at, fmt: Format, quantity: str, x: float) -> Rounded:
    """Ziv's loop: `value_at(P)` is a raw mpf within 2^-P relative of the exact value."""
    prec = fmt.precision + INITIAL_GUARD_BITS
    while prec <= MAX_PRECISION:
        v = value_at(prec)
        radius = mpf_shift(mpf_abs(v), -prec)  # exact
        low = round_mpf(mpf_sub(v, radius), fmt)  # exact subtraction, then one rounding
        high = round_mpf(mpf_add(v, radius), fmt)
        if _same(low, high):
            return Rounded(low, prec, _residual(v, low, fmt))
        prec *= 2
    raise RuntimeError(
        f"{quantity} at {x.hex()} in {fmt}: rounding still ambiguous at {MAX_PRECISION} bits"
    )
