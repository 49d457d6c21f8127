"""python -m benchmarks.compare A B [--bench REGEX ...] [--order ORDER] [--name NAME]

asv's verdict on two revisions or two environments, measured so that both share the
machine's drift: asv's `existing` environment runs one interpreter at a time and cannot
interleave rounds itself, so the comparison does. By default (`--interleave case`,
benchmarks/interleave.py) each case runs in one process per letter of `--order` (default:
gating.toml's `order`, A B B A B A A B) through asv's own runner before the next case
starts, each process taking gating.toml's `samples`; with `--interleave run`, whole runs
alternate, each `asv run --record-samples --append-samples` adding one round (`-a
rounds=1`, the benchmark class's samples) of every selected benchmark to its side's
results. Then `asv compare --factor F` (F from conformance/data/gating.toml) decides, with
its Mann-Whitney test on the recorded samples, and each flagged case is checked against the
spread of its samples on both sides: a case too noisy to gate (gating.toml's max_spread)
is labelled so, not counted.

A side is a git revision (a worktree of it under the comparison's folder, run with the
suite's .venv) or `env:NAME`, an environment of conformance/data/environments.toml (the
checked-out code in that interpreter). asv pairs results by commit and by environment
name, so both sides' results carry one name (`existing-compare` by case; by run, every
side runs through one wrapper script, `python` in the comparison's folder, pointed at the
side's interpreter before each run), and where both sides would be the same commit
(A against itself, or two environments), the second gets a twin: a commit of the same tree
whose parent is the first (kept under refs/bench-compare/).

Everything goes under .asv/compare/NAME/ (default: the two sides' names; its results are
cleared when a comparison starts): asv's results and configuration, each side's results
as they stood after each run (runs/N-SIDE.json, by run), asv compare's table (compare.txt) and the
verdict (verdict.json): {a, b, machine, factor, max_spread, cases, gateable, flagged:
[{case, mark, noisy}], noisy, slower_gateable, faster_gateable, order, samples (asv's repeat of each
process, case by case; null by run)}.
Exit status: 0, or 1 when a gateable case got slower; 2 for a bad side or option.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from asv.util import UserError

from conformance.io import write_atomic
from conformance.report import gating

CHECKOUT = Path(__file__).resolve().parent.parent
ASV = str(Path(sys.executable).parent / "asv")
COMPARE_DIR = CHECKOUT / ".asv" / "compare"


class SideError(ValueError):
    """A side that names no revision or environment."""


@dataclass(frozen=True)
class Side:
    label: str  # as given: a revision or env:NAME
    commit: str  # the hash its results are saved under
    checkout: Path  # the code it runs
    python: Path  # the interpreter it runs in


def _git(*args: str, env: dict | None = None) -> str:
    done = subprocess.run(
        ["git", *args],
        cwd=CHECKOUT,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
    )
    if done.returncode != 0:
        raise SideError(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else args)
    return done.stdout.strip()


def _worktree(commit: str, folder: Path) -> Path:
    """A checkout of `commit` under `folder` (made once)."""
    tree = folder / "trees" / commit[:12]
    if not (tree / ".git").exists():
        tree.parent.mkdir(parents=True, exist_ok=True)
        _git("worktree", "add", "--detach", "--force", str(tree), commit)
    return tree


def _twin(commit: str) -> str:
    """A commit of `commit`'s tree with `commit` as its parent, kept by a ref: the same
    code under a hash of its own, so that asv keeps its results apart. Its author, committer
    and dates are `commit`'s, so the twin of a commit is always the same commit."""
    fields = _git(
        "show", "-s", "--date=raw", "--format=%an%x00%ae%x00%ad%x00%cn%x00%ce%x00%cd", commit
    )
    an, ae, ad, cn, ce, cd = fields.split("\0")
    identity = {
        "GIT_AUTHOR_NAME": an,
        "GIT_AUTHOR_EMAIL": ae,
        "GIT_AUTHOR_DATE": ad,
        "GIT_COMMITTER_NAME": cn,
        "GIT_COMMITTER_EMAIL": ce,
        "GIT_COMMITTER_DATE": cd,
    }
    twin = _git(
        "commit-tree", f"{commit}^{{tree}}", "-p", commit, "-m", f"twin of {commit}", env=identity
    )
    _git("update-ref", f"refs/bench-compare/{twin}", twin)
    return twin


def resolve(label: str, folder: Path, taken: str | None = None) -> Side:
    """The side named `label`; `taken` is the other side's commit (a twin is made where
    they would coincide)."""
    if label.startswith("env:"):
        from conformance.environments import catalog

        name = label[4:]
        environments = catalog.load()
        if name not in environments:
            raise SideError(f"unknown environment {name!r} (conformance/data/environments.toml)")
        from conformance.environments import build as builder

        builder.build(environments[name])
        commit = _git("rev-parse", "HEAD")
        checkout, python = CHECKOUT, Path(environments[name].python)
    else:
        try:
            commit = _git("rev-parse", "--verify", f"{label}^{{commit}}")
        except SideError:
            raise SideError(f"{label!r} is neither a revision nor env:NAME") from None
        checkout, python = None, CHECKOUT / ".venv" / "bin" / "python"
    if commit == taken:
        commit = _twin(commit)
    if checkout is None:
        checkout = _worktree(commit, folder)
    return Side(label, commit, checkout, python)


def _config(folder: Path, side: Side) -> Path:
    """asv's configuration for one side: its checkout's benchmarks, the comparison's
    results."""
    config = {
        "version": 1,
        "project": "selu-conformance",
        "repo": str(CHECKOUT),
        "branches": ["main"],
        "environment_type": "existing",
        "benchmark_dir": str(side.checkout / "benchmarks"),
        "env_dir": str(folder / "env"),
        "results_dir": str(folder / "results"),
        "html_dir": str(folder / "html"),
        "launch_method": "forkserver",
    }
    path = folder / f"asv-{side.commit[:12]}.json"
    write_atomic(path, json.dumps(config, indent=1))
    return path


def _point_wrapper(wrapper: Path, python: Path) -> None:
    write_atomic(wrapper, f'#!/bin/sh\nexec "{python}" "$@"\n')
    wrapper.chmod(0o755)


def run_side(side: Side, folder: Path, machine: str, benches: list[str]):
    """One round of the selected benchmarks for `side`, appended to its results."""
    wrapper = folder / "python"
    _point_wrapper(wrapper, side.python)
    command = [ASV, "run", "--config", str(_config(folder, side))]
    command += ["--environment", f"existing:{wrapper}", "--machine", machine]
    command += ["--set-commit-hash", side.commit, "--record-samples", "--append-samples"]
    command += ["-a", "rounds=1"]
    for pattern in benches:
        command += ["-b", pattern]
    print(f"== {side.label} ({side.commit[:8]}): {' '.join(command)}", flush=True)
    return subprocess.run(command, cwd=side.checkout).returncode


def _keep_run(folder: Path, machine: str, side: Side, label: str) -> None:
    """A copy of the side's results as they stand after one run (runs/LABEL.json): asv
    merges the runs' samples, and these say which run each came from."""
    for path in (folder / "results" / machine).glob(f"{side.commit[:8]}-*.json"):
        (folder / "runs").mkdir(exist_ok=True)
        shutil.copyfile(path, folder / "runs" / f"{label}.json")


# asv compare's table rows: "| + | 1.2±0.01ms | 1.5±0.02ms | 1.25 | name(params) |"
_ROW = re.compile(r"^\|\s*([+\-x!*]?)\s*\|.*\|\s*([~\d.n/a]+)\s*\|\s*(\S.*?)\s*\|$")


def flagged_rows(table: str) -> dict[str, str]:
    """{benchmark(params): mark} of asv compare's rows that it marked '+' (slower) or '-'
    (faster)."""
    marks = {}
    for line in table.splitlines():
        match = _ROW.match(line.strip())
        if match and match.group(1) in "+-" and match.group(1):
            marks[match.group(3)] = match.group(1)
    return marks


def verdict(folder: Path, a: Side, b: Side, machine: str, table: str, settings) -> dict:
    """Which cases asv flagged, and which of them are too noisy to gate."""
    from conformance.report import asv_results

    sides = [asv_results.load_results(folder / "results", machine, s.commit) for s in (a, b)]
    spreads: dict[str, list] = {}
    for side in sides:
        for row in side["rows"]:
            spreads.setdefault(asv_results.asv_name(row), []).append(row["spread"])
    flagged = flagged_rows(table)
    noisy = sorted(name for name, s in spreads.items() if any(map(settings.noisy, s)))
    gateable = {n: m for n, m in flagged.items() if n not in noisy}
    return {
        "a": {"label": a.label, "commit": a.commit},
        "b": {"label": b.label, "commit": b.commit},
        "machine": machine,
        "factor": settings.factor,
        "max_spread": settings.max_spread,
        "cases": len(spreads),
        "gateable": len(spreads) - len(noisy),
        "flagged": [{"case": n, "mark": m, "noisy": n in noisy} for n, m in flagged.items()],
        "noisy": noisy,
        "slower_gateable": sorted(n for n, m in gateable.items() if m == "+"),
        "faster_gateable": sorted(n for n, m in gateable.items() if m == "-"),
    }


def _print(line: str) -> None:
    print(line, flush=True)


def compare(
    a_label: str,
    b_label: str,
    benches: list[str],
    order: str | None = None,
    name: str | None = None,
    machine: str | None = None,
    interleave: str = "case",
) -> dict:
    """Run the comparison of A and B (each case in `order`, default gating.toml's) and
    return its verdict (also written to verdict.json)."""
    settings = gating.load()
    order = gating.check_order(order or settings.order)
    machine = machine or os.uname().nodename
    name = name or re.sub(r"[^A-Za-z0-9._-]+", "_", f"{a_label}-vs-{b_label}")
    folder = COMPARE_DIR / name
    shutil.rmtree(folder / "results", ignore_errors=True)  # a comparison starts afresh
    folder.mkdir(parents=True, exist_ok=True)
    a = resolve(a_label, folder)
    b = resolve(b_label, folder, taken=a.commit)
    sides = {"A": a, "B": b}
    subprocess.run(
        [ASV, "machine", "--yes", "--machine", machine, "--config", str(_config(folder, a))],
        cwd=CHECKOUT,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    if interleave == "case":
        from . import interleave as by_case

        configs = {letter: _config(folder, side) for letter, side in sides.items()}
        by_case.run(sides, configs, machine, benches, order, settings.samples, log=_print)
    else:
        for number, letter in enumerate(order, 1):
            status = run_side(sides[letter], folder, machine, benches)
            if status != 0:
                print(
                    f"asv run of {sides[letter].label} ended with status {status}", file=sys.stderr
                )
            _keep_run(folder, machine, sides[letter], f"{number}-{letter}")
    command = [ASV, "compare", "--config", str(_config(folder, a)), "--machine", machine]
    command += ["--factor", str(settings.factor), a.commit, b.commit]
    table = subprocess.run(command, cwd=CHECKOUT, capture_output=True, text=True, check=True)
    write_atomic(folder / "compare.txt", table.stdout)
    result = verdict(folder, a, b, machine, table.stdout, settings)
    result["order"] = order
    result["samples"] = list(settings.samples) if interleave == "case" else None
    write_atomic(folder / "verdict.json", json.dumps(result, indent=1) + "\n")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.compare", description=__doc__)
    parser.add_argument("a", help="a revision, or env:NAME")
    parser.add_argument("b", help="a revision, or env:NAME")
    parser.add_argument("--bench", "-b", action="append", default=[], help="asv's -b")
    parser.add_argument(
        "--order", help="each case's processes (or the runs), in order (default: gating.toml's)"
    )
    parser.add_argument("--name", help="the comparison's folder under .asv/compare")
    parser.add_argument("--machine")
    parser.add_argument(
        "--interleave",
        choices=("case", "run"),
        default="case",
        help="case: each case's processes in --order, one case after another (default); "
        "run: whole asv runs in --order",
    )
    args = parser.parse_args(argv)
    if args.order is not None:
        try:
            gating.check_order(args.order)
        except ValueError:
            print(
                "python -m benchmarks.compare: --order is a word of A and B, both", file=sys.stderr
            )
            return 2
    try:
        result = compare(
            args.a,
            args.b,
            args.bench,
            args.order,
            args.name,
            args.machine,
            interleave=args.interleave,
        )
    except (SideError, ValueError, UserError) as error:
        print(f"python -m benchmarks.compare: {error}", file=sys.stderr)
        return 2
    print((COMPARE_DIR / (args.name or "") / "compare.txt").read_text() if args.name else "")
    print(
        f"{result['cases']} cases, {result['gateable']} gateable; asv flagged "
        f"{len(result['flagged'])}: {len(result['slower_gateable'])} gateable slower, "
        f"{len(result['faster_gateable'])} gateable faster, the rest too noisy to gate"
    )
    return 1 if result["slower_gateable"] else 0


if __name__ == "__main__":
    sys.exit(main())
