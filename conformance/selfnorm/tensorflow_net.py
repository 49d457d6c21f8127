"""The self-normalisation stack in TensorFlow's Keras (tf.keras): the brief's idiom,
tf.keras.layers.Dense(width, kernel_initializer='lecun_normal', activation='selu'), and
tf.GradientTape."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

LECUN_NORMAL = "tf.keras.initializers.LecunNormal(seed)"


def version() -> str:
    return tf.__version__


def lecun_normal(fan_in: int, fan_out: int, seed: int) -> np.ndarray:
    return tf.keras.initializers.LecunNormal(seed=seed)((fan_in, fan_out)).numpy()


def stack(x: np.ndarray, g: np.ndarray, depth: int, activation: str, seed: int) -> dict:
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
