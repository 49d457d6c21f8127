"""Shared I/O: atomic writes and the folders the suite keeps its state in.

CHECKOUT    the suite's checkout (it runs from there; it is not installed)
CACHE_DIR   the cache of reference values and sweep checkpoints ($CONFORMANCE_CACHE,
            default .cache in the checkout)
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parent.parent
CACHE_DIR = Path(os.environ.get("CONFORMANCE_CACHE", CHECKOUT / ".cache"))


class JSONFileError(ValueError):
    """A JSON file that cannot be read or parsed: the message names the file (and line)."""


def read_json(path: str | Path):
    """The parsed content of a JSON file; JSONFileError, in one line, when it cannot be
    read ("PATH: cannot read (…)") or is not JSON ("PATH:LINE: not valid JSON (…)")."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as error:
        raise JSONFileError(f"{path}: cannot read ({error.strerror})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise JSONFileError(f"{path}:{error.lineno}: not valid JSON ({error.msg})") from None


def write_atomic(path: str | Path, text: str) -> Path:
    """Write `text` to `path` so that readers (and a later run, after a kill -9 at any
    moment) see the old file or the new one, never a part: a temporary file in the same
    folder, flushed to disk, then renamed over `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(temporary, 0o644)  # mkstemp's 0600 would hide the results from others
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path
