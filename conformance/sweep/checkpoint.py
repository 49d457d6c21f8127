"""A sweep's finished chunks on disk: killed at any moment (kill -9 included) and started
again, it measures only what is missing and ends with the same summary.

A checkpoint is a folder holding `manifest.json` (what is swept: implementation, its
version, device, dtype, quantity, range and chunk size, the code hash, and what picks the
kernels: the framework's CPU capability and numpy's SIMD targets), `info.json` (the
worker's report, for the record: `sweep --merge` reads it) and one `NNNNNN.json` per
finished chunk, each written atomically (`results.write_atomic`), so a file is there whole
or not at all. The summary of the sweep is merged from the chunk files in chunk order, however
many runs they took. A folder whose manifest differs (a new framework version, another
chunk size) is stale and is emptied; `lock` keeps two sweeps out of one folder. Chunks the
implementation failed on are not saved, so that a later run tries them again.
"""

from __future__ import annotations

import fcntl
import json
from pathlib import Path

from ..io import write_atomic
from .summary import RangeSummary

INFO = "info.json"


class CheckpointError(RuntimeError):
    """The checkpoint folder is unusable (held by another sweep, unreadable)."""


class Checkpoint:
    def __init__(self, folder: Path, manifest: dict, fresh: bool = False):
        """`fresh`: discard what the folder holds (once the lock is ours)."""
        self.folder, self.manifest, self.fresh = Path(folder), manifest, fresh
        self._lock_file = None

    def __enter__(self) -> Checkpoint:
        self.folder.mkdir(parents=True, exist_ok=True)
        self._lock_file = open(self.folder / "lock", "w")
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock_file.close()
            raise CheckpointError(f"{self.folder} is in use by another sweep") from None
        manifest_path = self.folder / "manifest.json"
        try:
            stale = self.fresh or json.loads(manifest_path.read_text()) != self.manifest
        except (OSError, ValueError):
            stale = True
        for path in self.folder.glob(".*.json.*"):  # temporary files of a killed write
            path.unlink()
        if stale:
            for path in self.folder.glob("*.json"):
                path.unlink()
            write_atomic(manifest_path, json.dumps(self.manifest, indent=1) + "\n")
        return self

    def __exit__(self, *exc) -> None:
        if self._lock_file is not None:
            self._lock_file.close()

    def save_info(self, info: dict) -> None:
        """The worker's report (`process/worker.py`'s init: version, devices, python,
        numpy, ...), beside the manifest."""
        write_atomic(self.folder / INFO, json.dumps(info, indent=1, sort_keys=True) + "\n")

    def _path(self, index: int) -> Path:
        return self.folder / f"{index:06d}.json"

    def done(self) -> set[int]:
        """Indices of the chunks already measured."""
        return {int(p.stem) for p in self.folder.glob("[0-9]*.json")}

    def save(self, index: int, summary: RangeSummary) -> None:
        write_atomic(self._path(index), json.dumps(summary.as_json(), allow_nan=False))

    def load(self, index: int) -> RangeSummary:
        path = self._path(index)
        try:
            return RangeSummary.from_json(json.loads(path.read_text()))
        except (OSError, ValueError, KeyError) as error:
            raise CheckpointError(f"{path}: unreadable chunk ({error})") from None
