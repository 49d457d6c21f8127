"""reference.selu / selu_grad against the independent MPFR oracle, at the hard places.

The hard places of each format are found here by searching the format's own values with
the oracle (not with the reference): the tiny negatives where e^x - 1 cancels, the largest
x with a finite result, the subnormal results, the x below which the result is -λα, the
x below which the derivative underflows to zero. Each is checked with its neighbours.
"""

import math

import ml_dtypes
import mpfr_oracle as oracle
import numpy as np
import pytest
from mpfr_oracle import finfo

import reference
from reference import EvalStats, selu, selu_grad

DTYPES = [np.float16, ml_dtypes.bfloat16, np.float32, np.float64]
IDS = ["float16", "bfloat16", "float32", "float64"]
UINT = {2: np.uint16, 4: np.uint32, 8: np.uint64}


def function(quantity):
    return selu if quantity == "forward" else selu_grad


def check(quantity, x, at_zero="left", **kwargs):
    """Reference and oracle agree bit for bit on every element of x."""
    x = np.asarray(x)
    if quantity == "forward":
        got = selu(x, **kwargs)
    else:
        got = selu_grad(x, at_zero=at_zero, **kwargs)
    want = oracle.rounded_array(quantity, x, at_zero)
    assert got.dtype == x.dtype and got.shape == x.shape
    assert oracle.bits_equal(got, want).all(), oracle.describe_mismatches(x, got, want)


def from_magnitude_bits(dtype, k, negative=False):
    """The value of dtype whose magnitude has encoding k (monotone in k)."""
    uint = UINT[np.dtype(dtype).itemsize]
    value = np.array(k, dtype=uint).view(dtype).astype(np.float64)[()]
    return -value if negative else value


def neighbourhood(dtype, x, width=3):
    """x and `width` values of dtype on each side (by encoding), as an array of dtype."""
    x = np.array(x, dtype=dtype)
    uint = UINT[x.dtype.itemsize]
    bits = int(np.abs(x).view(uint))
    ks = [k for k in range(bits - width, bits + width + 1) if 0 <= k]
    values = [from_magnitude_bits(dtype, k, np.signbit(x)) for k in ks]
    values = [v for v in values if not math.isnan(v)]
    return np.array(values, dtype=np.float64).astype(dtype)


def last_where(dtype, predicate, negative):
    """The largest magnitude encoding k for which predicate(value) holds, assuming it holds
    for all smaller k (from 0) and fails at the largest finite value."""
    top = int(np.array(np.inf, dtype=dtype).view(UINT[np.dtype(dtype).itemsize])) - 1
    lo, hi = 0, top  # predicate(lo) is True, predicate(hi) is False
    assert predicate(from_magnitude_bits(dtype, lo, negative))
    assert not predicate(from_magnitude_bits(dtype, hi, negative))
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if predicate(from_magnitude_bits(dtype, mid, negative)):
            lo = mid
        else:
            hi = mid
    return from_magnitude_bits(dtype, lo, negative)


# ---------------------------------------------------------------- special values


SPECIAL = [  # (quantity, x, at_zero, expected as a function of (λ, λα) rounded)
    ("forward", 0.0, "left", lambda c: 0.0),
    ("forward", -0.0, "left", lambda c: -0.0),
    ("forward", math.inf, "left", lambda c: math.inf),
    ("forward", -math.inf, "left", lambda c: -c[1]),
    ("forward", math.nan, "left", lambda c: math.nan),
    ("gradient", 0.0, "left", lambda c: c[1]),
    ("gradient", -0.0, "left", lambda c: c[1]),
    ("gradient", 0.0, "right", lambda c: c[0]),
    ("gradient", -0.0, "right", lambda c: c[0]),
    ("gradient", math.inf, "left", lambda c: c[0]),
    ("gradient", -math.inf, "left", lambda c: 0.0),
    ("gradient", math.nan, "left", lambda c: math.nan),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=IDS)
@pytest.mark.parametrize(
    "quantity,x,at_zero,expected", SPECIAL, ids=[f"{q}-{x}-{z}" for q, x, z, _ in SPECIAL]
)
@pytest.mark.parametrize("fast", [True, False], ids=["fast", "mpmath"])
def test_special_values(dtype, quantity, x, at_zero, expected, fast):
    lam, lam_alpha, _ = oracle.constants()
    constants = (
        float(np.array(float(lam), dtype=np.float64).astype(dtype)),
        float(np.array(float(lam_alpha), dtype=np.float64).astype(dtype)),
    )
    if np.dtype(dtype) == np.float64:
        constants = (float(lam), float(lam_alpha))
    xs = np.array([x], dtype=dtype)
    kwargs = {"at_zero": at_zero} if quantity == "gradient" else {}
    got = float(function(quantity)(xs, fast=fast, **kwargs)[0])
    want = expected(constants)
    if math.isnan(want):
        assert math.isnan(got)
    else:
        assert got == want and math.copysign(1, got) == math.copysign(1, want), (got, want)
    check(quantity, xs, at_zero, fast=fast)


# ---------------------------------------------------------------- hard places


@pytest.mark.parametrize("dtype", DTYPES, ids=IDS)
def test_tiny_negatives_where_expm1_cancels(dtype):
    info = finfo(dtype)
    fmt = reference.format_of(np.dtype(dtype))
    xs = []
    for k in range(fmt.qmin, 1, max(1, (1 - fmt.qmin) // 150)):
        xs.extend(neighbourhood(dtype, -math.ldexp(1.0, k), 2).tolist())
    xs.extend([-float(info.smallest_subnormal), -float(info.smallest_normal), -1e-3, -0.5])
    x = np.array(xs, dtype=np.float64).astype(dtype)
    check("forward", x)
    check("gradient", x)


@pytest.mark.parametrize("dtype", DTYPES, ids=IDS)
def test_largest_x_with_a_finite_result(dtype):
    x_top = last_where(
        dtype, lambda v: math.isfinite(oracle.rounded("forward", v, dtype)), negative=False
    )
    near = neighbourhood(dtype, x_top, 4)
    check("forward", near)
    got = selu(near).astype(np.float64)
    assert np.isfinite(got[near.astype(np.float64) <= x_top]).all()
    assert np.isinf(got[near.astype(np.float64) > x_top]).all()
    # λ > 1, so the last finite x lies below the format's max.
    assert x_top < float(finfo(dtype).max)
    check("forward", np.array([float(finfo(dtype).max), -float(finfo(dtype).max)], dtype=dtype))


@pytest.mark.parametrize("dtype", DTYPES, ids=IDS)
def test_subnormal_results(dtype):
    info = finfo(dtype)
    tiny = float(info.smallest_subnormal)
    normal = float(info.smallest_normal)
    rng = np.random.default_rng(3)
    sub = rng.uniform(0, normal, 400)
    xs = np.concatenate([sub, -sub, [tiny, -tiny, 2 * tiny, -2 * tiny, normal, -normal]])
    # selu(x) is subnormal for |x| below about normal/λ and normal/(λα): both edges.
    lam, lam_alpha, _ = oracle.constants()
    for edge in (normal / float(lam), -normal / float(lam_alpha)):
        xs = np.concatenate([xs, neighbourhood(dtype, edge, 3).astype(np.float64)])
    x = xs.astype(dtype)
    check("forward", x)
    # The derivative λα·e^x is subnormal for x between ln(2^qmin/λα) and ln(2^emin/λα).
    lo = math.log(tiny / float(lam_alpha))
    hi = math.log(normal / float(lam_alpha))
    g = np.concatenate([rng.uniform(lo - 1, hi + 1, 400), [lo, hi]]).astype(dtype)
    check("gradient", g)
    assert (selu_grad(g).astype(np.float64) < normal).sum() > 100


@pytest.mark.parametrize("dtype", DTYPES, ids=IDS)
def test_where_the_result_becomes_minus_lambda_alpha(dtype):
    saturated = oracle.rounded("forward", -math.inf, dtype)
    # The negative x of smallest magnitude whose selu is -λα rounded: search the encodings.
    x_sat = last_where(
        dtype, lambda v: oracle.rounded("forward", v, dtype) != saturated, negative=True
    )
    near = neighbourhood(dtype, x_sat, 4)
    check("forward", near)
    got = selu(near).astype(np.float64)
    beyond = near.astype(np.float64) < x_sat
    assert (got[beyond] == saturated).all() and (got[~beyond] != saturated).all()
    check("forward", np.array([-float(finfo(dtype).max), -1e4, -100.0], dtype=dtype))


@pytest.mark.parametrize("dtype", DTYPES, ids=IDS)
def test_where_the_derivative_underflows(dtype):
    x_zero = last_where(dtype, lambda v: oracle.rounded("gradient", v, dtype) != 0.0, negative=True)
    near = neighbourhood(dtype, x_zero, 4)
    check("gradient", near)
    got = selu_grad(near).astype(np.float64)
    beyond = near.astype(np.float64) < x_zero
    assert (got[beyond] == 0.0).all() and (got[~beyond] > 0.0).all()
    assert not np.signbit(got).any()
    big = float(finfo(dtype).max)
    check("gradient", np.array([-big, -big / 3, -math.inf], dtype=dtype))


@pytest.mark.parametrize("dtype", DTYPES, ids=IDS)
def test_ones_and_format_landmarks(dtype):
    info = finfo(dtype)
    marks = [
        1.0,
        float(info.max),
        float(info.smallest_normal),
        float(info.smallest_subnormal),
        float(info.eps),
        0.5,
        2.0,
        10.0,
        88.0,
        700.0,
    ]
    x = np.array(marks + [-m for m in marks], dtype=np.float64).astype(dtype)
    check("forward", x)
    check("gradient", x)


# ---------------------------------------------------------------- random samples


def sample(dtype, n, seed):
    """Uniform over encodings, and log-uniform over the magnitudes of both signs."""
    rng = np.random.default_rng(seed)
    size = np.dtype(dtype).itemsize
    uint = UINT[size]
    bits = rng.integers(0, np.iinfo(uint).max, n, dtype=uint, endpoint=True).view(dtype)
    fmt = reference.format_of(np.dtype(dtype))
    mags = np.exp2(rng.uniform(fmt.qmin, 8, n)) * rng.choice([-1.0, 1.0], n)
    return np.concatenate([bits, mags.astype(dtype)])


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("quantity", ["forward", "gradient"])
def test_random_sample_against_oracle(dtype, quantity):
    x = sample(dtype, 1 << 13 if dtype == np.float32 else 1 << 11, seed=4)
    check(quantity, x)


@pytest.mark.parametrize("quantity", ["forward", "gradient"])
def test_fast_path_equals_pure_mpmath_on_float32(quantity):
    x = sample(np.float32, 1 << 13, seed=5)
    stats = EvalStats()
    fast = function(quantity)(x, stats=stats)
    slow = function(quantity)(x, fast=False)
    assert oracle.bits_equal(fast, slow).all(), oracle.describe_mismatches(x, fast, slow)
    assert stats.inputs == x.size == stats.fast + stats.mpmath


def test_fast_path_sends_few_inputs_to_mpmath():
    x = np.random.default_rng(6).standard_normal(1 << 20).astype(np.float32)
    stats = EvalStats()
    selu(x, stats=stats)
    selu_grad(x, stats=stats)
    assert stats.inputs == 2 * x.size
    assert 0 < stats.mpmath < 2 * x.size * 1e-4  # a few in a million, by the error bound
    assert stats.evaluations <= stats.mpmath


# ---------------------------------------------------------------- arrays and dtypes


def test_shape_and_dtype_are_kept():
    for dtype in DTYPES:
        for shape in [(), (0,), (3, 4), (2, 1, 5)]:
            x = np.linspace(-3, 3, max(1, math.prod(shape)))[: math.prod(shape)]
            x = x.reshape(shape).astype(dtype)
            for f in (selu, selu_grad):
                y = f(x)
                assert y.dtype == x.dtype and y.shape == x.shape
    x = np.linspace(-3, 3, 64, dtype=np.float32).reshape(8, 8)
    for view in (x.T, x[::2, ::3], x[:, 1]):
        assert np.array_equal(selu(view), selu(np.ascontiguousarray(view)))
    assert selu(np.float32(-1.0)).shape == ()


@pytest.mark.parametrize("dtype", [np.int32, np.complex64, object, np.bool_, np.int64])
def test_unsupported_dtypes_raise_value_error(dtype):
    x = np.zeros(3, dtype=dtype)
    for f in (selu, selu_grad):
        with pytest.raises(ValueError, match="supports float16, bfloat16, float32, float64"):
            f(x)


def test_bad_at_zero():
    with pytest.raises(ValueError, match="at_zero"):
        selu_grad(np.zeros(1, np.float32), at_zero="middle")
