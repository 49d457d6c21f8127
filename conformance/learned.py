"""Inputs an implementation hung or crashed on, learned once in a run.

A hang costs the whole timeout, a crash a new worker. Once the engine knows the input that
did it, the later calls of the same implementation and quantity leave that input out, in
every dtype (the value is the same; one NaN stands for every NaN), so that the remaining
checks run on everything else promptly, and each record says what was left out and why.
After MAX_HANGS hangs (or MAX_CRASHES crashes) of one implementation and quantity, which
no single input explains, its remaining calls are not made.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .measure import as_float64, hexf

MAX_HANGS = 3
MAX_CRASHES = 16
#: Kinds of failure that cost a worker, and so are learned.
LEARNED_KINDS = ("timeout", "crash")


@dataclass(frozen=True)
class FailedInput:
    """An input the implementation hung or crashed on."""

    value: float  # as float64; NaN stands for every NaN
    kind: str  # "timeout" or "crash"
    where: str  # the check it happened in: "float16 forward, special case NaN"
    message: str  # what the worker said

    @property
    def label(self) -> str:
        return "NaN" if np.isnan(self.value) else hexf(self.value)

    def matches(self, x: np.ndarray) -> np.ndarray:
        x64 = as_float64(x)
        if np.isnan(self.value):
            return np.isnan(x64)
        return (x64 == self.value) & (np.signbit(x64) == np.signbit(self.value))

    def describe(self) -> str:
        verb = "hung" if self.kind == "timeout" else "crashed"
        return f"it {verb} on x = {self.label} ({self.where})"

    def as_record(self, count: int | None = None) -> dict:
        record = {"input": self.label, "kind": self.kind, "where": self.where}
        record["error"] = self.message
        if count is not None:
            record["count"] = count
        return record


@dataclass
class Learned:
    """What one implementation and quantity failed on so far in this run."""

    inputs: list[FailedInput] = field(default_factory=list)
    hangs: int = 0
    crashes: int = 0

    def count(self, kind: str) -> None:
        """A call hung or crashed (located or not)."""
        if kind == "timeout":
            self.hangs += 1
        elif kind == "crash":
            self.crashes += 1

    def add(self, failed: FailedInput) -> None:
        if not any(f.label == failed.label for f in self.inputs):
            self.inputs.append(failed)

    def mask(self, x: np.ndarray) -> np.ndarray:
        """The elements of `x` that a learned failure stands for."""
        out = np.zeros(np.asarray(x).size, dtype=bool)
        for failed in self.inputs:
            out |= failed.matches(np.asarray(x).ravel())
        return out

    def left_out(self, x: np.ndarray) -> list[dict]:
        """For each learned failure that `x` holds: its record and how many elements."""
        flat = np.asarray(x).ravel()
        out = []
        for failed in self.inputs:
            n = int(failed.matches(flat).sum())
            if n:
                out.append(failed.as_record(n))
        return out

    @property
    def exhausted(self) -> str | None:
        """Why no more calls are made, or None."""
        if self.hangs >= MAX_HANGS:
            return f"not called: the implementation hung {self.hangs} times already"
        if self.crashes >= MAX_CRASHES:
            return f"not called: the implementation crashed {self.crashes} times already"
        return None
