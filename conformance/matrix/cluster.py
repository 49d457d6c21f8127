"""The matrix's cells placed on a Dask cluster (`matrix --cluster local:N`, `--scheduler`).

A cell is one task. On a Dask worker it builds (or finds) the cell's environment from its
lock and runs the cell's gate in a process of its own (`run.run_cell`, in a folder of the
worker's), so that a crash or a hang is the cell's failure; it returns the cell's state,
results and log, which the client writes into the matrix's folder: the workers need not
share the client's filesystem. A worker gets cells once the cells' keys (`Cell.key`: the
lock, the suite's code and policy) computed from its own checkout are the client's
(`cluster.Pool`), and each task compares its cell's key again and refuses the cell where
it differs. A cell of environment NAME goes only to the workers that declare the Dask
resource `env-NAME` (`dask worker --resources env-NAME=1`), where any does.
"""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path

from distributed import get_worker
from distributed.scheduler import KilledWorker

from ..cluster import Pool
from ..io import write_atomic
from . import run
from .cells import default_cells, results_path


class Cells:
    """The placement `run.run_all` runs the cells with."""

    def __init__(self, client):
        self.client = client

    def run(self, cells, folder: Path, timeout: float, call_timeout: float, progress) -> dict:
        """Each cell of `cells` on the cluster; its state, as `run.run_cell`'s."""
        keys = {cell.name: cell.key() for cell in cells}
        pool = Pool(self.client, _Keys(tuple(keys)), keys, progress)
        pool.ready(started=False)
        states: dict = {}

        def task(cell):
            arguments = (cell.name, keys[cell.name], timeout, call_timeout)
            return _cell, arguments, (f"env-{cell.name}",)

        with contextlib.closing(pool.place(cells, task)) as placed:
            for cell, future in placed:
                try:
                    reply = future.result()
                except KilledWorker as error:
                    why = f"Dask gave up on it: its workers died running it ({error})"
                    state = run.CellState(cell.name, keys[cell.name], run.CRASH, 0.0, why)
                    reply = {"state": state.as_dict(), "log": "", "worker": ""}
                if "refused" in reply:
                    pool.refuse(reply["worker"], reply["refused"])
                    pool.again(cell)
                    continue
                if reply.get("results") is not None:
                    write_atomic(results_path(folder, cell), reply["results"])
                if reply["log"]:
                    write_atomic(run.log_path(folder, cell), reply["log"])
                state = run.finish(folder, cell, run.CellState(**reply["state"]))
                states[cell.name] = state
                where = f" on {pool.name(reply['worker'])}" if reply["worker"] else ""
                progress(f"{cell.name}: {state.status} in {state.seconds:.0f} s{where}")
        return states


class _Keys:
    """The check a Dask worker runs before it gets cells: their keys, from its checkout."""

    def __init__(self, names: tuple[str, ...]):
        self.names = names

    def __call__(self) -> dict:
        return {cell.name: cell.key() for cell in default_cells(environments=self.names)}


def _cell(name: str, key: str, timeout: float, call_timeout: float) -> dict:
    """The task: the cell run here (`run.run_cell`), its state, results and log; or
    {"refused": why} where this checkout's key of the cell is not the client's."""
    here = get_worker().address
    found = default_cells(environments=[name])
    mine = found[0].key() if found else None
    if mine != key:
        return {"worker": here, "refused": f"its key of cell {name} is {mine}, the client's {key}"}
    cell = found[0]
    with tempfile.TemporaryDirectory(prefix=f"matrix-{name}-") as folder:
        state = run.run_cell(cell, Path(folder), timeout, call_timeout)
        results, log = results_path(Path(folder), cell), run.log_path(Path(folder), cell)
        return {
            "worker": here,
            "state": state.as_dict(),
            "results": results.read_text() if results.exists() else None,
            "log": log.read_text(errors="replace") if log.exists() else "",
        }
