"""A finding: the outcome of one check for one implementation, device, dtype and quantity,
with its verdict, a message a person can act on, and its record for results.json.

Test ids and finding ids are one and the same: `finding_id`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .policy import Verdict


@dataclass
class Finding:
    """The outcome of one check, for one implementation, device, dtype and quantity."""

    finding_id: str
    check: str
    verdict: str  # pass, known-deviation, fail
    message: str
    record: dict = field(default_factory=dict)


def finding_id(impl: str, device: str, dtype: str, quantity: str | None, check: str) -> str:
    """`tensorflow/nn-float32-forward-sampled`: implementation, device (when not cpu),
    dtype ("all" for a check of the whole implementation), quantity, and the check (an
    input set's name for accuracy)."""
    parts = [impl] + ([device] if device != "cpu" else []) + [dtype]
    parts += [quantity] if quantity else []
    return "-".join([*parts, check])


_ORDER = {"pass": 0, "known-deviation": 1, "fail": 2}


def worse(a: Verdict, b: Verdict) -> Verdict:
    """The worse of two verdicts (the first where they are equally bad)."""
    return b if _ORDER[b.verdict] > _ORDER[a.verdict] else a


def attach_verdict(record: dict, verdict: Verdict) -> None:
    """The policy's note and, unless it passed, the deviation that covers the record; a
    passing record that a deviation matches names it in `stale_deviation` (whether the
    entry can go is for the whole run to say: `results.prune_stale`)."""
    if verdict.note:
        record["note"] = verdict.note
    if verdict.deviation is not None:
        d = verdict.deviation
        if verdict.stale:
            record["stale_deviation"] = d.line
        else:
            record["deviation"] = {"line": d.line, "cause": d.cause, "issue": d.issue}


def finding(tid: str, check: str, verdict: Verdict, message: str, record: dict) -> Finding:
    """A Finding whose record and message carry the verdict (and the deviation's cause)."""
    record = dict(record)
    record.setdefault("check", check)
    record["verdict"] = verdict.verdict
    attach_verdict(record, verdict)
    if verdict.verdict == "known-deviation":
        d = verdict.deviation
        message += f"\n  known deviation (policy line {d.line}): {d.cause}"
        if d.issue:
            message += f" [{d.issue}]"
    elif verdict.note:
        message += f"\n  {verdict.note}"
    return Finding(tid, check, verdict.verdict, message, record)
