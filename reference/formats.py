"""The four binary floating-point formats the reference rounds into.

A format is described by its precision p (significand bits, the implicit bit included) and
its normal exponent range [emin, emax]: every finite value is ±N·2^q with N an integer,
0 <= N < 2^p and q >= emin - p + 1, and the largest finite value is (2 - 2^(1-p))·2^emax.
Everything else in this module (smallest subnormal, overflow threshold, ...) is derived
from these three numbers, so that the rounding code and the tests read the same facts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import ml_dtypes
import numpy as np


@dataclass(frozen=True)
class Format:
    """An IEEE-754-style binary format with subnormals, ±0, ±inf and NaN."""

    name: str
    dtype: np.dtype
    precision: int  # p, significand bits including the implicit one
    emin: int  # exponent of the smallest normal number
    emax: int  # exponent of the largest finite number

    @property
    def qmin(self) -> int:
        """Exponent of the quantum in the subnormal range: the smallest subnormal is 2^qmin."""
        return self.emin - self.precision + 1

    @property
    def smallest_subnormal(self) -> float:
        return math.ldexp(1.0, self.qmin)

    @property
    def largest_subnormal(self) -> float:
        return math.ldexp((1 << (self.precision - 1)) - 1, self.qmin)

    @property
    def smallest_normal(self) -> float:
        return math.ldexp(1.0, self.emin)

    @property
    def max_finite(self) -> float:
        return math.ldexp((1 << self.precision) - 1, self.emax - self.precision + 1)

    @property
    def overflow_threshold(self) -> Fraction:
        """Magnitudes >= this round (to nearest) to infinity: max_finite + ulp/2, exactly.

        A Fraction, since for float64 it is no float64 value; float() of it is exact for
        the narrower formats.
        """
        return Fraction((1 << (self.precision + 1)) - 1) * Fraction(2) ** (
            self.emax - self.precision
        )

    @property
    def bits(self) -> int:
        return self.dtype.itemsize * 8

    def ulp(self, value: float) -> float:
        """Spacing of the format at |value| (its binade's quantum; 2^qmin below the normals)."""
        if value == 0 or not math.isfinite(value):
            return self.smallest_subnormal
        exponent = math.frexp(abs(value))[1] - 1
        return math.ldexp(1.0, max(exponent, self.emin) - self.precision + 1)

    def __str__(self) -> str:
        return self.name


def ulp(values: np.ndarray, fmt: Format) -> np.ndarray:
    """Vectorised Format.ulp: the spacing of `fmt` at each |value| (float64 array of values
    of fmt); 2^qmin at zero and below the normal range, NaN at NaN and infinities.

    Read from the float64 encoding (its exponent field), which the exhaustive sweeps need
    at memory speed: frexp/ldexp cost ten times as much.
    """
    values = np.asarray(values, dtype=np.float64)
    shape = values.shape
    values = np.ascontiguousarray(values.reshape(-1))  # 0-d and views alike
    biased = (values.view(np.uint64) >> np.uint64(52)).astype(np.int32) & 0x7FF
    # max(exponent, emin) - p + 1, as a biased float64 exponent; float64 zeros and
    # subnormals (biased 0) fall below emin of every format and take the fixed quantum.
    exponent = np.maximum(biased - 1023, fmt.emin) - fmt.precision + 1
    if fmt.qmin >= -1022:
        spacing = ((exponent + 1023).astype(np.uint64) << np.uint64(52)).view(np.float64)
    else:  # float64's own subnormal quantum 2^-1074 has no exponent field of its own
        spacing = np.ldexp(1.0, exponent)
    spacing[biased == 0x7FF] = np.nan
    return spacing.reshape(shape)


FLOAT16 = Format("float16", np.dtype(np.float16), precision=11, emin=-14, emax=15)
BFLOAT16 = Format("bfloat16", np.dtype(ml_dtypes.bfloat16), precision=8, emin=-126, emax=127)
FLOAT32 = Format("float32", np.dtype(np.float32), precision=24, emin=-126, emax=127)
FLOAT64 = Format("float64", np.dtype(np.float64), precision=53, emin=-1022, emax=1023)

FORMATS: dict[str, Format] = {f.name: f for f in (FLOAT16, BFLOAT16, FLOAT32, FLOAT64)}
SUPPORTED = ", ".join(FORMATS)


def format_of(dtype_like) -> Format:
    """The Format of a dtype, a dtype name or an array; ValueError for anything else.

    Accepts numpy dtypes, dtype names ("float32", "bfloat16") and arrays. Integer, bool,
    complex, object and the other ml_dtypes formats are rejected, naming the supported ones.
    """
    if isinstance(dtype_like, str):
        if dtype_like in FORMATS:
            return FORMATS[dtype_like]
        raise ValueError(f"unsupported dtype {dtype_like!r}: the reference supports {SUPPORTED}")
    if isinstance(dtype_like, np.ndarray | np.generic):
        dtype = dtype_like.dtype
    else:
        try:
            dtype = np.dtype(dtype_like)
        except TypeError:
            raise ValueError(
                f"unsupported dtype {dtype_like!r}: the reference supports {SUPPORTED}"
            ) from None
    for fmt in FORMATS.values():
        if dtype == fmt.dtype:
            return fmt
    raise ValueError(f"unsupported dtype {dtype}: the reference supports {SUPPORTED}")
