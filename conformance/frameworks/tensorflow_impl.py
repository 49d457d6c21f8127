"""tensorflow/nn, tensorflow/keras, tensorflow/xla.

numpy arrays become tensors with tf.constant (a copy; bfloat16 is ml_dtypes.bfloat16, which
TensorFlow uses for its own bfloat16). The derivative is tf.GradientTape's gradient of the
outputs' sum, elementwise because SELU is. tf.keras is Keras 3 on the TensorFlow backend
(the worker sets KERAS_BACKEND=tensorflow).
"""

import functools
import os

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import tensorflow as tf

from conformance.frameworks import Kernels, no_wait


def version() -> str:
    return tf.__version__


def devices() -> list[str]:
    return ["cpu"] + (["cuda"] if tf.config.list_physical_devices("GPU") else [])


def set_threads(n: int) -> None:
    tf.config.threading.set_intra_op_parallelism_threads(n)
    tf.config.threading.set_inter_op_parallelism_threads(n)


def _device(device: str) -> str:
    return "/CPU:0" if device == "cpu" else "/GPU:0"


def _keras_selu(t):
    """tf.keras.activations.selu, checked against tf.keras.layers.Activation('selu') with the
    input's dtype as its policy (by default a layer computes in float32)."""
    y = tf.keras.activations.selu(t)
    layer = tf.keras.layers.Activation("selu", dtype=t.dtype.name)
    z = layer(t)
    if tf.executing_eagerly() and y.numpy().tobytes() != z.numpy().tobytes():
        raise AssertionError("Activation('selu') and activations.selu give different bits")
    return y


def _selu_function(variant: str):
    if variant in ("nn", "xla"):
        return tf.nn.selu
    if variant == "keras":
        return _keras_selu
    raise ValueError(f"unknown tensorflow variant {variant!r}")


@functools.cache
def build(variant: str, quantity: str, device: str):
    f = _selu_function(variant)

    def gradient_of(t):
        with tf.GradientTape() as tape:
            tape.watch(t)
            y = f(t)
        return tape.gradient(y, t)

    compute = f if quantity == "forward" else gradient_of
    if variant == "xla":
        compute = tf.function(compute, jit_compile=True)

    def call(x: np.ndarray) -> np.ndarray:
        with tf.device(_device(device)):
            return np.asarray(compute(tf.constant(x)).numpy())

    return call


def _scale(variant: str, dtype):
    if variant == "keras":
        return lambda t: tf.keras.ops.multiply(t, 2)
    two = tf.constant(2, dtype)  # made once, not an extra op in every timed call
    return lambda t: tf.multiply(t, two)


def kernels(variant: str, direction: str, device: str, x: np.ndarray, g: np.ndarray) -> Kernels:
    """Eager calls (tensorflow/keras without the Activation-layer cross-check), or one
    XLA-compiled tf.function per call for tensorflow/xla; GradientTape with g as the output
    gradient for the backward. tf.test.experimental.sync_devices() waits for a GPU."""
    with tf.device(_device(device)):
        t, gt = tf.identity(tf.constant(x)), tf.identity(tf.constant(g))
    selu = tf.keras.activations.selu if variant == "keras" else _selu_function(variant)
    scale = _scale(variant, t.dtype)

    def call(f):
        if direction == "forward":
            compute = f
        else:

            def compute(t, g):
                with tf.GradientTape() as tape:
                    tape.watch(t)
                    y = f(t)
                return y, tape.gradient(y, t, output_gradients=g)

        if variant == "xla":
            compute = tf.function(compute, jit_compile=True)
        arguments = (t,) if direction == "forward" else (t, gt)

        def run():
            with tf.device(_device(device)):
                return compute(*arguments)

        return run

    wait = (lambda output: tf.test.experimental.sync_devices()) if device == "cuda" else no_wait
    return Kernels(call(selu), call(scale), wait)


_CALL = {
    "nn": "tf.nn.selu(x)",
    "keras": "tf.keras.activations.selu(x)",
    "xla": "tf.function(tf.nn.selu, jit_compile=True)(x)",
}


def snippet(variant, quantity, dtype, device, x_hex) -> str:
    make = f"x = tf.constant([float.fromhex('{x_hex}')], dtype=tf.{dtype})"
    call = _CALL[variant]
    if quantity == "forward":
        body = f"{make}; print(float({call}[0]).hex())"
    else:
        body = (
            f"{make}; t = tf.GradientTape(); t.__enter__(); t.watch(x); y = {call}; "
            "t.__exit__(None, None, None); print(float(t.gradient(y, x)[0]).hex())"
        )
    return f'python -c "import tensorflow as tf; {body}"'
