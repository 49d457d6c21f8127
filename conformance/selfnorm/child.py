"""One framework's self-normalisation measurements, in a process of its own:

    python -m conformance.selfnorm.child FRAMEWORK CONFIG_JSON

FRAMEWORK: torch, tensorflow, jax (the stacks and the initialiser, and AlphaDropout where
the framework has one), keras-tensorflow, keras-jax, keras-torch (the Keras idioms; Keras's
AlphaDropout on TensorFlow). Prints one line `RESULT <json>` on stdout: raw measurements,
judged by the parent (`conformance.selfnorm.judge`). A process per framework, because Keras
binds its backend at import, and so that a crash or a hang is one framework's failure.
"""

from __future__ import annotations

import importlib
import json
import os
import sys

import numpy as np

from . import probes

NETS = {"torch": "torch_net", "tensorflow": "tensorflow_net", "jax": "jax_net"}
KERAS_BACKENDS = {"keras-tensorflow": "tensorflow", "keras-jax": "jax", "keras-torch": "torch"}
# Keras takes its backend from KERAS_BACKEND when first imported, tf.keras included: every
# child that imports it sets the variable, whatever the caller's environment says.
BACKENDS = {"tensorflow": "tensorflow", **KERAS_BACKENDS}
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


def _net_part(name: str, config: dict) -> dict:
    net = importlib.import_module(f"conformance.selfnorm.{name}")
    s = config["stack"]
    stacks = []
    for activation, inputs, contrast in STACKS:
        x, g = stack_inputs(s["batch"], s["width"], s["seed"], inputs == "standardised")
        measured = net.stack(x, g, s["depth"], activation, s["seed"])
        stacks.append(
            {"activation": activation, "inputs": inputs, "contrast": contrast, **measured}
        )
    i = config["initializer"]
    out = {
        "version": net.version(),
        "initializer": {
            "call": net.LECUN_NORMAL,
            **probes.initializer_sample(net.lecun_normal(i["fan_in"], 512, s["seed"])),
        },
        "stacks": stacks,
    }
    if hasattr(net, "alpha_dropout"):
        out["alpha_dropout"] = _alpha_dropout(net.alpha_dropout, config)
    return out


def _alpha_dropout(dropout, config: dict) -> dict:
    a = config["alpha_dropout"]
    seed = config["stack"]["seed"]
    return {
        "moments": [
            probes.dropout_moments(dropout, rate, a["samples"], seed) for rate in a["rates"]
        ],
        "saturation": [probes.saturation(dropout, dtype) for dtype in ("float32", "float64")],
    }


def _keras_part(config: dict) -> dict:
    from . import keras_idioms

    out = {"version": keras_idioms.version(), "idioms": keras_idioms.idioms()}
    if keras_idioms.backend() == "tensorflow":
        out["alpha_dropout"] = _alpha_dropout(keras_idioms.alpha_dropout, config)
    return out


def main(argv: list[str]) -> int:
    framework, config = argv[0], json.loads(argv[1])
    if framework in NETS:
        result = _net_part(NETS[framework], config)
    elif framework in KERAS_BACKENDS:
        result = _keras_part(config)
    else:
        print(f"unknown framework {framework!r}", file=sys.stderr)
        return 2
    sys.stdout.write("RESULT " + json.dumps(result) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] and sys.argv[1] in BACKENDS:  # before anything imports keras
        os.environ["KERAS_BACKEND"] = BACKENDS[sys.argv[1]]
    sys.exit(main(sys.argv[1:]))
