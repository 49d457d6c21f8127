"""A sweep's chunks placed on a Dask cluster (`sweep --cluster local:N`, `--scheduler`).

The client (the suite's own process, `run.py`) keeps what a sweep here keeps: the
checkpoint, its lock and manifest, and the merge. The cluster gets tasks of `batch`
consecutive chunks, IN_FLIGHT per worker at a time; a task runs on a Dask worker in one of
the suite's own worker processes (`process/worker.py`), which the Dask worker keeps from
task to task, so that a crash or a hang of the implementation costs that process and the
chunk (a failure in the record, measured again by the next run: `run._one_chunk`, shared
with the sweep here), never the Dask worker. The chunks of a batch go to the checkpoint as
soon as it returns.

Refusal: a Dask worker gets no chunk before its facts (`run.facts`: the implementation's
version and devices, the framework's CPU capability, numpy's SIMD targets, the code hash
of its own files) are those of the client's own worker (`Pool`); each task checks them
again before it measures, and refuses rather than measures where they differ.

Faults: a Dask worker that dies takes its tasks with it; Dask runs them again on another,
and a task whose workers are all gone is submitted again to those alive. A task Dask gives
up on (KilledWorker: its workers died running it, three times by default) is a failure of
its chunks, not saved. A client that dies leaves its checkpoint: the next run resumes.
"""

from __future__ import annotations

import atexit
import contextlib
import math
import os
import sys
import threading
from collections import Counter

from distributed import get_worker
from distributed.scheduler import KilledWorker

from ..cluster import Pool, differences
from ..process.worker import Worker, WorkerError
from . import run
from .summary import RangeSummary

#: Inputs per task, where --batch does not say: a few seconds of one core.
BATCH_INPUTS = 1 << 25


class Chunks:
    """The placement `run.run` measures with: `measure` sends `todo` to the cluster of
    `client`, in tasks of `batch` chunks (default: BATCH_INPUTS inputs, or fewer so that
    each worker gets four or more tasks)."""

    def __init__(self, client, batch: int | None = None, say=None):
        self.client, self.batch = client, batch
        self.say = say or (lambda line: print(f"  ... {line}", file=sys.stderr, flush=True))

    def measure(self, sweeps: list, env: dict, expected: list[dict], todo: list, keep) -> None:
        facts = _named(sweeps, expected)
        pool = Pool(self.client, _Probe(sweeps, env), facts, self.say)
        pool.ready(started=False)
        size = self.batch or max(
            1,
            min(
                BATCH_INPUTS // sweeps[0].chunk,
                math.ceil(len(todo) / (4 * len(pool.verified))),
            ),
        )
        batches = [todo[i : i + size] for i in range(0, len(todo), size)]
        wants = ("GPU",) if sweeps[0].device != "cpu" else ()
        chunks_by: Counter = Counter()

        def task(batch: list) -> tuple:
            return _measure, (sweeps, env, facts, batch), wants

        try:
            with contextlib.closing(pool.place(batches, task)) as placed:
                for batch, future in placed:
                    try:
                        reply = future.result()
                    except KilledWorker as error:
                        for index, a, b, members in batch:
                            keep(index, a, b, members, [_killed(a, b, error)] * len(members))
                        continue
                    if "refused" in reply:
                        pool.refuse(reply["worker"], reply["refused"])
                        pool.again(batch)
                        continue
                    for (index, a, b, members), summaries in zip(
                        batch, reply["summaries"], strict=True
                    ):
                        keep(index, a, b, members, [RangeSummary.from_json(s) for s in summaries])
                    chunks_by[reply["worker"]] += len(batch)
        finally:
            for address, count in sorted(chunks_by.items()):
                self.say(f"Dask worker {pool.name(address)} measured {count} chunks")
            if pool.lost:
                self.say(f"Dask workers lost during the sweep: {len(pool.lost)}")
            if pool.verified:  # their idle worker processes go (a cluster outlives a sweep)
                with contextlib.suppress(Exception):
                    self.client.run(_close_idle, workers=list(pool.verified), on_error="ignore")


def _named(sweeps: list, per_member: list[dict]) -> dict:
    """The members' facts as one dict; a group's keys name the member."""
    if len(sweeps) == 1:
        return dict(per_member[0])
    return {
        f"{sweep.target.id} {key}": value
        for sweep, facts in zip(sweeps, per_member, strict=True)
        for key, value in facts.items()
    }


def _killed(a: int, b: int, error: BaseException) -> RangeSummary:
    why = f"Dask gave up on it, its workers died running it ({error}) on inputs [{a:#x}, {b:#x})"
    return RangeSummary(errors=[{"start": a, "stop": b, "kind": "crash", "error": why}])


# -- on the Dask worker --------------------------------------------------------------------

_IDLE: dict[tuple, list[Worker]] = {}  # the suite's workers between tasks, by what they run
_INFOS: dict[tuple, dict] = {}  # the reports of a group's other modules' workers
_LOCK = threading.Lock()


def _key(target, env: dict, timeout: float) -> tuple:
    return (target.module, tuple(sorted(env.items())), target.user, timeout, target.python)


def _borrow(sweep, env: dict) -> Worker:
    with _LOCK:
        idle = _IDLE.get(_key(sweep.target, env, sweep.timeout))
        if idle:
            return idle.pop()
    target = sweep.target
    return Worker(target.module, env, 1, target.user, sweep.timeout, target.python)


def _give_back(sweep, env: dict, worker: Worker) -> None:
    with _LOCK:
        _IDLE.setdefault(_key(sweep.target, env, sweep.timeout), []).append(worker)


def _close_idle() -> None:
    with _LOCK:
        workers = [w for idle in _IDLE.values() for w in idle]
        _IDLE.clear()
    for worker in workers:
        worker.close()


atexit.register(_close_idle)


def _facts_here(sweeps: list, env: dict, worker: Worker) -> dict:
    """This machine's facts (`run.facts`), from `worker` (started) and, for a group's
    members of other modules, a worker of theirs started once."""
    if os.getcwd() not in sys.path:  # a user's module is found as its worker finds it
        sys.path.append(os.getcwd())
    first = sweeps[0].target
    per_member = []
    for sweep in sweeps:
        target = sweep.target
        if target.module == first.module:
            info = worker.info
        else:
            key = _key(target, env, sweep.timeout)
            if key not in _INFOS:
                with Worker(target.module, env, 1, target.user, sweep.timeout, target.python) as w:
                    _INFOS[key] = dict(w.info)
            info = _INFOS[key]
        per_member.append(run.facts(info, target))
    return _named(sweeps, per_member)


class _Probe:
    """The check a Dask worker runs before it gets work: its facts, from the worker
    process it then keeps for the chunks (a failure to start it fails the check)."""

    def __init__(self, sweeps: list, env: dict):
        self.sweeps, self.env = sweeps, env

    def __call__(self) -> dict:
        worker = _borrow(self.sweeps[0], self.env)
        try:
            if not worker.alive:
                worker.start()
            return _facts_here(self.sweeps, self.env, worker)
        finally:
            _give_back(self.sweeps[0], self.env, worker)


def _measure(sweeps: list, env: dict, facts: dict, batch: list) -> dict:
    """The task: each chunk of `batch` measured (`run._one_chunk`), {"summaries": [[json
    per member] per chunk]}; or {"refused": why} where this machine's facts differ."""
    here = get_worker().address
    worker = _borrow(sweeps[0], env)
    try:
        summaries = []
        for _index, a, b, members in batch:
            if not worker.alive:  # a new process: its facts are checked again
                try:
                    worker.start()
                except WorkerError:
                    pass  # `_one_chunk` reports it, as for a sweep here
            if worker.alive:
                why = differences(facts, _facts_here(sweeps, env, worker))
                if why:
                    return {"worker": here, "refused": why}
            done = run._one_chunk(worker, sweeps, members, a, b)
            summaries.append([summary.as_json() for summary in done])
        return {"worker": here, "summaries": summaries}
    finally:
        _give_back(sweeps[0], env, worker)
