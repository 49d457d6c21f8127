"""The benchmarks' machinery (benchmarks/speed.py, benchmarks/bench_selu.py): inputs, skips,
the side-by-side timing, what each framework's timed calls compute, and the reading of
asv's results."""

import datetime
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from benchmarks import speed
from conformance.registry import BY_ID
from conformance.report import asv_results

CHECKOUT = Path(__file__).resolve().parent.parent


# -- inputs ------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", list(speed.DTYPES))
def test_inputs_are_deterministic_with_the_asked_share_of_negatives(dtype):
    x, g = speed.inputs(dtype, 1 << 16)
    again, _ = speed.inputs(dtype, 1 << 16)
    assert x.dtype == speed.DTYPES[dtype] and g.dtype == speed.DTYPES[dtype]
    assert x.tobytes() == again.tobytes()
    # Binomial(2^16, 1/2): the share is within 5 standard deviations (0.0098) of 0.5.
    assert abs(np.mean(x.astype(np.float64) < 0) - 0.5) < 5 * 0.5 / 2**8
    assert not np.any(np.isnan(x.astype(np.float64)))
    for share in (0.0, 1.0):
        shared, _ = speed.inputs(dtype, 1 << 12, negative_share=share)
        assert np.mean(shared.astype(np.float64) < 0) == share


def test_negatives_are_scattered_not_sorted():
    x, _ = speed.inputs("float32", 1 << 12)
    sign_changes = np.count_nonzero(np.diff(np.signbit(x).astype(np.int8)))
    assert sign_changes > 1 << 10  # about 2^11 for independent signs


# -- skips -------------------------------------------------------------------------------


def test_skip_reasons_name_what_is_missing(monkeypatch):
    monkeypatch.setattr(speed, "_has_nvidia_gpu", lambda: False)
    onnx = BY_ID["onnxruntime/selu"]
    assert "bfloat16" in speed.skip_reason(onnx, "bfloat16", "cpu", "forward")
    assert "forward only" in speed.skip_reason(onnx, "float32", "cpu", "backward")
    assert "no NVIDIA GPU" in speed.skip_reason(
        BY_ID["torch/functional"], "float32", "cuda", "forward"
    )
    assert speed.skip_reason(BY_ID["torch/functional"], "float32", "cpu", "backward") is None
    monkeypatch.setattr(speed, "_has_nvidia_gpu", lambda: True)
    assert "CPU only" in speed.skip_reason(BY_ID["keras/jax"], "float32", "cuda", "forward")


def test_a_size_above_an_adapters_bound_is_skipped_with_it():
    """ExecuTorch's programs are exported for at most 2^21 elements: its 2^24 cases are
    skipped with that reason, not run to fail."""
    portable = BY_ID["executorch/portable"]
    big = speed.skip_reason(portable, "float32", "cpu", "forward", size=1 << 24)
    if portable.unavailable() is not None:
        assert big.startswith("executorch/portable: ")
        return
    assert big == "executorch/portable takes at most 2097152 elements in one call (in this suite)"
    assert speed.skip_reason(portable, "float32", "cpu", "forward", size=1 << 20) is None
    params = [["executorch/portable"], ["float32"], [1 << 20, 1 << 24], ["cpu"]]
    assert speed.skipped_cases(params, "forward") == [
        ("executorch/portable", "float32", 1 << 24, "cpu")
    ]


def test_prepare_raises_notimplementederror_for_asv_to_skip(monkeypatch):
    monkeypatch.setattr(speed, "_has_nvidia_gpu", lambda: False)
    with pytest.raises(NotImplementedError, match="no NVIDIA GPU"):
        speed.prepare("numpy/reference", "float32", 4096, "cuda", "forward")


# -- timing ------------------------------------------------------------------------------


class VirtualKernels:
    """Kernels on a virtual clock: SELU costs 3 units, the scale 1, a wait is counted."""

    def __init__(self):
        self.now, self.waits, self.calls = 0.0, 0, []

    def selu(self):
        self.now += 3.0
        self.calls.append("selu")

    def scale(self):
        self.now += 1.0
        self.calls.append("scale")

    def clock(self):
        self.waits += 1
        return self.now


def test_side_by_side_medians_fraction_and_one_wait_per_sample():
    kernels = VirtualKernels()
    result = speed.side_by_side(kernels, rounds=4, sample_time=20.0)
    assert result.calls == 7  # 1 call takes 3 units; 20/3 + 1 calls, 21 units, is enough
    assert (result.selu, result.scale, result.fraction) == (3.0, 1.0, 1 / 3)
    samples = 2 + 2 * 4  # two calibration batches, then two per round
    assert kernels.waits == 2 * samples  # at the start and the end of a sample, not per call
    timed = kernels.calls[1 + 7 :]
    blocks = [timed[i] for i in range(0, len(timed), 7)]
    assert blocks == ["selu", "scale", "scale", "selu"] * 2  # ABBA


def test_bandwidth_counts_the_traffic_of_each_direction():
    # forward: x in, y out; backward: x and g in, y and the gradient out.
    assert speed.gigabytes_per_second("forward", "float32", 1 << 20, 1e-3) == pytest.approx(
        2 * 4 * 2**20 / 1e-3 / 1e9
    )
    assert speed.gigabytes_per_second("backward", "bfloat16", 1000, 1.0) == 4 * 2 * 1000 / 1e9


def test_the_asv_benchmark_times_with_the_device_clock(monkeypatch):
    sys.path.insert(0, str(CHECKOUT))
    from benchmarks.bench_selu import Backward12, Forward12

    monkeypatch.delenv("SELU_BENCH_SHARED", raising=False)  # outside asv: no sharing
    case = ("numpy/reference", "float32", 4096, "cpu")
    for cls in (Forward12, Backward12):
        bench = cls()
        bench.time_selu(*case)  # builds the case: the clock is now its clock
        assert bench.timer is speed.clock
        assert speed._current[-1] is speed.prepare(*case, cls.direction, cls.output)
        assert 0 < bench.track_fraction_of_scale(*case)
        assert bench.track_gbps(*case) > 0


def test_no_selu_benchmark_has_a_setup_and_each_batches_its_calls():
    """With a setup, asv_runner 0.3.2 times every call of a sample on its own (asv#966):
    the benchmarks build their case in the first call instead, and `number` batches."""
    sys.path.insert(0, str(CHECKOUT))
    from benchmarks import bench_selu

    classes = [c for n, c in vars(bench_selu).items() if n[:1] != "_" and hasattr(c, "size")]
    plain = [c for c in classes if c.output == "new"]
    assert sorted(c.size for c in plain) == sorted(2 * list(speed.CALLS_PER_SAMPLE))
    assert {c.size for c in classes if c.output == "into"} == set(speed.INTO_SIZES)
    for cls in classes:
        assert not [name for name in dir(cls) if name.lower() == "setup"], cls
        assert cls.number == speed.CALLS_PER_SAMPLE[cls.size] and cls.params[2] == [cls.size]


def test_skipped_cases_are_exactly_those_with_a_reason(monkeypatch):
    monkeypatch.setattr(speed, "_has_nvidia_gpu", lambda: False)
    params = (["onnxruntime/selu", "torch/functional"], ["float32", "bfloat16"], [4096], ["cpu"])
    skipped = speed.skipped_cases(params, "backward")
    # onnxruntime has no derivative; torch/functional runs both dtypes, where installed.
    assert ("onnxruntime/selu", "float32", 4096, "cpu") in skipped
    torch_runs = BY_ID["torch/functional"].unavailable() is None
    assert (("torch/functional", "float32", 4096, "cpu") in skipped) is not torch_runs
    reasons = speed.skip_reasons("backward", params)
    assert set(reasons) == {repr(c) for c in skipped}
    assert "forward only" in reasons[repr(("onnxruntime/selu", "float32", 4096, "cpu"))]


def test_the_streaming_kernel_reports_a_bandwidth():
    from benchmarks import bandwidth

    gbps = bandwidth.stream_gbps(1 << 20, passes=3)
    assert 0.1 < gbps < 10_000


def test_the_two_track_benchmarks_of_a_case_share_one_measurement(monkeypatch, tmp_path):
    sys.path.insert(0, str(CHECKOUT))
    from benchmarks.bench_selu import Forward12

    monkeypatch.setenv("SELU_BENCH_SHARED", str(tmp_path))
    case = ("numpy/reference", "float32", 4096, "cpu")
    bench = Forward12()
    fraction = bench.track_fraction_of_scale(*case)
    (stored,) = tmp_path.iterdir()
    assert stored.name == "forward-numpy_reference-float32-4096-cpu.json"
    measured = json.loads(stored.read_text())
    assert fraction == measured["scale"] / measured["selu"]
    assert bench.track_gbps(*case) == speed.gigabytes_per_second(
        "forward", "float32", 4096, measured["selu"]
    )


# -- what the timed calls compute, per framework (each in a process of its own) -----------

GROUPS = {
    "numpy and onnxruntime": ["numpy/reference", "onnxruntime/selu"],
    "torch": ["torch/functional", "torch/module", "torch/inplace", "torch/compile"],
    "tensorflow": ["tensorflow/nn", "tensorflow/keras", "tensorflow/xla"],
    "jax": ["jax/nn", "jax/jit"],
    "keras/jax": ["keras/jax"],
    "keras/torch": ["keras/torch"],
}


@pytest.mark.parametrize("group", list(GROUPS))
def test_timed_calls_compute_selu_and_the_scale(group):
    impls = [i for i in GROUPS[group] if BY_ID[i].unavailable() is None]
    if not impls:
        pytest.skip(f"{group}: not installed")
    probe = subprocess.run(
        [sys.executable, str(CHECKOUT / "tests" / "speed_probe.py"), *impls],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert probe.returncode == 0, probe.stdout[-2000:] + probe.stderr[-2000:]
    cases = sum(len(BY_ID[i].dtypes) * len(BY_ID[i].quantities) for i in impls)
    cases += sum(len(BY_ID[i].dtypes) for i in impls if speed.reuses_output(BY_ID[i]))
    assert probe.stdout.count(": ok") == cases


# -- asv's results -----------------------------------------------------------------------


def _asv_results(tmp_path, factor=1.0):
    """A results file as asv writes it, through asv's own Results, with two cases that ran
    (times multiplied by `factor`), one skipped (NaN) and one failed (None)."""
    from asv.results import Results
    from asv.runner import BenchmarkResult

    params = [["'numpy/reference'"], ["'float32'"], ["4096", "16777216"], ["'cpu'", "'cuda'"]]
    results = Results({"machine": "m"}, {}, "0123456789abcdef", 0, "3.11", "existing-py", {})
    for name, values in (
        ("time_selu", [2e-4 * factor, float("nan"), 0.05 * factor, None]),
        ("track_gbps", [0.3, float("nan"), 5.0, None]),
        ("track_fraction_of_scale", [0.05, float("nan"), 0.5, None]),
    ):
        benchmark = {"name": f"bench_selu.Forward.{name}", "params": params, "version": "1"}
        samples = [[v, v] if name == "time_selu" and v == v and v else None for v in values]
        if samples[0]:  # the 2^12 case: quartiles 20 % of the median apart, too noisy
            samples[0] = [0.8 * values[0], values[0], 1.2 * values[0]]
        numbers = [1 if s else None for s in samples]
        results.add_result(
            benchmark,
            BenchmarkResult(values, samples, numbers, 0, "", None),
            started_at=datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC),
        )
    results.add_result(  # the machine's streaming bandwidth, measured in the same run
        {"name": asv_results.BANDWIDTH, "params": [], "version": "1"},
        BenchmarkResult([10.0], [None], [None], 0, "", None),
        started_at=datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC),
    )
    machine = tmp_path / "m"
    machine.mkdir(parents=True)
    (machine / "machine.json").write_text(json.dumps({"machine": "m", "version": 1}))
    results.save(str(tmp_path))
    return tmp_path


def test_load_results_reads_what_ran_and_leaves_out_what_did_not(tmp_path):
    loaded = asv_results.load_results(_asv_results(tmp_path), "m")
    assert loaded["commit"] == "0123456789abcdef"
    rows = {(r["size"], r["device"]): r for r in loaded["rows"]}
    assert set(rows) == {(4096, "cpu"), (16777216, "cpu")}
    assert rows[(16777216, "cpu")]["seconds"] == pytest.approx(0.05)
    assert rows[(16777216, "cpu")]["fraction"] == 0.5 and rows[(16777216, "cpu")]["gbps"] == 5.0
    assert loaded["stream_gbps"] == 10.0 and rows[(16777216, "cpu")]["memory_fraction"] == 0.5
    assert rows[(4096, "cpu")]["spread"] == pytest.approx(0.2)
    assert asv_results.asv_name(rows[(4096, "cpu")]) == (
        "bench_selu.Forward.time_selu('numpy/reference', 'float32', 4096, 'cpu')"
    )
    table = asv_results.summary_markdown(loaded)
    assert "| impl | dtype | 2^12 | 2^24 |" in table
    assert (
        "| numpy/reference | float32 | 200 µs ±20% · 0.3 GB/s · 0.05 · 0.03 noisy "
        "| 50 ms ±0% · 5 GB/s · 0.50 · 0.50 |" in table
    )
    assert "1 of 2 cases too noisy to gate." in table and "(10 GB/s, bench_bandwidth)" in table
    assert "cuda" not in table


def test_agreement_of_two_runs_compares_the_large_sizes(tmp_path):
    first = _asv_results(tmp_path / "a")
    second = _asv_results(tmp_path / "b", factor=1.04)
    files = [next((d / "m").glob("0123*.json")) for d in (first, second)]
    differences = asv_results.agreement(*(asv_results.load_results_file(f) for f in files))
    assert [v for v, _ in differences["seconds"]] == [pytest.approx(0.04)]  # 2^24 only
    assert differences["seconds"][0][1] == (
        "forward",
        "new",
        "numpy/reference",
        "float32",
        1 << 24,
        "cpu",
    )
    table = asv_results.agreement_markdown(differences)
    assert "| seconds | 1 | 4.00% | 4.00% | 4.00% (forward, new, numpy/reference" in table
    assert table.splitlines()[2].endswith("| 0 |")  # none over 5 %


def test_summary_command_exits_2_without_results(tmp_path, capsys):
    assert speed.main(["summary", "--results", str(tmp_path), "--machine", "nowhere"]) == 2
    assert "no asv results for machine 'nowhere'" in capsys.readouterr().err
    (tmp_path / "broken.json").write_text("{not json")
    assert speed.main(["agreement", str(tmp_path / "broken.json"), str(tmp_path / "x")]) == 2
    assert capsys.readouterr().err.startswith("error: ")


def test_the_fork_servers_folder_goes_when_the_server_is_killed(tmp_path):
    """asv SIGKILLs its fork server: the folder the server made must go all the same."""
    folder = tmp_path / "shared"
    folder.mkdir()
    (folder / "__autograph_generated_file.py").write_text("")
    server = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    remover = speed.remove_when_gone(server.pid, str(folder))
    time.sleep(1.5)
    assert folder.exists() and remover.poll() is None  # the server still runs
    server.kill()
    server.wait()
    assert remover.wait(timeout=20) == 0
    assert not folder.exists()
