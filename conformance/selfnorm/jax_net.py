"""The self-normalisation stack in JAX: jax.nn.initializers.lecun_normal, jax.nn.selu,
jax.vjp layer by layer (the gradient with respect to every layer's output)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

LECUN_NORMAL = "jax.nn.initializers.lecun_normal()(key, shape)"
ACTIVATIONS = {"selu": jax.nn.selu, "relu": jax.nn.relu}


def version() -> str:
    return jax.__version__


def lecun_normal(fan_in: int, fan_out: int, seed: int) -> np.ndarray:
    init = jax.nn.initializers.lecun_normal()
    return np.asarray(init(jax.random.PRNGKey(seed), (fan_in, fan_out), jnp.float32))


def stack(x: np.ndarray, g: np.ndarray, depth: int, activation: str, seed: int) -> dict:
    init = jax.nn.initializers.lecun_normal()
    width = x.shape[1]
    keys = jax.random.split(jax.random.PRNGKey(seed), depth)
    weights = [init(k, (width, width), jnp.float32) for k in keys]
    act = ACTIVATIONS[activation]

    def layer(h, w):
        return act(h @ w)  # zero bias

    outputs = [jnp.asarray(x)]
    for w in weights:
        outputs.append(layer(outputs[-1], w))
    grad = jnp.asarray(g)
    grads = [grad]
    for h, w in zip(reversed(outputs[:-1]), reversed(weights), strict=True):
        _, pullback = jax.vjp(lambda h, w=w: layer(h, w), h)
        grad = pullback(grad)[0]
        grads.append(grad)
    grads.reverse()
    wide = [np.asarray(t, dtype=np.float64) for t in outputs]
    return {
        "means": [float(t.mean()) for t in wide[1:]],
        "variances": [float(t.var()) for t in wide[1:]],
        "grad_norms": [float(np.linalg.norm(np.asarray(t, dtype=np.float64))) for t in grads],
    }
