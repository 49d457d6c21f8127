"""How steady this machine's speed is: three fixed kernels, timed at intervals for a while.

`make bench` results are compared between runs half an hour apart. On a shared virtual
machine the hardware under the guest changes speed (another tenant on the same physical
core, memory bandwidth shared with other guests) with no sign inside the guest but the
timings: the guest's steal time stays near zero. This measures it directly, on kernels
that involve neither SELU nor any framework, only numpy:

- `core`: np.exp over 2^14 float32 (64 KiB, in L1), 100 times: the core's own speed.
- `memory`: np.multiply(x, 2, out=y) over 2^24 float32 (64 MiB each way, twice this
  machine's L3): DRAM bandwidth.
- `page_faults`: 64 MiB of fresh anonymous memory (4 KiB pages, as glibc hands a large
  allocation to torch or TensorFlow) written once: the kernel's and the hypervisor's cost
  of faulting memory in, which every out-of-place call of that size pays.

Every `interval` seconds each kernel is timed `calls` times; the median is that moment's
sample. The run is then cut in two halves, as two back-to-back benchmark runs of half its
length would see the machine, and into windows of `window` seconds. Where the halves'
medians differ by more than the 5 % that issue 5 asks of two `make bench` runs, no
benchmark of that length can be expected to repeat within 5 % on this machine, whatever
its configuration.

    python -m benchmarks.steadiness [--minutes 70] [--interval 10] [--window 300]
                                     [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import mmap
import statistics
import sys
import time
from collections.abc import Callable

import numpy as np

KERNELS = ("core", "memory", "page_faults")
LIMIT = 0.05  # issue 5: two make bench runs agree within 5 % on the median
_CORE_SIZE, _CORE_REPEATS = 1 << 14, 100
_MEMORY_SIZE = 1 << 24  # float32 elements: 64 MiB


def _kernels() -> dict[str, Callable[[], None]]:
    rng = np.random.default_rng(0)
    small = rng.standard_normal(_CORE_SIZE).astype(np.float32)
    small_out = np.empty_like(small)
    x = rng.standard_normal(_MEMORY_SIZE).astype(np.float32)
    y = np.empty_like(x)
    nbytes = x.nbytes

    def core():
        for _ in range(_CORE_REPEATS):
            np.exp(small, out=small_out)

    def memory():
        np.multiply(x, 2, out=y)

    def page_faults():
        # An anonymous mapping of its own (numpy's allocator would ask for huge pages),
        # unmapped again at close, as glibc does with a freed allocation of this size.
        with mmap.mmap(-1, nbytes) as fresh:
            np.frombuffer(fresh, np.float32)[:] = 1.5

    return {"core": core, "memory": memory, "page_faults": page_faults}


def _steal() -> tuple[int, int]:
    """(steal, total) jiffies of all CPUs since boot, from /proc/stat; (0, 0) elsewhere."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return 0, 0
    return (fields[7] if len(fields) > 7 else 0), sum(fields)


def measure(
    seconds: float,
    interval: float,
    calls: int = 7,
    progress: Callable[[dict], None] | None = None,
) -> list[dict]:
    """Samples for `seconds`: every `interval` s, {"t": seconds since the start, one median
    time per kernel (s), "steal": the share of CPU time stolen since the last sample}."""
    kernels = _kernels()
    for kernel in kernels.values():  # first touch, pools and caches warm
        kernel()
    samples: list[dict] = []
    start = time.monotonic()
    steal, total = _steal()
    while not samples or time.monotonic() - start < seconds:
        due = start + len(samples) * interval
        time.sleep(max(0.0, due - time.monotonic()))
        sample = {"t": round(time.monotonic() - start, 3)}
        for name, kernel in kernels.items():
            times = []
            for _ in range(calls):
                begin = time.perf_counter()
                kernel()
                times.append(time.perf_counter() - begin)
            sample[name] = statistics.median(times)
        now_steal, now_total = _steal()
        sample["steal"] = (now_steal - steal) / max(1, now_total - total)
        steal, total = now_steal, now_total
        samples.append(sample)
        if progress:
            progress(sample)
    return samples


def summarise(samples: list[dict], window: float) -> dict:
    """Per kernel: the median of all samples, the two halves' medians and how far apart
    they are (|second / first - 1|), and each window's median relative to the whole run's.
    `steal`: the mean share of CPU time stolen."""
    if len(samples) < 2:
        raise ValueError("at least two samples are needed to compare the halves")
    half = len(samples) // 2
    first, second = samples[:half], samples[half:]
    windows: dict[int, list[dict]] = {}
    for sample in samples:
        windows.setdefault(int(sample["t"] // window), []).append(sample)
    kernels = {}
    for name in KERNELS:
        median = statistics.median(s[name] for s in samples)
        halves = [statistics.median(s[name] for s in part) for part in (first, second)]
        kernels[name] = {
            "median": median,
            "halves": halves,
            "halves_differ": abs(halves[1] / halves[0] - 1),
            "windows": [
                statistics.median(s[name] for s in members) / median - 1
                for _, members in sorted(windows.items())
            ],
        }
    return {
        "samples": len(samples),
        "seconds": samples[-1]["t"],
        "window": window,
        "steal": statistics.fmean(s["steal"] for s in samples),
        "kernels": kernels,
    }


def markdown(summary: dict) -> str:
    minutes = summary["seconds"] / 60
    lines = [
        f"{summary['samples']} samples over {minutes:.1f} min; "
        f"steal time {summary['steal']:.2%} of the CPUs' time",
        "",
        "| kernel | median | first half | second half | halves differ "
        f"| {summary['window'] / 60:g}-min windows against the median |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for name, k in summary["kernels"].items():
        first, second = (f"{1e3 * v:.3g} ms" for v in k["halves"])
        flag = " (over 5 %)" if k["halves_differ"] > LIMIT else ""
        spread = ", ".join(f"{w:+.1%}" for w in k["windows"])
        lines.append(
            f"| {name} | {1e3 * k['median']:.3g} ms | {first} | {second} "
            f"| {k['halves_differ']:.1%}{flag} | {spread} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.steadiness",
        description="How steady this machine's speed is (see the module's docstring).",
    )
    parser.add_argument("--minutes", type=float, default=70.0, help="how long (default 70)")
    parser.add_argument("--interval", type=float, default=10.0, help="s between samples")
    parser.add_argument("--window", type=float, default=300.0, help="s per window")
    parser.add_argument("--json", metavar="PATH", help="write the samples and summary here")
    parser.add_argument("--quiet", action="store_true", help="no line per sample")
    args = parser.parse_args(argv)
    for name in ("minutes", "interval", "window"):
        if not getattr(args, name) > 0:
            print(f"error: --{name} must be positive", file=sys.stderr)
            return 2

    def progress(sample):
        times = "  ".join(f"{k} {1e3 * sample[k]:7.3f} ms" for k in KERNELS)
        print(f"{sample['t']:8.1f} s  {times}  steal {sample['steal']:.2%}", file=sys.stderr)

    samples = measure(args.minutes * 60, args.interval, progress=None if args.quiet else progress)
    try:
        summary = summarise(samples, args.window)
    except ValueError as error:
        print(f"error: {error} (run for longer than --interval)", file=sys.stderr)
        return 2
    print(markdown(summary))
    if args.json:
        from conformance.io import write_atomic

        document = {"summary": summary, "samples": samples}
        write_atomic(args.json, json.dumps(document, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
