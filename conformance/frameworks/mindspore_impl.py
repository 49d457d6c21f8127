"""MindSpore: mindspore/ops, `mindspore.ops.selu` on the CPU in PyNative (eager) mode,
`mindspore.grad` for the derivative.

Its workers run in an environment of their own (`mindspore-2.10` in environments.toml,
built by `make own-envs`): the wheel is 800 MB and only `make gate-more` needs it, so
`make test`'s install of `.venv` stays as it was. The `SeLU` primitive takes float16,
float32 and float64 ("must be a type of {Tensor[Float16], Tensor[Float32],
Tensor[Float64], Tensor[Int32], Tensor[Int8]}, but got Tensor[BFloat16]"), so the
implementation claims those three.

numpy arrays go in through `mindspore.Tensor` of a contiguous copy and come back through
`.asnumpy()`. The derivative is the SeLU primitive's registered bprop (`grad_nn_ops.cc`,
`REG_BPROP_BUILDER("SeLU")`) with a sensitivity of ones, elementwise because SELU is.

Every process runs MindSpore's CPU kernels on one thread
(`mindspore.device_context.cpu.op_tuning.threads_num(1)`), its default pool included:
with more, a kernel's result depends on its call count and on timing. Each kernel
(`ParallelLaunchAutoSearch`, `cpu_kernel.cc`) times block sizes over its first calls, five
calls each: calls 1 to 5 run as one task on the calling thread, calls 6 to 15 as several
tasks on the pool's threads, which set flush-to-zero and denormals-are-zero
(`Worker::Run`, `threadpool.cc`), so subnormal inputs and outputs become 0; then the
fastest block size is kept, one task or several, as the clock decided. With one thread
nothing is split and no subnormal is flushed (docs/upstream/mindspore.md).
"""

from __future__ import annotations

import functools

import numpy as np

from conformance.frameworks.base import Adapter, GatePart, Kernels, Variant

ADAPTER = Adapter(
    name="mindspore",
    module="mindspore_impl",
    packages=("mindspore",),
    order=11,
    gate=GatePart.MORE,  # make gate-more: its environment is built by make own-envs
    variants=(
        Variant(
            "ops",
            "mindspore.ops.selu on the CPU (PyNative); mindspore.grad for the derivative",
            dtypes=("float16", "float32", "float64"),
            devices=("cpu",),
        ),
    ),
    environment="mindspore-2.10",
    env={"GLOG_v": "3"},  # errors only: its start-up warnings go to stderr otherwise
)

_threads: list[int] = []  # the kernel thread count set in this process (once: MindSpore
#                           refuses a second setting)


def version() -> str:
    import mindspore

    return mindspore.__version__


def devices() -> list[str]:
    return ["cpu"]


def set_threads(n: int) -> None:
    """MindSpore's CPU kernels run on its own thread pool; `threads_num` sizes it, once per
    process, before the first kernel runs. `build` and `kernels` set one thread where no
    count was set (the module docstring says why)."""
    import mindspore.device_context.cpu.op_tuning as op_tuning

    if not _threads:
        op_tuning.threads_num(n)
        _threads.append(n)


def _tensor(x: np.ndarray):
    import mindspore

    return mindspore.Tensor(np.ascontiguousarray(x))


@functools.cache
def build(variant: str, quantity: str, device: str):
    import mindspore
    from mindspore import ops

    if variant != "ops" or device != "cpu":
        raise ValueError(f"unknown mindspore variant {variant!r} on {device!r}")
    set_threads(1)
    compute = ops.selu if quantity == "forward" else mindspore.grad(ops.selu)

    def call(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        return compute(_tensor(x)).asnumpy().reshape(x.shape)

    return call


def kernels(variant: str, direction: str, device: str, x: np.ndarray, g: np.ndarray) -> Kernels:
    """ops.selu and x * 2 on MindSpore tensors; the backward is mindspore.vjp of each with
    the upstream gradient g. PyNative mode may queue an operation and return before it has
    run, so the clock waits for the queue (`mindspore.runtime.synchronize`)."""
    import mindspore
    import mindspore.runtime
    from mindspore import ops

    set_threads(1)
    t, gt = _tensor(x), _tensor(g)

    def forward(f):
        return lambda: f(t)

    def backward(f):
        def call():
            y, pullback = mindspore.vjp(f, t)
            return y, pullback(gt)[0]

        return call

    wrap = forward if direction == "forward" else backward
    return Kernels(wrap(ops.selu), wrap(lambda v: v * 2), lambda _: mindspore.runtime.synchronize())


def snippet(variant, quantity, dtype, device, x_hex) -> str:
    make = f"x = ms.Tensor(np.array([float.fromhex('{x_hex}')], dtype='{dtype}'))"
    f = "ops.selu" if quantity == "forward" else "ms.grad(ops.selu)"
    body = f"{make}; print(float({f}(x).asnumpy()[0]).hex())"
    return f'python -c "import numpy as np, mindspore as ms; from mindspore import ops; {body}"'
