"""The inputs every implementation is checked on, per dtype.

- special cases: data/special_values.toml, landmarks resolved per dtype here, each judged
  alone in arrays of its own, at every position (`SPECIAL_POSITIONS`);
- "exhaustive": every value of a 16-bit format (float16, bfloat16);
- "sampled": for float32 and float64, SAMPLE_SIZE inputs from a fixed seed, half uniform
  over the bit patterns (every binade and sign as the encoding weighs them: NaNs, infinities,
  subnormals included) and half spread evenly over the binades of both signs, every
  binade from the smallest subnormal to the largest finite getting the same number of
  inputs, with uniform significands: the tiny negatives where e^x - 1 cancels and the
  large negatives where a derivative computed from the output cancels get as many
  inputs as the ordinary range;
- "corpus": for float32 and float64, the worst inputs the sweeps and the float64 search
  found for any implementation (`corpus.py`, data/worst/), replayed for every one.
"""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import reference
from reference import Format, format_of

from . import corpus

SPECIAL_VALUES_FILE = Path(__file__).parent / "data" / "special_values.toml"
SAMPLE_SIZE = 1 << 20
SEED = 20170608  # arXiv 1706.02515, the SELU paper
UINT = {2: np.uint16, 4: np.uint32, 8: np.uint64}


@dataclass(frozen=True)
class SpecialCase:
    name: str
    value: float  # a value of the dtype, as a Python float


def _uint(fmt: Format):
    return UINT[fmt.dtype.itemsize]


def _from_encoding(fmt: Format, k: int, negative: bool = False) -> float:
    value = float(np.array(k, dtype=_uint(fmt)).view(fmt.dtype).astype(np.float64))
    return -value if negative else value


def _last_true(fmt: Format, predicate, negative: bool) -> int:
    """The largest magnitude encoding k with predicate(value(k)) true, where predicate is
    true from k = 0 up to some point and false from there to the largest finite value."""
    lo, hi = 0, int(np.array(np.inf, fmt.dtype).view(_uint(fmt))) - 1
    if not predicate(_from_encoding(fmt, lo, negative)) or predicate(
        _from_encoding(fmt, hi, negative)
    ):
        raise AssertionError(f"landmark search in {fmt}: predicate is not a threshold")
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if predicate(_from_encoding(fmt, mid, negative)):
            lo = mid
        else:
            hi = mid
    return lo


def _scalar(quantity: str, fmt: Format, x: float) -> float:
    return float(reference.evaluate(quantity, np.array([x]).astype(fmt.dtype)).values[0])


@functools.cache
def landmarks(dtype_name: str) -> dict[str, float]:
    """The named landmarks of special_values.toml for one dtype."""
    fmt = format_of(dtype_name)
    info = {
        "smallest_subnormal": fmt.smallest_subnormal,
        "second_subnormal": 2 * fmt.smallest_subnormal,
        "largest_subnormal": fmt.largest_subnormal,
        "smallest_normal": fmt.smallest_normal,
        "largest_finite": fmt.max_finite,
    }
    saturated = _scalar("forward", fmt, -np.inf)
    k = _last_true(fmt, lambda v: np.isfinite(_scalar("forward", fmt, v)), negative=False)
    info["overflow_last_finite"] = _from_encoding(fmt, k)
    info["overflow_first_infinite"] = _from_encoding(fmt, k + 1)
    k = _last_true(fmt, lambda v: _scalar("forward", fmt, v) != saturated, negative=True)
    info["saturation_last"] = _from_encoding(fmt, k, negative=True)
    info["saturation_first"] = _from_encoding(fmt, k + 1, negative=True)
    k = _last_true(fmt, lambda v: _scalar("gradient", fmt, v) > 0, negative=True)
    info["gradient_last_nonzero"] = _from_encoding(fmt, k, negative=True)
    info["gradient_first_zero"] = _from_encoding(fmt, k + 1, negative=True)
    return info


def _resolve(text: str, dtype_name: str) -> float:
    negative = text.startswith("-")
    name = text[1:] if negative else text
    marks = landmarks(dtype_name)
    if name in marks:
        return -marks[name] if negative else marks[name]
    if name == "nan":
        return -np.nan if negative else np.nan
    return float.fromhex(text) if name not in ("inf",) else float(text)


@functools.cache
def _case_table() -> tuple[tuple[str, str], ...]:
    with open(SPECIAL_VALUES_FILE, "rb") as f:
        data = tomllib.load(f)
    return tuple((case["name"], case["value"]) for case in data["case"])


def special_cases(dtype_name: str) -> list[SpecialCase]:
    return [SpecialCase(name, _resolve(value, dtype_name)) for name, value in _case_table()]


def special_array(dtype_name: str) -> np.ndarray:
    """The special cases as one array of the dtype (NaN signs kept)."""
    return np.array([c.value for c in special_cases(dtype_name)]).astype(
        format_of(dtype_name).dtype
    )


#: A special value is judged alone: in an array of SPECIAL_LENGTH copies of it, whose
#: first 1024 elements are the vectorised body of any kernel up to 1024 lanes and whose last
#: element its scalar tail, and as a one-element array (a scalar, a small batch).
SPECIAL_LENGTH = 1025
SPECIAL_POSITIONS = {
    "body": slice(0, SPECIAL_LENGTH - 1),
    "tail": slice(SPECIAL_LENGTH - 1, SPECIAL_LENGTH),
    "one-element": slice(SPECIAL_LENGTH, SPECIAL_LENGTH + 1),
}
#: Elements per special case: the long array, then the one-element one.
SPECIAL_ELEMENTS = SPECIAL_LENGTH + 1


def special_arrays(values: np.ndarray) -> list[np.ndarray]:
    """For each special value: the array of SPECIAL_LENGTH copies, and the one-element array;
    concatenated, the positions of `SPECIAL_POSITIONS`."""
    out = []
    for i in range(values.size):
        out += [np.repeat(values[i : i + 1], SPECIAL_LENGTH), values[i : i + 1].copy()]
    return out


def exhaustive(dtype_name: str) -> np.ndarray:
    fmt = format_of(dtype_name)
    if fmt.bits != 16:
        raise ValueError(f"{dtype_name} has too many values to check exhaustively here")
    return np.arange(1 << 16, dtype=np.uint32).astype(np.uint16).view(fmt.dtype)


def sampled(dtype_name: str, size: int = SAMPLE_SIZE, seed: int = SEED) -> np.ndarray:
    """`size` inputs of the dtype: half uniform bit patterns, half per binade (see above)."""
    fmt = format_of(dtype_name)
    rng = np.random.default_rng([seed, fmt.bits])
    uint = _uint(fmt)
    half = size // 2
    uniform = rng.integers(0, np.iinfo(uint).max, half, dtype=uint, endpoint=True)
    # Per binade: the exponent field uniform over every finite binade (the subnormals
    # count as one), the significand bits uniform, the sign uniform.
    mantissa_bits = fmt.precision - 1
    exponent_field = rng.integers(0, (1 << (fmt.bits - 1 - mantissa_bits)) - 1, size - half)
    significand = rng.integers(0, 1 << mantissa_bits, size - half, dtype=np.uint64)
    sign = rng.integers(0, 2, size - half, dtype=np.uint64)
    binned = (
        (sign << np.uint64(fmt.bits - 1))
        | (exponent_field.astype(np.uint64) << np.uint64(mantissa_bits))
        | significand
    ).astype(uint)
    return np.concatenate([uniform, binned]).view(fmt.dtype)


def accuracy_set_names(dtype_name: str, quantity: str) -> tuple[str, ...]:
    if format_of(dtype_name).bits == 16:
        return ("exhaustive",)
    return ("sampled", "corpus") if corpus.entries(dtype_name, quantity) else ("sampled",)


def accuracy_sets(dtype_name: str, quantity: str) -> dict[str, np.ndarray]:
    """The input sets of the accuracy check of a dtype and quantity, by name (read-only)."""
    return dict(_accuracy_sets(dtype_name, quantity))


@functools.cache
def _accuracy_sets(dtype_name: str, quantity: str) -> tuple[tuple[str, np.ndarray], ...]:
    # Built once per dtype: every implementation, quantity and layout check reads them.
    make = {
        "exhaustive": exhaustive,
        "sampled": sampled,
        "corpus": lambda d: corpus.inputs_of(corpus.entries(d, quantity), d),
    }
    sets = []
    for name in accuracy_set_names(dtype_name, quantity):
        x = make[name](dtype_name)
        x.flags.writeable = False
        sets.append((name, x))
    return tuple(sets)
