"""Speed of every implementation's SELU, forward and backward, against the memory roofline.

Parameters: implementation id × dtype × size × device. Sizes run from cache-resident
(2^12 elements) through the last-level cache (2^20) to well above it (2^24: 64 MiB of
float32 input, twice this machine's 32 MiB L3). Inputs are half negative (see
`benchmarks.speed.inputs`). Combinations that cannot run here (no such framework, dtype,
derivative or device) are skipped through asv's own mechanism, with the reason.

Per case:

- `time_selu`: one call, timed by asv; the clock waits for the device (the output of the
  call is ready when the clock is read), so asynchronous frameworks (jax, cuda) are timed
  to completion. Everything is on the device before the clock starts. (The pinned
  asv_runner times one call per sample when a benchmark has a setup: at 2^12 this is the
  latency of a call and its wait, above the per-call time of a batch in track_gbps.)
- `track_gbps`: SELU's bandwidth, the nominal traffic over the median time per call.
- `track_fraction_of_scale`: SELU's time as a fraction of the same framework's scale
  y = 2x (t_scale / t_selu) on the same device, dtype and size: 1.0 means SELU runs at the
  speed of memory traffic, and the exponential costs nothing.

The two track_ benchmarks of a case share one measurement per run, which times SELU and the
scale alternately in one process (`benchmarks.speed.side_by_side`): each figure is a
ratio measured side by side.
asv runs these with its fork server (asv.conf.json): the frameworks are imported once.

SELU_BENCH_QUICK=1 (set by `make bench-quick`) makes the track_ benchmarks time one call
each, to prove that they run.
"""

import dataclasses
import gc
import json
import os
import sys
import tempfile
from pathlib import Path

from conformance.io import write_atomic
from conformance.registry import BY_ID

from . import speed

IMPLEMENTATIONS = list(BY_ID)
SIZES = [1 << 12, 1 << 16, 1 << 20, 1 << 24]
QUICK = os.environ.get("SELU_BENCH_QUICK") == "1"

if "run_server" in sys.argv:  # asv's fork server (asv_runner run_server): once, here, a
    # folder for the side-by-side measurement of each case, which its two track_ benchmarks
    # share (their processes are forked from this one), removed when the server has ended.
    os.environ["SELU_BENCH_SHARED"] = tempfile.mkdtemp(prefix="selu-bench-")
    speed.remove_when_gone(os.getpid(), os.environ["SELU_BENCH_SHARED"])
    speed.preload(SIZES)  # the frameworks and inputs (discovery and `asv check` need neither)
    # The collector of a forked process would write to every object it inherits, copying
    # the pages of all three frameworks: freezing them keeps them shared.
    gc.freeze()


class _Selu:
    params = (IMPLEMENTATIONS, list(speed.DTYPES), SIZES, list(speed.DEVICES))
    param_names = ["impl", "dtype", "size", "device"]
    direction = ""  # set by the subclasses
    timeout = 300
    rounds = 2
    repeat = (5, 20, 4.0)  # samples per round: at least 5, at most 20 or 4 s

    def setup(self, impl, dtype, size, device):
        self.kernels = speed.prepare(impl, dtype, size, device, self.direction)
        self.timer = self.kernels.clock  # asv's timer: waits for the device, then reads

    def teardown(self, impl, dtype, size, device):
        # In the benchmark's own process, which asv ends with os._exit (no atexit handlers).
        speed.at_exit()

    def time_selu(self, impl, dtype, size, device):
        self.kernels.selu()

    def _side_by_side(self, *case):
        """One measurement per case and fork server: the first track_ benchmark of the case
        to run measures, the other reads it, so that GB/s and the fraction agree."""
        shared = os.environ.get("SELU_BENCH_SHARED")
        name = "-".join(map(str, (self.direction, *case))).replace("/", "_") + ".json"
        if shared and (Path(shared) / name).exists():
            return speed.SideBySide(**json.loads((Path(shared) / name).read_text()))
        if QUICK:
            measured = speed.side_by_side(self.kernels, rounds=1, sample_time=0)
        else:
            measured = speed.side_by_side(self.kernels)
        if shared:
            write_atomic(Path(shared) / name, json.dumps(dataclasses.asdict(measured)))
        return measured

    def track_gbps(self, impl, dtype, size, device):
        seconds = self._side_by_side(impl, dtype, size, device).selu
        return speed.gigabytes_per_second(self.direction, dtype, size, seconds)

    track_gbps.unit = "GB/s"

    def track_fraction_of_scale(self, impl, dtype, size, device):
        return self._side_by_side(impl, dtype, size, device).fraction

    track_fraction_of_scale.unit = "fraction of scale y=2x"


class Forward(_Selu):
    """selu(x)."""

    direction = "forward"


class Backward(_Selu):
    """selu(x) and g·selu'(x), through the framework's autodiff (a training step)."""

    direction = "backward"
