"""tinygrad: tinygrad/tensor, `Tensor.selu` on tinygrad's CPU device (DEV=CPU).

`Tensor.selu` is `1.0507 · (x >= 0).where(x, 1.67326 · (exp(x) − 1))`, and tinygrad
decomposes exp into exp2 of a range-reduced argument with a polynomial of its own; the
CPU device renders each kernel as C and compiles it with clang (`CC`): the worker sets
CC=clang-19, since clang 14 (Debian 12's default) rejects the `__bf16` arithmetic of its
bfloat16 derivative kernels ("__bf16 is not supported on this target"). Compiled kernels
are cached on disk (tinygrad's cache.db), so a second run compiles little.

The derivative is `Tensor.gradient` with an upstream gradient of ones, elementwise because
SELU is.

numpy arrays go in through `Tensor(x)` (a copy; bfloat16 as its bits, bitcast), and come
back through `.numpy()`.
"""

from __future__ import annotations

import functools

import numpy as np

from conformance.frameworks.base import Adapter, GatePart, Kernels, Variant


def thread_environment(n: int) -> dict[str, str]:
    """tinygrad's CPU device runs a kernel on NUM_CPU_THREADS threads (read at import)."""
    return {"NUM_CPU_THREADS": str(n)}


ADAPTER = Adapter(
    name="tinygrad",
    module="tinygrad_impl",
    packages=("tinygrad",),
    order=8,
    gate=GatePart.MORE,  # make gate-more: its checks take minutes (docs/measurements.md)
    variants=(
        Variant(
            "tensor",
            "tinygrad.Tensor.selu on the CPU device (clang); Tensor.gradient for the derivative",
            devices=("cpu",),
        ),
    ),
    programs={"clang-19": "apt-get install clang-19; tinygrad's CPU device compiles with it"},
    env={"DEV": "CPU", "CC": "clang-19"},  # DEV: tinygrad would pick the first device found
    thread_env=thread_environment,
)


def version() -> str:
    import importlib.metadata

    return importlib.metadata.version("tinygrad")


def devices() -> list[str]:
    return ["cpu"]


def set_threads(n: int) -> None:
    """Set through NUM_CPU_THREADS by the worker's environment, before tinygrad is imported."""


def to_tensor(x: np.ndarray):
    from tinygrad import Tensor, dtypes

    if x.dtype.name == "bfloat16":
        return Tensor(np.ascontiguousarray(x).view(np.uint16), device="CPU").bitcast(
            dtypes.bfloat16
        )
    return Tensor(np.ascontiguousarray(x), device="CPU")


def to_numpy(t) -> np.ndarray:
    import ml_dtypes
    from tinygrad import dtypes

    if t.dtype == dtypes.bfloat16:
        return t.bitcast(dtypes.uint16).numpy().view(ml_dtypes.bfloat16)
    return t.numpy()


def _gradient(t, upstream=None):
    from tinygrad import Tensor

    leaf = t.detach()
    leaf.requires_grad = True
    y = leaf.selu()
    (g,) = y.gradient(leaf, gradient=upstream if upstream is not None else Tensor.ones_like(y))
    return y, g


@functools.cache
def build(variant: str, quantity: str, device: str):
    if variant != "tensor" or device != "cpu":
        raise ValueError(f"unknown tinygrad variant {variant!r} on {device!r}")

    def call(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        t = to_tensor(x)
        out = t.selu() if quantity == "forward" else _gradient(t)[1]
        return to_numpy(out).reshape(x.shape)

    return call


def kernels(variant: str, direction: str, device: str, x: np.ndarray, g: np.ndarray) -> Kernels:
    """Tensor.selu and x * 2, realized: tinygrad is lazy, and `realize()` runs the kernels
    (compiled once per shape and cached), so each call computes its own output."""
    t, gt = to_tensor(x).realize(), to_tensor(g).realize()

    def forward(f):
        return lambda: f(t).realize()

    def backward(f):
        def call():
            leaf = t.detach()
            leaf.requires_grad = True
            y = f(leaf)
            (dx,) = y.gradient(leaf, gradient=gt)
            return y.realize(), dx.realize()

        return call

    wrap = forward if direction == "forward" else backward
    return Kernels(wrap(lambda v: v.selu()), wrap(lambda v: v * 2))


def snippet(variant, quantity, dtype, device, x_hex) -> str:
    grad = "" if quantity == "forward" else ", requires_grad=True"
    make = f"x = Tensor([float.fromhex('{x_hex}')], dtype=dtypes.{_dtype_name(dtype)}{grad})"
    wide = ".float()" if dtype == "bfloat16" else ""  # numpy has no bfloat16 of its own
    if quantity == "forward":
        body = f"{make}; print(x.selu(){wide}.numpy().astype(float)[0].hex())"
    else:
        body = (
            f"{make}; y = x.selu(); "
            f"print(y.gradient(x, gradient=Tensor.ones_like(y))[0]{wide}.numpy()"
            ".astype(float)[0].hex())"
        )
    return f'DEV=CPU python -c "from tinygrad import Tensor, dtypes; {body}"'


def _dtype_name(dtype: str) -> str:
    return {"float16": "half", "float32": "float", "float64": "double"}.get(dtype, dtype)
