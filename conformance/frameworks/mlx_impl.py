"""MLX: mlx/nn, `mlx.nn.selu` on the CPU (the `mlx[cpu]` wheels for Linux).

`mlx.nn.selu` is `elu(x, 1.67326) * 1.0507` with `elu = where(x > 0, x, α·(exp(x) − 1))`,
both under `mx.compile(shapeless=True)`; the derivative is `mx.vjp` with a cotangent of
ones, elementwise because SELU is.

numpy arrays are converted with `mx.array(x, dtype=...)` of their own dtype: without the
dtype, `mx.array` turns a float64 array into float32 (its documented default), and float64
exists on MLX's CPU stream only. bfloat16 goes in through ml_dtypes and comes back as its
bits (MLX's bfloat16 has no buffer format numpy can read).
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
    stack_moments,
)
from conformance.frameworks.base import SelfNormCheck as Check

ADAPTER = Adapter(
    name="mlx",
    module="mlx_impl",
    packages=("mlx",),
    order=6,
    gate=GatePart.MORE,  # make gate-more: keeps make test within 15 minutes
    variants=(
        Variant(
            "nn",
            "mlx.nn.selu; mlx.core.vjp for the derivative",
            devices=("cpu",),  # the Linux wheels have no GPU back end but CUDA's, not here
        ),
    ),
    selfnorm=(SelfNormSuite("mlx", (Check.STACK, Check.LECUN_NORMAL)),),
)


def version() -> str:
    import mlx.core as mx

    return mx.__version__


def devices() -> list[str]:
    return ["cpu"]


def set_threads(n: int) -> None:
    """MLX's CPU stream evaluates elementwise operations on the calling thread."""


def _to_mlx(x: np.ndarray):
    import mlx.core as mx

    return mx.array(x, dtype=getattr(mx, x.dtype.name))


def _to_numpy(y) -> np.ndarray:
    import ml_dtypes
    import mlx.core as mx

    if y.dtype == mx.bfloat16:
        return np.asarray(y.view(mx.uint16)).view(ml_dtypes.bfloat16)
    return np.asarray(y)


def _gradient(x):
    import mlx.core as mx
    import mlx.nn

    _, (g,) = mx.vjp(mlx.nn.selu, [x], [mx.ones_like(x)])
    return g


@functools.cache
def build(variant: str, quantity: str, device: str):
    import mlx.nn

    if variant != "nn" or device != "cpu":
        raise ValueError(f"unknown mlx variant {variant!r} on {device!r}")
    compute = mlx.nn.selu if quantity == "forward" else _gradient

    def call(x: np.ndarray) -> np.ndarray:
        return _to_numpy(compute(_to_mlx(np.asarray(x))))

    return call


def kernels(variant: str, direction: str, device: str, x: np.ndarray, g: np.ndarray) -> Kernels:
    """mlx.nn.selu and x * 2 on MLX arrays; the backward is mx.vjp of each. MLX is lazy:
    a call only builds a graph, which `mx.eval` computes; a graph left unevaluated is
    dropped with its output, so each call evaluates its own output (a wait at the end
    of a batch of calls would compute only the last)."""
    import mlx.core as mx
    import mlx.nn

    xd, gd = _to_mlx(x), _to_mlx(g)

    def scale(v):
        return v * 2

    def call(f):
        def forward():
            y = f(xd)
            mx.eval(y)
            return y

        def backward():
            y, g = mx.vjp(f, [xd], [gd])
            mx.eval(y, g)
            return y, g

        return forward if direction == "forward" else backward

    return Kernels(call(mlx.nn.selu), call(scale))


def snippet(variant, quantity, dtype, device, x_hex) -> str:
    make = f"x = mx.array([float.fromhex('{x_hex}')], dtype=mx.{dtype})"
    if quantity == "forward":
        body = f"{make}; print(mlx.nn.selu(x).astype(mx.float64).item().hex())"
    else:
        body = (
            f"{make}; _, g = mx.vjp(mlx.nn.selu, [x], [mx.ones_like(x)]); "
            "print(g[0].astype(mx.float64).item().hex())"
        )
    return f'python -c "import mlx.core as mx, mlx.nn; {body}"'


# -- self-normalisation (conformance/selfnorm) ---------------------------------------------

LECUN_NORMAL = "mlx.nn.init.he_normal()(w, mode='fan_in', gain=1.0)"


def _lecun_normal(fan_in: int, fan_out: int, key):
    """A (fan_in, fan_out) weight for x @ W: MLX's he_normal with gain 1 in fan_in mode,
    σ = 1/√fan_in, which is LeCun normal (MLX has no initialiser of that name). MLX's
    Linear stores weights as (out, in), so the sample is drawn so and transposed."""
    import mlx.core as mx
    import mlx.nn

    init = mlx.nn.init.he_normal()
    with mx.stream(mx.cpu):
        mx.random.seed(key)
        return init(mx.zeros((fan_out, fan_in)), mode="fan_in", gain=1.0).T


def lecun_normal(fan_in: int, fan_out: int, seed: int) -> np.ndarray:
    return np.asarray(_lecun_normal(fan_in, fan_out, seed))


def dense_stack(x: np.ndarray, g: np.ndarray, depth: int, activation: str, seed: int) -> dict:
    """Per-layer mean and variance of x @ W → activation layers (zero bias, LeCun normal
    weights), and the norm of the gradient of sum(h_depth · g) with respect to the input
    and to every layer's output, by mx.vjp layer by layer."""
    import mlx.core as mx
    import mlx.nn

    act = {"selu": mlx.nn.selu, "relu": mlx.nn.relu}[activation]
    width = x.shape[1]
    weights = [_lecun_normal(width, width, seed + k) for k in range(depth)]

    def layer(h, w):
        return act(h @ w)

    outputs = [mx.array(x)]
    for w in weights:
        outputs.append(layer(outputs[-1], w))
    grad = mx.array(g)
    grads = [grad]
    for h, w in zip(reversed(outputs[:-1]), reversed(weights), strict=True):
        _, (grad,) = mx.vjp(lambda h, w=w: layer(h, w), [h], [grad])
        grads.append(grad)
    grads.reverse()
    return stack_moments(outputs, grads)
