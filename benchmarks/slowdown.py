"""python -m benchmarks.slowdown IMPL PERCENT [--base REV] [--compare]

Does the speed gate catch a real regression? This makes one: a commit on top of `--base`
(default HEAD) in which IMPL's timed SELU call does PERCENT % more work, inside the
framework module's own `kernels` (conformance/frameworks/<module>.py), not in the
benchmark files, so that the benchmarks are the same code on both sides. The extra work is
a busy loop after each call, sized when the case is built: PERCENT % of the call's time,
counted in iterations of the loop rather than in seconds, so that a machine that runs
slower for a while slows the call and the extra work alike. The call is timed as the
benchmark times it, in batches of `speed.CALLS_PER_SAMPLE` calls for its size (a single
call at 2^12 or 2^16 costs more than a batched one's share), alternating with the
loop, so that both are measured in the same spells of the machine. It suits the synchronous
frameworks (on an asynchronous one, jax or a GPU, the loop would overlap the call).

Prints the commit's hash. With `--compare`, then runs `benchmarks.compare BASE COMMIT` on
IMPL's time_selu cases on the CPU in float32 and float64, every size and direction, and
prints how many of its gateable cases asv flagged slower (verdict.json in
.asv/compare/slowdown-<impl>-<percent>/). Exit status 2 for an unknown implementation.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from conformance.registry import BY_ID

from . import compare, speed

# Appended to the framework module of the commit with the slowdown: `kernels` wrapped.
_INJECTED = """

# A slowdown of {percent} % of {impl}'s timed SELU call (python -m benchmarks.slowdown).
_unslowed_kernels = kernels


def kernels(variant, direction, device, x, g):
    made = _unslowed_kernels(variant, direction, device, x, g)
    if variant != {variant!r}:
        return made
    import statistics
    import time

    def busy(n):
        total = 0
        for i in range(n):
            total += i
        return total

    number = {calls}.get(x.size, 1)  # the benchmark's calls per sample at this size

    def per_call(number):
        start = time.perf_counter()
        for _ in range(number):
            output = original()
        made.wait(output)
        return (time.perf_counter() - start) / number

    def per_iteration(n=20_000):
        start = time.perf_counter()
        busy(n)
        return (time.perf_counter() - start) / n

    original = made.selu_call
    for _ in range(3):  # warm
        per_call(number)
    calls, loops = [], []
    for _ in range(21):  # alternately: a batch of calls, then the loop
        calls.append(per_call(number))
        loops.append(per_iteration())
    iterations = round({percent} / 100 * statistics.median(calls) / statistics.median(loops))

    def slowed():
        output = original()
        made.wait(output)
        busy(iterations)
        return output

    made.selu_call = slowed
    return made
"""


def make_commit(impl: str, percent: float, base: str = "HEAD") -> str:
    """The hash of a commit of `base` with IMPL's SELU call slowed by `percent` %."""
    spec = BY_ID[impl]
    path = f"conformance/frameworks/{spec.module}.py"
    base = compare._git("rev-parse", "--verify", f"{base}^{{commit}}")
    source = compare._git("show", f"{base}:{path}") + "\n"
    source += _INJECTED.format(
        percent=percent, impl=impl, variant=spec.variant, calls=dict(speed.CALLS_PER_SAMPLE)
    )
    with tempfile.TemporaryDirectory() as scratch:
        index = {"GIT_INDEX_FILE": str(Path(scratch) / "index")}
        compare._git("read-tree", base, env=index)
        blob = subprocess.run(
            ["git", "hash-object", "-w", "--stdin"],
            cwd=compare.CHECKOUT,
            input=source,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        compare._git("update-index", "--cacheinfo", f"100644,{blob},{path}", env=index)
        tree = compare._git("write-tree", env=index)
    message = f"{impl}: {percent} % slower (python -m benchmarks.slowdown)"
    commit = compare._git("commit-tree", tree, "-p", base, "-m", message)
    compare._git("update-ref", f"refs/bench-compare/{commit}", commit)
    return commit


def pattern(impl: str) -> str:
    """asv's -b for IMPL's time_selu cases on the CPU in float32 and float64."""
    return rf"bench_selu\.\w+\.time_selu\('{re.escape(impl)}', '(float32|float64)', \d+, 'cpu'\)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.slowdown", description=__doc__)
    parser.add_argument("impl")
    parser.add_argument("percent", type=float)
    parser.add_argument("--base", default="HEAD")
    parser.add_argument("--compare", action="store_true")
    parser.add_argument("--order", help="each case's processes (default: gating.toml's)")
    args = parser.parse_args(argv)
    if args.impl not in BY_ID:
        print(
            f"python -m benchmarks.slowdown: unknown implementation {args.impl!r}", file=sys.stderr
        )
        return 2
    try:
        commit = make_commit(args.impl, args.percent, args.base)
    except compare.SideError as error:
        print(f"python -m benchmarks.slowdown: {error}", file=sys.stderr)
        return 2
    print(commit, flush=True)
    if not args.compare:
        return 0
    name = f"slowdown-{args.impl.replace('/', '_')}-{args.percent:g}"
    result = compare.compare(
        args.base, commit, [pattern(args.impl)], args.order, name, os.environ.get("MACHINE")
    )
    caught = len(result["slower_gateable"])
    print(
        f"{args.impl} {args.percent:g} % slower: asv flagged {caught} of its "
        f"{result['gateable']} gateable cases ({result['cases']} cases, "
        f"{len(result['noisy'])} too noisy to gate)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
