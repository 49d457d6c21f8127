"""asv benchmarks. The suite runs from its checkout (it is not installed), so the checkout
is put on the import path here, for `asv run` with the project's existing environment.

The environment the conformance workers give each framework is set here too, before any
framework is imported: float64 enabled in JAX (it is otherwise computed in float32) and
TensorFlow's C++ log lines off, Keras on TensorFlow. Threads are left at each framework's
default."""

import os
import sys
from pathlib import Path

os.environ["JAX_ENABLE_X64"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# TensorFlow imports Keras, whose backend must then be TensorFlow's for tf.keras; the
# keras/jax and keras/torch cases switch it in their own processes (conformance.speed).
os.environ["KERAS_BACKEND"] = "tensorflow"

_CHECKOUT = str(Path(__file__).resolve().parent.parent)
if _CHECKOUT not in sys.path:
    sys.path.insert(0, _CHECKOUT)
