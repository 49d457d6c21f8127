"""Framework-free measurements that the children run on a framework's callable: the
statistics of an initialiser's sample, AlphaDropout's moments and its saturation value.
They return raw numbers; `conformance.selfnorm.judge` applies the bounds."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np


def initializer_sample(weights: np.ndarray) -> dict:
    """Mean, variance and largest magnitude of a (fan_in, fan_out) sample, scaled by
    √fan_in (variance by fan_in): a LeCun-normal sample gives mean 0 and variance 1."""
    fan_in = weights.shape[0]
    w = weights.astype(np.float64)
    return {
        "fan_in": fan_in,
        "samples": int(w.size),
        "scaled_mean": float(w.mean() * math.sqrt(fan_in)),
        "scaled_variance": float(w.var() * fan_in),
        "scaled_max_abs": float(np.abs(w).max() * math.sqrt(fan_in)),
    }


def selu_constants() -> dict:
    """What the probes need of the reference: λ and λα (float64) and SELU's limit -λα
    correctly rounded into float32 and float64 (hex). Computed in the suite's process and
    passed to the worker, whose interpreter may have no mpmath."""
    from reference import FORMATS, derive, selu

    c = derive(64)
    limits = {
        dtype: float(selu(np.asarray([-np.inf], dtype=FORMATS[dtype].dtype))[0]).hex()
        for dtype in ("float32", "float64")
    }
    return {"lam": float(c.lam), "lam_alpha": float(c.lam_alpha), "limits": limits}


def standardised_selu_activations(samples: int, seed: int, constants=None) -> np.ndarray:
    """selu(Z) for Z ~ N(0, 1) (float64, the derived constants), then standardised exactly
    (sample mean 0, variance 1), so that a dropout's own effect is what is measured."""
    constants = constants or selu_constants()
    lam, lam_alpha = constants["lam"], constants["lam_alpha"]
    z = np.random.default_rng(seed).standard_normal(samples)
    y = np.where(z > 0, lam * z, lam_alpha * np.expm1(np.minimum(z, 0)))
    return ((y - y.mean()) / y.std()).astype(np.float32)


def dropout_moments(
    dropout: Callable, rate: float, samples: int, seed: int, constants=None
) -> dict:
    """Mean and variance of dropout(x, rate) in training mode for standardised SELU
    activations x, and the standard errors of both estimated from the output itself
    (`constants`: `selu_constants()`)."""
    x = standardised_selu_activations(samples, seed, constants)
    y = dropout(x, rate, seed).astype(np.float64)
    mean, variance = y.mean(), y.var()
    centred = y - mean
    fourth = float((centred**4).mean())
    return {
        "rate": rate,
        "samples": samples,
        "mean": float(mean),
        "variance": float(variance),
        "mean_error": math.sqrt(variance / samples),
        "variance_error": math.sqrt(max(fourth - variance**2, 0.0) / samples),
    }


def saturation(
    dropout: Callable,
    dtype: str,
    window: int = 2,
    rate: float = 0.75,
    samples: int = 4096,
    seed: int = 0,
    constants=None,
) -> dict:
    """The value AlphaDropout gives the dropped units, in `dtype`, to the ulp.

    Dropped units are set to a saturation value α' (SELU's limit -λα) and then go through
    the same affine map a·x + b as the kept ones. Fed a constant input v, the output is
    therefore constant exactly when v is the saturation value as the framework computes
    it, and takes two values otherwise. The input steps through the `window` neighbours on
    each side of -λα correctly rounded into `dtype`; `resolved` says whether the kept
    outputs of those inputs are all distinct (the affine map separates neighbours, so the
    probe can tell them apart).

    The rate 0.75 makes that so: a = ((1 - p)·(1 + p·α'²))^(-1/2) ≈ 1.098, so a·x moves by
    more than x's ulp when x does, and |a·x| ≈ 1.93 stays in x's binade [1, 2), where the
    ulp is x's (at rate 0.5, a ≈ 0.89 maps neighbours of x onto one float32 output)."""
    constants = constants or selu_constants()
    dtype_of = np.dtype(dtype)
    expected = float.fromhex(constants["limits"][dtype])  # -λα, rounded once
    candidates = [np.asarray(expected, dtype=dtype_of)]
    for direction in (-np.inf, np.inf):
        v = candidates[0]
        for _ in range(window):
            v = np.nextafter(v, np.asarray(direction, dtype=dtype_of))
            candidates.append(v)
    candidates.sort()
    outputs = {}
    for v in candidates:
        values = np.unique(dropout(np.full(samples, v, dtype=dtype_of), rate, seed))
        if values.size > 2:
            return {
                "dtype": dtype,
                "expected": float(expected).hex(),
                "observed": None,
                "resolved": False,
                "detail": f"a constant input {float(v).hex()} gave {values.size} values",
            }
        outputs[float(v)] = {float(u) for u in values}
    # the dropped units' output does not depend on the input: it is in every output
    dropped = set.intersection(*outputs.values())
    kept = [(values - dropped) or values for values in outputs.values()]
    constant = [v for v, values in outputs.items() if len(values) == 1]
    resolved = len(dropped) == 1 and len({min(k) for k in kept}) == len(kept)
    observed = constant[0] if len(constant) == 1 and resolved else None
    window_text = ", ".join(float(v).hex() for v in candidates)
    if observed is not None:
        detail = f"a constant input {observed.hex()} stays constant (inputs tried: {window_text})"
    elif not resolved:
        detail = f"the affine map does not separate the inputs {window_text}"
    else:
        detail = f"{len(constant)} of the inputs {window_text} stay constant"
    return {
        "dtype": dtype,
        "expected": float(expected).hex(),
        "observed": None if observed is None else observed.hex(),
        "resolved": resolved,
        "detail": detail,
    }
