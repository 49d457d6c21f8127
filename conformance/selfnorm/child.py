"""One self-normalisation suite's measurements, as a worker task (`Worker.task`) in the
worker of its framework's module, so that a crash or a hang is one suite's failure:

    measure(module, checks, config) -> raw measurements

`checks` are the suite's (`frameworks.base.SelfNormCheck`): the stacks and the initialiser
(through the module's `dense_stack`, `lecun_normal` and `LECUN_NORMAL`), the idioms (its
`keras_idioms`), AlphaDropout's moments and saturation value (its `alpha_dropout`). The
measurements are raw numbers, judged by the parent (`conformance.selfnorm.judge`). A
worker per suite, because Keras binds its backend at import (the suite's environment
names it).
"""

from __future__ import annotations

import numpy as np

from ..frameworks.base import SelfNormCheck as Check
from . import probes

#: The worker task of a suite.
TASK = "conformance.selfnorm.child:measure"
# The stacks: SELU as the paper prescribes, then two contrasts that must leave the bounds.
STACKS = (
    ("selu", "standardised", False),
    ("relu", "standardised", True),  # the same stack with ReLU
    ("selu", "mean 1, variance 9", True),  # SELU, but inputs not standardised
)


def stack_inputs(batch: int, width: int, seed: int, standardised: bool):
    """x (batch, width) float32, each column standardised exactly, or shifted and scaled to
    mean 1 and variance 9; the upstream gradient g, N(0, 1)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, width))
    x = (x - x.mean(axis=0)) / x.std(axis=0)
    if not standardised:
        x = 1 + 3 * x
    g = rng.standard_normal((batch, width))
    return x.astype(np.float32), g.astype(np.float32)


def measure(module, checks: list[str], config: dict, constants: dict) -> dict:
    """The raw measurements of the suite's `checks` with the framework module `module`
    (`constants`: what the probes need of the reference, `probes.selu_constants`)."""
    out: dict = {"version": module.version()}
    if Check.STACK in checks:
        out |= _stacks(module, config)
    if Check.KERAS_IDIOM in checks:
        out["idioms"] = module.keras_idioms()
    if {Check.ALPHA_DROPOUT_MOMENTS, Check.ALPHA_DROPOUT_SATURATION} & set(checks):
        out["alpha_dropout"] = _alpha_dropout(module.alpha_dropout, config, constants)
    return out


def _stacks(module, config: dict) -> dict:
    s = config["stack"]
    stacks = []
    for activation, inputs, contrast in STACKS:
        x, g = stack_inputs(s["batch"], s["width"], s["seed"], inputs == "standardised")
        measured = module.dense_stack(x, g, s["depth"], activation, s["seed"])
        stacks.append(
            {"activation": activation, "inputs": inputs, "contrast": contrast, **measured}
        )
    i = config["initializer"]
    sample = module.lecun_normal(i["fan_in"], 512, s["seed"])
    return {
        "initializer": {"call": module.LECUN_NORMAL, **probes.initializer_sample(sample)},
        "stacks": stacks,
    }


def _alpha_dropout(dropout, config: dict, constants: dict) -> dict:
    a = config["alpha_dropout"]
    seed = config["stack"]["seed"]
    return {
        "moments": [
            probes.dropout_moments(dropout, rate, a["samples"], seed, constants)
            for rate in a["rates"]
        ],
        "saturation": [
            probes.saturation(dropout, dtype, constants=constants)
            for dtype in ("float32", "float64")
        ],
    }
