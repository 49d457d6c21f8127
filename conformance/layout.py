"""Layout and execution variants: the same values, arranged differently.

An implementation must give every element the same bits whatever array it sits in: any
size (0 to 70, and large), any position (vectorised body or scalar tail, aligned or not),
any strides (sliced, transposed, Fortran order), 0-d, called twice. `variants(base)` builds
those inputs from a base vector; each comes with the index, for every element of the
output in C order, of the base element it must equal in the plain contiguous call.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import views

SIZES = range(0, 71)
LARGE = (1 << 17) + 13  # beyond any vector width and most chunkings, not a round number
# Around the vector widths the frameworks use (8, 16, 32, 64 lanes) and their tails.
ROTATION_LENGTHS = (1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65)
MISALIGNMENTS = range(1, 8)
STRIDES = (2, 3, 7)


@dataclass(frozen=True)
class Variant:
    name: str  # which kind of layout, e.g. "size 17", "rotation 3 of length 16"
    array: np.ndarray  # what is sent to the worker
    view: tuple | None  # applied to `array` in the worker (see views.py)
    index: np.ndarray  # base index of every output element, in C order

    def describe(self) -> str:
        return f"{self.name} ({views.describe(self.array, self.view)})"


def _tiled(base: np.ndarray, n: int, start: int = 0) -> tuple[np.ndarray, np.ndarray]:
    index = (start + np.arange(n)) % base.size
    return base[index], index


def variants(base: np.ndarray, specials: int) -> list[Variant]:
    """Layout variants of `base`, whose first `specials` elements are the special cases."""
    out: list[Variant] = []
    for n in SIZES:
        array, index = _tiled(base, n, start=7 * n)
        out.append(Variant(f"size {n}", array, None, index))
    array, index = _tiled(base, LARGE, start=3)
    out.append(Variant(f"size {LARGE}", array, None, index))

    # Every special case at every position of arrays of these lengths: the cyclic
    # rotations of a template holding them (in chunks when the array is shorter).
    special_index = np.arange(specials)
    filler_index = np.arange(specials, base.size)
    for length in ROTATION_LENGTHS:
        for chunk in range(0, specials, length):
            template = special_index[chunk : chunk + length]
            fill = filler_index[: max(0, length - template.size)]
            template = np.concatenate([template, fill])[:length]
            for shift in range(length):
                index = np.roll(template, shift)
                out.append(
                    Variant(
                        f"special cases rotated by {shift} in length {length}",
                        base[index],
                        None,
                        index,
                    )
                )

    # Misaligned starts: a contiguous view that begins k elements into its buffer.
    for k in MISALIGNMENTS:
        buffer, index = _tiled(base, 37 + k, start=5)
        out.append(Variant(f"offset {k}", buffer, ("slice", k, k + 37), index[k:]))

    for step in STRIDES:
        n = 40
        buffer, index = _tiled(base, step * n, start=11)
        out.append(Variant(f"stride {step}", buffer, ("step", 0, step, n), index[::step][:n]))

    array, index = _tiled(base, 72, start=13)
    out.append(
        Variant(
            "transposed 8x9",
            array,
            ("transpose", 8, 9),
            views.apply(index, ("transpose", 8, 9)).ravel(),
        )
    )
    out.append(Variant("Fortran-ordered 6x12", array, ("fortran", 6, 12), index))
    out.append(Variant("3-d 2x3x12", array, ("reshape", (2, 3, 12)), index))

    for i in range(base.size):
        out.append(Variant("0-d array", base, ("scalar", i), np.array([i])))
    out.append(Variant("the plain call repeated", base, None, np.arange(base.size)))
    return out


def base_vector(specials: np.ndarray, ordinary: np.ndarray, count: int = 64) -> np.ndarray:
    """Special cases first, then `count` ordinary values spread over `ordinary`."""
    pick = np.linspace(0, ordinary.size - 1, count).astype(np.int64)
    return np.concatenate([specials, ordinary[pick]])
