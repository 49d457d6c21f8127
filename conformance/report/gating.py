"""The speed gate's settings (conformance/data/gating.toml) and the spread of a case's samples."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

SETTINGS = Path(__file__).resolve().parent.parent / "data" / "gating.toml"


@dataclass(frozen=True)
class Gating:
    factor: float  # asv compare --factor
    max_spread: float  # above it, a case is too noisy to gate
    order: str  # a comparison's processes per case, a letter each (A, B)
    samples: tuple[int, int, float]  # asv's repeat of each of those processes

    def noisy(self, spread: float | None) -> bool:
        """Whether a case with this spread (`spread`) is too noisy to gate; a case without
        quartiles (one sample) is."""
        return spread is None or spread > self.max_spread


def load(path: str | Path = SETTINGS) -> Gating:
    """The settings; ValueError naming the file where it is not valid TOML or lacks a key."""
    try:
        data = tomllib.loads(Path(path).read_text())
        least, most, seconds = data["samples"]
        settings = Gating(
            float(data["factor"]),
            float(data["max_spread"]),
            check_order(str(data["order"])),
            (int(least), int(most), float(seconds)),
        )
    except (tomllib.TOMLDecodeError, KeyError, TypeError, ValueError) as error:
        raise ValueError(f"{path}: {error}") from None
    if not 1 <= settings.samples[0] <= settings.samples[1] or settings.samples[2] <= 0:
        raise ValueError(f"{path}: samples is [min, max, seconds], 1 <= min <= max, seconds > 0")
    return settings


def check_order(order: str) -> str:
    """`order` if it is a word of the letters A and B with both in it; ValueError if not."""
    if not order or set(order) - {"A", "B"} or not {"A", "B"} <= set(order):
        raise ValueError(f"order {order!r} is not a word of A and B, both")
    return order


def spread(median: float | None, q25: float | None, q75: float | None) -> float | None:
    """(q75 - q25) / median: the interquartile range of a case's samples over their
    median; None without quartiles."""
    if not median or q25 is None or q75 is None:
        return None
    return (q75 - q25) / median
