"""`python -m reference eval`, `bench` and `moments`: values, argument handling, exit status."""

import subprocess
import sys

import numpy as np

from reference import selu, selu_grad


def run(*args):
    return subprocess.run(
        [sys.executable, "-m", "reference", *args], capture_output=True, text=True, timeout=300
    )


def parse(stdout):
    """{input hex: output hex} from eval's lines 'selu(X) = Y  [...]'."""
    pairs = {}
    for line in stdout.strip().splitlines():
        call, rest = line.split(" = ", 1)
        pairs[call[call.index("(") + 1 : -1]] = rest.split()[0]
    return pairs


def test_eval_forward_matches_the_library_call():
    inputs = ["-0x1p-149", "-1", "1e-40", "3.4e38", "-inf", "nan", "-0.0", "0x1.8p+1"]
    result = run("eval", *inputs)
    assert result.returncode == 0, result.stderr
    pairs = parse(result.stdout)
    x = np.array([float.fromhex(t) if "0x" in t else float(t) for t in inputs], np.float32)
    y = selu(x).astype(np.float64)
    assert list(pairs) == [v.hex() for v in x.astype(np.float64).tolist()]  # input order
    assert list(pairs.values()) == [v.hex() for v in y.tolist()]


def test_eval_gradient_dtype_and_at_zero():
    result = run("eval", "--gradient", "--dtype", "float64", "--at-zero", "right", "0", "-745")
    assert result.returncode == 0, result.stderr
    pairs = parse(result.stdout)
    want = selu_grad(np.array([0.0, -745.0]), at_zero="right")
    assert list(pairs.values()) == [v.hex() for v in want.tolist()]
    assert "float64" in result.stdout


def test_eval_bad_input_is_one_line_and_status_2():
    for args in (
        ["eval", "zz"],
        ["eval", "--dtype", "int32", "1"],
        ["constants", "--digits", "x"],
        ["nonsense"],
        [],
        ["eval"],
    ):
        result = run(*args)
        assert result.returncode == 2, args
        assert "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert result.stderr.startswith("python -m reference")


def test_bench_reports_time_and_mpmath_share():
    result = run("bench", "--log2-size", "12", "--repeat", "1")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith("reference on 2^12 standard-normal float32 inputs")
    assert [line.split()[0] for line in lines[1:]] == ["selu", "selu_grad"]
    assert all("inputs needed mpmath" in line for line in lines[1:])


def test_cli_prints_zero_and_one_to_30_digits_and_the_spectral_radius():
    done = run("moments")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert any(
        line.split("=")[1].split()[0] == "0." + "0" * 30 for line in lines if "E[selu(Z)] " in line
    )
    assert any(
        line.split("=")[1].split()[0] == "1." + "0" * 30 for line in lines if "E[selu(Z)^2]" in line
    )
    radius = [line for line in lines if "spectral radius" in line]
    assert radius and "0.7826478831968128" in radius[0] and "attracts" in radius[0]


def test_cli_bad_digits_is_a_usage_error():
    done = run("moments", "--digits", "0")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
