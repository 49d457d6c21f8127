"""α and λ of SELU, derived from the self-normalising fixed-point conditions.

Klambauer et al. (2017) choose α and λ so that (mean 0, variance 1) is a fixed point of a
dense layer with LeCun-normal weights: for Z ~ N(0, 1),

    E[selu(Z)] = 0   and   E[selu(Z)^2] = 1.

Both expectations are Gaussian integrals with closed forms. With Φ the normal CDF,
Φ(-t) = erfc(t/√2)/2, and selu(z) = λ·z (z > 0), λ·α·(e^z - 1) (z <= 0):

    E[selu(Z)]   = λ·( 1/√(2π) + α·(√e·Φ(-1) - 1/2) )
    E[selu(Z)^2] = λ²·( 1/2 + α²·(e²·Φ(-2) - 2·√e·Φ(-1) + 1/2) )

using E[Z·1{Z>0}] = 1/√(2π), E[Z²·1{Z>0}] = 1/2 and E[e^(kZ)·1{Z<=0}] = e^(k²/2)·Φ(-k).
The first condition is linear in α, the second then fixes λ:

    α = (1/√(2π)) / (1/2 - √e·Φ(-1)),      λ = (1/2 + α²·(e²·Φ(-2) - 2√e·Φ(-1) + 1/2))^(-1/2)

Nothing here is typed in: the constants come from these formulas at whatever precision is
asked for. `moments_by_quadrature` integrates the same expectations numerically, so that the
tests can check the closed forms independently, and the paper's 32 digits are checked there.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import mpmath

#: Guard bits carried beyond the requested precision when deriving the constants.
GUARD_BITS = 32


class Constants(NamedTuple):
    alpha: mpmath.mpf
    lam: mpmath.mpf
    lam_alpha: mpmath.mpf


def _phi_minus(t):
    """Φ(-t), the standard normal lower tail, at the current mpmath precision."""
    return mpmath.erfc(t / mpmath.sqrt(2)) / 2


def _moment_terms():
    """The α-free parts of the two moments at the current precision.

    Returns (m1_pos, m1_neg, m2_pos, m2_neg) with
    E[selu(Z)]   = λ·(m1_pos + α·m1_neg),   E[selu(Z)²] = λ²·(m2_pos + α²·m2_neg).
    """
    sqrt_e = mpmath.sqrt(mpmath.e)
    p1 = _phi_minus(1)
    p2 = _phi_minus(2)
    m1_pos = 1 / mpmath.sqrt(2 * mpmath.pi)
    m1_neg = sqrt_e * p1 - mpmath.mpf(1) / 2
    m2_pos = mpmath.mpf(1) / 2
    m2_neg = mpmath.e**2 * p2 - 2 * sqrt_e * p1 + mpmath.mpf(1) / 2
    return m1_pos, m1_neg, m2_pos, m2_neg


@functools.lru_cache(maxsize=64)
def derive(prec: int) -> Constants:
    """α, λ and λ·α as mpmath numbers of `prec` bits, solved from the fixed-point conditions.

    The formulas are evaluated with GUARD_BITS more bits and the results rounded once to
    `prec` bits, so each is within one ulp of `prec` bits of the exact constant. Cached: the
    Ziv loop of the reference asks for the same few precisions again and again.
    """
    if prec < 2:
        raise ValueError(f"precision must be at least 2 bits, got {prec}")
    with mpmath.workprec(prec + GUARD_BITS):
        m1_pos, m1_neg, m2_pos, m2_neg = _moment_terms()
        alpha = -m1_pos / m1_neg  # E[selu(Z)] = 0
        lam = 1 / mpmath.sqrt(m2_pos + alpha**2 * m2_neg)  # E[selu(Z)^2] = 1
        lam_alpha = lam * alpha
    with mpmath.workprec(prec):
        return Constants(+alpha, +lam, +lam_alpha)


def moments(alpha, lam):
    """(E[selu(Z)], E[selu(Z)²]) for Z ~ N(0, 1) and the given constants, in closed form."""
    m1_pos, m1_neg, m2_pos, m2_neg = _moment_terms()
    return lam * (m1_pos + alpha * m1_neg), lam**2 * (m2_pos + alpha**2 * m2_neg)


def moments_by_quadrature(alpha, lam):
    """The same two moments by numerical integration against the normal density.

    Independent of the closed forms above: mpmath.quad over (-inf, 0] and [0, inf), where
    the integrand is smooth. Used by the tests; accurate to about the working precision.
    """
    density = lambda z: mpmath.exp(-(z**2) / 2) / mpmath.sqrt(2 * mpmath.pi)  # noqa: E731
    pos = lambda z: lam * z  # noqa: E731
    neg = lambda z: lam * alpha * mpmath.expm1(z)  # noqa: E731
    mean = mpmath.quad(lambda z: neg(z) * density(z), [-mpmath.inf, 0]) + mpmath.quad(
        lambda z: pos(z) * density(z), [0, mpmath.inf]
    )
    second = mpmath.quad(lambda z: neg(z) ** 2 * density(z), [-mpmath.inf, 0]) + mpmath.quad(
        lambda z: pos(z) ** 2 * density(z), [0, mpmath.inf]
    )
    return mean, second


def decimal_digits(digits: int = 50) -> dict[str, str]:
    """α, λ and λ·α as decimal strings of `digits` significant digits, every digit correct.

    Each constant, known to within one ulp of `prec` bits, is bracketed by the interval
    value·(1 ± 2^(1-prec)); the string is accepted when both ends print the same, and the
    precision is doubled otherwise (a value close to a decimal rounding boundary needs more
    bits to decide its last printed digit).
    """
    if digits < 1:
        raise ValueError(f"digits must be positive, got {digits}")
    prec = math.ceil(digits * math.log2(10)) + 16
    strings: dict[str, str] = {}
    for name in Constants._fields:
        while True:
            value = getattr(derive(prec), name)
            radius = mpmath.ldexp(abs(value), 1 - prec)
            low = mpmath.fsub(value, radius, exact=True)
            high = mpmath.fadd(value, radius, exact=True)
            text = mpmath.nstr(low, digits, strip_zeros=False)
            if text == mpmath.nstr(high, digits, strip_zeros=False):
                strings[name] = text
                break
            prec *= 2
    return strings
