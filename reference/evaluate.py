"""`selu` and `selu_grad` on numpy arrays: the correctly rounded ground truth.

Every element is the exact value, rounded to nearest (ties to even) in the array's own
format. float16, bfloat16 and float32 go through the certified float64 fast path first
(`fast.py`); what it cannot certify, float64 inputs and the special values go to Ziv's
loop in mpmath (`exact.py`). Both paths give the same results: the fast path only answers
where its rounding is proven to be the correctly rounded one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from . import exact
from . import fast as fast_path
from .formats import FLOAT64, format_of


@dataclass
class EvalStats:
    """Counts from one or more evaluations (pass the same object to accumulate).

    inputs: elements evaluated; fast: certified by the float64 fast path; mpmath: elements
    resolved by Ziv's loop in mpmath (special values and x = ±0 included); evaluations:
    distinct inputs evaluated in mpmath; max_precision: the highest working precision Ziv's
    loop needed, in bits.
    """

    inputs: int = 0
    fast: int = 0
    mpmath: int = 0
    evaluations: int = 0
    max_precision: int = 0


class Evaluation(NamedTuple):
    """Correctly rounded values and their rounding errors.

    values: q(x) correctly rounded, in x's dtype and shape. residual: float64, same shape,
    (exact - value) / ulp(value) in ulps of the format, so that exact = value + residual·ulp
    (to about 2^-20 ulp); NaN where the value is NaN or infinite.
    """

    values: np.ndarray
    residual: np.ndarray


def selu(x, *, fast: bool = True, stats: EvalStats | None = None) -> np.ndarray:
    """SELU of every element of `x`, correctly rounded in x's dtype.

    `x`: a numpy array (or scalar) of float16, ml_dtypes.bfloat16, float32 or float64; any
    other dtype raises ValueError. The result has x's shape and dtype. selu(-0.0) = -0.0,
    selu(NaN) = NaN, selu(+inf) = +inf, selu(-inf) = -λα rounded; results overflow to ±inf
    and underflow into the subnormals exactly as rounding the exact value prescribes.
    `fast=False` sends every element through mpmath (same results, slower).
    """
    return _evaluate("forward", x, "left", fast, stats, residual=False).values


def selu_grad(
    x, *, at_zero: str = "left", fast: bool = True, stats: EvalStats | None = None
) -> np.ndarray:
    """The derivative of SELU at every element of `x`, correctly rounded in x's dtype.

    selu'(x) = λ for x > 0 and λα·e^x for x < 0. At x = ±0 it is undefined; `at_zero`
    chooses a one-sided value: "left" (λα, the default, the limit from below) or "right"
    (λ). selu'(+inf) = λ, selu'(-inf) = +0, NaN -> NaN. Otherwise as `selu`.
    """
    return _evaluate("gradient", x, at_zero, fast, stats, residual=False).values


def evaluate(
    quantity: str, x, *, at_zero: str = "left", stats: EvalStats | None = None
) -> Evaluation:
    """`selu` ("forward") or `selu_grad` ("gradient"), with the rounding error of each value:
    what a measurement of ulp errors against the exact value needs."""
    if quantity not in exact.QUANTITIES:
        raise ValueError(f"quantity must be one of {exact.QUANTITIES}, not {quantity!r}")
    return _evaluate(quantity, x, at_zero, True, stats, residual=True)


def _evaluate(quantity, x, at_zero, use_fast, stats, residual) -> Evaluation:
    if at_zero not in exact.ZERO_SIDES:
        raise ValueError(f"at_zero must be one of {exact.ZERO_SIDES}, not {at_zero!r}")
    x = np.asarray(x)
    fmt = format_of(x)
    flat = x.ravel()
    if use_fast and fmt is not FLOAT64:
        out, ok, residuals = fast_path.certified(quantity, flat, fmt, residual=residual)
        slow = np.flatnonzero(~ok)
    else:
        out = np.empty_like(flat)
        residuals = np.zeros(flat.shape) if residual else None
        slow = np.arange(flat.size)

    n_unique = max_prec = 0
    if slow.size:
        # One mpmath evaluation per distinct bit pattern (keeps -0.0 apart from +0.0).
        with np.errstate(invalid="ignore"):  # signalling NaNs become quiet NaNs
            x64 = flat[slow].astype(np.float64)
        bits, inverse = np.unique(x64.view(np.uint64), return_inverse=True)
        values = np.empty(bits.shape, dtype=np.float64)
        errors = np.empty(bits.shape, dtype=np.float64)
        for i, b in enumerate(bits.view(np.float64).tolist()):
            values[i], prec, errors[i] = exact.correctly_rounded(quantity, b, fmt, at_zero)
            max_prec = max(max_prec, prec)
        # Every value belongs to the format, so this cast is exact.
        out[slow] = values[inverse.ravel()].astype(fmt.dtype)
        if residual:
            residuals[slow] = errors[inverse.ravel()]
        n_unique = len(bits)

    if stats is not None:
        stats.inputs += flat.size
        stats.fast += flat.size - slow.size
        stats.mpmath += slow.size
        stats.evaluations += n_unique
        stats.max_precision = max(stats.max_precision, max_prec)
    if residual:  # NaN at NaN and infinite values: the fast path's and Ziv's alike
        residuals = residuals.reshape(x.shape)
    return Evaluation(out.reshape(x.shape), residuals)
