"""What the asv benchmarks (`benchmarks/bench_selu.py`) time, and how; asv's results are
read back by `conformance/report/asv_results.py`.

A case is one implementation id × dtype × size × device × direction ("forward": selu(x);
"backward": the value and the gradient with respect to x for an upstream gradient g, as in
a training step). `prepare` builds it once per process: inputs on the device, compiled
variants compiled, every call warmed; an implementation, dtype, direction or device that
is missing raises NotImplementedError with the reason, which asv records as a skip.

The physical limit is memory traffic. SELU reads and writes each element once, as the
scale y = 2x does, so every case is timed beside the same framework's scale, called the
same way (`Kernels`): `side_by_side` alternates the two and returns the median time per
call of each. Bandwidth is the nominal traffic of the operation (forward: read x, write
y; backward: read x and g, write y and the gradient), over the median time.
"""

from __future__ import annotations

import functools
import importlib
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import ml_dtypes
import numpy as np

from conformance.frameworks import adapter as adapter_of
from conformance.frameworks import adapters
from conformance.registry import BY_ID, Spec, framework_packages, missing, package_version

DIRECTIONS = ("forward", "backward")
DEVICES = ("cpu", "cuda")
DTYPES = {
    "float16": np.dtype(np.float16),
    "bfloat16": np.dtype(ml_dtypes.bfloat16),
    "float32": np.dtype(np.float32),
    "float64": np.dtype(np.float64),
}
# Arrays read and written per element: forward x → y; backward x, g → y, gradient.
TRAFFIC = {"forward": 2, "backward": 4}
NEGATIVE_SHARE = 0.5  # only x <= 0 computes an exponential
SEED = 0
# Calls timed together in one asv sample, per size (asv's `number`, one class per size in
# bench_selu): a sample of one call at 2^12 is the latency of a call and its wait, a few
# microseconds that one interrupt doubles; 128 of them take about 1 to 10 ms here, as do 16
# at 2^16 and 4 at 2^20. At 2^24 one call takes 10 ms to 1 s.
CALLS_PER_SAMPLE = {1 << 12: 128, 1 << 16: 16, 1 << 20: 4, 1 << 24: 1}
# The sizes timed writing into an output made once too (bench_selu's ForwardInto classes):
# those where a fresh output is allocated and faulted in from the OS at every call.
INTO_SIZES = (1 << 20, 1 << 24)
# Intra-op threads of every framework in the benchmarks (SELU_BENCH_THREADS; recorded
# beside the results). One by default: on a small shared machine a second thread waits for
# the core that the runner, the kernel and the neighbours share, and the bandwidth figure
# (bench_bandwidth, numpy: one thread) is then that of the same single core.
THREADS = int(os.environ.get("SELU_BENCH_THREADS", "1"))


# Run by `remove_when_gone` in a process of its own: waits for a pid to end, then removes a
# folder.
_REMOVER = """import os, shutil, sys, time
pid, folder = int(sys.argv[1]), sys.argv[2]
while True:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        break
    time.sleep(0.5)
shutil.rmtree(folder, ignore_errors=True)
"""


def remove_when_gone(pid: int, folder: str) -> subprocess.Popen:
    """Remove `folder` once process `pid` has ended, however it ends. asv stops its fork
    server with SIGINT and SIGKILL 0.1 s later, before an atexit handler of the server
    behind the frameworks' teardown has run, and the SIGINT may reach one of the
    frameworks' threads rather than the main one: only a process of its own, outside the
    server's process group, outlives it reliably."""
    return subprocess.Popen(
        [sys.executable, "-c", _REMOVER, str(pid), str(folder)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def preload(sizes=()) -> dict[str, str]:
    """Import the frameworks that are installed (those whose adapter asks for it, with the
    modules it names in `warm_imports`), and make the inputs of `sizes` in every dtype (a
    process forked from this one then finds them made); the reason for each framework
    that fails to import."""
    for size in sizes:
        for dtype in DTYPES:
            inputs(dtype, size)
    failed = {}
    for adapter in adapters():
        if not adapter.benchmark_preload:
            continue
        try:
            for package in adapter.packages:
                importlib.import_module(package)
        except Exception as error:  # a framework that fails to load: its cases skip later
            failed[adapter.name] = f"{type(error).__name__}: {error}"
            continue
        for module in adapter.warm_imports:
            importlib.import_module(module)
    return failed


@functools.cache
def inputs(dtype: str, size: int, negative_share: float = NEGATIVE_SHARE, seed: int = SEED):
    """x and the upstream gradient g: |N(0, 1)| magnitudes, each element negative with
    probability `negative_share`, signs scattered (not sorted, so that vector lanes mix
    both branches as activations do); g is N(0, 1). Deterministic for a seed. Made once
    per process and shared: callers must not write to them."""
    rng = np.random.default_rng(seed)
    wide = np.float64 if dtype == "float64" else np.float32
    magnitude = np.abs(rng.standard_normal(size, dtype=wide))
    negative = rng.random(size, dtype=np.float32) < negative_share
    x = np.where(negative, -magnitude, magnitude).astype(DTYPES[dtype])
    g = rng.standard_normal(size, dtype=wide).astype(DTYPES[dtype])
    return x, g


def _has_nvidia_gpu() -> bool:
    """Whether an NVIDIA driver is present, without importing a framework (a framework
    that initialised CUDA in asv's fork server would break every process it forks)."""
    return Path("/dev/nvidiactl").exists()


def skip_reason(
    spec: Spec, dtype: str, device: str, direction: str, output: str = "new", size: int = 0
) -> str | None:
    """Why this case cannot run here (without importing anything), or None. `output`:
    "new" (a new output at every call) or "into" (an output made once, written into);
    `size`: the elements of its input (0: any)."""
    if (reason := spec.unavailable()) is not None:
        own = adapter_of(spec.framework).environment
        if own is not None:  # its own environment: make bench-matrix times it there
            reason += f"; it runs in {own}: python -m benchmarks.matrix --env {own}"
        return f"{spec.id}: {reason}"
    if dtype not in spec.dtypes:
        return f"{spec.id} does not support {dtype}"
    if direction == "backward" and not spec.gradient:
        return f"{spec.id} has no derivative (forward only)"
    if output == "into" and (direction != "forward" or not reuses_output(spec)):
        return f"{spec.id} writes a new output at every call only (in this suite)"
    if device == "cuda" and not _has_nvidia_gpu():
        return "no NVIDIA GPU on this machine (/dev/nvidiactl is missing)"
    if device not in spec.devices:
        return f"{spec.id} runs on the CPU only in this suite"
    bound = adapter_of(spec.framework).max_timed_elements
    if bound is not None and size > bound:
        return f"{spec.id} takes at most {bound} elements in one call (in this suite)"
    return None


def _framework(spec: Spec):
    """The framework module of a spec, prepared in this process for the spec's variant
    (its `select`, where it has one: Keras's backend)."""
    module = importlib.import_module(f"conformance.frameworks.{spec.module}")
    if hasattr(module, "select"):
        module.select(spec.variant)
    return module


def reuses_output(spec: Spec) -> bool:
    """Whether the implementation's forward call can write into an output made once (its
    adapter's `output_reuse`; the module's `kernels_into`)."""
    return spec.variant in adapter_of(spec.framework).output_reuse


def skipped_cases(params, direction: str, output: str = "new") -> list[tuple]:
    """The parameter combinations (impl, dtype, size, device) of `params` that cannot run
    here, for asv's `skip_params`: decided without importing a framework."""
    import itertools

    return [
        (impl, dtype, size, device)
        for impl, dtype, size, device in itertools.product(*params)
        if skip_reason(BY_ID[impl], dtype, device, direction, output, size) is not None
    ]


def skip_reasons(direction: str, params, output: str = "new") -> dict[str, str]:
    """{case: reason} of `skipped_cases`, to keep beside asv's results (asv records a
    skipped parameter combination without its reason)."""
    return {
        repr(case): skip_reason(BY_ID[case[0]], case[1], case[3], direction, output, case[2])
        for case in skipped_cases(params, direction, output)
    }


_current: list = []  # the Kernels that `prepare` built last in this process


def clock() -> float:
    """The clock of the case this process prepared last (it waits for the case's output on
    its device, then reads time.perf_counter), or time.perf_counter before any: the timer of
    asv's time_ benchmarks, which have no setup to hand theirs over."""
    return _current[-1].clock() if _current else time.perf_counter()


@functools.cache
def prepare(impl: str, dtype: str, size: int, device: str, direction: str, output: str = "new"):
    """The warmed `Kernels` of one case (built once per process, the framework at
    `THREADS` intra-op threads; `output` as in `skip_reason`); NotImplementedError with the
    reason where the case cannot run here."""
    spec = BY_ID[impl]
    if (reason := skip_reason(spec, dtype, device, direction, output, size)) is not None:
        raise NotImplementedError(reason)
    try:
        module = _framework(spec)
        devices = module.devices()
    except ImportError as error:
        raise NotImplementedError(f"{impl}: {error}") from None
    if device not in devices:
        raise NotImplementedError(f"{impl} has no device {device!r} here")
    try:
        module.set_threads(THREADS)
    except RuntimeError:  # TensorFlow, once started: its pools read THREADS's environment
        pass
    x, g = inputs(dtype, size)
    if output == "into":
        kernels = module.kernels_into(spec.variant, device, x)
    else:
        kernels = module.kernels(spec.variant, direction, device, x, g)
    for _ in range(2):  # compiles (first call), then allocator and caches
        kernels.selu()
        kernels.scale()
    kernels.clock()
    _current.append(kernels)
    return kernels


@dataclass(frozen=True)
class SideBySide:
    """Median seconds per call of SELU and of the scale, timed alternately."""

    selu: float
    scale: float
    calls: int  # calls per sample

    @property
    def fraction(self) -> float:
        """SELU's bandwidth as a fraction of the scale's (equal traffic): t_scale / t_selu."""
        return self.scale / self.selu


def side_by_side(
    kernels, rounds: int = 9, sample_time: float = 0.02, max_time: float = 6.0
) -> SideBySide:
    """Time SELU and the scale in alternating samples (ABBA order, so that a drift of the
    machine during the measurement affects both alike), each sample `calls` calls with one
    wait at the end, `calls` chosen so that a sample takes at least `sample_time`. `rounds`
    pairs of samples, or as many (at least 3) as fit in `max_time` seconds."""
    calls = 1
    while True:
        elapsed = _sample(kernels.selu, kernels, calls)
        if elapsed >= sample_time or calls >= 1 << 16:
            break
        calls = min(1 << 16, max(calls * 2, int(calls * sample_time / max(elapsed, 1e-9)) + 1))
    selu, scale = [], []
    deadline = time.perf_counter() + max_time
    for round_ in range(rounds):
        if round_ >= 3 and time.perf_counter() > deadline:
            break
        pair = ((kernels.selu, selu), (kernels.scale, scale))
        for call, samples in pair if round_ % 2 == 0 else pair[::-1]:
            samples.append(_sample(call, kernels, calls) / calls)
    return SideBySide(statistics.median(selu), statistics.median(scale), calls)


def _sample(call, kernels, calls: int) -> float:
    start = kernels.clock()
    for _ in range(calls):
        call()
    return kernels.clock() - start


def gigabytes_per_second(direction: str, dtype: str, size: int, seconds: float) -> float:
    return TRAFFIC[direction] * size * DTYPES[dtype].itemsize / seconds / 1e9


def environment() -> dict:
    """Versions and devices to keep beside asv's results (asv's `existing` environment
    records neither): the pinned frameworks, the CPU and, where there is one, the GPU."""
    from conformance.machine import cpu_name

    frameworks = {name: package_version(name) for name in (*framework_packages(), "ml_dtypes")}
    devices = {"cpu": f"{cpu_name()} ({os.cpu_count()} logical CPUs)"}
    if _has_nvidia_gpu():
        devices.update(_gpu_names())
    return {
        "python": sys.version.split()[0],
        "frameworks": frameworks,
        "devices": devices,
        "threads": THREADS,
        "skipped": _all_skip_reasons(),
    }


def _all_skip_reasons() -> dict[str, dict[str, str]]:
    """{direction: {case: reason}} over every size, device and dtype of bench_selu (and
    "forward into": the calls writing into an output made once)."""
    params = (list(BY_ID), list(DTYPES), list(CALLS_PER_SAMPLE), list(DEVICES))
    reasons = {direction: skip_reasons(direction, params) for direction in DIRECTIONS}
    reusing = [impl for impl, spec in BY_ID.items() if reuses_output(spec)]
    into = (reusing, list(DTYPES), list(INTO_SIZES), list(DEVICES))
    reasons["forward into"] = skip_reasons("forward", into, "into")
    return reasons


def at_exit() -> None:
    """The clean-ups of the framework modules this process imported (`at_exit`), which
    atexit handlers would run but os._exit skips."""
    for adapter in adapters():
        module = sys.modules.get(f"conformance.frameworks.{adapter.module}")
        if module is not None and hasattr(module, "at_exit"):
            module.at_exit()


def _gpu_names() -> dict[str, str]:
    """{device: name} from the first installed framework whose module can tell
    (`device_names`)."""
    for adapter in adapters():
        if missing(adapter.packages) is not None:
            continue
        module = importlib.import_module(f"conformance.frameworks.{adapter.module}")
        names = getattr(module, "device_names", lambda: {})()
        if names:
            return names
    return {}


def main(argv: list[str] | None = None) -> int:
    """python -m benchmarks.speed environment PATH
    python -m benchmarks.speed summary [--results DIR] [--machine M] [--commit C]
    python -m benchmarks.speed agreement FIRST.json SECOND.json [--min-size N]"""
    import argparse
    import platform

    from asv.util import UserError

    from conformance.report.asv_results import (
        agreement,
        agreement_markdown,
        load_results,
        load_results_file,
        summary_markdown,
    )

    parser = argparse.ArgumentParser(prog="python -m benchmarks.speed")
    commands = parser.add_subparsers(dest="command", required=True)
    write = commands.add_parser("environment", help="write versions and device names (JSON)")
    write.add_argument("path")
    show = commands.add_parser("summary", help="Markdown tables of the newest asv results")
    show.add_argument("--results", default=".asv/results")
    show.add_argument("--machine", default=platform.node())
    show.add_argument("--commit")
    compare = commands.add_parser("agreement", help="how far two asv results files differ")
    compare.add_argument("first")
    compare.add_argument("second")
    compare.add_argument("--min-size", type=int, default=1 << 20)
    args = parser.parse_args(argv)
    try:
        if args.command == "environment":
            from conformance.io import write_atomic

            write_atomic(args.path, json.dumps(environment(), indent=1) + "\n")
        elif args.command == "summary":
            print(summary_markdown(load_results(args.results, args.machine, args.commit)))
        else:
            first, second = (load_results_file(p) for p in (args.first, args.second))
            print(agreement_markdown(agreement(first, second, args.min_size)))
    except (OSError, ValueError, UserError) as error:  # no such file, a corrupt one
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
