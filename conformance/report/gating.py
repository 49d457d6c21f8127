"""The speed gate's settings (conformance/data/gating.toml) and the spread of a case's samples."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

SETTINGS = Path(__file__).resolve().parent.parent / "data" / "gating.toml"


@dataclass(frozen=True)
class Gating:
    factor: float
    max_spread: float

    def noisy(self, spread: float | None) -> bool:
        """Whether a case with this spread (`spread`) is too noisy to gate; a case without
        quartiles (one sample) is."""
        return spread is None or spread > self.max_spread


def load(path: str | Path = SETTINGS) -> Gating:
    """The settings; ValueError naming the file where it is not valid TOML or lacks a key."""
    try:
        data = tomllib.loads(Path(path).read_text())
        return Gating(float(data["factor"]), float(data["max_spread"]))
    except (tomllib.TOMLDecodeError, KeyError, TypeError, ValueError) as error:
        raise ValueError(f"{path}: {error}") from None


def spread(median: float | None, q25: float | None, q75: float | None) -> float | None:
    """(q75 - q25) / median: the interquartile range of a case's samples over their
    median; None without quartiles."""
    if not median or q25 is None or q75 is None:
        return None
    return (q75 - q25) / median
