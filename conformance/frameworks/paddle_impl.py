"""PaddlePaddle: paddle/functional, `paddle.nn.functional.selu` on the CPU, `paddle.grad` for
the derivative.

Its workers run in an environment of their own (`paddle-3.3` in environments.toml, built
by `make own-envs`): paddlepaddle pins opt_einsum==3.3.0, which the suite's own pins
(opt_einsum 3.4.0, for TensorFlow and JAX) exclude. The CPU kernel is registered for
float32 and float64 only ("The kernel with key (CPU, ..., float16) of kernel `selu` is not
registered"), so the implementation claims those two.

numpy arrays go in through `paddle.to_tensor` (a copy) and come back through `.numpy()`.
"""

from __future__ import annotations

import functools

import numpy as np

from conformance.frameworks.base import Adapter, GatePart, Kernels, Variant

ADAPTER = Adapter(
    name="paddle",
    module="paddle_impl",
    packages=("paddle",),
    distributions=("paddlepaddle",),
    order=9,
    gate=GatePart.MORE,  # make gate-more: keeps make test within 15 minutes
    variants=(
        Variant(
            "functional",
            "paddle.nn.functional.selu on the CPU; paddle.grad for the derivative",
            dtypes=("float32", "float64"),
            devices=("cpu",),
        ),
    ),
    environment="paddle-3.3",
    env={"CUDA_VISIBLE_DEVICES": "", "GLOG_minloglevel": "2"},  # CPU; no start-up log lines
)


def version() -> str:
    import paddle

    return paddle.__version__


def devices() -> list[str]:
    return ["cpu"]


def set_threads(n: int) -> None:
    """Paddle's CPU kernels use OpenMP and MKL, whose pools OMP_NUM_THREADS and
    MKL_NUM_THREADS (set for every worker) limit."""
    import paddle

    paddle.set_device("cpu")


def _tensor(x: np.ndarray, grad: bool = False):
    import paddle

    t = paddle.to_tensor(np.ascontiguousarray(x), place=paddle.CPUPlace())
    t.stop_gradient = not grad
    return t


@functools.cache
def build(variant: str, quantity: str, device: str):
    import paddle
    import paddle.nn.functional as F

    if variant != "functional" or device != "cpu":
        raise ValueError(f"unknown paddle variant {variant!r} on {device!r}")

    def call(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        t = _tensor(x, grad=quantity == "gradient")
        if quantity == "forward":
            with paddle.no_grad():
                return F.selu(t).numpy().reshape(x.shape)
        y = F.selu(t)
        (g,) = paddle.grad(y, t, paddle.ones_like(y))
        return g.numpy().reshape(x.shape)

    return call


def kernels(variant: str, direction: str, device: str, x: np.ndarray, g: np.ndarray) -> Kernels:
    """F.selu and x * 2 on paddle tensors: under paddle.no_grad() for the forward, and
    (y, paddle.grad(y, x, g)) for the backward."""
    import paddle
    import paddle.nn.functional as F

    t, gt = _tensor(x, grad=direction == "backward"), _tensor(g)

    def forward(f):
        def call():
            with paddle.no_grad():
                return f(t)

        return call

    def backward(f):
        def call():
            y = f(t)
            return y, paddle.grad(y, t, gt)[0]

        return call

    wrap = forward if direction == "forward" else backward
    return Kernels(wrap(F.selu), wrap(lambda v: v * 2))


def snippet(variant, quantity, dtype, device, x_hex) -> str:
    make = (
        f"x = paddle.to_tensor([float.fromhex('{x_hex}')], dtype='{dtype}', "
        f"stop_gradient={quantity == 'forward'})"
    )
    if quantity == "forward":
        body = f"{make}; print(float(F.selu(x).numpy()[0]).hex())"
    else:
        body = f"{make}; y = F.selu(x); print(float(paddle.grad(y, x)[0].numpy()[0]).hex())"
    return f'python -c "import paddle, paddle.nn.functional as F; {body}"'
