"""Element-wise comparison: classes of special values apart, ulps against the exact value."""

import math

import ml_dtypes
import numpy as np
import pytest

import reference
from conformance.measure import compare, encoding_distance, hexf, summarize
from reference import FLOAT16, FLOAT32


def measure(x, got, fmt=FLOAT32, quantity="forward"):
    x = np.asarray(x, dtype=fmt.dtype)
    got = np.asarray(got, dtype=fmt.dtype)
    expected = reference.evaluate(quantity, x)
    return compare(got, expected.values, expected.residual, x, fmt), expected


def test_ulp_error_is_measured_against_the_exact_value():
    x = np.float32([-1.0, 1.0, 0.5])
    exact = reference.evaluate("forward", x)
    cmp, _ = measure(x, exact.values)
    # The correctly rounded value is off the exact one by its residual, at most 1/2 ulp.
    assert np.allclose(cmp.ulp, np.abs(exact.residual))
    assert np.all(cmp.ulp <= 0.5)
    one_up = np.nextafter(exact.values, np.float32(np.inf))
    cmp, _ = measure(x, one_up)
    assert np.allclose(cmp.ulp, np.abs(1 - exact.residual))


def test_ulp_in_the_binade_below_a_power_of_two():
    # An x whose exact selu lies just inside a power of two in magnitude and rounds out to
    # it: the value next to it towards zero is half an ulp of the power away, so the error
    # is counted in the binade below. selu(x) = -2^k on the negative branch has such x.
    for k in range(-6, 1):
        x0 = np.float32(np.log1p(-(2.0**k) / 1.7580993408473768))
        xs = np.array([x0], np.float32) + np.arange(-64, 65, dtype=np.float32) * np.spacing(x0)
        exact = reference.evaluate("forward", xs)
        hits = np.flatnonzero((exact.values == np.float32(-(2.0**k))) & (exact.residual > 0))
        if hits.size:
            break
    assert hits.size, "no x found"
    i = int(hits[0])
    power, residual = -(2.0**k), float(exact.residual[i])
    inside = np.nextafter(np.float32(power), np.float32(0))
    cmp, _ = measure([xs[i]], [inside])
    exact_value = power + residual * 2.0**k * 2.0**-23
    assert math.isclose(
        cmp.ulp[0], abs(exact_value - float(inside)) / (2.0**k * 2.0**-24), rel_tol=1e-5
    )


LAM, LAM_ALPHA = 1.0507009873554805, 1.7580993408473769


def _below(v: float) -> float:
    """float32's ulp at |v| (a normal v)."""
    return 2.0 ** (math.frexp(abs(v))[1] - 1 - 23)


X_SUB, X_TINY = float(np.float32(-1e-40)), float(np.float32(-1e-30))
# (x, got, kind, the error in ulps, or None where the element has no figure)
VIOLATIONS = [
    (np.nan, 0.0, "nan-not-propagated", None),  # NaN due: no figure
    (1.0, np.nan, "spurious-nan", None),  # NaN given: no figure
    (-0.0, 0.0, "signed-zero", 0.0),
    (X_SUB, 0.0, "flush-to-zero", abs(LAM_ALPHA * X_SUB) / 2.0**-149),
    (X_TINY, 0.0, "spurious-zero", abs(LAM_ALPHA * X_TINY) / _below(LAM_ALPHA * X_TINY)),
    (3.3e38, 3.4e38, "overflow-missed", None),  # inf due: no figure
    # inf where a finite value is due counts as 2^128, the first value past FLT_MAX.
    (1.0, np.inf, "spurious-inf", (2.0**128 - LAM) / 2.0**-23),
    (0.0, 1e-45, "nonzero-for-zero", 1.0),
    (-np.inf, np.inf, "spurious-inf", (2.0**128 + LAM_ALPHA) / 2.0**-23),
]


@pytest.mark.parametrize("x,got,kind,error", VIOLATIONS, ids=[v[2] for v in VIOLATIONS])
def test_violation_kinds_and_their_figures(x, got, kind, error):
    cmp, _ = measure([x], [got])
    assert cmp.kinds[kind][0]
    assert sum(int(mask[0]) for mask in cmp.kinds.values()) == 1
    # A number given where a finite value is due is an error like any other: it counts.
    if error is None:
        assert np.isnan(cmp.ulp[0])
    else:
        assert cmp.ulp[0] == pytest.approx(error, rel=1e-6, abs=1e-12)


def test_an_overflow_one_step_early_is_about_one_ulp():
    # float32 x = 0x1.e74b3p+127: λx rounds to FLT_MAX; an implementation whose λ is rounded
    # up to float32 first gives inf, 2^128 counted: one ulp past FLT_MAX, less the residual.
    x = np.float32([float.fromhex("0x1.e74b3p+127")])
    exact = reference.evaluate("forward", x)
    assert exact.values[0] == np.finfo(np.float32).max
    cmp, _ = measure(x, [np.inf])
    assert cmp.kinds["spurious-inf"][0]
    assert cmp.ulp[0] == pytest.approx(1 - exact.residual[0], rel=1e-9)
    assert 0.5 <= cmp.ulp[0] <= 1.5


def test_the_figure_covers_violations_and_the_profile_can_leave_them_out():
    from conformance.measure import Figure

    x = np.float32([-1.0, X_SUB, X_TINY, np.nan])
    expected = reference.evaluate("forward", x).values
    got = expected.copy()
    got[0] = np.nextafter(np.nextafter(got[0], np.float32(0)), np.float32(0))  # about 2 ulp
    got[1] = got[2] = 0.0  # flushed, and a normal result lost
    got[3] = 0.0  # NaN not propagated: no figure
    cmp, _ = measure(x, got)
    s = summarize(x, got, expected, cmp)
    flushed, lost = abs(LAM_ALPHA * X_SUB) / 2.0**-149, VIOLATIONS[4][3]
    assert s.max_ulp == pytest.approx(max(flushed, lost), rel=1e-5)
    assert s.worst_input == hexf(X_SUB if flushed > lost else X_TINY)
    assert s.in_figure == 3 and s.count == 4
    figure = s.figure
    assert 1.5 < figure.without_violations < 2.5
    assert set(figure.kinds) == {"flush-to-zero", "spurious-zero", "nan-not-propagated"}
    assert figure.kinds["nan-not-propagated"] is None
    assert figure.outside(()) == s.max_ulp
    assert figure.outside({"flush-to-zero"}) == pytest.approx(lost, rel=1e-5)
    assert Figure(3.0).outside({"flush-to-zero"}) == 3.0


def test_exact_special_values_have_zero_error():
    x = [np.nan, -0.0, 0.0, np.inf]
    expected = reference.evaluate("forward", np.float32(x)).values
    cmp, _ = measure(x, expected)
    assert not cmp.violations().any() and np.all(cmp.ulp == 0)


def test_summary_reports_the_worst_input_in_hex_and_the_first_violation():
    x = np.float32([-1.0, 2.0, -0.0, -3.0])
    expected = reference.evaluate("forward", x).values
    got = expected.copy()
    got[1] = np.nextafter(got[1], np.float32(np.inf))
    got[3] = np.nextafter(np.nextafter(got[3], np.float32(0)), np.float32(0))
    got[2] = 0.0
    cmp, _ = measure(x, got)
    s = summarize(x, got, expected, cmp)
    assert s.worst_input == hexf(-3.0) and 1.5 < s.max_ulp < 2.5
    assert s.violations == {"signed-zero": 1}
    assert s.first_violation == {
        "kind": "signed-zero",
        "input": "-0x0.0p+0",
        "output": "0x0.0p+0",
        "expected": "-0x0.0p+0",
    }


@pytest.mark.parametrize("dtype", [np.float16, ml_dtypes.bfloat16, np.float32, np.float64])
def test_encoding_distance(dtype):
    a = np.array([1.0, -1.0, 0.0, 2.0], dtype=dtype)
    b = np.array([1.0, -1.0, -0.0, 2.0], dtype=dtype)
    up = np.array([float(np.nextafter(np.float64(1), 2))]).astype(dtype)
    assert np.all(encoding_distance(a, b) == 0)
    assert encoding_distance(np.array([1.0], dtype), up)[0] in (0, 1)
    neg = np.array([-1.0], dtype)
    pos = np.array([1.0], dtype)
    assert encoding_distance(neg, pos)[0] == 2 * encoding_distance(np.array([0.0], dtype), pos)[0]


def test_float16_measurement():
    x = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16).view(np.float16)
    exact = reference.evaluate("forward", x)
    cmp = compare(exact.values, exact.values, exact.residual, x, FLOAT16)
    assert not cmp.violations().any()
    assert np.nanmax(cmp.ulp) <= 0.5


def test_ulp_of_0d_arrays_and_scalars():
    from reference import FLOAT32, ulp

    assert ulp(np.array(3.0), FLOAT32) == 2.0**-22
    assert ulp(3.0, FLOAT32).shape == ()
    assert ulp(np.array([[0.0, 1.0]]), FLOAT32).tolist() == [[2.0**-149, 2.0**-23]]


def test_an_infinity_where_a_tiny_value_is_due_has_the_largest_figure():
    """float64: 2^1024 over the spacing of a small value overflows; the figure is capped at
    the largest float64, and the histogram puts it in the last finite column."""
    from conformance.measure import BUCKETS, LAST_FINITE, error_profile
    from reference import FLOAT64

    x = np.array([-(2.0**-1000)])
    exact = reference.evaluate("forward", x)
    cmp = compare(np.array([np.inf]), exact.values, exact.residual, x, FLOAT64)
    assert cmp.kinds["spurious-inf"][0] and cmp.ulp[0] == np.finfo(np.float64).max
    _, histogram = error_profile(x, cmp.ulp)
    assert histogram == {BUCKETS[LAST_FINITE]: 1}
