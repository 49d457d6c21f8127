"""`sweep --merge DIR [DIR ...]`: the checkpoints of sweeps over disjoint ranges, made on
separate machines (a CI matrix, a SLURM array: each ran `sweep --start A --stop B
--checkpoint DIR`), joined into the sweep of their union.

The folders must agree in everything their manifests say but the range (implementation
and version, device, dtype, quantity, chunk size, code hash, what picks the kernels) and
in their worker's Python and numpy (info.json); their ranges must neither overlap nor
leave a gap, and each must hold every chunk of its range. The union's summary is the merge
of every chunk, which is the summary of one sweep over the union (`RangeSummary.merge` is
associative and independent of the order).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from .checkpoint import INFO, Checkpoint
from .run import Outcome, SweepError, chunk_ranges
from .summary import RangeSummary

#: Of the worker's report, what must agree too (the interpreter's path may differ).
SAME_INFO = ("python", "numpy")


def _read(folder: Path, name: str) -> dict:
    try:
        return json.loads((folder / name).read_text())
    except FileNotFoundError:
        raise SweepError(f"{folder}: no {name}: not the checkpoint of a sweep") from None
    except (OSError, ValueError) as error:
        raise SweepError(f"{folder}/{name}: unreadable ({error})") from None


def join(folders: list[Path]) -> tuple[dict, Outcome]:
    """The manifest of the union (start and stop its own) and its Outcome; SweepError in
    one line naming the folder and what is wrong."""
    started = time.perf_counter()
    shards = []
    for folder in folders:
        shards.append((folder, _read(folder, "manifest.json"), _read(folder, INFO)))
    shards.sort(key=lambda shard: shard[1].get("start", 0))
    first, manifest, info = shards[0]
    for folder, other, other_info in shards[1:]:
        for key in sorted((manifest.keys() | other.keys()) - {"start", "stop"}):
            if manifest.get(key) != other.get(key):
                raise SweepError(
                    f"{folder}: its {key} is {other.get(key)!r}, {first}'s {manifest.get(key)!r}"
                )
        for key in SAME_INFO:
            if info.get(key) != other_info.get(key):
                raise SweepError(
                    f"{folder}: its worker's {key} ({INFO}) is {other_info.get(key)!r}, "
                    f"{first}'s {info.get(key)!r}"
                )
    parts = []
    for i, (folder, shard, _) in enumerate(shards):
        if i:
            before, previous = shards[i - 1][0], shards[i - 1][1]
            if previous["stop"] > shard["start"]:
                raise SweepError(
                    f"{folder} [{shard['start']:#x}, {shard['stop']:#x}) overlaps {before} "
                    f"[{previous['start']:#x}, {previous['stop']:#x})"
                )
            if previous["stop"] < shard["start"]:
                raise SweepError(
                    f"{before} ends at {previous['stop']:#x} and {folder} starts at "
                    f"{shard['start']:#x}: their union has a gap"
                )
        chunks = chunk_ranges(shard["start"], shard["stop"], shard["chunk"])
        checkpoint = Checkpoint(folder, shard)
        done = checkpoint.done()
        missing = [(a, b) for index, a, b in chunks if index not in done]
        if missing:
            a, b = missing[0]
            raise SweepError(
                f"{folder}: {len(missing)} of its {len(chunks)} chunks are missing (the first: "
                f"[{a:#x}, {b:#x})); finish it with the same sweep and --checkpoint {folder}"
            )
        parts += [checkpoint.load(index) for index, _, _ in chunks]
    summary = RangeSummary.merge_all(parts)
    union = {**manifest, "start": shards[0][1]["start"], "stop": shards[-1][1]["stop"]}
    return union, Outcome(summary, info, time.perf_counter() - started, 0, len(parts))
