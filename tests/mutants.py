"""Deliberately broken SELU implementations (and a correct one), for `python -m conformance
check`: the gate must reject every mutant and accept `selu` / `selu_grad`.

Each is a user function f(x: numpy.ndarray) -> numpy.ndarray, the way a kernel author would
hand one to the suite. The correct one computes in a wider type and rounds once.
"""

import os
import time

import numpy as np

LAM = "1.0507009873554804934193349852946"
ALPHA = "1.6732632423543772848170429916717"
LAM_ALPHA = "1.7580993408473768599402175208123"


def _wide(x):
    return np.longdouble if x.dtype == np.float64 else np.float64


def _selu(x, lam=LAM, lam_alpha=LAM_ALPHA, expm1=np.expm1):
    w = _wide(x)
    xw = x.astype(w)
    with np.errstate(over="ignore", invalid="ignore"):
        negative = np.where(xw > 0, w(0), xw)
        y = np.where(xw > 0, w(lam) * xw, w(lam_alpha) * expm1(negative))
        return y.astype(x.dtype)


def _selu_grad(x, lam=LAM, lam_alpha=LAM_ALPHA):
    w = _wide(x)
    xw = x.astype(w)
    with np.errstate(over="ignore", invalid="ignore"):
        negative = np.where(xw > 0, w(0), xw)
        return np.where(xw > 0, w(lam), w(lam_alpha) * np.exp(negative)).astype(x.dtype)


# -- the correct implementation ------------------------------------------------------------


def selu(x):
    return _selu(x)


def selu_grad(x):
    return _selu_grad(x)


# -- mutants ---------------------------------------------------------------------------------


def wrong_constant(x):
    """α wrong in the fifth digit (1.67336 instead of 1.67326)."""
    return _selu(x, lam_alpha=str(float(LAM) * 1.67336))


def exp_minus_one(x):
    """e^x - 1 instead of expm1, in float32 (float64 for float64 input): cancels for tiny |x|."""
    w = np.float64 if x.dtype == np.float64 else np.float32
    xw = x.astype(w)
    with np.errstate(over="ignore", invalid="ignore"):
        negative = np.where(xw > 0, w(0), xw)
        y = np.where(xw > 0, w(LAM) * xw, w(LAM_ALPHA) * (np.exp(negative) - w(1)))
    return y.astype(x.dtype)


def float32_constants(x):
    """λ and λα rounded to float32, used for every dtype (float64 included)."""
    return _selu(x, lam=repr(float(np.float32(LAM))), lam_alpha=repr(float(np.float32(LAM_ALPHA))))


def grad_from_output(x):
    """selu'(x) = selu(x) + λα for x < 0, from the output in x's precision: cancels where
    selu(x) is close to -λα (large negative x)."""
    y = selu(x)
    lam_alpha = np.asarray(float(LAM_ALPHA)).astype(x.dtype)
    lam = np.asarray(float(LAM)).astype(x.dtype)
    with np.errstate(over="ignore", invalid="ignore"):
        return np.where(x > 0, lam, y + lam_alpha).astype(x.dtype)


def tail_defect(x):
    """Right in the body; the last n % 16 elements of a 1-d array take a cruder path."""
    y = selu(x)
    if x.ndim == 1 and x.size % 16:
        tail = x.size - x.size % 16
        crude = _selu(x[tail:].astype(np.float32), lam="1.0507", lam_alpha="1.7581")
        y[tail:] = crude.astype(x.dtype)
    return y


def flush_subnormals(x):
    """Subnormal results flushed to zero (keeping the sign)."""
    y = selu(x)
    y64 = y.astype(np.float64)
    tiny = (y64 != 0) & (np.abs(y64) < _smallest_normal(x.dtype))
    y[tiny] = np.copysign(0.0, y64[tiny]).astype(x.dtype)
    return y


def _smallest_normal(dtype) -> float:
    import ml_dtypes

    info = ml_dtypes.finfo(dtype) if dtype.name == "bfloat16" else np.finfo(dtype)
    return float(info.smallest_normal)


def nan_to_zero(x):
    """NaN mapped to 0."""
    y = selu(x)
    y[np.isnan(y.astype(np.float64))] = 0
    return y


def negative_zero_lost(x):
    """-0.0 turned into +0.0."""
    y = selu(x)
    y[y.astype(np.float64) == 0] = 0
    return y


def grad_zero_at_zero(x):
    """A derivative of 0 at x = 0 (neither one-sided value)."""
    g = selu_grad(x)
    g[x.astype(np.float64) == 0] = 0
    return g


def grad_wrong_slope_tiny_positive(x):
    """For tiny positive x the derivative takes the negative branch's slope λα·e^x."""
    g = selu_grad(x)
    x64 = x.astype(np.float64)
    tiny = (x64 > 0) & (x64 < 1e-3)
    g[tiny] = np.asarray(float(LAM_ALPHA)).astype(x.dtype)
    return g


def aborts(x):
    """Kills its process (as a segfaulting kernel would)."""
    os.abort()


def hangs(x):
    """Never returns."""
    time.sleep(3600)
    return selu(x)


def wrong_shape(x):
    """Returns a flattened array."""
    return selu(x).reshape(-1)


def wrong_dtype(x):
    """Returns float64 whatever the input."""
    return selu(x).astype(np.float64)


def in_place(x):
    """Writes its result into its input."""
    x[...] = selu(x)
    return x.copy()


def returns_list(x):
    return selu(x).tolist()


def slow(x):
    """Correct, and a quarter of a second late (a sweep long enough to be killed midway)."""
    time.sleep(0.25)
    return selu(x)


def hangs_on_nan(x):
    """Correct, except that it never returns when its input holds a NaN."""
    if np.isnan(x.astype(np.float64)).any():
        time.sleep(3600)
    return selu(x)


#: An input of the float32 forward corpus (conformance/data/worst/): where jax's expm1 is
#: worst, which the gate's 2^20 sampled inputs do not hold.
CORPUS_INPUT = "-0x1.389b68p-3"


def wrong_at_a_corpus_input(x):
    """Correct, except 8 ulp off at CORPUS_INPUT (float32): a regression only the corpus sees."""
    y = selu(x)
    if x.dtype == np.float32:
        at = x == np.float32(float.fromhex(CORPUS_INPUT))
        y[at] = (y[at].view(np.int32) + 8).view(np.float32)
    return y


def nan_lost_in_the_tail(x):
    """Correct, except that NaN gives λ in the last n % 16 elements of a 1-d array (and in
    0-d ones), as a scalar tail that tests x <= 0 would."""
    y = selu(x)
    if x.ndim == 0 or (x.ndim == 1 and x.size % 16):
        tail = 0 if x.ndim == 0 else x.size - x.size % 16
        part = y.reshape(-1)[tail:]
        part[np.isnan(x.reshape(-1)[tail:].astype(np.float64))] = np.asarray(float(LAM)).astype(
            x.dtype
        )
    return y


def aborts_on_some(x):
    """Correct, except that it kills its process when an input lies in [1.5, 1.75)."""
    with np.errstate(invalid="ignore"):
        if np.any((x >= 1.5) & (x < 1.75)):
            os.abort()
    return selu(x)


# -- one implementation id whose behaviour changes between two runs ---------------------------
# (a kernel before and after a patch, for `python -m conformance report --compare`): the
# function named by SELU_MUTANT, or the correct one; the worker inherits the environment.


def under_test(x):
    return globals()[os.environ.get("SELU_MUTANT", "selu")](x)


def under_test_grad(x):
    return globals()[os.environ.get("SELU_MUTANT_GRAD", "selu_grad")](x)
