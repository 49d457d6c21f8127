"""`python -m conformance check` accepts a correct implementation and rejects each mutant.

Every case runs the real CLI in a subprocess, from tests/ (where mutants.py lives), the way
a user runs it on their own module. Exit status: 0 conformant, 1 a defect, 2 bad input.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conformance import corpus, inputs
from conformance.measure import as_float64, hexf

ALL = ("float16", "bfloat16", "float32", "float64")

HERE = Path(__file__).parent
CHECKOUT = HERE.parent


def check(*args, timeout=600):
    env = {**os.environ, "PYTHONPATH": str(CHECKOUT)}
    return subprocess.run(
        [sys.executable, "-m", "conformance", "check", *args],
        cwd=HERE,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_correct_implementation_is_accepted_on_every_dtype(tmp_path):
    result = check(
        "--impl", "mutants:selu", "--grad", "mutants:selu_grad", "--json", str(tmp_path / "r.json")
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    document = json.loads((tmp_path / "r.json").read_text())
    assert document["summary"]["verdict"] == "pass"
    dtypes = {m["dtype"] for m in document["measurements"]}
    assert dtypes == {"float16", "bfloat16", "float32", "float64"}
    assert {m["quantity"] for m in document["measurements"]} == {"forward", "gradient"}


# (forward, gradient, dtype, what the output must name)
MUTANTS = {
    "constant wrong in the fifth digit": ("wrong_constant", None, "float32", "max error"),
    "e^x - 1 instead of expm1": ("exp_minus_one", None, "float32", "max error"),
    "float32 constants for float64": ("float32_constants", None, "float64", "max error"),
    "derivative from the output": ("selu", "grad_from_output", "float32", "gradient-sampled"),
    "defect in the tail only": ("tail_defect", None, "float32", "layouts differ"),
    "flush-to-zero": ("flush_subnormals", None, "float32", "flush-to-zero"),
    "NaN mapped to 0": ("nan_to_zero", None, "float32", "nan-not-propagated"),
    "-0.0 turned into +0.0": ("negative_zero_lost", None, "float32", "signed-zero"),
    "derivative 0 at x = 0": ("selu", "grad_zero_at_zero", "float32", "+0: x = 0x0.0p+0"),
    "wrong slope for tiny positive x": (
        "selu",
        "grad_wrong_slope_tiny_positive",
        "float32",
        "gradient-sampled",
    ),
    "abort": ("aborts", None, "float32", "crashed (signal SIGABRT)"),
    "hang": ("hangs", None, "float32", "timed out after 3 s"),
    "wrong shape": ("wrong_shape", None, "float32", "returned shape"),
    "wrong dtype": ("wrong_dtype", None, "float32", "returned float64"),
    "writes into its input": ("in_place", None, "float32", "modified its input"),
    "returns a list": ("returns_list", None, "float32", "returned list"),
}


@pytest.mark.parametrize("name", list(MUTANTS))
def test_mutant_is_rejected(name, tmp_path):
    forward, gradient, dtype, needle = MUTANTS[name]
    args = [
        "--impl",
        f"mutants:{forward}",
        "--dtype",
        dtype,
        "--timeout",
        "3",
        "--json",
        str(tmp_path / "r.json"),
    ]
    if gradient:
        args += ["--grad", f"mutants:{gradient}"]
    result = check(*args)
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-2000:]
    assert needle in result.stdout, result.stdout[-3000:]
    assert "Traceback" not in result.stdout + result.stderr
    document = json.loads((tmp_path / "r.json").read_text())
    assert document["summary"]["verdict"] == "fail"


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--impl", "mutants"], "is not MODULE:FUNCTION"),
        (["--impl", "mutants:"], "is not MODULE:FUNCTION"),
        (["--impl", "1bad:f"], "is not MODULE:FUNCTION"),
        (["--impl", "no_such_module:f"], "cannot import: ModuleNotFoundError"),
        (["--impl", "mutants:no_such_function"], "cannot import: AttributeError"),
        (["--impl", "mutants:selu", "--grad", "mutants:"], "is not MODULE:FUNCTION"),
        (["--impl", "torch/functional"], "built-in implementation"),
        (["--impl", "mutants:selu", "--profile", "lax"], "unknown profile 'lax'"),
        (["--impl", "mutants:selu", "--dtype", "int8"], "invalid choice"),
    ],
)
def test_bad_input_is_one_line_and_status_2(args, needle):
    result = check(*args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert needle in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr


def test_corrupt_policy_file_names_file_and_line(tmp_path):
    policy = tmp_path / "policy.toml"
    policy.write_text("[profiles.strict]\nmax_ulp = { float16 = 1.0 \n")
    result = check("--impl", "mutants:selu", "--policy", str(policy))
    assert result.returncode == 2
    assert f"{policy}" in result.stderr and "line 2" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_special_value_wrong_in_the_tail_names_the_positions(tmp_path):
    """NaN gives λ in the scalar tail and in a one-element array, NaN in the vectorised
    body (torch's derivative does this): the special-value record says where."""
    out = tmp_path / "r.json"
    result = check("--impl", "mutants:nan_lost_in_the_tail", "--dtype", "float32", "--json", out)
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-2000:]
    document = json.loads(out.read_text())
    (nan,) = [r for r in document["special_values"] if r["case"] == "NaN"]
    assert nan["wrong_positions"] == ["tail", "one-element"]
    assert nan["outputs"]["body"] == "nan" and nan["outputs"]["tail"] == nan["output"]
    assert float.fromhex(nan["output"]) == pytest.approx(1.0507009873554805, rel=1e-7)
    assert nan["kinds"] == ["nan-not-propagated"] and not nan["ok"]
    assert "nan in the body" in result.stdout and "in the tail and one-element" in result.stdout
    others = [r for r in document["special_values"] if r["case"] not in ("NaN", "-NaN")]
    assert all(r["ok"] for r in others)


def test_a_kernel_that_hangs_on_nan_costs_one_timeout(tmp_path):
    """The hang is learned once: NaN hangs in float16's special check, and every later call
    of every dtype leaves NaN out and runs promptly; every check is reported, the NaN
    records name the input, and the run takes about one timeout, not one per check."""
    import time

    out = tmp_path / "r.json"
    started = time.monotonic()
    result = check("--impl", "mutants:hangs_on_nan", "--timeout", "20", "--json", out)
    elapsed = time.monotonic() - started
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-2000:]
    assert elapsed < 2 * 20 + 60, f"{elapsed:.0f} s: more than one timeout was spent"
    document = json.loads(out.read_text())
    # special, accuracy and layout for each of the four dtypes, all reported.
    ids = {(r["dtype"], r.get("check", "accuracy")) for r in document["measurements"]}
    ids |= {(r["dtype"], r["check"]) for r in document["checks"]}
    assert ids == {(d, c) for d in ALL for c in ("accuracy", "special", "layout")}
    nans = [r for r in document["special_values"] if "NaN" in r["case"]]
    assert len(nans) == 8 and all("timeout" in r["kinds"] for r in nans)
    (first,) = [r for r in nans if "timed out after 20 s" in r.get("error", "")]
    assert first["dtype"] == "float16" and first["case"] == "NaN"
    assert all("it hung on x = NaN (float16 forward" in r["error"] for r in nans if r != first)
    for record in document["measurements"]:  # everything but the NaNs was measured
        assert record["max_ulp"] <= 0.501
        if record["input_set"] == "corpus" and "left_out" not in record:
            continue  # no NaN among its inputs
        (left_out,) = record["left_out"]
        assert left_out["input"] == "NaN" and left_out["kind"] == "timeout"
    others = [r for r in document["special_values"] if "NaN" not in r["case"]]
    assert others and all(r["ok"] for r in others)


def test_a_crash_on_some_inputs_is_located(tmp_path):
    """A kernel that aborts on inputs in [1.5, 1.75): the accuracy record names an input
    that did it, found by bisection, and the special cases (none in that range) pass."""
    out = tmp_path / "r.json"
    result = check("--impl", "mutants:aborts_on_some", "--dtype", "float32", "--json", out)
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-2000:]
    document = json.loads(out.read_text())
    accuracy = next(m for m in document["measurements"] if m["input_set"] == "sampled")
    assert accuracy["verdict"] == "fail" and "SIGABRT" in accuracy["error"]
    located = [float.fromhex(r["input"]) for r in accuracy["left_out"]]
    assert located and all(1.5 <= v < 1.75 for v in located)
    assert all(r["ok"] for r in document["special_values"])


def test_a_regression_at_one_corpus_input_fails_the_gate(tmp_path):
    """A kernel correct everywhere but at one corpus input: the sampled set does not hold
    that input, the corpus does, and the gate fails on it."""
    import mutants

    x_bad = float.fromhex(mutants.CORPUS_INPUT)
    assert not (as_float64(inputs.sampled("float32")) == x_bad).any()
    assert x_bad in {e.value for e in corpus.entries("float32", "forward")}
    out = tmp_path / "r.json"
    result = check("--impl", "mutants:wrong_at_a_corpus_input", "--dtype", "float32", "--json", out)
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-2000:]
    assert "FAIL mutants:wrong_at_a_corpus_input-float32-forward-corpus" in result.stdout
    assert hexf(x_bad) in result.stdout
    records = {m["input_set"]: m for m in json.loads(out.read_text())["measurements"]}
    assert records["sampled"]["verdict"] == "pass"
    assert records["corpus"]["verdict"] == "fail" and records["corpus"]["max_ulp"] > 2
    assert float.fromhex(records["corpus"]["worst_input"]) == x_bad


@pytest.mark.parametrize("kernel", ["selu", "selu_fastmath"])
def test_the_numba_example_conforms_as_the_docs_say(kernel, tmp_path):
    """examples/numba_selu.py, the user's kernel of docs/extending.md: plain and with
    fastmath, it passes every check in float32 and float64."""
    out = tmp_path / "numba.json"
    env = {**os.environ, "PYTHONPATH": f"{CHECKOUT}{os.pathsep}{CHECKOUT / 'examples'}"}
    args = ["--impl", f"numba_selu:{kernel}", "--dtype", "float32", "--dtype", "float64"]
    done = subprocess.run(
        [sys.executable, "-m", "conformance", "check", *args, "--json", str(out)],
        cwd=CHECKOUT / "examples",
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads(out.read_text())["summary"]
    assert summary["counts"] == {"pass": 8, "known-deviation": 0, "fail": 0}, summary
