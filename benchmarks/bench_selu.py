"""Speed of every implementation's SELU, forward and backward, against the memory roofline.

Parameters: implementation id × dtype × size × device. Sizes run from cache-resident
(2^12 elements) through the last-level cache (2^20) to well above it (2^24: 64 MiB of
float32 input, twice this machine's 32 MiB L3). Inputs are half negative (see
`benchmarks.speed.inputs`). Combinations that cannot run here (no such framework, dtype,
derivative or device) are skipped through asv's `skip_params`, decided before any
framework is imported; their reasons are written beside the results (`make bench`,
`benchmarks.speed environment`).

One class per direction and size (`Forward20`: forward, 2^20 elements; `ForwardInto20`: the
same, written into an output made once, where the framework allows it), because asv reads
`number` (the calls timed together in one sample) per class, and a call at 2^12 is 1000
times shorter than one at 2^24 (`speed.CALLS_PER_SAMPLE`). Per case:

- `time_selu`: `number` calls timed together, one wait for the device at the end (the
  class's `timer` is the case's clock, which waits for the last output), so asynchronous
  frameworks (jax, cuda) are timed to completion without a sync in every call. There is no
  `setup`: with one, the pinned asv_runner 0.3.2 times every call of a sample on its own
  and re-runs the setup between them (asv#966). The case is built at its first call,
  during asv's warm-up (`speed.prepare`, once per process), and everything is on the
  device before the first sample.
- `track_gbps`: SELU's bandwidth, the nominal traffic over the median time per call.
- `track_fraction_of_scale`: SELU's time as a fraction of the same framework's scale
  y = 2x (t_scale / t_selu) on the same device, dtype and size: 1.0 means SELU runs at the
  speed of memory traffic, and the exponential costs nothing.

The two track_ benchmarks of a case share one measurement per run, which times SELU and the
scale alternately in one process (`benchmarks.speed.side_by_side`): each figure is a
ratio measured side by side. The memory bandwidth of the machine, the physical limit
beside the framework's own scale, is `bench_bandwidth`.
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

from asv_runner.benchmarks.mark import SkipNotImplemented

from conformance.io import write_atomic
from conformance.registry import BY_ID

from . import speed

IMPLEMENTATIONS = list(BY_ID)
REUSING = [i for i, spec in BY_ID.items() if speed.reuses_output(spec)]
SIZES = list(speed.CALLS_PER_SAMPLE)
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
    """The benchmarks of one direction and size; the subclasses set both."""

    param_names = ["impl", "dtype", "size", "device"]
    direction = ""
    output = "new"  # "into": the output made once and written into (ForwardInto)
    size = 0
    timeout = 300
    # One process per case in `make bench`: the speed gate runs a case in processes of its
    # own (conformance/data/gating.toml), and a second round here doubled the time_
    # benchmarks' share of the run (docs/measurements.md, "Duration").
    rounds = 1
    repeat = (5, 20, 4.0)  # samples: at least 5, at most 20 or 4 s
    warmup_time = 0.2  # the first call builds the case; the calls after it warm it
    timer = staticmethod(speed.clock)  # waits for the device, then reads the clock

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.size:
            impls = IMPLEMENTATIONS if cls.output == "new" else REUSING
            cls.params = (impls, list(speed.DTYPES), [cls.size], list(speed.DEVICES))
            cls.number = speed.CALLS_PER_SAMPLE[cls.size]
            cls.skip_params = speed.skipped_cases(cls.params, cls.direction, cls.output)

    def _kernels(self, impl, dtype, size, device):
        try:
            return speed.prepare(impl, dtype, size, device, self.direction, self.output)
        except NotImplementedError as error:  # found only on import: asv records a skip
            print(f"asv: skipped: {error}")
            raise SkipNotImplemented(str(error)) from None

    def time_selu(self, impl, dtype, size, device):
        self._kernels(impl, dtype, size, device).selu()

    def teardown(self, impl, dtype, size, device):
        # In the benchmark's own process, which asv ends with os._exit (no atexit handlers).
        speed.at_exit()

    def _side_by_side(self, *case):
        """One measurement per case and fork server: the first track_ benchmark of the case
        to run measures, the other reads it, so that GB/s and the fraction agree."""
        shared = os.environ.get("SELU_BENCH_SHARED")
        parts = (self.direction, *(["into"] if self.output == "into" else []), *case)
        name = "-".join(map(str, parts)).replace("/", "_") + ".json"
        if shared and (Path(shared) / name).exists():
            return speed.SideBySide(**json.loads((Path(shared) / name).read_text()))
        kernels = self._kernels(*case)
        if QUICK:
            measured = speed.side_by_side(kernels, rounds=1, sample_time=0)
        else:
            measured = speed.side_by_side(kernels)
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


class _Forward(_Selu):
    """selu(x)."""

    direction = "forward"


class _ForwardInto(_Forward):
    """selu(x) written into an output made once, where the framework lets a user reuse one
    (numpy's out=, onnxruntime's IOBinding, jax's buffer donation; the adapter's
    `output_reuse`), beside the out-of-place call of Forward: without a fresh output to
    allocate and fault in at every call. The scale is timed the same way."""

    output = "into"


class _Backward(_Selu):
    """selu(x) and g·selu'(x), through the framework's autodiff (a training step)."""

    direction = "backward"


class Forward12(_Forward):
    size = 1 << 12


class Forward16(_Forward):
    size = 1 << 16


class Forward20(_Forward):
    size = 1 << 20


class Forward24(_Forward):
    size = 1 << 24


class ForwardInto20(_ForwardInto):
    size = 1 << 20


class ForwardInto24(_ForwardInto):
    size = 1 << 24


class Backward12(_Backward):
    size = 1 << 12


class Backward16(_Backward):
    size = 1 << 16


class Backward20(_Backward):
    size = 1 << 20


class Backward24(_Backward):
    size = 1 << 24
