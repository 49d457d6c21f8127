"""TensorFlow: tensorflow/nn, tensorflow/keras, tensorflow/xla, and the self-normalisation
stack in tf.keras (the brief's idiom, tf.keras.layers.Dense(width,
kernel_initializer='lecun_normal', activation='selu'), and tf.GradientTape).

numpy arrays become tensors with tf.constant (a copy; bfloat16 is ml_dtypes.bfloat16, which
TensorFlow uses for its own bfloat16). The derivative is tf.GradientTape's gradient of the
outputs' sum, elementwise because SELU is. tf.keras is Keras 3 on the TensorFlow backend
(the worker sets KERAS_BACKEND=tensorflow).
"""

from __future__ import annotations

import functools

import numpy as np

from conformance.frameworks.base import (
    Adapter,
    GatePart,
    Kernels,
    SelfNormSuite,
    Variant,
    appended_flags,
    no_wait,
)
from conformance.frameworks.base import (
    SelfNormCheck as Check,
)


def thread_environment(n: int) -> dict[str, str]:
    """TensorFlow's two pools, and XLA's CPU client (tensorflow/xla) to `n` threads."""
    xla = f"--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads={n}"
    return {
        "TF_NUM_INTRAOP_THREADS": str(n),
        "TF_NUM_INTEROP_THREADS": str(n),
        "XLA_FLAGS": appended_flags("XLA_FLAGS", xla),
    }


ADAPTER = Adapter(
    name="tensorflow",
    module="tensorflow_impl",
    packages=("tensorflow",),
    distributions=("tensorflow-cpu", "tensorflow"),
    order=2,
    variants=(
        Variant("nn", "tf.nn.selu; tf.GradientTape for the derivative"),
        Variant(
            "keras",
            "tf.keras.activations.selu, checked against "
            "tf.keras.layers.Activation('selu', dtype=x.dtype)",
        ),
        Variant(
            "xla",
            "tf.function(tf.nn.selu, jit_compile=True)",
            eager="nn",
            gate=GatePart.MORE,  # make gate-more: XLA compiles each shape and dtype
        ),
    ),
    # C++ log lines off; tf.keras is Keras 3, whose backend must then be TensorFlow's.
    env={"TF_CPP_MIN_LOG_LEVEL": "2", "KERAS_BACKEND": "tensorflow"},
    thread_env=thread_environment,
    selfnorm=(SelfNormSuite("tensorflow", (Check.STACK, Check.LECUN_NORMAL)),),
)


def at_exit() -> None:
    """Delete the module files that TensorFlow's autograph wrote for this process.

    Autograph writes each function it converts (tf.function) as a module,
    <temporary folder>/__autograph_generated_file*.py, and deletes it in an atexit handler.
    The suite's children end in os._exit (worker processes, and asv's forked benchmark
    processes), where atexit handlers never run: without this, every compiled
    TensorFlow function left a file behind (about 4000 in /tmp after a few days' runs)."""
    import sys
    import tempfile
    from pathlib import Path

    folder = Path(tempfile.gettempdir()).resolve()
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if name.startswith("__autograph_generated_file") and file:
            path = Path(file).resolve()
            if path.parent == folder:
                path.unlink(missing_ok=True)


def version() -> str:
    import tensorflow as tf

    return tf.__version__


def devices() -> list[str]:
    import tensorflow as tf

    return ["cpu"] + (["cuda"] if tf.config.list_physical_devices("GPU") else [])


def set_threads(n: int) -> None:
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(n)
    tf.config.threading.set_inter_op_parallelism_threads(n)


def _device(device: str) -> str:
    return "/CPU:0" if device == "cpu" else "/GPU:0"


def _keras_selu(t):
    """tf.keras.activations.selu, checked against tf.keras.layers.Activation('selu') with the
    input's dtype as its policy (by default a layer computes in float32)."""
    import tensorflow as tf

    y = tf.keras.activations.selu(t)
    layer = tf.keras.layers.Activation("selu", dtype=t.dtype.name)
    z = layer(t)
    if tf.executing_eagerly() and y.numpy().tobytes() != z.numpy().tobytes():
        raise AssertionError("Activation('selu') and activations.selu give different bits")
    return y


def _selu_function(variant: str):
    import tensorflow as tf

    if variant in ("nn", "xla"):
        return tf.nn.selu
    if variant == "keras":
        return _keras_selu
    raise ValueError(f"unknown tensorflow variant {variant!r}")


@functools.cache
def build(variant: str, quantity: str, device: str):
    import tensorflow as tf

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
    import tensorflow as tf

    if variant == "keras":
        return lambda t: tf.keras.ops.multiply(t, 2)
    two = tf.constant(2, dtype)  # made once, not an extra op in every timed call
    return lambda t: tf.multiply(t, two)


def kernels(variant: str, direction: str, device: str, x: np.ndarray, g: np.ndarray) -> Kernels:
    """Eager calls (tensorflow/keras without the Activation-layer cross-check), or one
    XLA-compiled tf.function per call for tensorflow/xla; GradientTape with g as the output
    gradient for the backward. tf.test.experimental.sync_devices() waits for a GPU."""
    import tensorflow as tf

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


# -- self-normalisation (conformance/selfnorm) ---------------------------------------------

LECUN_NORMAL = "tf.keras.initializers.LecunNormal(seed)"


def lecun_normal(fan_in: int, fan_out: int, seed: int) -> np.ndarray:
    import tensorflow as tf

    return tf.keras.initializers.LecunNormal(seed=seed)((fan_in, fan_out)).numpy()


def dense_stack(x: np.ndarray, g: np.ndarray, depth: int, activation: str, seed: int) -> dict:
    import tensorflow as tf

    tf.keras.utils.set_random_seed(seed)
    width = x.shape[1]
    layers = [
        tf.keras.layers.Dense(width, kernel_initializer="lecun_normal", activation=activation)
        for _ in range(depth)
    ]
    h = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(h)
        outputs = [h]
        for layer in layers:
            h = layer(h)
            outputs.append(h)
        loss = tf.reduce_sum(h * tf.constant(g))
    grads = tape.gradient(loss, outputs)
    wide = [tf.cast(t, tf.float64) for t in outputs]
    return {
        "means": [float(tf.reduce_mean(t)) for t in wide[1:]],
        "variances": [float(tf.math.reduce_variance(t)) for t in wide[1:]],
        "grad_norms": [float(tf.norm(tf.cast(t, tf.float64))) for t in grads],
    }
