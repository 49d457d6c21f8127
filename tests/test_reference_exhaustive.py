"""Every float16 and every bfloat16 input: the reference is bit-exact against the MPFR oracle,
and its fast path gives exactly what its pure-mpmath path gives."""

import ml_dtypes
import mpfr_oracle as oracle
import numpy as np
import pytest

from reference import EvalStats, selu, selu_grad

FORMATS = {"float16": np.float16, "bfloat16": ml_dtypes.bfloat16}


def every_value(dtype) -> np.ndarray:
    return np.arange(1 << 16, dtype=np.uint32).astype(np.uint16).view(dtype)


@pytest.fixture(scope="module", params=list(FORMATS))
def all_inputs(request):
    return every_value(FORMATS[request.param])


@pytest.mark.parametrize("quantity", ["forward", "gradient"])
def test_exhaustive_against_mpfr_oracle(all_inputs, quantity):
    x = all_inputs
    stats = EvalStats()
    got = selu(x, stats=stats) if quantity == "forward" else selu_grad(x, stats=stats)
    want = oracle.rounded_array(quantity, x)
    assert oracle.bits_equal(got, want).all(), oracle.describe_mismatches(x, got, want)
    assert stats.inputs == 1 << 16
    print(f"{x.dtype} {quantity}: {stats.mpmath} of {stats.inputs} inputs needed mpmath")


@pytest.mark.parametrize("quantity", ["forward", "gradient"])
def test_exhaustive_fast_path_equals_pure_mpmath(all_inputs, quantity):
    x = all_inputs
    f = selu if quantity == "forward" else selu_grad
    fast, slow = f(x), f(x, fast=False)
    assert oracle.bits_equal(fast, slow).all(), oracle.describe_mismatches(x, fast, slow)


def test_exhaustive_right_derivative_at_zero(all_inputs):
    # at_zero only changes ±0; everywhere else the two calls agree bit for bit.
    x = all_inputs
    left, right = selu_grad(x, at_zero="left"), selu_grad(x, at_zero="right")
    differ = ~oracle.bits_equal(left, right)
    assert np.array_equal(np.flatnonzero(differ), np.flatnonzero(oracle.as_float64(x) == 0))
    want = oracle.rounded_array("gradient", x[differ], at_zero="right")
    assert oracle.bits_equal(right[differ], want).all()
