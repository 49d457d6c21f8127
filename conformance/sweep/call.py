"""The implementation's side of a sweep chunk: build the inputs of a bit range, call the
implementation on them, check what it returned. Needs numpy alone (and ml_dtypes for
bfloat16), so that it runs in any worker's interpreter.

In the suite's own interpreter the worker also measures the chunk (`chunk.serve`, the
reference beside the call). In another interpreter, which may have no mpmath, the worker
returns the outputs (`outputs`, raw bytes over the pipe) and the suite measures them
(`chunk.measure_outputs`).
"""

from __future__ import annotations

import numpy as np

from ..process.worker import load_module, one_line

_UINT = {2: np.uint16, 4: np.uint32, 8: np.uint64}


class ChunkError(Exception):
    """The implementation failed on this chunk: raised, or returned the wrong thing."""


def inputs(dtype, start: int, stop: int) -> np.ndarray:
    """The bit patterns [start, stop) of `dtype` (a numpy dtype or its name), as unsigned
    integers of its width, in order."""
    return np.arange(start, stop, dtype=_UINT[np.dtype(dtype).itemsize])


def call(function, x: np.ndarray, bits: np.ndarray, dtype: str) -> np.ndarray:
    """`function(x)`, checked: an array of x's dtype and shape, x left as it was;
    ChunkError otherwise."""
    try:
        got = function(x)
    except Exception as error:
        raise ChunkError(f"raised {type(error).__name__}: {error}".splitlines()[0]) from None
    if isinstance(got, np.generic):
        got = np.asarray(got)
    if not isinstance(got, np.ndarray):
        raise ChunkError(f"returned {type(got).__name__}, not numpy.ndarray")
    if got.dtype != x.dtype or got.shape != bits.shape:
        raise ChunkError(f"returned {got.dtype} of shape {got.shape} for {dtype} of {bits.shape}")
    if not np.array_equal(x.view(bits.dtype), bits):
        raise ChunkError("modified its input")
    return got


_EXTRA_MODULES: dict = {}


def functions(module, members, threads, quantity, device) -> tuple[list, dict]:
    """The function of each (framework module, variant) of `members` (None where it does
    not build), modules other than the worker's own loaded beside it, and why each that
    did not build failed."""
    out, errors = [], {}
    for i, (name, variant) in enumerate(members):
        try:
            member = _member_module(module, name, threads)
            out.append(member.build(variant, quantity, device))
        except Exception as error:
            errors[i] = f"cannot build the function: {one_line(error)}"
            out.append(None)
    return out, errors


def _member_module(module, name: str, threads):
    """The framework module `name`: the worker's own, or another loaded beside it."""
    if name == module.__name__.rsplit(".", 1)[-1]:
        return module
    if name not in _EXTRA_MODULES:
        _EXTRA_MODULES[name] = load_module({"module": name, "threads": threads})
    return _EXTRA_MODULES[name]


def outputs(module, members, threads, quantity, device, dtype, start, stop) -> dict:
    """The worker task of one chunk in another interpreter (`Worker.task`): each member's
    outputs on the bit patterns [start, stop) of `dtype`, {"outputs": {i: array},
    "errors": {i: why member i failed}}."""
    built, errors = functions(module, members, threads, quantity, device)
    bits = inputs(dtype, start, stop)
    found = {}
    for i, function in enumerate(built):
        if function is None:
            continue
        try:
            found[i] = call(function, bits.copy().view(np.dtype(dtype)), bits, dtype)
        except ChunkError as error:
            errors[i] = str(error)
    return {"outputs": found, "errors": errors}
