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
