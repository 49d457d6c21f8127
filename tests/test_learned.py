"""What a run learns from an input that hung or crashed (conformance/learned.py)."""

import ml_dtypes
import numpy as np
import pytest

from conformance.learned import MAX_HANGS, FailedInput, Learned


@pytest.mark.parametrize("dtype", [np.float16, ml_dtypes.bfloat16, np.float32, np.float64])
def test_a_failed_input_stands_for_its_value_in_every_dtype(dtype):
    nan = FailedInput(float("nan"), "timeout", "float16 forward, special case NaN", "")
    zero = FailedInput(-0.0, "crash", "float32 forward, special case -0", "")
    x = np.array([np.nan, -np.nan, 0.0, -0.0, 1.5]).astype(dtype)
    assert nan.matches(x).tolist() == [True, True, False, False, False]  # every NaN
    assert zero.matches(x).tolist() == [False, False, False, True, False]  # -0, not +0
    learned = Learned()
    learned.add(nan)
    learned.add(zero)
    learned.add(nan)  # learned once
    assert learned.mask(x).tolist() == [True, True, False, True, False]
    assert learned.left_out(x) == [nan.as_record(2), zero.as_record(1)]
    assert nan.describe() == "it hung on x = NaN (float16 forward, special case NaN)"


def test_after_max_hangs_no_more_calls_are_made():
    learned = Learned()
    for _ in range(MAX_HANGS - 1):
        learned.count("timeout")
        assert learned.exhausted is None
    learned.count("error")  # an exception costs no worker: not counted
    assert learned.exhausted is None
    learned.count("timeout")
    assert "hung 3 times" in learned.exhausted
