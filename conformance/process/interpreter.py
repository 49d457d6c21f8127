"""The interpreter a worker runs in: the suite's own, or any other CPython (`--python PATH`,
an environment of the matrix) that has numpy, ml_dtypes and the framework.

`Interpreter.probe(path)` asks it once, in a short child process that imports nothing but
the standard library, what it is and what it has: its Python and numpy versions and,
without importing them, which packages are installed and their versions. What it lacks
is an `InterpreterError` in one line (exit status 2 at the command line), before any
worker is started.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

#: What the worker's own code needs there (`process/worker.py`, `wire.py`, the adapters).
REQUIRED = ("numpy", "ml_dtypes")
#: The worker's code uses the standard library of this Python and newer (enum.StrEnum).
MINIMUM_PYTHON = (3, 11)

# Run by the interpreter asked about: the standard library only, and no import of the
# packages asked about (a framework's import can take seconds or fail for its own reasons).
_PROBE = r"""
import importlib.metadata, importlib.util, json, platform, sys
names, distributions = sys.argv[1].split(","), sys.argv[2].split(",")
def version(dist):
    try:
        return importlib.metadata.version(dist)
    except Exception:
        return None
print(json.dumps({
    "python": platform.python_version(),
    "version_info": list(sys.version_info[:2]),
    "found": {n: importlib.util.find_spec(n) is not None for n in names if n},
    "versions": {d: version(d) for d in distributions if d},
}))
"""


class InterpreterError(ValueError):
    """An interpreter that cannot serve as a worker's: the message is one line."""


@dataclass(frozen=True)
class Interpreter:
    """A probed interpreter. `found`: import name -> installed; `versions`: distribution
    name -> version (None where it is not installed)."""

    path: str
    python: str
    found: dict = field(hash=False)
    versions: dict = field(hash=False)

    @property
    def numpy(self) -> str:
        return self.versions.get("numpy") or "not installed"

    def missing(self, packages) -> str | None:
        """Why code that imports `packages` cannot run there, or None."""
        for package in packages:
            if not self.found.get(package, False):
                return f"{package} is not installed in {self.path}"
        return None

    def version(self, distributions) -> str:
        """The version of the first of `distributions` installed there."""
        for dist in distributions:
            if self.versions.get(dist):
                return self.versions[dist]
        return "not installed"


def probe(path: str | os.PathLike, packages=(), distributions=()) -> Interpreter:
    """Ask the interpreter at `path` what it is and which of `packages` (import names) and
    `distributions` it has; InterpreterError, in one line, when it cannot serve a worker."""
    return _probe(str(path), tuple(packages), tuple(distributions))


@functools.cache
def _probe(path: str, packages: tuple, distributions: tuple) -> Interpreter:
    executable = Path(path)
    if not executable.exists():
        raise InterpreterError(f"--python {path}: no such file")
    if executable.is_dir() or not os.access(executable, os.X_OK):
        raise InterpreterError(f"--python {path}: not an executable file")
    names = ",".join(dict.fromkeys((*REQUIRED, *packages)))
    dists = ",".join(dict.fromkeys((*REQUIRED, *distributions)))
    try:
        done = subprocess.run(
            [path, "-c", _PROBE, names, dists],
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise InterpreterError(f"--python {path}: cannot run it ({error})") from None
    try:
        facts = json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        said = (done.stderr or done.stdout).strip().splitlines()
        why = said[-1] if said else f"exit status {done.returncode}"
        raise InterpreterError(f"--python {path}: not a Python interpreter ({why})") from None
    if tuple(facts["version_info"]) < MINIMUM_PYTHON:
        wanted = ".".join(map(str, MINIMUM_PYTHON))
        raise InterpreterError(
            f"--python {path}: Python {facts['python']}; the worker needs {wanted} or newer"
        )
    for package in REQUIRED:
        if not facts["found"].get(package):
            raise InterpreterError(
                f"--python {path}: {package} is not installed there "
                f"(a worker needs {' and '.join(REQUIRED)} beside the framework)"
            )
    return Interpreter(
        path=path,
        python=facts["python"],
        found=facts["found"],
        versions=facts["versions"],
    )
