"""The reference's own rounding into the four formats, against hardware and library casts.

numpy's float64 -> float32 and float64 -> float16 casts and ml_dtypes' float32 -> bfloat16
cast each round once, to nearest even, with subnormals and overflow: where the input is
exactly the value to round, they are an independent implementation of the same function.
"""

import math
from fractions import Fraction

import ml_dtypes
import mpmath
import numpy as np
import pytest
from mpfr_oracle import finfo
from mpmath.libmp import from_man_exp, mpf_neg

from reference import (
    BFLOAT16,
    FLOAT16,
    FLOAT32,
    FLOAT64,
    FORMATS,
    format_of,
    round_float64,
    round_mpf,
)
from reference.fast import MARGIN

NARROW = [FLOAT16, BFLOAT16, FLOAT32]


@pytest.mark.parametrize("fmt", FORMATS.values(), ids=str)
def test_format_parameters_match_finfo(fmt):
    info = finfo(fmt.dtype)
    assert fmt.precision == info.nmant + 1
    assert fmt.max_finite == float(info.max)
    assert fmt.smallest_normal == float(info.smallest_normal)
    assert fmt.smallest_subnormal == float(info.smallest_subnormal)
    assert fmt.largest_subnormal == fmt.smallest_normal - fmt.smallest_subnormal
    assert fmt.ulp(1.0) == float(info.eps)
    assert fmt.bits == info.bits


@pytest.mark.parametrize(
    "dtype",
    [
        np.int32,
        np.int8,
        np.bool_,
        np.complex64,
        np.complex128,
        object,
        np.uint16,
        ml_dtypes.float8_e4m3fn,
        np.longdouble,
    ],
)
def test_unsupported_dtypes_are_refused_by_name(dtype):
    with pytest.raises(ValueError, match="float16, bfloat16, float32, float64"):
        format_of(np.zeros(2, dtype=dtype))


def test_format_lookup():
    assert format_of("bfloat16") is BFLOAT16
    assert format_of(np.float32) is FLOAT32
    assert format_of(np.zeros(3, ml_dtypes.bfloat16)) is BFLOAT16
    with pytest.raises(ValueError, match="supports"):
        format_of("float128")


def cast(values64: np.ndarray, fmt) -> np.ndarray:
    """The library cast into fmt, as float64 (single rounding for each path used)."""
    with np.errstate(over="ignore"):
        if fmt is BFLOAT16:
            # float64 -> float32 must be exact for the bfloat16 cast to be a single rounding.
            as32 = values64.astype(np.float32)
            assert np.all((as32.astype(np.float64) == values64) | np.isnan(values64))
            return as32.astype(ml_dtypes.bfloat16).astype(np.float64)
        return values64.astype(fmt.dtype).astype(np.float64)


def random_values(fmt, n=1 << 16, seed=0):
    """float64 values to round into fmt: around every binade of fmt, subnormals and the
    overflow threshold included, with every bit below fmt's precision random, and exact
    midpoints. For bfloat16 the values are float32 so that the reference cast is exact."""
    rng = np.random.default_rng(seed)
    exps = rng.integers(fmt.qmin - 3, fmt.emax + 2, n)
    mantissa_bits = 24 if fmt is BFLOAT16 else 53
    mant = rng.integers(1 << (mantissa_bits - 1), 1 << mantissa_bits, n, dtype=np.int64)
    values = np.ldexp(mant.astype(np.float64), exps - mantissa_bits + 1)
    # Exact midpoints between neighbours of fmt: ties go to even.
    mid = rng.integers(0, n, n // 8)
    q = np.ldexp(1.0, np.maximum(np.frexp(values[mid])[1] - 1, fmt.emin) - fmt.precision + 1)
    values[mid] = (np.floor(values[mid] / q) + 0.5) * q
    values[rng.integers(0, n, n // 2)] *= -1
    threshold = float(fmt.overflow_threshold)
    values = np.concatenate(
        [
            values,
            [
                0.0,
                -0.0,
                np.inf,
                -np.inf,
                threshold,
                np.nextafter(threshold, 0),
                fmt.max_finite,
                fmt.smallest_subnormal / 2,
                fmt.smallest_subnormal * 1.5,
            ],
        ]
    )
    if fmt is BFLOAT16:  # float32 values (the midpoints of bfloat16 are float32 values)
        with np.errstate(over="ignore"):
            values = values.astype(np.float32).astype(np.float64)
    return values


@pytest.mark.parametrize("fmt", NARROW, ids=str)
def test_round_mpf_matches_casts(fmt):
    values = random_values(fmt, n=1 << 13)
    values = values[values != 0]  # mpmath has no signed zero; the callers handle ±0 first
    want = cast(values, fmt)
    got = np.array([round_mpf(mpmath.mpf(v), fmt) for v in values.tolist()])
    assert np.array_equal(got, want)
    assert np.array_equal(np.signbit(got), np.signbit(want))


@pytest.mark.parametrize("fmt", NARROW, ids=str)
def test_round_float64_matches_casts(fmt):
    values = random_values(fmt)
    want = cast(values, fmt)
    got, margin = round_float64(values, fmt)
    assert np.array_equal(got, want)
    assert np.array_equal(np.signbit(got), np.signbit(want))
    assert margin.dtype == np.int64 and np.all(margin >= 0)


@pytest.mark.parametrize("fmt", NARROW, ids=str)
def test_round_float64_over_all_bit_patterns(fmt):
    # Uniform float64 bit patterns, mostly far outside fmt's range (overflow, tiny); for
    # bfloat16 uniform float32 patterns, so that the library cast rounds once.
    rng = np.random.default_rng(1)
    if fmt is BFLOAT16:
        values = rng.integers(0, 2**32, 1 << 16, dtype=np.uint32).view(np.float32)
    else:
        values = rng.integers(0, 2**64 - 1, 1 << 16, dtype=np.uint64).view(np.float64)
    values = values[~np.isnan(values)].astype(np.float64)
    got, _ = round_float64(values, fmt)
    assert np.array_equal(got, cast(values, fmt))


@pytest.mark.parametrize("fmt", NARROW, ids=str)
def test_margin_is_distance_to_nearest_boundary(fmt):
    """Numbers within margin/2 float64 ulps of y round as y does, and moving margin + 1
    encodings (within y's binade) towards the boundary crosses it."""
    values = random_values(fmt, n=1 << 12, seed=2)
    values = values[np.isfinite(values) & (np.abs(values) > 2.0**-1000)]
    rounded, margin = round_float64(values, fmt)
    crossed = 0
    for y, r, m in zip(values.tolist(), rounded.tolist(), margin.tolist(), strict=True):
        assert m <= 2**54  # at most half a quantum (2^55 encodings in the deepest case)
        step = (m // 2) * math.ulp(y)
        for probe in (y - step, y + step):
            assert round_float64(np.array([probe]), fmt)[0][0] == r, (y.hex(), m)
        bits = np.array([abs(y)]).view(np.int64)
        probes = np.concatenate([bits - (m + 1), bits + (m + 1)])
        probes = probes[(probes >> 52) == (bits >> 52)].view(np.float64)  # y's binade
        if probes.size == 2 and abs(y) < 2.0 ** (fmt.emax + 1):  # above: no boundaries
            moved = round_float64(probes, fmt)[0]
            assert np.any(moved != abs(r)), (y.hex(), m)
            crossed += 1
    assert crossed > 1000
    midpoints = values[margin == 0]
    assert midpoints.size > 100  # the generator's exact midpoints were found


def test_margin_threshold_of_the_fast_path():
    # 2^-44 relative error is below 2^9 ulps of y; margin counts encodings, half-size below.
    assert MARGIN == 1024


@pytest.mark.parametrize("fmt", FORMATS.values(), ids=str)
def test_round_mpf_beyond_float64_range_and_precision(fmt):
    big = mpmath.ldexp(1, 5000)
    small = mpmath.ldexp(1, -5000)
    assert round_mpf(big, fmt) == math.inf
    assert round_mpf(-big, fmt) == -math.inf
    assert round_mpf(small, fmt) == 0.0 and math.copysign(1, round_mpf(-small, fmt)) == -1
    # A 400-bit number a hair above / below a midpoint, and exactly on one.
    one_ulp = fmt.ulp(1.0)
    with mpmath.workprec(400):
        mid = 1 + mpmath.mpf(one_ulp) / 2
        hair = mpmath.ldexp(1, -390)
        assert round_mpf(mid + hair, fmt) == 1 + one_ulp
        assert round_mpf(mid - hair, fmt) == 1.0
        assert round_mpf(mid, fmt) == 1.0  # tie to even
        assert round_mpf(mid + one_ulp, fmt) == 1 + 2 * one_ulp  # tie to even, upwards
        # The overflow threshold: ties to even go up to infinity.
        threshold = mpmath.mpf(fmt.overflow_threshold.numerator) / (
            fmt.overflow_threshold.denominator
        )
        assert round_mpf(threshold, fmt) == math.inf
        assert round_mpf(threshold * (1 - hair), fmt) == fmt.max_finite
        # Half the smallest subnormal ties to zero; a hair more rounds up.
        half_sub = mpmath.ldexp(1, fmt.qmin - 1)
        assert round_mpf(half_sub, fmt) == 0.0
        assert round_mpf(half_sub * (1 + hair), fmt) == fmt.smallest_subnormal
    assert math.isnan(round_mpf(mpmath.nan, fmt))


def test_round_float64_refuses_float64():
    with pytest.raises(ValueError):
        round_float64(np.zeros(1), FLOAT64)


def test_round_mpf_into_float64_matches_python_fraction_conversion():
    # CPython converts an exact rational to float correctly rounded (ties to even,
    # subnormals, OverflowError beyond the overflow threshold): an independent float64
    # rounding for 120-bit values over the whole exponent range.
    rng = np.random.default_rng(8)
    for _ in range(4000):
        man = int(rng.integers(1 << 62, 1 << 63)) << 57 | int(rng.integers(0, 1 << 57))
        exp = int(rng.integers(-1200, 920)) - 119
        if rng.random() < 0.1:  # exact midpoints between float64 neighbours
            man = (man >> 67 << 1 | 1) << 66  # 53 bits, then a half
        value = from_man_exp(man, exp)  # exact (mpf objects would round to 53 bits)
        assert int(value[1]) * Fraction(2) ** value[2] == Fraction(man) * Fraction(2) ** exp
        try:
            want = float(Fraction(man) * Fraction(2) ** exp)
        except OverflowError:
            want = math.inf
        assert round_mpf(value, FLOAT64) == want, (man, exp)
        assert round_mpf(mpf_neg(value), FLOAT64) == -want
