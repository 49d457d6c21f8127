"""Run by tests/test_speed.py in a process of its own, per framework module: every timed
call of `benchmarks.speed` computes what it claims, on a small array.

    python tests/speed_probe.py IMPL [IMPL ...]

For every dtype and direction of each implementation, on the CPU: selu() gives, bit for
bit, the output of the conformance adapter's `build` (the function the gate checks) on the
same input; its backward gives that value and g·selu'(x) (within 4 ulp: autodiff may round
the product differently); scale() gives 2x (and 2g) exactly; where the implementation
writes into an output made once (`kernels_into`), that output is the same, and the same
buffer at every call. Prints one line per case and
exits 1 at the first wrong one.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import numpy as np

import benchmarks  # noqa: F401  (the benchmarks' environment: JAX_ENABLE_X64)
from benchmarks import speed
from conformance.registry import BY_ID

SIZE = 4096


def as_numpy(value) -> np.ndarray:
    if hasattr(value, "detach"):  # torch
        from conformance.frameworks.torch_impl import to_numpy

        return to_numpy(value, None)
    if hasattr(value, "numpy") and not isinstance(value, np.ndarray):  # tensorflow
        return np.asarray(value.numpy())
    return np.asarray(value)


def bits(a: np.ndarray) -> np.ndarray:
    return a.view(f"u{a.dtype.itemsize}")


def check(impl: str, dtype: str, direction: str) -> str | None:
    """None when the case is right, or what is wrong."""
    spec = BY_ID[impl]
    kernels = speed.prepare(impl, dtype, SIZE, "cpu", direction)
    module = sys.modules[f"conformance.frameworks.{spec.module}"]
    x, g = speed.inputs(dtype, SIZE)
    if impl == "torch/inplace" and direction == "forward":
        # selu_ works on a buffer of its own, again at each call (its output is the buffer):
        # the input of the next call is that buffer as it is now.
        kernels.selu()
        x = as_numpy(kernels.output)
    kernels.selu()
    kernels.clock()
    out = kernels.output
    forward = module.build(spec.variant, "forward", "cpu")
    if direction == "forward":
        if not np.array_equal(bits(as_numpy(out)), bits(forward(x))):
            return "selu() differs from the adapter's forward"
    else:
        y, dx = (as_numpy(v) for v in out)
        if not np.array_equal(bits(y), bits(forward(x))):
            return "the backward's value differs from the adapter's forward"
        expected = g.astype(np.float64) * module.build(spec.variant, "gradient", "cpu")(x)
        eps = float(np.finfo(np.float32 if dtype == "bfloat16" else dtype).eps)
        if dtype == "bfloat16":
            eps = 2.0**-7
        error = np.abs(dx.astype(np.float64) - expected)
        if not np.all(error <= 4 * eps * np.abs(expected) + np.finfo(np.float64).tiny):
            return f"the backward's gradient is off by up to {error.max():.3g}"
    kernels.scale()
    kernels.clock()
    scaled = kernels.output
    if impl == "torch/inplace" and direction == "forward":
        # ×0.5 and ×2 alternate on its buffer: after an even number of calls (two by
        # `prepare`, two here) it holds the input again.
        kernels.scale()
        scaled = kernels.output
        if not np.array_equal(as_numpy(scaled), speed.inputs(dtype, SIZE)[0]):
            return "the in-place scale does not come back to x"
    elif direction == "forward":
        if not np.array_equal(as_numpy(scaled), x * 2):
            return "scale() is not 2x"
    else:
        y, dx = (as_numpy(v) for v in scaled)
        if not (np.array_equal(y, x * 2) and np.array_equal(dx, g * 2)):
            return "the scale's backward is not (2x, 2g)"
    return None


def address(value) -> int:
    """Where an output's data lives: the same address after each call means the call
    wrote into the same buffer."""
    if hasattr(value, "unsafe_buffer_pointer"):  # jax
        return value.unsafe_buffer_pointer()
    return np.asarray(value).__array_interface__["data"][0]


def check_into(impl: str, dtype: str) -> str | None:
    """The forward written into an output made once (`kernels_into`): the adapter's
    forward bit for bit, and 2x, each call into the buffer of the one before."""
    spec = BY_ID[impl]
    kernels = speed.prepare(impl, dtype, SIZE, "cpu", "forward", "into")
    module = sys.modules[f"conformance.frameworks.{spec.module}"]
    x, _ = speed.inputs(dtype, SIZE)
    for call, expected in (
        (kernels.selu, module.build(spec.variant, "forward", "cpu")(x)),
        (kernels.scale, x * 2),
    ):
        call()
        kernels.clock()
        first = address(kernels.output)
        call()
        kernels.clock()
        if address(kernels.output) != first:
            return "a call wrote its output into a new buffer"
        if not np.array_equal(bits(as_numpy(kernels.output)), bits(expected)):
            return "the output written into differs from the adapter's forward or 2x"
    return None


def main(impls: list[str]) -> int:
    for impl in impls:
        spec = BY_ID[impl]
        for dtype in spec.dtypes:
            for direction in speed.DIRECTIONS if spec.gradient else ("forward",):
                problem = check(impl, dtype, direction)
                print(f"{impl} {dtype} {direction}: {problem or 'ok'}", flush=True)
                if problem:
                    return 1
            if speed.reuses_output(spec):
                problem = check_into(impl, dtype)
                print(f"{impl} {dtype} forward into: {problem or 'ok'}", flush=True)
                if problem:
                    return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
