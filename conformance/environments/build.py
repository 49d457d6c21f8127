"""Locking and building the environments of the catalog with uv.

    lock:   uv pip compile - --python-version V --python-platform x86_64-unknown-linux-gnu
                --exclude-newer DATE            -> data/environments/NAME.txt
    build:  uv venv --python PY FOLDER; uv pip sync NAME.txt --python FOLDER/bin/python

uv is the one pinned in constraints.txt (beside the suite's interpreter). Every build uses
one cache (uv's own, `UV_CACHE_DIR` to move it) and hard links from it
(`UV_LINK_MODE=hardlink`), so N environments cost their distinct files once: `sizes`
counts each file once per environment and once over all of them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from ..io import write_atomic
from .catalog import REQUIREMENTS_LINE, STAMP, Environment

PLATFORM = "x86_64-unknown-linux-gnu"


class BuildError(RuntimeError):
    """A lock that does not resolve, a build that fails (no disk, no network, no uv): one
    line."""


def uv() -> str:
    """The uv beside the suite's interpreter (make setup installs it), else on PATH."""
    beside = Path(sys.executable).parent / "uv"
    if beside.exists():
        return str(beside)
    found = shutil.which("uv")
    if found is None:
        raise BuildError("uv is not installed (make setup installs the pinned uv into .venv)")
    return found


def _run(command: list[str], what: str, stdin: str | None = None) -> str:
    env = {**os.environ, "UV_LINK_MODE": "hardlink", "UV_NO_PROGRESS": "1"}
    try:
        done = subprocess.run(command, input=stdin, capture_output=True, text=True, env=env)
    except OSError as error:
        raise BuildError(f"{what}: cannot run uv ({error})") from None
    if done.returncode != 0:
        raise BuildError(f"{what}: {_reason(done.stderr or done.stdout)}")
    return done.stdout


def _reason(text: str) -> str:
    """The line of uv's error output that says why, shortened to one line."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if any("No space left on device" in line for line in lines):
        return "no space left on device"
    for line in lines:
        if line.startswith(("error:", "×", "╰─▶")) or "No solution found" in line:
            rest = [x for x in lines[lines.index(line) :] if x]
            return " ".join(rest)[:400]
    return (lines[-1] if lines else "uv failed without a message")[:400]


def lock(environment: Environment) -> Path:
    """Compile the environment's requirements into its lock file (written atomically)."""
    command = [
        uv(),
        "pip",
        "compile",
        "-",
        "--python-version",
        environment.python_version,
        "--python-platform",
        PLATFORM,
        "--no-header",
        "--quiet",
    ]
    if environment.exclude_newer:
        command += ["--exclude-newer", environment.exclude_newer]
    text = _run(command, f"lock {environment.name}", "\n".join(environment.requirements) + "\n")
    header = [
        f"# The lock of the environment {environment.name} (conformance/data/environments.toml).",
        "# Written by `python -m conformance env lock`, with uv pip compile --python-version "
        f"{environment.python_version} --python-platform {PLATFORM}"
        + (f" --exclude-newer {environment.exclude_newer}" if environment.exclude_newer else ""),
        "# from: " + ", ".join(environment.requirements),
        f"{REQUIREMENTS_LINE}{environment.requirements_digest()}",
    ]
    return write_atomic(environment.lock, "\n".join(header) + "\n" + text)


def build(environment: Environment, progress=None) -> bool:
    """Build the environment from its lock unless it is built from that lock already;
    whether it built. BuildError when the lock is missing or out of date, or uv fails."""
    if environment.lock_text() is None:
        raise BuildError(
            f"build {environment.name}: no lock {environment.lock}; "
            f"`python -m conformance env lock {environment.name}` writes it"
        )
    if not environment.lock_current():
        raise BuildError(
            f"build {environment.name}: its lock is out of date with environments.toml; "
            f"`python -m conformance env lock {environment.name}` writes it again"
        )
    if environment.built():
        return False
    if progress:
        progress(f"building {environment.name} ({environment.framework} {environment.version()})")
    folder = environment.folder
    (folder / STAMP).unlink(missing_ok=True)
    folder.parent.mkdir(parents=True, exist_ok=True)
    what = f"build {environment.name}"
    base = _base_python(environment)
    _run([uv(), "venv", "--quiet", "--allow-existing", "--python", base, str(folder)], what)
    python, lock_file = str(environment.python), str(environment.lock)
    _run([uv(), "pip", "sync", "--quiet", "--python", python, lock_file], what)
    (folder / STAMP).write_text(environment.lock_digest() + "\n")
    return True


def _base_python(environment: Environment) -> str:
    """The CPython the environment is made from: the one the suite's own .venv was made
    from, where its version is the one the environment asks for, else uv finds one."""
    base = getattr(sys, "_base_executable", sys.executable)
    if ".".join(map(str, sys.version_info[:2])) == environment.python_version:
        return base
    return environment.python_version


@dataclass(frozen=True)
class Sizes:
    own: dict[str, int]  # environment name -> bytes of its files, each counted once
    total: int  # bytes of every environment's files, a file shared by hard links once


def sizes(environments) -> Sizes:
    """Disk taken by the built environments: each on its own, and all together, where the
    files they share through uv's cache (hard links) count once."""
    own, seen_all = {}, set()
    total = 0
    for environment in environments:
        if not environment.folder.exists():
            continue
        seen, count = set(), 0
        for root, _, files in os.walk(environment.folder):
            for name in files:
                try:
                    stat = os.lstat(os.path.join(root, name))
                except OSError:
                    continue
                key = (stat.st_dev, stat.st_ino)
                if key in seen:
                    continue
                seen.add(key)
                count += stat.st_blocks * 512
                if key not in seen_all:
                    seen_all.add(key)
                    total += stat.st_blocks * 512
        own[environment.name] = count
    return Sizes(own, total)
