"""Speed of the ground truth itself: reference.selu / selu_grad.

The target (issue 2): 2^24 standard-normal float32 inputs in at most 1 s on a 2-core
machine. The float64 path has no fast path (every element goes through mpmath), so it is
timed on a smaller array.
"""

import importlib.util

import ml_dtypes
import numpy as np

DTYPES = {
    "float16": np.float16,
    "bfloat16": ml_dtypes.bfloat16,
    "float32": np.float32,
    "float64": np.float64,
}
FUNCTIONS = ("selu", "selu_grad")


def _function(name: str):
    """The reference's function `name`. The reference runs in the suite's own interpreter:
    in an environment of the matrix (`make bench-matrix`), which has no mpmath, these
    benchmarks skip (asv's NotImplementedError in setup)."""
    if importlib.util.find_spec("mpmath") is None:
        raise NotImplementedError("the reference needs the suite's interpreter (mpmath)")
    import reference

    return getattr(reference, name)


def _inputs(dtype, log2_size):
    return np.random.default_rng(0).standard_normal(1 << log2_size).astype(DTYPES[dtype])


class FastPath:
    """float16, bfloat16, float32: certified float64 evaluation, mpmath for the rest."""

    params = (["float16", "bfloat16", "float32"], list(FUNCTIONS))
    param_names = ["dtype", "function"]
    timeout = 300

    def setup(self, dtype, function):
        self.x = _inputs(dtype, 24)
        self.f = _function(function)
        self.f(self.x[:64])  # constants derived, thread pool warm

    def time_2p24_standard_normal(self, dtype, function):
        self.f(self.x)

    def track_inputs_needing_mpmath(self, dtype, function):
        from reference import EvalStats

        stats = EvalStats()
        self.f(self.x, stats=stats)
        return stats.mpmath

    track_inputs_needing_mpmath.unit = "inputs of 2^24"


class Float64:
    """float64: every element through Ziv's loop in mpmath."""

    params = (list(FUNCTIONS),)
    param_names = ["function"]

    def setup(self, function):
        self.x = _inputs("float64", 12)
        self.f = _function(function)

    def time_2p12_standard_normal(self, function):
        self.f(self.x)
