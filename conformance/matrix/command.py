"""python -m conformance matrix [--framework F ...] [--env NAME ...] [--json PATH]
                                [--cluster local:N | --scheduler [ADDRESS] | --scheduler-file F]

Runs the gate in every cell (`cells.py`: the environments of environments.toml, built by
uv where needed, and the suite's own pins), two cells at a time (or on a Dask cluster:
`cluster.py`), keeps each cell's results in --folder, and writes the summary
(`summary.py`) to --json. Exit status 0 when every
cell ran (their verdicts are the summary's data), 1 when a cell crashed, hung or could not
be built, 2 for bad input.
"""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path

from .. import cluster
from .. import policy as policy_module
from ..environments import catalog
from ..frameworks import adapters
from ..io import write_atomic
from . import cells as cells_module
from . import run as running
from . import summary as summary_module

DEFAULT_JSON = Path("results") / "matrix.json"
DEFAULT_FOLDER = Path("results") / "matrix"


def add_parser(sub, usage_error) -> None:
    p = sub.add_parser("matrix", help="the gate in every environment: numerics across releases")
    p.add_argument("--framework", action="append", default=[], help="this framework's cells")
    p.add_argument("--env", action="append", default=[], metavar="NAME", help="only this cell")
    p.add_argument("--json", default=str(DEFAULT_JSON), help=f"summary (default {DEFAULT_JSON})")
    p.add_argument(
        "--folder", default=str(DEFAULT_FOLDER), help=f"the cells' results ({DEFAULT_FOLDER})"
    )
    p.add_argument("--jobs", type=int, default=2, help="cells at a time (default 2)")
    p.add_argument(
        "--cell-timeout", type=float, default=3600.0, help="seconds a cell may take (default 3600)"
    )
    p.add_argument(
        "--timeout", type=float, default=120.0, help="seconds one call may take (as for run)"
    )
    p.add_argument("--policy", default=None, help="policy TOML the ranges are checked against")
    p.add_argument("--list", action="store_true", help="list the cells and their state, run none")
    cluster.add_arguments(p)
    p.set_defaults(run=lambda args: cmd_matrix(args, usage_error))


def cmd_matrix(args, usage_error) -> int:
    try:
        wanted = cluster.options(args)
    except cluster.ClusterError as error:
        raise usage_error(str(error)) from None
    known = {a.name for a in adapters()}
    for framework in args.framework:
        if framework not in known:
            raise usage_error(f"unknown framework {framework!r}; known: {', '.join(sorted(known))}")
    try:
        every = {c.name for c in cells_module.default_cells()}
    except catalog.CatalogError as error:
        raise usage_error(str(error)) from None
    for name in args.env:
        if name not in every:
            raise usage_error(f"unknown cell {name!r}; known: {', '.join(sorted(every))}")
    policy = policy_module.load(args.policy)
    cells = cells_module.default_cells(args.framework, args.env)
    folder = Path(args.folder)
    if args.list:
        for cell in cells:
            state = running.read_state(folder, cell)
            fresh = running.up_to_date(folder, cell)
            status = "up to date" if fresh else f"stale ({state.status})" if state else "not run"
            where = "suite's own interpreter" if cell.own else f"{cell.environment.folder}"
            print(f"{cell.name:22} {cell.framework:12} {cell.version:10} {status:18} {where}")
        return 0
    for cell in cells:
        if cell.environment is not None and not cell.environment.lock_current():
            raise usage_error(
                f"the lock of {cell.name} is missing or out of date: "
                f"`python -m conformance env lock {cell.name}`"
            )
    # A kill (SIGTERM) ends the cells too, as Ctrl-C does: a killed matrix resumes.
    signal.signal(signal.SIGTERM, _interrupt)
    arguments = (cells, folder, args.jobs, args.cell_timeout, args.timeout, _progress)
    if wanted is None:
        states = running.run_all(*arguments)
    else:
        try:
            with cluster.connect(wanted) as client:
                from .cluster import Cells

                states = running.run_all(*arguments, cluster=Cells(client))
        except cluster.ClusterError as error:
            raise usage_error(str(error)) from None
    document = summary_module.build(cells, states, folder, policy)
    write_atomic(args.json, json.dumps(document, indent=1) + "\n")
    bad = [s for s in states.values() if s.status != running.DONE]
    for cell in document["cells"]:
        counts = cell.get("counts") or {}
        print(
            f"{cell['name']:22} {cell['version']:10} {cell['status']:8} "
            + (
                f"{counts.get('pass', 0)} pass, {counts.get('known-deviation', 0)} known, "
                f"{counts.get('fail', 0)} fail"
                if counts
                else cell["detail"]
            )
        )
    print(
        f"{len(document['changes'])} changes between releases, "
        f"{len(document['policy'])} version ranges of the policy against the measurements; "
        f"summary: {args.json}"
    )
    return 1 if bad else 0


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def _progress(message: str) -> None:
    print(f"  ... {message}", file=sys.stderr, flush=True)
