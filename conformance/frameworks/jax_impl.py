"""jax/nn, jax/jit.

The worker sets JAX_ENABLE_X64=1 (float64 is otherwise silently computed in float32).
numpy arrays are placed with jax.device_put (a copy); the derivative is jax.vjp with a
cotangent of ones, elementwise because SELU is.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np

from conformance.frameworks import Kernels


def version() -> str:
    return jax.__version__


def _jax_device(device: str):
    return jax.devices("cpu")[0] if device == "cpu" else jax.devices("gpu")[0]


def devices() -> list[str]:
    try:
        jax.devices("gpu")
        return ["cpu", "cuda"]
    except RuntimeError:
        return ["cpu"]


def set_threads(n: int) -> None:
    """Set through XLA_FLAGS by the worker's environment, before jax is imported."""


def _gradient(x):
    y, pullback = jax.vjp(jax.nn.selu, x)
    return pullback(jnp.ones_like(y))[0]


@functools.cache
def build(variant: str, quantity: str, device: str):
    compute = jax.nn.selu if quantity == "forward" else _gradient
    if variant == "jit":
        compute = jax.jit(compute)
    elif variant != "nn":
        raise ValueError(f"unknown jax variant {variant!r}")
    target = _jax_device(device)

    def call(x: np.ndarray) -> np.ndarray:
        return np.asarray(compute(jax.device_put(x, target)))

    return call


def value_and_gradient(f):
    """(f(x), g·f'(x)) through jax.vjp: the backward of a training step."""

    def compute(x, g):
        y, pullback = jax.vjp(f, x)
        return y, pullback(g)[0]

    return compute


def kernels(variant: str, direction: str, device: str, x: np.ndarray, g: np.ndarray) -> Kernels:
    """jax.nn.selu and x * 2, called as they are (jax/nn) or under jax.jit (jax/jit, one
    compiled function for the value and the gradient)."""
    if variant not in ("nn", "jit"):
        raise ValueError(f"unknown jax variant {variant!r}")
    return timed(
        jax.nn.selu, lambda v: v * 2, direction, _jax_device(device), x, g, jit=variant == "jit"
    )


def timed(selu, scale, direction: str, target, x, g, jit: bool = False) -> Kernels:
    """`Kernels` of two functions of a jax array (jax's, or Keras's on the jax backend), on
    the device `target`: f(x) for the forward, `value_and_gradient` for the backward.
    Dispatch is asynchronous on every device: jax.block_until_ready waits for the output."""
    xd, gd = jax.device_put(x, target), jax.device_put(g, target)

    def call(f):
        if direction == "forward":
            compute, arguments = f, (xd,)
        else:
            compute, arguments = value_and_gradient(f), (xd, gd)
        if jit:
            compute = jax.jit(compute)
        return lambda: compute(*arguments)

    return Kernels(call(selu), call(scale), jax.block_until_ready)


def snippet(variant, quantity, dtype, device, x_hex) -> str:
    f = "jax.nn.selu" if variant == "nn" else "jax.jit(jax.nn.selu)"
    make = f"x = jnp.array([float.fromhex('{x_hex}')], dtype=jnp.{dtype})"
    if quantity == "forward":
        body = f"{make}; print(float({f}(x)[0]).hex())"
    else:
        body = f"{make}; y, g = jax.vjp({f}, x); print(float(g(jnp.ones_like(y))[0][0]).hex())"
    return f'JAX_ENABLE_X64=1 python -c "import jax, jax.numpy as jnp; {body}"'
