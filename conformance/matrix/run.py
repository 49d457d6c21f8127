"""Running the cells: each is the gate (`python -m conformance run`) in a process of its
own, its workers in the cell's interpreter, so that a cell that crashes or hangs is
reported and the matrix goes on.

Each cell leaves in the matrix's folder its results (NAME.json, written atomically by
`run`), its output (NAME.log) and its state (NAME.state.json: the key it was measured
under, how it ended, how long it took). A cell whose state has the key of now and ended
with results is not run again: a rerun measures what changed, a killed run resumes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from ..environments import build as builder
from ..io import CHECKOUT, write_atomic
from .cells import Cell, results_path

#: How a cell ended. DONE: the gate ran (whatever its verdicts); the others: no results.
DONE, ERROR, CRASH, TIMEOUT, BUILD = "done", "error", "crash", "timeout", "build-failed"

_RUNNING: set[subprocess.Popen] = set()  # the cells' processes, killed when the matrix is
_LOCK = threading.Lock()
_STOPPING = threading.Event()  # set by stop_all: a cell killed then leaves no state


@dataclass
class CellState:
    name: str
    key: str
    status: str
    seconds: float
    detail: str = ""
    exit_status: int | None = None

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def state_path(folder: Path, cell: Cell) -> Path:
    return folder / f"{cell.name}.state.json"


def read_state(folder: Path, cell: Cell) -> CellState | None:
    try:
        data = json.loads(state_path(folder, cell).read_text())
        return CellState(**data)
    except (OSError, ValueError, TypeError):
        return None


def log_path(folder: Path, cell: Cell) -> Path:
    return folder / f"{cell.name}.log"


def up_to_date(folder: Path, cell: Cell) -> bool:
    state = read_state(folder, cell)
    return (
        state is not None
        and state.key == cell.key()
        and state.status == DONE
        and results_path(folder, cell).exists()
    )


def run_cell(cell: Cell, folder: Path, timeout: float, call_timeout: float) -> CellState:
    """Build the cell's environment where needed, then run its gate; its state, also
    written beside its results."""
    started = time.perf_counter()
    key = cell.key()
    if cell.environment is not None:
        try:
            builder.build(cell.environment)
        except builder.BuildError as error:
            return finish(folder, cell, CellState(cell.name, key, BUILD, 0.0, str(error)))
    out = results_path(folder, cell)
    command = [sys.executable, "-m", "conformance", "run", "--jobs", "1"]
    command += ["--timeout", str(call_timeout), "--json", str(out)]
    for impl in cell.implementations:
        command += ["--impl", impl]
    if cell.environment is not None:
        command += ["--env", cell.environment.name]
    log = log_path(folder, cell)
    with open(log, "w") as handle:
        process = subprocess.Popen(
            command,
            cwd=CHECKOUT,
            stdout=handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        with _LOCK:
            _RUNNING.add(process)
        try:
            code = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill(process)
            seconds = time.perf_counter() - started
            state = CellState(cell.name, key, TIMEOUT, seconds, f"no results after {timeout:g} s")
            return finish(folder, cell, state)
        finally:
            with _LOCK:
                _RUNNING.discard(process)
    seconds = round(time.perf_counter() - started, 1)
    if code in (0, 1) and out.exists():
        return finish(folder, cell, CellState(cell.name, key, DONE, seconds, exit_status=code))
    tail = _last_line(log)
    status = ERROR if code == 2 else CRASH
    return finish(folder, cell, CellState(cell.name, key, status, seconds, tail, code))


def _kill(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


def stop_all() -> None:
    """Kill every cell still running (the matrix was interrupted): they leave no state,
    so the next run measures them again."""
    _STOPPING.set()
    with _LOCK:
        running = list(_RUNNING)
    for process in running:
        _kill(process)


def _last_line(log: Path) -> str:
    try:
        lines = [x for x in log.read_text(errors="replace").splitlines() if x.strip()]
    except OSError:
        return ""
    return lines[-1][:300] if lines else ""


def finish(folder: Path, cell: Cell, state: CellState) -> CellState:
    """`state`, written beside the cell's results (unless the matrix is being stopped)."""
    state.seconds = round(state.seconds, 1)
    if _STOPPING.is_set():  # killed by the matrix's own stop: measured again next time
        return state
    write_atomic(state_path(folder, cell), json.dumps(state.as_dict(), indent=1) + "\n")
    return state


def run_all(
    cells: list[Cell],
    folder: Path,
    jobs: int,
    timeout: float,
    call_timeout: float,
    progress,
    cluster=None,
) -> dict[str, CellState]:
    """Every cell not up to date, `jobs` at a time; the state of each cell. `cluster`:
    where the cells run (`matrix/cluster.py`'s Cells); None: here."""
    folder.mkdir(parents=True, exist_ok=True)
    states: dict[str, CellState] = {}
    pending = []
    for cell in cells:
        if up_to_date(folder, cell):
            states[cell.name] = read_state(folder, cell)
            progress(f"{cell.name}: up to date")
        else:
            pending.append(cell)
    if cluster is not None:
        return states | (
            cluster.run(pending, folder, timeout, call_timeout, progress) if pending else {}
        )
    # Environments are built one at a time, before the cells run two by two: uv's cache
    # is shared, and a build is disk-bound.
    for cell in pending:
        if cell.environment is not None and not cell.environment.built():
            progress(f"{cell.name}: building")
            try:
                builder.build(cell.environment)
            except builder.BuildError:
                pass  # run_cell reports it
    pool = ThreadPoolExecutor(max_workers=max(1, jobs))
    try:
        futures = {}
        for cell in pending:
            futures[cell.name] = pool.submit(run_cell, cell, folder, timeout, call_timeout)
        for cell in pending:
            state = futures[cell.name].result()
            states[cell.name] = state
            line = f"{cell.name}: {state.status} in {state.seconds:.0f} s {state.detail}"
            progress(line.rstrip())
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        stop_all()
        raise
    pool.shutdown()
    return states
