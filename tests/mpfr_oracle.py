"""An independent SELU oracle in MPFR (gmpy2), for testing the reference.

Shares no code with `reference`: the constants are evaluated here from the closed forms in
MPFR (whose elementary functions are correctly rounded with proven error bounds), the
format parameters come from numpy's and ml_dtypes' finfo, and the final rounding into a
format is MPFR's own (precision, exponent range and subnormalisation of an IEEE format).

Each value is computed with WORK_BITS of precision; its error is below 2^-(WORK_BITS-4)
relative. It is rounded into the format twice, from value·(1 ∓ 2^-GUARD); if the two
disagree the value is too close to a rounding boundary to decide and the oracle raises
instead of answering.
"""

from __future__ import annotations

import functools

import gmpy2
import ml_dtypes
import numpy as np
from gmpy2 import mpfr

WORK_BITS = 320
GUARD = WORK_BITS - 16


class Undecided(ArithmeticError):
    pass


@functools.cache
def constants(bits: int = WORK_BITS + 64) -> tuple[mpfr, mpfr, mpfr]:
    """(λ, λα, α) in MPFR at `bits` bits, from the same fixed-point closed forms."""
    with gmpy2.context(precision=bits):
        sqrt_e = gmpy2.sqrt(gmpy2.exp(1))
        phi1 = gmpy2.erfc(1 / gmpy2.sqrt(2)) / 2  # Φ(-1)
        phi2 = gmpy2.erfc(gmpy2.sqrt(2)) / 2  # Φ(-2)
        alpha = (1 / gmpy2.sqrt(2 * gmpy2.const_pi())) / (mpfr(1) / 2 - sqrt_e * phi1)
        lam = 1 / gmpy2.sqrt(
            mpfr(1) / 2 + alpha**2 * (gmpy2.exp(2) * phi2 - 2 * sqrt_e * phi1 + mpfr(1) / 2)
        )
        return lam, lam * alpha, alpha


def finfo(dtype):
    """numpy's finfo, or ml_dtypes' for bfloat16 (numpy does not know it)."""
    return ml_dtypes.finfo(dtype) if np.dtype(dtype) == ml_dtypes.bfloat16 else np.finfo(dtype)


@functools.cache
def ieee_context(dtype) -> gmpy2.context:
    """An MPFR context that rounds like the IEEE format of `dtype` (nearest, ties to even)."""
    info = finfo(dtype)
    precision = info.nmant + 1
    emin, emax = info.minexp, info.maxexp - 1  # normal exponents, x = 1.f·2^e
    # MPFR writes x = 0.1f·2^E, so its exponent is one more than IEEE's.
    return gmpy2.context(
        precision=precision,
        emin=emin - precision + 2,
        emax=emax + 1,
        subnormalize=True,
        round=gmpy2.RoundToNearest,
    )


def exact(quantity: str, x: float, at_zero: str = "left") -> mpfr:
    """selu(x) or selu'(x) at WORK_BITS bits (NaN, inf and signed zeros by IEEE rules)."""
    lam, lam_alpha, _ = constants()
    with gmpy2.context(precision=WORK_BITS, emin=-(2**40), emax=2**40):
        xm = mpfr(x)
        if gmpy2.is_nan(xm):
            return xm
        if quantity == "forward":
            return lam * xm if xm > 0 else lam_alpha * gmpy2.expm1(xm)
        if xm > 0:
            return +lam
        if xm == 0:
            return +lam_alpha if at_zero == "left" else +lam
        return lam_alpha * gmpy2.exp(xm)


def rounded(quantity: str, x: float, dtype, at_zero: str = "left") -> float:
    """The correctly rounded value in `dtype`, as a Python float (exact)."""
    v = exact(quantity, x, at_zero)
    if gmpy2.is_nan(v) or gmpy2.is_infinite(v) or v == 0:
        with ieee_context(dtype):
            return float(+v)
    with gmpy2.context(precision=2 * WORK_BITS, emin=-(2**40), emax=2**40):
        low = v * (1 - mpfr(2) ** -GUARD)
        high = v * (1 + mpfr(2) ** -GUARD)
    with ieee_context(dtype):
        a, b = float(+low), float(+high)
    if a != b:
        raise Undecided(f"{quantity}({x.hex()}) in {np.dtype(dtype).name}: too close to call")
    return a


def as_float64(x: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):  # signalling NaNs become quiet NaNs
        return np.asarray(x).astype(np.float64)


def rounded_array(quantity: str, x: np.ndarray, at_zero: str = "left") -> np.ndarray:
    """`rounded` over an array; the result has x's dtype and shape."""
    values = [rounded(quantity, v, x.dtype.type, at_zero) for v in as_float64(x).ravel().tolist()]
    return np.array(values, dtype=np.float64).astype(x.dtype).reshape(x.shape)


def bits_equal(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Elementwise: same bit pattern, or both NaN (NaN payloads are not part of the contract)."""
    a64, b64 = as_float64(a), as_float64(b)
    same = (a64 == b64) & (np.signbit(a64) == np.signbit(b64))
    return same | (np.isnan(a64) & np.isnan(b64))


def describe_mismatches(x, got, want, limit: int = 5) -> str:
    bad = np.flatnonzero(~bits_equal(got, want).ravel())
    lines = [f"{bad.size} mismatches"]
    for i in bad[:limit]:
        xi, gi, wi = (float(as_float64(a).ravel()[i]) for a in (x, got, want))
        lines.append(f"  x={xi.hex()}: got {gi.hex()}, want {wi.hex()}")
    return "\n".join(lines)
