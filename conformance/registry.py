"""Every implementation under test, by its stable id `framework/variant`.

A `Spec` says what an implementation calls and what it claims (dtypes, a derivative); the
code that calls the framework lives in one module per framework under
`conformance/frameworks/`, loaded only inside a worker process (`worker.py`), so that the
main process never imports a framework. Availability is decided here from the installed
packages alone (no import), with the reason when one is missing.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from dataclasses import dataclass, field

ALL_DTYPES = ("float16", "bfloat16", "float32", "float64")
QUANTITIES = ("forward", "gradient")


@dataclass(frozen=True)
class Spec:
    """One implementation under test."""

    id: str  # "torch/functional"
    calls: str  # what it calls, for people
    module: str  # framework module in conformance.frameworks (runs in the worker)
    variant: str  # which of that module's variants
    packages: tuple[str, ...]  # import names it needs; the first names its framework version
    dtypes: tuple[str, ...] = ALL_DTYPES
    gradient: bool = True
    eager: str | None = None  # for a compiled variant: the id of its eager counterpart
    env: dict = field(default_factory=dict, hash=False)  # environment of its worker

    @property
    def framework(self) -> str:
        """The pytest marker and the group of the id: "torch" for "torch/functional"."""
        return self.id.split("/")[0]

    @property
    def quantities(self) -> tuple[str, ...]:
        return QUANTITIES if self.gradient else ("forward",)

    def unavailable(self) -> str | None:
        """Why this implementation cannot run here, or None when it can."""
        for package in self.packages:
            if importlib.util.find_spec(package) is None:
                return f"{package} is not installed"
        return None

    def version(self) -> str:
        """The installed version of its framework, read from package metadata."""
        return package_version(self.packages[0])


# Distribution names of the import names, where they differ.
_DISTRIBUTIONS = {"tensorflow": ("tensorflow-cpu", "tensorflow"), "jax": ("jax",)}


def package_version(package: str) -> str:
    for dist in _DISTRIBUTIONS.get(package, (package,)):
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return "not installed"


_KERAS_JAX = {"KERAS_BACKEND": "jax"}
_KERAS_TORCH = {"KERAS_BACKEND": "torch"}

SPECS: tuple[Spec, ...] = (
    Spec(
        "numpy/reference",
        "the suite's own vectorised numpy SELU (conformance/frameworks/numpy_impl.py)",
        "numpy_impl",
        "reference",
        ("numpy",),
    ),
    Spec(
        "torch/functional",
        "torch.nn.functional.selu; autograd for the derivative",
        "torch_impl",
        "functional",
        ("torch",),
    ),
    Spec("torch/module", "torch.nn.SELU()", "torch_impl", "module", ("torch",)),
    Spec(
        "torch/inplace",
        "torch.nn.functional.selu(x, inplace=True) on a copy",
        "torch_impl",
        "inplace",
        ("torch",),
    ),
    Spec(
        "torch/compile",
        "torch.compile(torch.nn.functional.selu)",
        "torch_impl",
        "compile",
        ("torch",),
        eager="torch/functional",
    ),
    Spec(
        "tensorflow/nn",
        "tf.nn.selu; tf.GradientTape for the derivative",
        "tensorflow_impl",
        "nn",
        ("tensorflow",),
    ),
    Spec(
        "tensorflow/keras",
        "tf.keras.activations.selu, checked against "
        "tf.keras.layers.Activation('selu', dtype=x.dtype)",
        "tensorflow_impl",
        "keras",
        ("tensorflow",),
    ),
    Spec(
        "tensorflow/xla",
        "tf.function(tf.nn.selu, jit_compile=True)",
        "tensorflow_impl",
        "xla",
        ("tensorflow",),
        eager="tensorflow/nn",
    ),
    Spec("jax/nn", "jax.nn.selu; jax.vjp for the derivative", "jax_impl", "nn", ("jax",)),
    Spec("jax/jit", "jax.jit(jax.nn.selu)", "jax_impl", "jit", ("jax",), eager="jax/nn"),
    Spec(
        "onnxruntime/selu",
        "an ONNX Selu node (opset 22) run by onnxruntime",
        "onnxruntime_impl",
        "selu",
        ("onnxruntime", "onnx"),
        dtypes=("float16", "float32"),
        gradient=False,
    ),
    Spec(
        "keras/jax",
        "keras.activations.selu, Keras 3 on the JAX backend",
        "keras_impl",
        "selu",
        ("keras", "jax"),
        env=_KERAS_JAX,
    ),
    Spec(
        "keras/torch",
        "keras.activations.selu, Keras 3 on the PyTorch backend",
        "keras_impl",
        "selu",
        ("keras", "torch"),
        env=_KERAS_TORCH,
    ),
)

BY_ID = {spec.id: spec for spec in SPECS}
FRAMEWORKS = tuple(dict.fromkeys(spec.framework for spec in SPECS))


def lookup(impl_id: str) -> Spec:
    """The Spec of an id; ValueError naming the known ids otherwise."""
    try:
        return BY_ID[impl_id]
    except KeyError:
        raise ValueError(
            f"unknown implementation {impl_id!r}; known: {', '.join(BY_ID)} "
            "(or MODULE:FUNCTION with `check`)"
        ) from None
