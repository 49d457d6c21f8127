"""Two sides' benchmarks interleaved case by case, through asv's own runner.

`asv run` measures one interpreter and commit at a time, and its `--interleave-rounds`
refuses an `existing` environment; whole runs alternated (A B B A) leave minutes between
a case's A and B processes, and on a shared machine its speed moves by more than the gate's
factor in minutes. Here each side keeps one asv fork server (`asv.runner.ForkServer`, the
frameworks imported once), and every case (a benchmark and one parameter combination) runs
in the order given, A B B A, one process each (`asv.runner.run_benchmark`), before the next
case: a case's processes on both sides lie seconds apart. Each process takes the samples
given (asv's `repeat`: min, max, seconds), fewer than a `make bench` process, so that
more, shorter processes share the machine's slow and fast spells between the sides. The
samples of a side's processes are pooled, and each side's results are saved as asv saves
them (`Results`, samples recorded) under one environment name, so that `asv compare`
pairs them.
"""

from __future__ import annotations

import datetime
import math
from dataclasses import dataclass
from pathlib import Path

ENV_NAME = "existing-compare"  # the environment name both sides' results carry


@dataclass
class _Runner:
    """One side's asv machinery: its configuration, benchmarks, fork server, results."""

    conf: object
    benchmarks: object
    spawner: object
    results: object
    samples: dict  # (name, idx) -> [samples], numbers, failures


def _runner(config_path: Path, python: Path, commit: str, machine: str, benches: list[str]):
    from asv import environment, util
    from asv.benchmarks import Benchmarks
    from asv.config import Config
    from asv.machine import Machine
    from asv.repo import get_repo
    from asv.results import Results
    from asv.runner import ForkServer

    conf = Config.load(str(config_path))
    (env,) = environment.get_environments(conf, [f"existing:{python}"])
    repo = get_repo(conf)
    benchmarks = Benchmarks.discover(conf, repo, [env], [commit], regex=benches)
    if len(benchmarks) == 0:
        raise util.UserError(f"no benchmark of {config_path} matches {benches}")
    machine_params = Machine.load(machine_name=machine, interactive=False)
    machine_params.save(conf.results_dir)
    params = dict(machine_params.__dict__)
    params["python"] = env.python
    results = Results(
        params, env.requirements, commit, repo.get_date(commit), env.python, ENV_NAME, {}
    )
    spawner = ForkServer(env, benchmarks.benchmark_dir)
    spawner.preimport()
    return _Runner(conf, benchmarks, spawner, results, {})


def run(
    sides: dict,
    configs: dict,
    machine: str,
    benches: list[str],
    order: str,
    samples: tuple[int, int, float] | None = None,
    log=print,
):
    """Run every selected case of side A, on each side in `order` (letters of `sides`),
    each process taking `samples` (asv's repeat; None: the benchmark class's), and save
    each side's results into its configuration's results_dir. `sides`: {letter: Side};
    `configs`: {letter: asv config path}. Returns {letter: number of processes}."""
    from asv.runner import run_benchmark

    runners = {}
    extra = {"repeat": list(samples)} if samples else None
    try:
        for letter, side in sides.items():
            runners[letter] = _runner(configs[letter], side.python, side.commit, machine, benches)
        first = runners[order[0]].benchmarks
        cases = [(n, i) for n, b in sorted(first.items()) for i in _selected(first, n, b)]
        done = dict.fromkeys(sides, 0)
        for count, (name, idx) in enumerate(cases, 1):
            log(f"[{count}/{len(cases)}] {name} {_params(first[name], idx)}")
            for letter in order:
                runner = runners[letter]
                benchmark = runner.benchmarks.get(name)
                if benchmark is None or idx >= _combinations(benchmark):
                    continue
                started = datetime.datetime.now(datetime.UTC)
                result = run_benchmark(
                    benchmark, runner.spawner, False, selected_idx={idx}, extra_params=extra
                )
                _collect(runner, name, idx, result, started)
                done[letter] += 1
        for runner in runners.values():
            _save(runner)
        return done
    finally:
        for runner in runners.values():
            runner.spawner.close()


def _selected(benchmarks, name, benchmark) -> list[int]:
    selection = benchmarks.benchmark_selection.get(name)
    return sorted(selection) if selection is not None else list(range(_combinations(benchmark)))


def _combinations(benchmark) -> int:
    return math.prod(len(p) for p in benchmark["params"]) if benchmark["params"] else 1


def _params(benchmark, idx: int) -> str:
    import itertools

    if not benchmark["params"]:
        return ""
    (combination,) = itertools.islice(itertools.product(*benchmark["params"]), idx, idx + 1)
    return f"({', '.join(combination)})"


def _collect(runner: _Runner, name: str, idx: int, result, started) -> None:
    entry = runner.samples.setdefault(
        (name, idx), {"samples": [], "number": None, "failed": False, "skipped": False}
    )
    entry.setdefault("started", started)
    value = result.result[idx]
    if value is None:
        entry["failed"], entry["stderr"] = True, result.stderr
    elif isinstance(value, float) and math.isnan(value):
        entry["skipped"] = True
    else:
        entry["samples"] += result.samples[idx] or [value]
        entry["number"] = result.number[idx]


def _save(runner: _Runner) -> None:
    """Each benchmark's pooled samples into the side's Results, then to disk."""
    from asv.runner import BenchmarkResult

    by_name: dict[str, dict] = {}
    for (name, idx), entry in runner.samples.items():
        by_name.setdefault(name, {})[idx] = entry
    for name, entries in by_name.items():
        benchmark = runner.benchmarks[name]
        n = _combinations(benchmark)
        result, samples, number = [math.nan] * n, [None] * n, [None] * n
        stderr, errcode = "", 0
        for idx, entry in entries.items():
            if entry["failed"]:
                result[idx], errcode = None, 1
                stderr += entry.get("stderr", "")
            elif entry["samples"]:
                samples[idx], number[idx] = entry["samples"], entry["number"]
                result[idx] = sorted(entry["samples"])[len(entry["samples"]) // 2]
        started = min(e["started"] for e in entries.values())
        runner.results.add_result(
            benchmark,
            BenchmarkResult(result, samples, number, errcode, stderr, None),
            started_at=started,
            record_samples=True,
        )
    runner.results.save(runner.conf.results_dir)
    runner.benchmarks.save()
