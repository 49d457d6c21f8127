"""How an input array is laid out when an implementation sees it.

A view is None (the array as it is: contiguous) or a small tuple, applied to the array in
the worker process (pickling would make any view contiguous again):

    ("slice", start, stop)       x[start:stop]: contiguous, but not at the buffer's start
    ("step", start, step, n)     x[start::step][:n]: strided
    ("transpose", rows, cols)    x.reshape(rows, cols).T: 2-d, non-contiguous
    ("fortran", rows, cols)      x.reshape(rows, cols) copied to Fortran order
    ("scalar", i)                x[i] as a 0-d array
    ("reshape", shape)           x.reshape(shape): n-d, contiguous

`flat_order(array, view)` gives, for each element of the function's output in C order, the
index of the input element it belongs to, so every layout compares element by element with
the plain contiguous call.
"""

from __future__ import annotations

import numpy as np


def apply(x: np.ndarray, view) -> np.ndarray:
    if view is None:
        return x
    kind, *args = view
    if kind == "slice":
        return x[args[0] : args[1]]
    if kind == "step":
        start, step, n = args
        return x[start::step][:n]
    if kind == "transpose":
        return x.reshape(args[0], args[1]).T
    if kind == "fortran":
        return np.asfortranarray(x.reshape(args[0], args[1]))
    if kind == "scalar":
        return x[args[0] : args[0] + 1].reshape(())
    if kind == "reshape":
        return x.reshape(args[0])
    raise ValueError(f"unknown view {view!r}")


def flat_order(x: np.ndarray, view) -> np.ndarray:
    """Indices into x of the view's elements, in the C order of the view's shape."""
    return apply(np.arange(x.size), view).ravel()


def shape_of(x: np.ndarray, view) -> tuple:
    return apply(x, view).shape


def describe(x: np.ndarray, view) -> str:
    if view is None:
        return f"{x.dtype} array of shape {x.shape}"
    kind, *args = view
    y = apply(x, view)
    if kind == "slice":
        return f"{x.dtype} array of {y.size} at offset {args[0]} of a buffer of {x.size}"
    if kind == "step":
        return f"{x.dtype} array of {y.size} with stride {args[1]}"
    if kind in ("transpose", "fortran"):
        return f"{x.dtype} {kind}d array of shape {y.shape}"
    if kind == "scalar":
        return f"0-d {x.dtype} array"
    return f"{x.dtype} array of shape {y.shape}"
