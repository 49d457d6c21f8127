"""keras/jax, keras/torch: keras.activations.selu of Keras 3 on the backend named by the
worker's KERAS_BACKEND. Inputs are converted to the backend's own tensors first (as a
backend user's data would be), the derivative is the backend's autodiff."""

import functools
import os

import numpy as np

from conformance.frameworks import Kernels

BACKEND = os.environ.get("KERAS_BACKEND", "")
import keras  # noqa: E402  (reads KERAS_BACKEND at import)


def version() -> str:
    return keras.__version__


def devices() -> list[str]:
    return ["cpu"]  # the worker hides GPUs: Keras would place tensors there on its own


def set_threads(n: int) -> None:
    if BACKEND == "torch":
        import torch

        torch.set_num_threads(n)
    # jax: set through XLA_FLAGS by the worker's environment


@functools.cache
def build(variant: str, quantity: str, device: str):
    assert variant == "selu" and device == "cpu"
    selu = keras.activations.selu
    if BACKEND == "jax":
        import jax
        import jax.numpy as jnp

        def gradient(x):
            y, pullback = jax.vjp(selu, x)
            return pullback(jnp.ones_like(y))[0]

        compute = selu if quantity == "forward" else gradient
        return lambda x: np.asarray(compute(jnp.asarray(x)))
    if BACKEND == "torch":
        import torch

        from conformance.frameworks.torch_impl import to_numpy, to_torch

        def call(x):
            t = to_torch(x, "cpu")
            if quantity == "forward":
                with torch.no_grad():
                    return to_numpy(selu(t), x.dtype)
            t = t.detach().requires_grad_(True)
            y = selu(t)
            y.backward(torch.ones_like(y))
            return to_numpy(t.grad, x.dtype)

        return call
    raise ValueError(f"keras backend {BACKEND!r} is not one the suite tests (jax, torch)")


def kernels(variant: str, direction: str, device: str, x: np.ndarray, g: np.ndarray) -> Kernels:
    """keras.activations.selu and keras.ops.multiply(x, 2) on the backend's own arrays, with
    the backend's autodiff for the backward (jax.vjp; torch.autograd.grad)."""
    assert variant == "selu" and device == "cpu"
    selu, scale = keras.activations.selu, lambda v: keras.ops.multiply(v, 2)
    if BACKEND == "jax":
        import jax

        from conformance.frameworks import jax_impl

        return jax_impl.timed(selu, scale, direction, jax.devices("cpu")[0], x, g)
    if BACKEND == "torch":
        from conformance.frameworks import torch_impl

        t, gt = torch_impl.to_torch(x, "cpu"), torch_impl.to_torch(g, "cpu")
        return torch_impl.timed(selu, scale, direction, t, gt)
    raise ValueError(f"keras backend {BACKEND!r} is not one the suite tests (jax, torch)")


def snippet(variant, quantity, dtype, device, x_hex) -> str:
    if BACKEND == "jax":
        make = f"x = jnp.array([float.fromhex('{x_hex}')], dtype=jnp.{dtype})"
        if quantity == "forward":
            body = f"{make}; print(float(keras.activations.selu(x)[0]).hex())"
        else:
            body = (
                f"{make}; y, g = jax.vjp(keras.activations.selu, x); "
                "print(float(g(jnp.ones_like(y))[0][0]).hex())"
            )
        return (
            f'KERAS_BACKEND=jax JAX_ENABLE_X64=1 python -c "import keras, jax, '
            f'jax.numpy as jnp; {body}"'
        )
    make = f"x = torch.tensor([float.fromhex('{x_hex}')], dtype=torch.{dtype})"
    if quantity == "forward":
        body = f"{make}; print(keras.activations.selu(x)[0].item().hex())"
    else:
        body = (
            f"{make}.requires_grad_(); keras.activations.selu(x).backward(torch.ones(1, "
            "dtype=x.dtype)); print(x.grad[0].item().hex())"
        )
    return f'KERAS_BACKEND=torch python -c "import keras, torch; {body}"'
