"""onnxruntime/selu: a model of one ONNX Selu node (default α and γ), run by onnxruntime's
CPU execution provider, stamped with the highest opset that the release loads (22 for
1.31, 19 for 1.15; Selu-6 has meant the same since opset 6). Forward only (onnxruntime
trains, but its training API is another product). The model's input has no fixed rank or
shape."""

from __future__ import annotations

import functools

import numpy as np

from conformance.frameworks.base import Adapter, Kernels, Variant

ADAPTER = Adapter(
    name="onnxruntime",
    module="onnxruntime_impl",
    packages=("onnxruntime", "onnx"),
    order=4,
    output_reuse=("selu",),
    variants=(
        Variant(
            "selu",
            "an ONNX Selu node (the release's highest opset) run by onnxruntime",
            dtypes=("float16", "float32"),
            gradient=False,
        ),
    ),
)
# ONNX's element types (onnx.TensorProto) of the dtypes the session is made for.
_ELEMENT_TYPE = {
    np.dtype(np.float16): "FLOAT16",
    np.dtype(np.float32): "FLOAT",
    np.dtype(np.float64): "DOUBLE",
}
_THREADS = {"n": 0}  # 0: onnxruntime's default


def version() -> str:
    import onnxruntime as ort

    return ort.__version__


def devices() -> list[str]:
    return ["cpu"]


def set_threads(n: int) -> None:
    _THREADS["n"] = n


@functools.cache
def _session(dtype: np.dtype, op: str = "Selu"):
    """A session of one node: Selu (α, γ: the ONNX defaults, SELU's), or Mul by a constant 2
    (the scale that the benchmarks time beside it)."""
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    element = getattr(TensorProto, _ELEMENT_TYPE[dtype])
    if op == "Selu":
        node, initializer = helper.make_node("Selu", ["x"], ["y"]), []
    else:
        node = helper.make_node("Mul", ["x", "two"], ["y"])
        initializer = [numpy_helper.from_array(np.array(2, dtype), "two")]
    graph = helper.make_graph(
        [node],
        op.lower(),
        [helper.make_tensor_value_info("x", element, None)],
        [helper.make_tensor_value_info("y", element, None)],
        initializer,
    )
    # No shape on the input: any rank. (onnx.checker insists on one; onnxruntime does not.)
    return _load(ort, helper, graph, opset(_ELEMENT_TYPE[dtype]))


def _load(ort, helper, graph, opset: int):
    stamp = [helper.make_opsetid("", opset)]
    model = helper.make_model(
        graph, opset_imports=stamp, ir_version=helper.find_min_ir_version_for(stamp)
    )
    options = ort.SessionOptions()
    options.intra_op_num_threads = _THREADS["n"]
    return ort.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )


#: The newest opset tried: the one the suite's pinned onnx and onnxruntime agree on.
NEWEST_OPSET = 22


@functools.cache
def opset(element_type: str = "FLOAT") -> int:
    """The highest opset (at most NEWEST_OPSET, and at most what the installed onnx knows)
    whose Selu model of `element_type` this onnxruntime loads: older releases reject newer
    opsets and IR versions ("Opset 22 is under development", "Unsupported model IR
    version"), and 1.15 loads a float16 Selu of opset 19 only with a Cast-19 it has no
    kernel for (its CPU provider computes float16 Selu in float32), so float16 gets 18."""
    import onnxruntime as ort
    from onnx import TensorProto, defs, helper

    element = getattr(TensorProto, element_type)
    graph = helper.make_graph(
        [helper.make_node("Selu", ["x"], ["y"])],
        "probe",
        [helper.make_tensor_value_info("x", element, None)],
        [helper.make_tensor_value_info("y", element, None)],
    )
    for candidate in range(min(NEWEST_OPSET, defs.onnx_opset_version()), 5, -1):
        try:
            _load(ort, helper, graph, candidate)
        except Exception:  # onnxruntime's own errors have no common public type
            continue
        return candidate
    raise RuntimeError("this onnxruntime loads no Selu model of opset 6 or newer")


def build(variant: str, quantity: str, device: str):
    if quantity != "forward":
        raise ValueError("onnxruntime/selu has no derivative")

    def call(x: np.ndarray) -> np.ndarray:
        return _session(x.dtype).run(None, {"x": x})[0]

    return call


def kernels(variant: str, direction: str, device: str, x: np.ndarray, g: np.ndarray) -> Kernels:
    if direction != "forward":
        raise ValueError("onnxruntime/selu has no derivative")
    selu, scale = _session(x.dtype), _session(x.dtype, "Mul")
    return Kernels(lambda: selu.run(None, {"x": x})[0], lambda: scale.run(None, {"x": x})[0])


def kernels_into(variant: str, device: str, x: np.ndarray) -> Kernels:
    """The Selu and Mul sessions run through an IOBinding each: x bound once, the output
    bound to a numpy array made once, so that onnxruntime writes into it at every run."""
    calls = []
    for op in ("Selu", "Mul"):
        session, out = _session(x.dtype, op), np.empty_like(x)
        binding = session.io_binding()
        binding.bind_cpu_input("x", x)
        binding.bind_output("y", "cpu", 0, x.dtype, x.shape, out.ctypes.data)
        calls.append(functools.partial(_run_bound, session, binding, out))
    return Kernels(*calls)


def _run_bound(session, binding, out: np.ndarray) -> np.ndarray:
    session.run_with_iobinding(binding)
    return out


def snippet(variant, quantity, dtype, device, x_hex) -> str:
    stamp = opset("FLOAT16" if dtype == "float16" else "FLOAT")
    return (
        'python -c "import numpy as np, onnxruntime as ort; from onnx import helper as h, '
        f"TensorProto as T; t = T.{'FLOAT16' if dtype == 'float16' else 'FLOAT'}; "
        "m = h.make_model(h.make_graph([h.make_node('Selu', ['x'], ['y'])], 'g', "
        "[h.make_tensor_value_info('x', t, None)], [h.make_tensor_value_info('y', t, None)]), "
        f"opset_imports=[h.make_opsetid('', {stamp})], "
        f"ir_version=h.find_min_ir_version_for([h.make_opsetid('', {stamp})])); "
        "s = ort.InferenceSession(m.SerializeToString(), providers=['CPUExecutionProvider']); "
        f"x = np.array([float.fromhex('{x_hex}')], '{dtype}'); "
        "print(float(s.run(None, {'x': x})[0][0]).hex())\""
    )
