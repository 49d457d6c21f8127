"""The fast path's error bound, measured: numpy's float64 SELU against MPFR.

fast.py assumes numpy's float64 exp and expm1 are within 64 ulp (E_LIBM = 2^-46) and
certifies with RELATIVE_BOUND = 2^-44. Here the actual error of the float64 evaluation is
measured on every finite nonzero float16 and bfloat16 input and on float32 samples over
every binade; it must stay at least 64 times below the bound the certificate uses.
"""

import gmpy2
import ml_dtypes
import mpfr_oracle as oracle
import numpy as np
import pytest

from reference import fast

UINT = {np.float16: np.uint16, ml_dtypes.bfloat16: np.uint16, np.float32: np.uint32}


def inputs(dtype):
    if dtype is np.float32:
        rng = np.random.default_rng(7)
        bits = rng.integers(0, 2**32, 1 << 14, dtype=np.uint64).astype(np.uint32)
        x = bits.view(np.float32)
        # Hard regions too: tiny negatives, around -1, where exp underflows in float64.
        extra = np.concatenate(
            [
                -np.exp2(rng.uniform(-149, 0, 4096)),
                rng.uniform(-2, 0, 4096),
                rng.uniform(-760, -700, 2048),
            ]
        ).astype(np.float32)
        x = np.concatenate([x, extra])
    else:
        x = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16).view(dtype)
    x = oracle.as_float64(x)
    return x[np.isfinite(x) & (x != 0)]


def max_relative_error(quantity, x):
    y = fast.approximate(quantity, x)
    worst = gmpy2.mpfr(0)
    with gmpy2.context(precision=200, emin=-(2**40), emax=2**40):
        for xi, yi in zip(x.tolist(), y.tolist(), strict=True):
            exact = oracle.exact(quantity, xi)
            if abs(yi) < 2.0**-1000:
                # float64 underflow: round_float64 rounds such values to zero, which is
                # right if the exact value is tiny as well.
                assert abs(exact) < 2.0**-999, xi
                continue
            worst = max(worst, abs(gmpy2.mpfr(yi) - exact) / abs(exact))
    return float(worst)


@pytest.mark.parametrize("dtype", list(UINT), ids=["float16", "bfloat16", "float32"])
@pytest.mark.parametrize("quantity", ["forward", "gradient"])
def test_float64_evaluation_is_far_inside_its_bound(dtype, quantity):
    error = max_relative_error(quantity, inputs(dtype))
    print(f"{quantity} max relative error {error:.3g} = 2^{np.log2(error):.2f}")
    assert error <= fast.RELATIVE_BOUND / 64
