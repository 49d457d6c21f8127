"""Where a run writes, checked before it starts: a mistyped path costs a line, not a run.

Every destination (a results file's folder, the report's folder, a checkpoint or cache
folder) is made if missing and written to once (a temporary file, removed) before any
implementation is called; DestinationError names the option, the path and the reason.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


class DestinationError(ValueError):
    """A destination that cannot be written; the message names the option and the path."""


def folder(path: str | Path, option: str) -> Path:
    """`path` as a folder the run can write in (made if missing)."""
    path = Path(path)
    try:
        if path.exists() and not path.is_dir():
            raise DestinationError(f"{option} {path}: not a folder")
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-probe-", dir=path)
        os.close(fd)
        os.unlink(probe)
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise DestinationError(f"{option} {path}: cannot write there ({reason})") from None
    return path


def file(path: str | Path, option: str) -> Path:
    """`path` as a file the run can write (its folder made if missing; not a folder)."""
    path = Path(path)
    if path.is_dir():
        raise DestinationError(f"{option} {path}: a folder, not a file")
    folder(path.parent, option)
    if path.exists() and not os.access(path, os.W_OK):
        raise DestinationError(f"{option} {path}: cannot write there (read-only file)")
    return path
