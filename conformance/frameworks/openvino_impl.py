"""OpenVINO: openvino/selu, a model of one `Selu` op (opset 13) compiled for the CPU plugin.

The model is Parameter(dtype, any shape of the input's rank) → Selu(x, α, λ) → Result,
with α and λ constants of the input's type (the correctly rounded float64 values, rounded
once more to the type; for bfloat16 a float32 constant converted, folded when the model is
compiled), as
`ov.opset13.selu` and Keras's OpenVINO backend build it. It is compiled with
INFERENCE_PRECISION_HINT = f32: the CPU plugin's default is bf16 on a machine with
AVX512_BF16 or AMX, which would compute float32 models in bfloat16, and f32 is the
precision a conformance result should be about. OpenVINO is an inference runtime: no
derivative.

Arrays go in as they are (the compiled model's call reads numpy arrays, views included);
bfloat16 goes in and out as its bits through an ov.Tensor of type bf16, since the Python
binding has no numpy type for it.
"""

from __future__ import annotations

import functools

import numpy as np

from conformance.frameworks.base import Adapter, GatePart, Kernels, Variant

ADAPTER = Adapter(
    name="openvino",
    module="openvino_impl",
    packages=("openvino",),
    order=7,
    gate=GatePart.MORE,  # make gate-more: its checks take minutes (docs/measurements.md)
    variants=(
        Variant(
            "selu",
            "an OpenVINO Selu op (opset 13) on the CPU plugin, f32 inference precision",
            gradient=False,
            devices=("cpu",),
        ),
    ),
)

ALPHA = 1.6732632423543772848170429916717  # float64 rounds these correctly
LAMBDA = 1.0507009873554804934193349852946
_THREADS = {"n": 0}  # INFERENCE_NUM_THREADS; 0: the plugin's choice


def version() -> str:
    import openvino

    return openvino.__version__.split("-")[0]


def devices() -> list[str]:
    return ["cpu"]


def set_threads(n: int) -> None:
    """Read when a model is compiled (INFERENCE_NUM_THREADS)."""
    _THREADS["n"] = n
    _compiled.cache_clear()


def _config() -> dict:
    config = {"INFERENCE_PRECISION_HINT": "f32", "PERFORMANCE_HINT": "LATENCY"}
    if _THREADS["n"]:
        config["INFERENCE_NUM_THREADS"] = _THREADS["n"]
    return config


def _type(dtype: str):
    import openvino as ov

    return {"float16": ov.Type.f16, "bfloat16": ov.Type.bf16, "float32": ov.Type.f32}.get(
        dtype, ov.Type.f64
    )


def _constant(value: float, dtype: str):
    import openvino.opset13 as ops

    if dtype == "bfloat16":
        return ops.convert(ops.constant(np.float32(value)), _type(dtype))
    return ops.constant(np.array(value, dtype=dtype))


@functools.cache
def _compiled(op: str, dtype: str, rank: int):
    """The compiled model of `op` ("selu" or "scale": x * 2) for `dtype` and `rank` (the
    CPU plugin takes dynamic dimensions, not a dynamic rank)."""
    import openvino as ov
    import openvino.opset13 as ops

    x = ops.parameter(ov.PartialShape.dynamic(rank), _type(dtype))
    if op == "selu":
        y = ops.selu(x, _constant(ALPHA, dtype), _constant(LAMBDA, dtype))
    else:
        y = ops.multiply(x, _constant(2.0, dtype))
    return ov.Core().compile_model(ov.Model([y], [x]), "CPU", _config())


def _tensor(x: np.ndarray):
    """An ov.Tensor holding x (bfloat16 as its bits; others shared with numpy)."""
    import openvino as ov

    if x.dtype.name == "bfloat16":
        t = ov.Tensor(ov.Type.bf16, ov.Shape(list(x.shape)))
        t.data.view(np.uint16)[...] = x.view(np.uint16)
        return t
    return ov.Tensor(np.ascontiguousarray(x), shared_memory=True)


def _run(request, x: np.ndarray) -> np.ndarray:
    import ml_dtypes

    if x.dtype.name == "bfloat16":
        request.infer([_tensor(x)])
        out = request.get_output_tensor(0).data
        return out.view(np.uint16).view(ml_dtypes.bfloat16).copy()
    return request.infer([x])[0].copy()


@functools.cache
def build(variant: str, quantity: str, device: str):
    if variant != "selu" or quantity != "forward" or device != "cpu":
        raise ValueError(f"openvino/{variant} has no {quantity} on {device}")

    def call(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        request = _compiled("selu", x.dtype.name, x.ndim).create_infer_request()
        return _run(request, x).reshape(x.shape)

    return call


def kernels(variant: str, direction: str, device: str, x: np.ndarray, g: np.ndarray) -> Kernels:
    """Selu and x * 2, each an infer request on an input tensor set once; infer() returns
    when the output is written."""
    assert variant == "selu" and direction == "forward" and device == "cpu"

    def call(op):
        request = _compiled(op, x.dtype.name, x.ndim).create_infer_request()
        request.set_input_tensor(_tensor(x))
        return lambda: (request.infer(), request.get_output_tensor(0))[1]

    return Kernels(call("selu"), call("scale"))


def snippet(variant, quantity, dtype, device, x_hex) -> str:
    """One line; bfloat16 through float32 constants converted and a bf16 tensor's bits."""
    if dtype == "bfloat16":
        return (
            'python -c "import numpy as np, ml_dtypes, openvino as ov, openvino.opset13 as ops; '
            "bf = ov.Type.bf16; p = ops.parameter([1], bf); "
            f"k = lambda v: ops.convert(ops.constant(np.float32(v)), bf); "
            f"m = ov.Model([ops.selu(p, k({ALPHA!r}), k({LAMBDA!r}))], [p]); "
            "r = ov.Core().compile_model(m, 'CPU', {'INFERENCE_PRECISION_HINT': 'f32'})"
            ".create_infer_request(); t = ov.Tensor(bf, ov.Shape([1])); "
            f"t.data.view(np.uint16)[:] = np.array([float.fromhex('{x_hex}')])"
            ".astype(ml_dtypes.bfloat16).view(np.uint16); r.infer([t]); "
            "print(float(r.get_output_tensor(0).data.view(np.uint16).view(ml_dtypes.bfloat16)[0])"
            '.hex())"'
        )
    return (
        'python -c "import numpy as np, openvino as ov, openvino.opset13 as ops; '
        f"p = ops.parameter([1], np.{dtype}); "
        f"m = ov.Model([ops.selu(p, ops.constant(np.{dtype}({ALPHA!r})), "
        f"ops.constant(np.{dtype}({LAMBDA!r})))], [p]); "
        "c = ov.Core().compile_model(m, 'CPU', {'INFERENCE_PRECISION_HINT': 'f32'}); "
        f"print(float(c(np.array([float.fromhex('{x_hex}')], np.{dtype}))[0][0]).hex())\""
    )
