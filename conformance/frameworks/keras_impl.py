"""Keras 3: keras/jax, keras/torch, keras/openvino (keras.activations.selu on the backend
named by the worker's KERAS_BACKEND; OpenVINO's backend is inference only, no derivative),
and the Keras idioms of the brief for the self-normalisation checks, on the TensorFlow, JAX
and torch backends.

Inputs are converted to the backend's own tensors first (as a backend user's data would
be), the derivative is the backend's autodiff. Keras reads KERAS_BACKEND when it is first
imported: each variant's worker sets it (`Variant.env`).
"""

from __future__ import annotations

import functools
import os
import warnings

import numpy as np

from conformance.frameworks.base import Adapter, GatePart, Kernels, SelfNormSuite, Variant
from conformance.frameworks.base import SelfNormCheck as Check

# Keras would move tensors to a GPU on its own: its workers see none.
_CPU_ONLY = {"CUDA_VISIBLE_DEVICES": "", "JAX_PLATFORMS": "cpu"}


def _on(backend: str) -> dict[str, str]:
    return {"KERAS_BACKEND": backend}


def _backend_variant(
    backend: str, name: str, gradient: bool = True, gate: GatePart | None = None
) -> Variant:
    """keras/<backend>: keras.activations.selu on that backend, on the CPU only."""
    return Variant(
        backend,
        f"keras.activations.selu, Keras 3 on the {name} backend",
        gradient=gradient,
        gate=gate,
        uses=(backend,),
        env={**_CPU_ONLY, **_on(backend)},
        devices=("cpu",),
    )


ADAPTER = Adapter(
    name="keras",
    module="keras_impl",
    packages=("keras",),
    requires={"keras": ">=3"},  # Keras 2 (tf.keras up to TensorFlow 2.15) has no keras.config
    order=5,
    variants=(
        # make gate-more: JAX compiles each operation per shape (two minutes of checks)
        _backend_variant("jax", "JAX", gate=GatePart.MORE),
        _backend_variant("torch", "PyTorch"),
        # make gate-more: each call compiles an OpenVINO model (minutes for the checks)
        _backend_variant("openvino", "OpenVINO", gradient=False, gate=GatePart.MORE),
    ),
    selfnorm=(
        SelfNormSuite("keras-torch", (Check.KERAS_IDIOM,), uses=("torch",), env=_on("torch")),
        SelfNormSuite(
            "keras-tensorflow",
            (Check.KERAS_IDIOM, Check.ALPHA_DROPOUT_MOMENTS, Check.ALPHA_DROPOUT_SATURATION),
            uses=("tensorflow",),
            env=_on("tensorflow"),
        ),
        SelfNormSuite("keras-jax", (Check.KERAS_IDIOM,), uses=("jax",), env=_on("jax")),
    ),
    benchmark_preload=False,  # its variants need different backends: see `select`
)


def _backend() -> str:
    import keras

    return keras.config.backend()


def select(variant: str) -> None:
    """Keras on the variant's backend in this process (asv's benchmark processes, forked
    from one that may have imported Keras with TensorFlow's): where Keras is loaded with
    another backend, keras.config.set_backend imports it afresh."""
    import sys

    backend = ADAPTER.variant(variant).env["KERAS_BACKEND"]
    os.environ["KERAS_BACKEND"] = backend
    keras = sys.modules.get("keras")
    if keras is not None and keras.config.backend() != backend:
        with warnings.catch_warnings():  # that objects made before it become unusable:
            warnings.simplefilter("ignore")  # none is made before it here
            keras.config.set_backend(backend)


def version() -> str:
    import keras

    return keras.__version__


def devices() -> list[str]:
    return ["cpu"]  # the worker hides GPUs: Keras would place tensors there on its own


def set_threads(n: int) -> None:
    if _backend() == "torch":
        import torch

        torch.set_num_threads(n)
    # jax: set through XLA_FLAGS by the worker's environment


@functools.cache
def build(variant: str, quantity: str, device: str):
    import keras

    assert variant == _backend() and device == "cpu"
    selu = keras.activations.selu
    if variant == "jax":
        import jax
        import jax.numpy as jnp

        def gradient(x):
            y, pullback = jax.vjp(selu, x)
            return pullback(jnp.ones_like(y))[0]

        compute = selu if quantity == "forward" else gradient
        return lambda x: np.asarray(compute(jnp.asarray(x)))
    if variant == "torch":
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
    if variant == "openvino" and quantity == "forward":
        return lambda x: keras.ops.convert_to_numpy(selu(keras.ops.convert_to_tensor(x)))
    raise ValueError(f"keras backend {variant!r} is not one the suite tests")


def kernels(variant: str, direction: str, device: str, x: np.ndarray, g: np.ndarray) -> Kernels:
    """keras.activations.selu and keras.ops.multiply(x, 2) on the backend's own arrays, with
    the backend's autodiff for the backward (jax.vjp; torch.autograd.grad)."""
    import keras

    assert variant == _backend() and device == "cpu"
    selu, scale = keras.activations.selu, lambda v: keras.ops.multiply(v, 2)
    if variant == "jax":
        import jax

        from conformance.frameworks import jax_impl

        return jax_impl.timed(selu, scale, direction, jax.devices("cpu")[0], x, g)
    if variant == "torch":
        from conformance.frameworks import torch_impl

        t, gt = torch_impl.to_torch(x, "cpu"), torch_impl.to_torch(g, "cpu")
        return torch_impl.timed(selu, scale, direction, t, gt)
    if variant == "openvino" and direction == "forward":
        # Each op of Keras's OpenVINO backend builds a node; converting to numpy compiles
        # and runs the graph, which is what a user's call costs
        xt = keras.ops.convert_to_tensor(x)
        return Kernels(
            lambda: keras.ops.convert_to_numpy(selu(xt)),
            lambda: keras.ops.convert_to_numpy(scale(xt)),
        )
    raise ValueError(f"keras backend {variant!r} is not one the suite tests")


def snippet(variant, quantity, dtype, device, x_hex) -> str:
    if variant == "openvino":
        return (
            'KERAS_BACKEND=openvino python -c "import keras, numpy as np, ml_dtypes; '
            f"x = np.array([float.fromhex('{x_hex}')]).astype('{dtype}'); "
            "print(float(keras.ops.convert_to_numpy(keras.activations.selu("
            'keras.ops.convert_to_tensor(x)))[0]).hex())"'
        )
    if variant == "jax":
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


# -- self-normalisation (conformance/selfnorm): the Keras idioms people write for SELU ------
# (the brief, ../shared/seed/), each checked bit for bit against keras.activations.selu on
# the same inputs and weights, on whichever backend KERAS_BACKEND selected; on TensorFlow
# they are written with tf.keras, as in the brief:
#
#     Dense(64, kernel_initializer='lecun_normal', activation='selu')
#     Activation('selu')
#     Sequential([Dense(64, …selu), Dense(32, …), Dense(16, …), Dense(10, activation='softmax')])
#     keras.activations.selu(x) (tf.keras.activations.selu(x)) and the backend's own selu

SEED = 0


def _namespace():
    """tf.keras on TensorFlow (the brief's spelling), keras otherwise."""
    import keras

    if _backend() == "tensorflow":
        import tensorflow as tf

        return tf.keras
    return keras


def _native_selu():
    name = _backend()
    if name == "tensorflow":
        import tensorflow as tf

        return "tf.nn.selu", tf.nn.selu
    if name == "jax":
        import jax

        return "jax.nn.selu", jax.nn.selu
    import torch

    return "torch.nn.functional.selu", torch.nn.functional.selu


def _numpy(t) -> np.ndarray:
    import keras

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


def keras_idioms() -> list[dict]:
    import keras

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
    spelled = (
        "tf.keras.activations.selu" if _backend() == "tensorflow" else "keras.activations.selu"
    )
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
