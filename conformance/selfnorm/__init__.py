"""Self-normalisation: the property SELU exists for, checked in torch, tf.keras and jax.

Klambauer et al. chose α and λ so that a deep stack of dense layers with LeCun-normal
weights (variance 1/fan_in) and standardised inputs keeps its activations at mean 0 and
variance 1 (`python -m reference moments`: the fixed point and its Jacobian). Here:

- a stack of `depth` × `width` dense layers per framework, initialised as the framework
  provides LeCun normal, fed a standardised batch: every layer's mean and variance must
  stay within bounds derived from the batch's sampling error, and the input gradient's
  norm within a bounded factor of the mean-field prediction (`bounds`). Two contrasts must
  leave those bounds: the same stack with ReLU, and SELU with inputs not standardised.
- each framework's LeCun normal: variance 1/fan_in (Keras's is a truncated normal with
  its scale corrected), mean 0.
- the Keras idioms of the brief, on the TensorFlow, JAX and torch backends: bit for bit
  the same function as keras.activations.selu (the Keras adapter's `keras_idioms`).
- AlphaDropout (Keras, torch.nn.AlphaDropout) in training mode keeps mean 0 and variance 1
  of standardised SELU activations, and sets dropped units to -λα correctly rounded.

Which framework runs which checks is its adapter's (`SelfNormSuite`, `suites.py`); each
suite runs as a task in a worker process of its framework (`child`); the bounds, the
stacks' sizes and the known deviations are data: conformance/data/self_normalization.toml.

    from conformance import selfnorm
    run = selfnorm.run(selfnorm.groups())   # -> Run(records, checks)
"""

from __future__ import annotations

import importlib

__all__ = ["CONFIG_PATH", "Run", "SelfNormError", "groups", "load_config", "run"]

# Loaded when first asked for: a worker imports `selfnorm.child`, which needs numpy alone,
# in an interpreter that may have none of what the judge needs (packaging, the reference).
_FROM = {"groups": "suites"} | dict.fromkeys(
    ("CONFIG_PATH", "Run", "SelfNormError", "load_config", "run"), "judge"
)


def __getattr__(name: str):
    if name not in _FROM:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_FROM[name]}"), name)
