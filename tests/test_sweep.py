"""The exhaustive sweep (`python -m conformance sweep`) and the float64 worst-case search.

The sweep measures only what it must (bits equal to the correctly rounded value are within
0.5 ulp by definition), so its figures are checked here against the gate's own full
comparison over the same inputs; a sweep killed with SIGKILL and restarted must end with
the same result as an uninterrupted one; a crashing implementation costs its chunk only.
"""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
from cli import only_record

import reference
from conformance.measure import as_float64, compare_one_sided, error_columns, summarize
from conformance.sweep import chunk as sweep_chunk
from conformance.sweep import float64 as search
from conformance.sweep.summary import BUCKETS, LAST_FINITE, NO_FIGURE, RangeSummary
from reference import format_of

HERE = Path(__file__).parent
CHECKOUT = HERE.parent
sys.path.insert(0, str(HERE))
import mutants  # noqa: E402


def sweep(*args, timeout=600):
    # A cache of its own: no checkpoint of an earlier test (or run) is resumed.
    with tempfile.TemporaryDirectory(prefix="sweep-test-") as cache:
        env = {**os.environ, "PYTHONPATH": str(CHECKOUT), "CONFORMANCE_CACHE": cache}
        return subprocess.run(
            [sys.executable, "-m", "conformance", "sweep", "--quiet", *args],
            cwd=HERE,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )


def gate_summary(function, dtype, quantity, start, stop):
    """The gate's measurement of the same inputs: compare every element."""
    fmt = format_of(dtype)
    x = sweep_chunk.inputs(fmt, start, stop).view(fmt.dtype)
    got = function(x.copy())
    left = reference.evaluate(quantity, x)
    zeros = as_float64(x) == 0
    right = None
    if quantity == "gradient" and zeros.any():
        right = (zeros, reference.evaluate(quantity, x[zeros], at_zero="right"))
    comparison, expected = compare_one_sided(x, got, left, right, fmt)
    return comparison, summarize(x, got, expected, comparison)


# Ranges with every class of input: zeros and subnormals, the binade boundaries around 1,
# NaNs and infinities, the saturation of the negative side.
RANGES = {
    "float16 all": ("float16", 0, 1 << 16),
    "bfloat16 all": ("bfloat16", 0, 1 << 16),
    "float32 +0 and subnormals": ("float32", 0, 1 << 18),
    "float32 -0 and subnormals": ("float32", 0x80000000, 0x80000000 + (1 << 18)),
    "float32 around 1": ("float32", 0x3F7F0000, 0x3F810000),
    "float32 around -1": ("float32", 0xBF7F0000, 0xBF810000),
    "float32 +inf and NaNs": ("float32", 0x7F7F0000, 0x7F810000),
    "float32 -inf and NaNs": ("float32", 0xFF7F0000, 0xFF810000),
}


def quiet(function):
    """The function with numpy's floating-point warnings off (pytest makes them errors;
    the sweep's workers do not)."""

    def call(x):
        with np.errstate(all="ignore"):
            return function(x)

    return call


FUNCTIONS = {
    "correct": quiet(mutants.selu),
    "e^x - 1": quiet(mutants.exp_minus_one),
    "flush-to-zero": quiet(mutants.flush_subnormals),
    "NaN to zero": quiet(mutants.nan_to_zero),
    "-0 lost": quiet(mutants.negative_zero_lost),
}


@pytest.mark.parametrize("name", FUNCTIONS)
@pytest.mark.parametrize("where", RANGES)
def test_chunk_agrees_with_the_gates_full_comparison(where, name):
    dtype, start, stop = RANGES[where]
    function = FUNCTIONS[name]
    comparison, expected = gate_summary(function, dtype, "forward", start, stop)
    got = sweep_chunk.measure(function, dtype, "forward", start, stop)
    assert got.count == stop - start == expected.count
    assert got.max_ulp == pytest.approx(expected.max_ulp, rel=1e-5, abs=1e-12)
    if expected.max_ulp > 0.5:
        assert got.top[0]["input"] == expected.worst_input
        assert got.top[0]["output"] == expected.worst_output
    assert got.kinds == expected.violations
    # The figure's parts: without the violations, and each kind's largest error.
    assert got.figure.kinds.keys() == expected.figure.kinds.keys()
    for kind, largest in expected.figure.kinds.items():
        if largest is None:  # none of the kind's inputs has a figure
            assert got.figure.kinds[kind] is None
        else:
            assert got.figure.kinds[kind] == pytest.approx(largest, rel=1e-5, abs=1e-12)
    assert got.ordinary_max == pytest.approx(expected.figure.without_violations, rel=1e-5)
    # Every input is in exactly one histogram cell; those without an ulp figure are the
    # last column, the violations with one are in the column of their error.
    assert sum(sum(row) for row in got.rows.values()) == got.count
    assert sum(row[NO_FIGURE] for row in got.rows.values()) == int(np.isnan(comparison.ulp).sum())
    beyond_half = int((np.nan_to_num(comparison.ulp, nan=0.0) > 0.5).sum())
    assert sum(sum(row[1:NO_FIGURE]) for row in got.rows.values()) == beyond_half


GRADIENTS = {
    "correct": quiet(mutants.selu_grad),
    "from the output": quiet(mutants.grad_from_output),
    "zero at zero": quiet(mutants.grad_zero_at_zero),
    "float32 constants": quiet(
        lambda x: np.where(x > 0, 1.0507009, 1.7580993 * np.exp(x)).astype(x.dtype)
    ),
}
CASES = [("forward", where, name) for where in RANGES for name in FUNCTIONS] + [
    ("gradient", where, name) for where in RANGES for name in GRADIENTS
]


@pytest.mark.parametrize(("quantity", "where", "name"), CASES)
def test_chunk_histogram_and_worst_inputs_are_the_gates_element_by_element(quantity, where, name):
    """The compiled measurement (`sweep/fused.py`) against the gate's comparison of every
    output: each histogram cell, and the whole list of worst inputs with their order."""
    dtype, start, stop = RANGES[where]
    function = (FUNCTIONS if quantity == "forward" else GRADIENTS)[name]
    comparison, _ = gate_summary(function, dtype, quantity, start, stop)
    got = sweep_chunk.measure(function, dtype, quantity, start, stop)
    fmt = format_of(dtype)
    bits = sweep_chunk.inputs(fmt, start, stop)
    rows = (bits >> (fmt.precision - 1)).astype(np.int64)
    columns = error_columns(comparison.ulp)
    cells = np.zeros((int(rows.max()) + 1, len(BUCKETS)), dtype=np.int64)
    np.add.at(cells, (rows, columns), 1)
    assert got.rows == {int(r): cells[r].tolist() for r in np.unique(rows)}
    errors = np.where(np.isnan(comparison.ulp), -1.0, comparison.ulp)
    order = np.lexsort((np.arange(errors.size), -errors))[: len(got.top)]
    order = order[errors[order] >= 0]
    assert [t["bits"] for t in got.top] == [int(b) for b in bits[order]]
    assert [t["ulp"] for t in got.top] == errors[order].tolist()


def test_gradient_at_zero_accepts_either_side():
    right_sided = lambda x: np.where(x == 0, np.float32(mutants.LAM), mutants.selu_grad(x))  # noqa: E731
    for function in (quiet(mutants.selu_grad), quiet(right_sided)):
        got = sweep_chunk.measure(function, "float32", "gradient", 0x7FFFFFF0, 0x80000010)
        assert got.kinds == {} and got.max_ulp <= 0.5


def test_summaries_merge_in_any_order():
    parts = [
        sweep_chunk.measure(FUNCTIONS["e^x - 1"], "float32", "forward", a, a + 4096)
        for a in range(0xB3000000, 0xB3000000 + 4 * 4096, 4096)
    ]
    one = sweep_chunk.measure(FUNCTIONS["e^x - 1"], "float32", "forward", 0xB3000000, 0xB3004000)
    forward = RangeSummary()
    for part in parts:
        forward = forward.merge(part)
    backward = RangeSummary()
    for part in reversed(parts):
        backward = part.merge(backward)
    for merged in (forward, backward):
        assert merged.rows == one.rows and merged.top == one.top and merged.kinds == one.kinds
        assert merged.kind_max == one.kind_max and merged.top_ordinary == one.top_ordinary
    # Many at once: the same summary as one by one, the seconds summed in the same order.
    assert RangeSummary.merge_all(parts).as_json() == forward.as_json()


def test_cli_sweep_writes_an_exhaustive_measurement(tmp_path):
    out = tmp_path / "s.json"
    result = sweep("--impl", "mutants:selu", "--dtype", "bfloat16", "--json", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    record = only_record(out)
    assert record["input_set"] == "exhaustive" and record["count"] == 1 << 16
    assert record["verdict"] == "pass" and record["max_ulp"] <= 0.5
    assert record["histogram"]["columns"] == list(BUCKETS)
    document = json.loads(out.read_text())
    timing = document["timings"]["sweeps"]
    assert next(iter(timing.values()))["inputs_per_second"] > 0


def test_cli_sweep_fails_a_mutant_with_its_worst_input(tmp_path):
    out = tmp_path / "s.json"
    result = sweep(
        "--impl", "mutants:exp_minus_one", "--start", "0xb6000000", "--stop", "0xb6100000",
        "--json", str(out),
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    record = only_record(out)
    assert record["verdict"] == "fail" and record["max_ulp"] > 1000
    assert record["input_set"] == "exhaustive[0xb6000000,0xb6100000)"
    assert record["worst_input"] in result.stdout and "reproduce:" in result.stdout


def test_a_crashing_chunk_is_a_failure_and_the_rest_goes_on(tmp_path):
    out = tmp_path / "s.json"
    # [1.5, 1.75) is the chunk 0x3fc00000..0x3fe00000 of this range's four chunks.
    result = sweep(
        "--impl", "mutants:aborts_on_some", "--start", "0x3f800000", "--stop", "0x40000000",
        "--chunk", str(1 << 21), "--json", str(out), "--jobs", "1",
        "--checkpoint", str(tmp_path / "c"),
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    record = only_record(out)
    (failed,) = record["failed_chunks"]
    assert (failed["start"], failed["stop"]) == (0x3FC00000, 0x3FE00000)
    assert "SIGABRT" in failed["error"] and "FAILED" in result.stdout
    assert record["count"] == 3 << 21  # the other three chunks were measured
    # The failed chunk is not in the checkpoint: a later run tries it again.
    assert sorted(p.name for p in (tmp_path / "c").glob("0*.json")) == [
        "000508.json",
        "000509.json",
        "000511.json",
    ]


def test_kill_9_and_restart_give_the_uninterrupted_result(tmp_path):
    args = ["--impl", "mutants:exp_minus_one", "--start", "0xbc000000", "--stop", "0xbd000000"]
    args += ["--chunk", str(1 << 18), "--jobs", "2"]
    whole = tmp_path / "whole.json"
    result = sweep(*args, "--json", str(whole), "--checkpoint", str(tmp_path / "c1"))
    assert result.returncode == 1, result.stdout + result.stderr

    folder = tmp_path / "c2"
    resumed = tmp_path / "resumed.json"
    # The killed sweep cannot remove its workers' log files: they go in tmp_path.
    env = {**os.environ, "PYTHONPATH": str(CHECKOUT), "TMPDIR": str(tmp_path)}
    command = [sys.executable, "-m", "conformance", "sweep", "--quiet", *args]
    command += ["--json", str(resumed), "--checkpoint", str(folder)]
    process = subprocess.Popen(command, cwd=HERE, env=env, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while len(list(folder.glob("0*.json"))) < 20 and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    done = len(list(folder.glob("0*.json")))
    assert 0 < done < 64, "the kill came too late to interrupt the sweep"
    assert not resumed.exists()

    result = sweep(*args, "--json", str(resumed), "--checkpoint", str(folder))
    assert result.returncode == 1, result.stdout + result.stderr
    assert only_record(resumed) == only_record(whole)
    timing = next(iter(json.loads(resumed.read_text())["timings"]["sweeps"].values()))
    assert timing["resumed_chunks"] >= done
    # Complete, the checkpoint stays: a third run measures nothing and agrees again.
    result = sweep(*args, "--json", str(resumed), "--checkpoint", str(folder))
    assert only_record(resumed) == only_record(whole)
    timing = next(iter(json.loads(resumed.read_text())["timings"]["sweeps"].values()))
    assert timing["inputs_measured"] == 0 and timing["resumed_chunks"] == 64


@pytest.mark.parametrize(
    "args, message",
    [
        (["--impl", "torch/nonexistent"], "unknown implementation"),
        (["--impl", "mutants:selu", "--start", "0xzz"], "not a hexadecimal"),
        (["--impl", "mutants:selu", "--start", "0x10", "--stop", "0x10"], "not below"),
        (["--impl", "mutants:selu", "--stop", "0x200000000"], "outside"),
        (["--impl", "mutants:selu", "--dtype", "int8"], "--dtype"),
        (["--impl", "no_such_module:f"], "cannot"),
        (["--impl", "not a spec:"], "MODULE:FUNCTION"),
        ([], "--impl"),
        # No GPU here for a user's numpy function (nor for torch on this machine).
        (["--impl", "mutants:selu", "--device", "cuda"], "no device 'cuda'"),
        (["--impl", "mutants:selu", "--dtype", "float16", "--replay", "x.txt"], "--replay"),
        (["--all", "--dtype", "floaat32"], "--dtype"),
        (["--all", "--start", "0x20", "--stop", "0x10"], "not below"),
        (["--impl", "mutants:selu", "--chunk", "0"], "positive"),
        (["--impl", "mutants:selu", "--timeout", "-1"], "positive"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, message):
    result = sweep(*args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_replay_files_hold_hex_floats(tmp_path):
    cases = tmp_path / "cases.txt"
    cases.write_text("# one input a line\n-0x1.8p+3\n0x1.0p-1074\n")
    assert search.read_cases(cases).tolist() == [-12.0, 5e-324]
    cases.write_text("0x1, 10, x, y, 1\n")  # a decimal input would be misread as hex
    with pytest.raises(ValueError, match=":1:"):
        search.read_cases(cases)


def test_corrupt_replay_file_names_file_and_line(tmp_path):
    cases = tmp_path / "cases.txt"
    cases.write_text("# header\n0x1, -0x1.0p-3, x, y, 1\nnonsense\n")
    result = sweep("--impl", "mutants:selu", "--dtype", "float64", "--replay", str(cases))
    assert result.returncode == 2
    assert f"{cases}:3" in result.stderr


def test_float64_search_finds_the_cancellation_and_replays_it(tmp_path):
    found = search.search(FUNCTIONS["e^x - 1"], "forward", per_binade=16)
    assert found.worst[0]["ulp"] > 1e6  # e^x - 1 cancels for tiny |x|
    correct = search.search(FUNCTIONS["correct"], "forward", per_binade=16)
    assert correct.worst[0]["ulp"] <= 0.5 + 2**-9  # longdouble then one rounding
    cases = tmp_path / "cases.txt"
    search.write_cases(cases, found.worst, "test")
    replayed = search.measure(FUNCTIONS["e^x - 1"], "forward", search.read_cases(cases))
    assert [w["ulp"] for w in replayed.worst] == sorted(
        (w["ulp"] for w in found.worst), reverse=True
    )


def test_float64_search_is_deterministic():
    a = search.search(quiet(mutants.wrong_constant), "gradient", per_binade=8)
    b = search.search(quiet(mutants.wrong_constant), "gradient", per_binade=8)
    assert a == b and a.worst[0]["ulp"] > 2


#: `make sweep-verify` sets the whole range of the issue, 0x80000000..0x90000000 (2^28).
VERIFY_RANGE = os.environ.get("SWEEP_VERIFY_RANGE", "0x80000000:0x80800000").split(":")


@pytest.mark.torch
@pytest.mark.parametrize("quantity", ["forward", "gradient"])
def test_sweep_agrees_with_an_independent_check(tmp_path, quantity):
    pytest.importorskip("torch")
    out = tmp_path / "s.json"
    start, stop = VERIFY_RANGE
    result = sweep(
        "--impl", "torch/functional", "--quantity", quantity, "--start", start, "--stop", stop,
        "--json", str(out),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    record = only_record(out)
    env = {**os.environ, "PYTHONPATH": str(CHECKOUT)}
    independent = subprocess.run(
        [sys.executable, str(HERE / "independent_sweep.py"), "--quantity", quantity, start, stop],
        env=env, capture_output=True, text=True, timeout=1800, check=True,
    )  # fmt: skip
    check = json.loads(independent.stdout)
    print(f"\nsweep {quantity} [{start}, {stop}): {result.stdout.splitlines()[1].strip()}")
    print(f"  sweep:       max {record['max_ulp']} ulp at {record['worst_input']}")
    print(f"  independent: {independent.stdout.strip()}")
    assert check["worst_input"] == record["worst_input"]
    assert check["max_ulp"] == pytest.approx(record["max_ulp"], rel=1e-5)
    assert check["mpfr_ulp"] == pytest.approx(record["max_ulp"], rel=1e-5)


def test_float64_search_ranks_flushed_values_by_their_error_and_keeps_the_rest_apart():
    """Flushed subnormal results count in the figure (the largest is 2^52 ulp away from
    0), and the worst inputs without a violation are kept apart from them."""
    found = search.search(quiet(mutants.flush_subnormals), "forward", per_binade=16)
    assert found.kinds.get("flush-to-zero")
    assert found.figure.max_ulp > 2.0**40  # a large subnormal flushed, not the smallest
    assert found.worst[0]["ulp"] == pytest.approx(found.figure.max_ulp, rel=1e-5)
    assert found.worst_without_violations
    assert all(w["ulp"] <= 0.5 + 2**-9 for w in found.worst_without_violations)


def test_histogram_columns_are_exact_at_powers_of_two():
    """Column b holds the errors in (2^(b-2), 2^(b-1)]: 2^k itself is the top of its
    column, the next float64 above it the bottom of the next (a logarithm can miss that)."""
    from conformance.sweep import fused

    errors, expected = [0.0, 0.25, 0.5, np.nextafter(0.5, 1)], [0, 0, 0, 1]
    for k in range(0, 31):
        errors += [2.0**k, np.nextafter(2.0**k, np.inf)]
        expected += [min(k + 1, LAST_FINITE), min(k + 2, LAST_FINITE)]
    errors += [np.finfo(np.float64).max, np.inf, np.nan]
    expected += [LAST_FINITE, LAST_FINITE, NO_FIGURE]
    assert error_columns(np.array(errors)).tolist() == expected
    assert [fused.column(e) for e in errors[:-2]] == expected[:-2]
