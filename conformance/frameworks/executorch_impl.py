"""ExecuTorch: executorch/portable and executorch/xnnpack, `torch.nn.functional.selu`
exported with torch.export and run by ExecuTorch's runtime (`executorch.runtime`).

    portable   to_edge(...).to_executorch(): the portable CPU kernels
    xnnpack    to_edge_transform_and_lower(..., partitioner=[XnnpackPartitioner()]): the
               XNNPACK delegate for every op it takes

Export decomposes selu (CompositeImplicitAutograd) into the edge op `aten.elu(x, α, λ)`.
A program is exported once per dtype, for a 1-D input of dynamic length (1 to 2^21
elements, the planned memory's upper bound): the adapter passes a contiguous 1-D copy of
the input and reshapes the output, since a method takes tensors of the rank it was
exported with (so the layout check sees ExecuTorch's kernel on contiguous memory only);
an empty input is returned empty without a call, and a longer one than the bound goes in
slices of 2^21 (the float64 search's batches). ExecuTorch is an inference runtime: no
derivative.
"""

from __future__ import annotations

import functools

import numpy as np

from conformance.frameworks.base import Adapter, GatePart, Kernels, Variant

ADAPTER = Adapter(
    name="executorch",
    module="executorch_impl",
    packages=("executorch", "torch"),
    order=10,
    gate=GatePart.MORE,  # make gate-more: its checks take minutes (docs/measurements.md)
    variants=(
        Variant(
            "portable",
            "torch.export of torch.nn.functional.selu, ExecuTorch's portable kernels",
            gradient=False,
            devices=("cpu",),
        ),
        Variant(
            "xnnpack",
            "the same program lowered with the XNNPACK partitioner (to_edge_transform_and_lower)",
            gradient=False,
            devices=("cpu",),
        ),
    ),
    env={"CUDA_VISIBLE_DEVICES": ""},
    max_timed_elements=1 << 21,  # the program's planned bound: `kernels` makes one call
)

MAX_ELEMENTS = ADAPTER.max_timed_elements  # the dynamic length's upper bound: memory is
#                                            planned for it


def version() -> str:
    import importlib.metadata

    return importlib.metadata.version("executorch")


def devices() -> list[str]:
    return ["cpu"]


def set_threads(n: int) -> None:
    """The portable kernels run on the calling thread; XNNPACK's pool is ExecuTorch's
    threadpool, sized by the runtime (one per core) and not settable from Python."""
    import torch

    torch.set_num_threads(n)


def _module(op: str):
    import torch

    class Selu(torch.nn.Module):
        def forward(self, x):
            return torch.nn.functional.selu(x)

    class Scale(torch.nn.Module):
        def forward(self, x):
            return x * 2

    return Selu() if op == "selu" else Scale()


def _method(variant: str, op: str, dtype: str):
    """A freshly loaded `forward` method of `op` ("selu" or "scale") for `dtype`. Fresh for
    each input: a method that has run on three or more elements crashes (SIGSEGV in
    Method.execute) when it is then given one element (docs/upstream/executorch-resize.md);
    loading a method from the loaded program takes well under a millisecond."""
    return _program(variant, op, dtype).load_method("forward")


@functools.cache
def _program(variant: str, op: str, dtype: str):
    """The loaded program of `op` for `dtype`, exported and lowered once."""
    import torch
    from executorch.exir import to_edge, to_edge_transform_and_lower
    from executorch.runtime import Runtime
    from torch.export import Dim, export

    example = (torch.zeros(16, dtype=_torch_dtype(dtype)),)
    length = Dim("length", min=1, max=MAX_ELEMENTS)
    program = export(_module(op), example, dynamic_shapes={"x": {0: length}})
    if variant == "xnnpack":
        from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner

        edge = to_edge_transform_and_lower(program, partitioner=[XnnpackPartitioner()])
    elif variant == "portable":
        edge = to_edge(program)
    else:
        raise ValueError(f"unknown executorch variant {variant!r}")
    buffer = edge.to_executorch().buffer
    return Runtime.get().load_program(buffer)


def _torch_dtype(dtype: str):
    import torch

    return getattr(torch, dtype)


@functools.cache
def build(variant: str, quantity: str, device: str):
    from conformance.frameworks.torch_impl import to_numpy, to_torch

    if quantity != "forward" or device != "cpu":
        raise ValueError(f"executorch/{variant} has no {quantity} on {device}")

    def call(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        if x.size == 0:
            return x.copy()
        flat = np.ascontiguousarray(x).reshape(-1)
        parts = [  # an input longer than the planned bound goes in slices (SELU is elementwise)
            to_numpy(
                _method(variant, "selu", x.dtype.name).execute([to_torch(piece, "cpu")])[0],
                x.dtype,
            )
            for piece in np.split(flat, range(MAX_ELEMENTS, flat.size, MAX_ELEMENTS))
        ]
        return np.concatenate(parts).reshape(x.shape)

    return call


def kernels(variant: str, direction: str, device: str, x: np.ndarray, g: np.ndarray) -> Kernels:
    """The loaded methods of selu and x * 2, executed on a tensor made once."""
    from conformance.frameworks.torch_impl import to_torch

    assert direction == "forward" and device == "cpu"
    t = to_torch(np.ascontiguousarray(x).reshape(-1), "cpu")
    selu, scale = (_method(variant, op, x.dtype.name) for op in ("selu", "scale"))
    return Kernels(lambda: selu.execute([t]), lambda: scale.execute([t]))


def snippet(variant, quantity, dtype, device, x_hex) -> str:
    lower = (
        "to_edge_transform_and_lower(export(M(), (x,)), partitioner=[XnnpackPartitioner()])"
        if variant == "xnnpack"
        else "to_edge(export(M(), (x,)))"
    )
    imports = (
        "import torch; from torch.export import export; "
        "from executorch.exir import to_edge, to_edge_transform_and_lower; "
        "from executorch.runtime import Runtime; "
        "from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner"
    )
    return (
        f'python -c "{imports}; '
        "M = type('M', (torch.nn.Module,), {'forward': lambda s, x: torch.nn.functional.selu(x)}); "
        f"x = torch.tensor([float.fromhex('{x_hex}')], dtype=torch.{dtype}); "
        f"m = Runtime.get().load_program({lower}.to_executorch().buffer).load_method('forward'); "
        'print(m.execute([x])[0][0].item().hex())"'
    )
