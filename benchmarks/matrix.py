"""python -m benchmarks.matrix [--env NAME ...] [--framework F ...] [--quick]

asv's benchmarks in each environment of the matrix (conformance/data/environments.toml,
built by uv where needed), one `asv run --environment existing:ENV/bin/python` each, on
the machine `--machine` and the checked-out commit. asv names each results file after the
interpreter (`<commit>-existing-py_..._.envs_NAME_bin_python.json`), so `asv publish` shows
one series per environment, and `python -m conformance report --compare A.json B.json`
(or `python -m benchmarks.speed agreement A.json B.json`) says what a release changed in
speed, case by case. Only the framework's own benchmarks run there (bench_selu with
`-b`); the reference's skip (it needs the suite's interpreter).

`--quick` runs each benchmark once at the smallest size, as `make bench-quick` does: a
proof that every environment runs them, not a measurement.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from conformance.environments import build as builder
from conformance.environments import catalog

CHECKOUT = Path(__file__).resolve().parent.parent
ASV = str(Path(sys.executable).parent / "asv")
QUICK = ["-a", "rounds=1", "-a", "repeat=1", "-a", "number=1", "-a", "warmup_time=0"]


def _implementations(environment: catalog.Environment) -> list[str]:
    from conformance.matrix.cells import implementations_of

    return list(implementations_of(environment.framework, environment))


def run(environment: catalog.Environment, machine: str, commit: str, quick: bool) -> int:
    """asv run of the environment's implementations in its interpreter; asv's status."""
    # asv matches -b against the name with its parameters:
    # bench_selu.Forward.time_selu('jax/nn', 'float32', 4096, 'cpu')
    impls = "|".join(_implementations(environment))
    size = ", 4096, 'cpu'" if quick else ""
    pattern = f"bench_selu\\..*'({impls})'.*{size}"
    command = [ASV, "run", "--environment", f"existing:{environment.python}"]
    command += ["--machine", machine, "--set-commit-hash", commit, "-b", pattern]
    env = dict(os.environ)
    if quick:
        command += QUICK
        env["SELU_BENCH_QUICK"] = "1"
    print(f"== {environment.name}: {' '.join(command)}", flush=True)
    return subprocess.run(command, cwd=CHECKOUT, env=env).returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.matrix", description=__doc__)
    parser.add_argument("--env", action="append", default=[], metavar="NAME")
    parser.add_argument("--framework", action="append", default=[])
    parser.add_argument("--machine", default=os.uname().nodename)
    parser.add_argument("--quick", action="store_true", help="each benchmark once, smallest size")
    args = parser.parse_args(argv)
    try:
        environments = list(catalog.load().values())
    except catalog.CatalogError as error:
        print(f"python -m benchmarks.matrix: {error}", file=sys.stderr)
        return 2
    unknown = set(args.env) - {e.name for e in environments}
    if unknown:
        print(
            f"python -m benchmarks.matrix: unknown environment {sorted(unknown)[0]!r}",
            file=sys.stderr,
        )
        return 2
    if args.env:
        environments = [e for e in environments if e.name in args.env]
    if args.framework:
        environments = [e for e in environments if e.framework in args.framework]
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=CHECKOUT, capture_output=True, text=True, check=True
    ).stdout.strip()
    subprocess.run([ASV, "machine", "--yes", "--machine", args.machine], cwd=CHECKOUT, check=True)
    status = 0
    for environment in environments:
        try:
            builder.build(environment)
        except builder.BuildError as error:
            print(f"python -m benchmarks.matrix: {error}", file=sys.stderr)
            status = 1
            continue
        status = max(status, 1 if run(environment, args.machine, commit, args.quick) else 0)
    return status


if __name__ == "__main__":
    sys.exit(main())
