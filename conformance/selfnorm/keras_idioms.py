"""The Keras idioms people write for SELU (the brief, ../shared/seed/), each checked bit for
bit against keras.activations.selu on the same inputs and weights. Runs on whichever
backend KERAS_BACKEND selected before Keras was imported; on TensorFlow the idioms are
written with tf.keras, as in the brief.

    Dense(64, kernel_initializer='lecun_normal', activation='selu')
    Activation('selu')
    Sequential([Dense(64, …selu), Dense(32, …), Dense(16, …), Dense(10, activation='softmax')])
    keras.activations.selu(x) (tf.keras.activations.selu(x)) and the backend's own selu
"""

from __future__ import annotations

import keras
import numpy as np

SEED = 0


def backend() -> str:
    return keras.config.backend()


def version() -> str:
    return keras.__version__


def _namespace():
    """tf.keras on TensorFlow (the brief's spelling), keras otherwise."""
    if backend() == "tensorflow":
        import tensorflow as tf

        return tf.keras
    return keras


def _native_selu():
    name = backend()
    if name == "tensorflow":
        import tensorflow as tf

        return "tf.nn.selu", tf.nn.selu
    if name == "jax":
        import jax

        return "jax.nn.selu", jax.nn.selu
    import torch

    return "torch.nn.functional.selu", torch.nn.functional.selu


def _numpy(t) -> np.ndarray:
    return np.asarray(keras.ops.convert_to_numpy(t))


def _compare(check: str, got, want, what: str) -> dict:
    got, want = _numpy(got), _numpy(want)
    if got.shape != want.shape or got.dtype != want.dtype:
        return {
            "check": check,
            "ok": False,
            "detail": f"{what}: shape/dtype {got.shape} {got.dtype} against "
            f"{want.shape} {want.dtype}",
        }
    differ = got.view(np.uint8).reshape(got.size, -1) != want.view(np.uint8).reshape(want.size, -1)
    bad = np.flatnonzero(differ.any(axis=1))
    if bad.size:
        i = bad[0]
        g, w = got.reshape(-1)[i].item(), want.reshape(-1)[i].item()
        return {
            "check": check,
            "ok": False,
            "detail": f"{what}: {bad.size} of {got.size} elements differ, first at {i}: "
            f"{float(g).hex()} against {float(w).hex()}",
        }
    return {"check": check, "ok": True, "detail": f"{what}: {got.size} elements, bit for bit"}


def inputs(rows: int = 256, features: int = 32) -> np.ndarray:
    """Standardised normal rows, and the special values of the function's domain."""
    x = np.random.default_rng(SEED).standard_normal((rows, features)).astype(np.float32)
    specials = [0.0, -0.0, 1e-40, -1e-40, -20.0, -90.0, 88.0, 3e38, -3e38]
    x[0, : len(specials)] = specials
    return x


def idioms() -> list[dict]:
    k = _namespace()
    selu = k.activations.selu
    x = inputs()
    out = []

    name, native = _native_selu()
    reference = keras.activations.selu(keras.ops.convert_to_tensor(x))
    out.append(
        _compare(
            "keras.activations.selu",
            native(keras.ops.convert_to_tensor(x)),
            reference,
            f"{name}(x) against keras.activations.selu(x)",
        )
    )
    spelled = "tf.keras.activations.selu" if backend() == "tensorflow" else "keras.activations.selu"
    out.append(_compare(spelled, selu(x), reference, f"{spelled}(x)"))

    layer = k.layers.Activation("selu")
    out.append(_compare("Activation('selu')", layer(x), selu(x), "Activation('selu')(x)"))

    keras.utils.set_random_seed(SEED)
    dense = k.layers.Dense(64, kernel_initializer="lecun_normal", activation="selu")
    got = dense(x)
    pre = keras.ops.add(keras.ops.matmul(x, dense.kernel), dense.bias)
    out.append(
        _compare(
            "Dense(64, kernel_initializer='lecun_normal', activation='selu')",
            got,
            selu(pre),
            "Dense(…, activation='selu')(x) against selu(x @ kernel + bias)",
        )
    )

    keras.utils.set_random_seed(SEED)
    model = k.Sequential(
        [
            k.Input(shape=(x.shape[1],)),
            k.layers.Dense(64, kernel_initializer="lecun_normal", activation="selu"),
            k.layers.Dense(32, kernel_initializer="lecun_normal", activation="selu"),
            k.layers.Dense(16, kernel_initializer="lecun_normal", activation="selu"),
            k.layers.Dense(10, activation="softmax"),
        ]
    )
    h = keras.ops.convert_to_tensor(x)
    for i, dense in enumerate(model.layers):
        h = keras.ops.add(keras.ops.matmul(h, dense.kernel), dense.bias)
        h = selu(h) if i < 3 else k.activations.softmax(h)
    out.append(
        _compare(
            "Sequential(Dense×3 selu, softmax head)",
            model(x),
            h,
            "the brief's model(x) against its layers composed by hand",
        )
    )
    return out


def alpha_dropout(x: np.ndarray, rate: float, seed: int) -> np.ndarray:
    """keras.layers.AlphaDropout(rate) in training mode, in the input's dtype."""
    layer = _namespace().layers.AlphaDropout(rate, seed=seed, dtype=x.dtype.name)
    return _numpy(layer(x, training=True))
