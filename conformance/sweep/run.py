"""The exhaustive sweep: every bit pattern of a range, in chunks, on every core, resumable.

`run` cuts [start, stop) into chunks of CHUNK consecutive bit patterns and hands them to
`jobs` worker processes (`worker.py`, one intra-op thread each, the reference's fast path
included); each worker builds its chunk's inputs, calls the implementation, evaluates the
reference and returns a `RangeSummary` of a few kilobytes. Each finished chunk goes to the
checkpoint at once; the sweep's result is the merge of all of them in chunk order, so a
sweep killed and started again ends where an uninterrupted one does. On a Dask cluster
(`cluster.py`) the chunks are measured there, in the same way (`_one_chunk`), and this
process keeps the checkpoint and the merge.

An implementation that raises, crashes or hangs on a chunk costs that chunk (recorded with
its range and the reason, which fails the verdict) and its worker, which is replaced.

`record` turns the result into a results.json measurement (input_set "exhaustive") with
the verdict of the policy for check "sweep" (its deviations: conformance/data/policy.toml).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import queue
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from reference import format_of

from ..engine import Target
from ..findings import attach_verdict, finding_id
from ..io import CACHE_DIR
from ..measure import Figure, round_significant
from ..policy import Policy, Profile
from ..process.worker import Worker, WorkerError
from ..results import runtime
from .checkpoint import Checkpoint
from .chunk import measure_outputs
from .summary import BUCKETS, TIME_PARTS, RangeSummary, binade

#: Inputs per chunk: 2^20 keeps the measurement's float64 temporaries (8 MB each) in the
#: cache; 2^22 was a third slower on the machine this was written on.
CHUNK = 1 << 20
CHECKPOINTS = CACHE_DIR / "sweeps"
#: The code whose change makes a checkpoint stale: the reference and the measurement.
_CODE = [
    *sorted((Path(__file__).parent.parent.parent / "reference").glob("*.py")),
    Path(__file__).parent.parent / "measure.py",
    Path(__file__).parent / "chunk.py",
    Path(__file__).parent / "fused.py",
    Path(__file__).parent / "call.py",
    Path(__file__).parent / "summary.py",
]


class SweepError(RuntimeError):
    """The sweep cannot start: the device is missing, the implementation does not load."""


@dataclass
class Sweep:
    """What to sweep: `target` on `device`, `quantity` of `dtype`, bit patterns [start, stop)."""

    target: Target
    device: str
    dtype: str
    quantity: str
    start: int
    stop: int
    chunk: int = CHUNK
    jobs: int = field(default_factory=lambda: os.cpu_count() or 1)
    timeout: float = 600.0

    @property
    def full(self) -> bool:
        return self.start == 0 and self.stop == 1 << format_of(self.dtype).bits

    @property
    def input_set(self) -> str:
        return "exhaustive" if self.full else f"exhaustive[{self.start:#x},{self.stop:#x})"

    @property
    def finding_id(self) -> str:
        return finding_id(self.target.id, self.device, self.dtype, self.quantity, self.input_set)

    def chunks(self) -> list[tuple[int, int, int]]:
        """(index, start, stop) of every chunk; chunks are aligned to multiples of CHUNK."""
        return chunk_ranges(self.start, self.stop, self.chunk)


def chunk_ranges(start: int, stop: int, chunk: int) -> list[tuple[int, int, int]]:
    """(index, start, stop) of the chunks of [start, stop), aligned to multiples of `chunk`."""
    out, a = [], start
    while a < stop:
        b = min(stop, (a // chunk + 1) * chunk)
        out.append((a // chunk, a, b))
        a = b
    return out


@dataclass
class Outcome:
    summary: RangeSummary
    info: dict  # the worker's: version, devices, python, numpy
    wall: float  # seconds of this run
    measured: int  # inputs measured by this run (the rest came from the checkpoint)
    resumed_chunks: int


def file_name(text: str) -> str:
    """`text` (an implementation id, a finding id) made safe as a file name."""
    return "".join(c if c.isalnum() or c in "-_.[]," else "_" for c in text)


def checkpoint_folder(sweep: Sweep) -> Path:
    return CHECKPOINTS / file_name(sweep.finding_id)


def _code_hash(target: Target) -> str:
    digest = hashlib.sha256()
    # The measurement, the worker and the adapter that calls the framework: a change to
    # any of them makes the recorded chunks stale.
    package = Path(__file__).parent.parent
    worker = package / "process" / "worker.py"
    paths = [*_CODE, worker, package / "frameworks" / f"{target.module}.py"]
    if target.user:  # a user's function: its module's source
        for spec in target.user:
            if spec:
                found = importlib.util.find_spec(spec.split(":")[0])
                if found is not None and found.origin and os.path.exists(found.origin):
                    paths.append(Path(found.origin))
    for path in paths:
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def facts(info: dict, target: Target) -> dict:
    """What a machine must share with this one for its chunks to be merged with ours: the
    implementation's version and devices, what picks its kernels (the framework's CPU
    capability, numpy's SIMD targets; from the worker's `info`), and the code hash."""
    keys = ("version", "devices", "cpu_capability", "numpy_simd")
    return {**{k: info.get(k) for k in keys}, "code hash": _code_hash(target)}


def run(
    sweep: Sweep, folder: Path | None = None, progress=None, fresh: bool = False, cluster=None
) -> Outcome:
    """Sweep, resuming from the checkpoint in `folder` (default: under .cache/sweeps).

    The checkpoint stays when the sweep is complete: a second run of the same sweep (same
    implementation version, range and measurement code) merges it again without measuring,
    which is how a changed policy is applied to finished sweeps. `fresh` empties it first.
    `cluster`: where the chunks are measured (`sweep/cluster.py`'s Chunks); None: here,
    in `jobs` workers.
    """
    (outcome,) = run_group([sweep], [folder] if folder else None, progress, fresh, cluster=cluster)
    assert isinstance(outcome, Outcome)  # a single sweep raises SweepError instead
    return outcome


def run_group(
    sweeps: list[Sweep],
    folders: list[Path] | None = None,
    progress=None,
    fresh: bool = False,
    skip_unavailable: bool = False,
    cluster=None,
) -> list:
    """Several sweeps of the same range, dtype, quantity and device at once: each chunk's
    reference is evaluated once, in one worker that holds every implementation (their
    frameworks loaded side by side, so their worker environments must agree). Each sweep
    keeps its own checkpoint, the one `run` would use.

    Returns an Outcome per sweep. A member that does not load or lacks the device raises
    SweepError, or with `skip_unavailable` is left out: its place holds the reason (str).
    """
    started = time.perf_counter()
    env: dict = {}
    for sweep in sweeps:
        env.update(sweep.target.environment(1))
    infos: dict = {}
    reasons: dict[int, str] = {}
    early = _start_early(sweeps[0], env) if cluster is None else []
    spare = None  # the first probe, started as a measuring worker is: the first of those
    for i, sweep in enumerate(sweeps):
        target = sweep.target
        if target.module not in infos:
            probe = Worker(target.module, env, 1, target.user, sweep.timeout, target.python)
            try:
                infos[target.module] = dict(probe.start())
            except WorkerError as error:
                infos[target.module] = {"error": f"{target.id}: {error}"}
            if i == 0 and "error" not in infos[target.module]:
                spare = probe
            else:
                probe.close()
        info = infos[target.module]
        if "error" in info:
            reasons[i] = info["error"]
        elif sweep.device not in info["devices"]:
            devices = ", ".join(info["devices"])
            reasons[i] = f"{target.id} has no device {sweep.device!r} here (it has {devices})"
    live = [i for i in range(len(sweeps)) if i not in reasons]
    unused = (reasons and not skip_unavailable) or 0 not in live or cluster is not None
    spares = [w.result() for w in early] + ([spare] if spare is not None else [])
    if unused:
        for worker in spares:
            worker.close()
        spares = []
    if reasons and not skip_unavailable:
        raise SweepError(next(iter(reasons.values())))
    outcomes: list = [reasons.get(i) for i in range(len(sweeps))]
    if not live:
        return outcomes
    measured = _run_live(
        [sweeps[i] for i in live],
        [folders[i] for i in live] if folders else None,
        infos,
        env,
        progress,
        fresh,
        started,
        cluster,
        spares,
    )
    for i, outcome in zip(live, measured, strict=True):
        outcomes[i] = outcome
    return outcomes


def _run_live(
    sweeps, folders, infos, env, progress, fresh, started, cluster, spares=()
) -> list[Outcome]:
    first = sweeps[0]
    chunks = first.chunks()
    with contextlib.ExitStack() as stack:
        checkpoints = []
        for i, sweep in enumerate(sweeps):
            info = infos[sweep.target.module]
            manifest = {
                "impl": sweep.target.id,
                "version": info["version"],
                "device": sweep.device,
                "dtype": sweep.dtype,
                "quantity": sweep.quantity,
                "start": sweep.start,
                "stop": sweep.stop,
                "chunk": sweep.chunk,
                "code": _code_hash(sweep.target),
                # what picks the kernels: chunks measured under others are not merged
                "cpu_capability": info.get("cpu_capability"),
                "numpy_simd": info.get("numpy_simd"),
            }
            folder = folders[i] if folders else checkpoint_folder(sweep)
            checkpoint = stack.enter_context(Checkpoint(folder, manifest, fresh))
            checkpoint.save_info(info)
            checkpoints.append(checkpoint)
        indices = {index for index, _, _ in chunks}
        done = [checkpoint.done() & indices for checkpoint in checkpoints]
        # A chunk is measured for the members that lack it.
        todo = [
            (index, a, b, [m for m in range(len(sweeps)) if index not in done[m]])
            for index, a, b in chunks
        ]
        todo = [t for t in todo if t[3]]
        label = sweeps[0].target.id if len(sweeps) == 1 else f"{len(sweeps)} implementations"
        bar = _Bar(progress, first, label, total=(first.stop - first.start) * len(sweeps))
        bar.advance(sum(b - a for index, a, b in chunks for d in done if index in d), fresh=False)
        failed: dict = {}

        def keep(index: int, a: int, b: int, members: list[int], summaries: list) -> None:
            """A chunk measured: each member's summary to its checkpoint; one the
            implementation failed on is not saved (a later run tries it again), it is
            kept in `failed` for this run's result."""
            for m, summary in zip(members, summaries, strict=True):
                if summary.errors:
                    failed[m, index] = summary
                else:
                    checkpoints[m].save(index, summary)
            bar.advance((b - a) * len(members))

        try:
            if cluster is None:
                _measure_all(sweeps, env, todo, keep, spares)
            elif todo:
                expected = [facts(infos[s.target.module], s.target) for s in sweeps]
                cluster.measure(sweeps, env, expected, todo, keep)
        finally:
            bar.close()
        outcomes = []
        for m, (sweep, checkpoint) in enumerate(zip(sweeps, checkpoints, strict=True)):
            parts = (
                failed[m, index] if (m, index) in failed else checkpoint.load(index)
                for index, _, _ in chunks
            )
            summary = RangeSummary.merge_all(parts)
            measured = sum(b - a for index, a, b, members in todo if m in members)
            wall = time.perf_counter() - started
            info = infos[sweep.target.module]
            outcomes.append(Outcome(summary, info, wall, measured, len(done[m])))
    return outcomes


def _start_early(first: Sweep, env: dict) -> list:
    """The measuring workers beyond the probe, started while the probe starts (each takes
    seconds to import its framework): futures of started Workers (one that failed to
    start is started again by its first task, which then reports why)."""
    target = first.target

    def started() -> Worker:
        worker = Worker(target.module, env, 1, target.user, first.timeout, target.python)
        with contextlib.suppress(WorkerError):
            worker.start()
        return worker

    pool = ThreadPoolExecutor(max_workers=max(1, first.jobs - 1))
    futures = [pool.submit(started) for _ in range(first.jobs - 1)]
    pool.shutdown(wait=False)
    return futures


def _measure_all(sweeps: list[Sweep], env: dict, todo: list, keep, spares=()) -> None:
    """Measure the chunks of `todo` in `jobs` workers here (`spares`, started ones, among
    them); `keep` each one's summaries, in a thread of its own, so that no worker waits for
    a checkpoint to be written before its next chunk."""
    first = sweeps[0]
    tasks: queue.Queue = queue.Queue()
    for task in todo:
        tasks.put(task)
    measured: queue.Queue = queue.Queue()
    stop = threading.Event()
    failures: list[BaseException] = []
    spares = list(spares)

    def serve() -> None:
        target = first.target
        try:
            worker = spares.pop()
        except IndexError:
            worker = Worker(target.module, env, 1, target.user, first.timeout, target.python)
        try:
            while not stop.is_set():
                try:
                    index, a, b, members = tasks.get_nowait()
                except queue.Empty:
                    return
                measured.put((index, a, b, members, _one_chunk(worker, sweeps, members, a, b)))
        except BaseException as error:  # the suite's own bug: stop everything, say it
            failures.append(error)
            stop.set()
        finally:
            worker.close()

    def save() -> None:
        while (item := measured.get()) is not None:
            try:
                keep(*item)
            except BaseException as error:
                failures.append(error)
                stop.set()

    threads = [threading.Thread(target=serve, daemon=True) for _ in range(max(1, first.jobs))]
    saver = threading.Thread(target=save, daemon=True)
    for thread in [*threads, saver]:
        thread.start()
    try:
        for thread in threads:
            while thread.is_alive():
                thread.join(0.5)
    except KeyboardInterrupt:
        stop.set()
        raise
    finally:
        measured.put(None)
        saver.join()
    for worker in spares:  # not taken: fewer chunks than threads
        worker.close()
    if failures:
        raise failures[0]


def _one_chunk(worker: Worker, sweeps: list[Sweep], members: list[int], a: int, b: int):
    """A RangeSummary for each member on [a, b): measured, or the failure (recorded with its
    range and reason; a crash or a hang is charged to every member of the call)."""
    first = sweeps[0]
    where = f"on inputs [{a:#x}, {b:#x})"
    calls = [(sweeps[m].target.module, sweeps[m].target.variant) for m in members]
    arguments = {"members": calls, "threads": 1, "quantity": first.quantity}
    arguments |= {"device": first.device, "dtype": first.dtype, "start": a, "stop": b}
    try:
        if first.target.python is None:
            reply = worker.task(CHUNK_TASK, arguments, what=where)
        else:  # another interpreter: it calls, the suite measures
            called = worker.task(OUTPUTS_TASK, arguments, what=where)
            reply = measure_outputs(called["outputs"], first.dtype, first.quantity, a, b)
            reply["errors"] |= called["errors"]
    except WorkerError as error:
        if len(members) > 1:  # whose crash or hang was it? Each member on its own.
            return [_one_chunk(worker, sweeps, [m], a, b)[0] for m in members]
        message = str(error)
        return [
            RangeSummary(errors=[{"start": a, "stop": b, "kind": error.kind, "error": message}])
        ]
    out = []
    for i in range(len(members)):
        if i in reply["summaries"]:
            out.append(RangeSummary.from_json(reply["summaries"][i]))
        else:
            why = f"{reply['errors'][i]} {where}"
            out.append(
                RangeSummary(errors=[{"start": a, "stop": b, "kind": "error", "error": why}])
            )
    return out


#: The worker task that measures a chunk (`chunk.serve`), in the suite's own interpreter.
CHUNK_TASK = "conformance.sweep.chunk:serve"
#: The worker task that calls the implementation on a chunk (`call.outputs`), in another.
OUTPUTS_TASK = "conformance.sweep.call:outputs"


class _Bar:
    """Progress with rate and ETA: a rich bar on a terminal, a line every 10 % elsewhere."""

    def __init__(self, enabled, sweep: Sweep, label: str, total: int):
        self.total, self.done, self.fresh = total, 0, 0
        self.started = time.perf_counter()
        self.lock = threading.Lock()
        self.enabled = enabled if enabled is not None else True
        self.label = f"{label} {sweep.device} {sweep.dtype} {sweep.quantity}"
        self._next_line = 0.1
        self._rich = None
        if self.enabled and sys.stderr.isatty():
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._rich = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.percentage:>5.1f}%"),
                TextColumn("{task.fields[rate]}"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                MofNCompleteColumn(),
                transient=True,
            )
            self._task = self._rich.add_task(self.label, total=total, rate="")
            self._rich.start()

    def advance(self, n: int, fresh: bool = True) -> None:
        with self.lock:
            self.done += n
            self.fresh += n if fresh else 0
            rate = self.fresh / max(time.perf_counter() - self.started, 1e-9)
            if self._rich is not None:
                self._rich.update(self._task, completed=self.done, rate=f"{rate / 1e6:.1f} M/s")
            elif self.enabled and self.fresh and self.done / self.total >= self._next_line:
                left = (self.total - self.done) / rate if rate else float("nan")
                print(
                    f"  ... {self.label}: {100 * self.done / self.total:.0f}% "
                    f"({rate / 1e6:.1f} M inputs/s, ETA {left:.0f} s)",
                    file=sys.stderr,
                    flush=True,
                )
                while self._next_line <= self.done / self.total:
                    self._next_line += 0.1

    def close(self) -> None:
        if self._rich is not None:
            self._rich.stop()


# -- the record ---------------------------------------------------------------------------


def judged_record(
    policy: Policy,
    profile: Profile,
    *,
    impl: str,
    version: str,
    device: str,
    dtype: str,
    quantity: str,
    input_set: str,
    source: str,
    count: int,
    figure: Figure,
    violations: dict,
    worst: list[dict],
    first: dict | None,
    failed: set | None = None,
    partial: bool = False,
    **more,
) -> dict:
    """A results.json measurement of a sweep or a float64 search, with the policy's verdict
    for check "sweep". `figure`: the errors found (violations included); `worst`: the
    worst inputs, worst first ({"ulp", "input", "output", "expected", ...}); `failed`: the
    kinds of failure (a crash, a hang) on some inputs, judged as an infinite error;
    `partial`: a part of the range, which cannot tell that a recorded deviation is gone
    (no stale note); `more`: keys of its own, after the common ones."""
    judged = figure
    if failed:
        judged = Figure(float("inf"), {**figure.kinds, **dict.fromkeys(failed)}, None)
    verdict = policy.judge(
        profile,
        impl=impl,
        version=version,
        device=device,
        dtype=dtype,
        quantity=quantity,
        check="sweep",
        figure=judged,
        bound=profile.bound(dtype),
    )
    top = worst[0] if worst else {}
    rec = {
        "impl": impl,
        "device": device,
        "dtype": dtype,
        "quantity": quantity,
        "input_set": input_set,
        "source": source,
        "count": count,
        "max_ulp": figure.max_ulp,
        "max_ulp_without_violations": figure.without_violations,
        "max_ulp_by_kind": figure.kinds,
        "worst_input": top.get("input"),
        "worst_output": top.get("output"),
        "worst_expected": top.get("expected"),
        "violations": dict(sorted(violations.items())),
        "first_violation": first,
        "worst": worst,
        **more,
        "verdict": verdict.verdict,
    }
    attach_verdict(rec, verdict)
    if partial and "stale_deviation" in rec:
        del rec["note"], rec["stale_deviation"]
    return rec


def _worst_list(top: list[dict]) -> list[dict]:
    return [
        {"ulp": round_significant(t["ulp"]), "bits": f"{t['bits']:#x}"}
        | {k: t[k] for k in ("input", "output", "expected")}
        for t in top
    ]


def record(sweep: Sweep, outcome: Outcome, policy: Policy, profile: Profile) -> dict:
    """The results.json measurement of a sweep (`judged_record`); and `timing`, which goes
    to the document's volatile "timings"."""
    s = outcome.summary
    fmt = format_of(sweep.dtype)
    first = None
    if s.first:
        kind = min(s.first, key=lambda k: s.first[k]["bits"])
        first = {"kind": kind, **{k: s.first[kind][k] for k in ("input", "output", "expected")}}
    rec = judged_record(
        policy,
        profile,
        impl=sweep.target.id,
        version=outcome.info["version"],
        device=sweep.device,
        dtype=sweep.dtype,
        quantity=sweep.quantity,
        input_set=sweep.input_set,
        source="sweep",
        count=s.count,
        figure=Figure(
            round_significant(s.max_ulp),
            {k: None if u is None else round_significant(u) for k, u in sorted(s.kind_max.items())},
            round_significant(s.ordinary_max),
        ),
        violations=s.kinds,
        worst=_worst_list(s.top),
        first=first,
        failed={error["kind"] for error in s.errors},
        partial=not sweep.full,
        range=[f"{sweep.start:#010x}", f"{sweep.stop:#010x}"],
        histogram={
            "columns": list(BUCKETS),
            "rows": [
                {**binade(row, fmt), "counts": counts} for row, counts in sorted(s.rows.items())
            ],
        },
        failed_chunks=s.errors,
        mpmath_inputs=s.mpmath,
        first_by_kind={k: s.first[k] for k in sorted(s.first)},
        worst_without_violations=_worst_list(s.top_ordinary),
        runtime=runtime(outcome.info),
    )
    busy = sum(s.seconds.get(p, 0.0) for p in TIME_PARTS) or 1.0
    timing = {
        "wall_s": round(outcome.wall, 1),
        "inputs_measured": outcome.measured,
        # None when everything came from the checkpoint: no speed was measured.
        "inputs_per_second": round(outcome.measured / outcome.wall) if outcome.measured else None,
        "resumed_chunks": outcome.resumed_chunks,
        "jobs": sweep.jobs,
        "share": {p: round(s.seconds.get(p, 0.0) / busy, 3) for p in TIME_PARTS},
    }
    return {"record": rec, "timing": timing}
