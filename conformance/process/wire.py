"""What crosses the worker's pipes: messages made of Python's own types only.

The worker may run in another interpreter with another numpy (1.26 there, 2.x here): a
pickled numpy array names numpy's private modules (`numpy._core` since 2.0) and does not
load on the other side. So every array, and every numpy scalar, crosses as its raw bytes
with its dtype's name and its shape, and is rebuilt on arrival:

    np.ndarray   -> Packed("array", "float32", (3, 4), b"...")   (C order)
    np.generic   -> Packed("scalar", "float64", (), b"...")
    bfloat16 and the other ml_dtypes types by their names ("bfloat16"), which np.dtype
    knows once ml_dtypes is imported (both sides import it).

Dicts, lists and tuples are walked; everything else (str, int, float, bool, None, bytes)
goes as it is. Both sides are little-endian x86-64 or arm64: bytes are not swapped.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

try:  # registers bfloat16 with numpy; an environment without it cannot carry bfloat16
    import ml_dtypes  # noqa: F401
except ImportError:  # pragma: no cover - every environment of the suite has it
    pass


class Packed(NamedTuple):
    """A numpy array or scalar as builtins (a NamedTuple pickles as a plain tuple of its
    fields plus this module's name, which both sides import)."""

    kind: str  # "array" or "scalar"
    dtype: str  # np.dtype(...).name
    shape: tuple
    data: bytes


def encode(value: Any) -> Any:
    """`value` with every numpy array and scalar inside it replaced by a `Packed`."""
    if isinstance(value, np.ndarray):
        return Packed("array", value.dtype.name, tuple(value.shape), value.tobytes(order="C"))
    if isinstance(value, np.generic):
        return Packed("scalar", value.dtype.name, (), value.tobytes())
    if isinstance(value, dict):
        return {k: encode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, tuple) and not isinstance(value, Packed):
        return tuple(encode(v) for v in value)
    return value


def decode(value: Any) -> Any:
    """The inverse of `encode`: arrays are writable copies owned by this process."""
    if isinstance(value, Packed):
        dtype = np.dtype(value.dtype)
        flat = np.frombuffer(value.data, dtype=dtype)
        if value.kind == "scalar":
            return flat[0]
        return flat.reshape(value.shape).copy()
    if isinstance(value, dict):
        return {k: decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v) for v in value]
    if isinstance(value, tuple):
        return tuple(decode(v) for v in value)
    return value
