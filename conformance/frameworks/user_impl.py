"""A user's own function, `MODULE:FUNCTION`: f(x: numpy.ndarray) -> numpy.ndarray.

The worker loads it with `load(forward_spec, gradient_spec)` from the current directory
(which is on sys.path); it is called with exactly the arrays the checks build, views and
0-d arrays included, and must return a numpy array of the same shape and dtype.
"""

import importlib
import sys

_FUNCTIONS: dict[str, object] = {}


def parse(spec: str) -> tuple[str, str]:
    """("module", "function") of "module:function"; ValueError if it is not of that form."""
    module, sep, function = spec.partition(":")
    if not sep or not module or not function or ":" in function:
        raise ValueError(f"{spec!r} is not MODULE:FUNCTION")
    if not all(part.isidentifier() for part in module.split(".")) or not all(
        part.isidentifier() for part in function.split(".")
    ):
        raise ValueError(f"{spec!r} is not MODULE:FUNCTION (names must be Python identifiers)")
    return module, function


def resolve(spec: str):
    module_name, function_name = parse(spec)
    if "" not in sys.path:
        sys.path.insert(0, "")
    module = importlib.import_module(module_name)
    target = module
    for part in function_name.split("."):
        target = getattr(target, part)
    if not callable(target):
        raise TypeError(f"{spec} is not callable")
    return target


def load(forward: str, gradient: str | None) -> None:
    _FUNCTIONS["forward"] = resolve(forward)
    if gradient:
        _FUNCTIONS["gradient"] = resolve(gradient)
    _FUNCTIONS["specs"] = (forward, gradient)


def version() -> str:
    return "user"


def devices() -> list[str]:
    return ["cpu"]


def set_threads(n: int) -> None:
    pass


def build(variant: str, quantity: str, device: str):
    if quantity not in _FUNCTIONS:
        raise ValueError(f"no {quantity} function was given")
    return _FUNCTIONS[quantity]


def snippet(variant, quantity, dtype, device, x_hex) -> str:
    spec = _FUNCTIONS["specs"][0 if quantity == "forward" else 1]
    module, function = parse(spec)
    return (
        f'python -c "import numpy as np, ml_dtypes; from {module} import '
        f"{function.split('.')[0]} as f; x = np.array([float.fromhex('{x_hex}')]).astype("
        f"'{dtype}'); print(float(np.asarray(f(x))[0]).hex())\""
    )
