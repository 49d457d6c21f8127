"""The implementation side in another interpreter: the wire format between numpy 1.26 and
numpy 2, --python and --env for run, check and sweep, and what a bad interpreter gets."""

import json
import subprocess
import sys

import ml_dtypes
import numpy as np
import pytest
from cli import CHECKOUT, conformance

from conformance.process import wire
from conformance.process.interpreter import InterpreterError, probe
from conformance.process.worker import Worker


def one_line_error(result) -> str:
    assert result.returncode == 2, (result.returncode, result.stdout[-500:], result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


# -- the wire -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        np.arange(12, dtype=np.float32).reshape(3, 4),
        np.array([1.5, -0.0, np.inf], dtype=ml_dtypes.bfloat16),
        np.array(-0.0, dtype=np.float16),
        np.float64(np.nextafter(1.0, 2.0)),
        np.zeros((0, 5), dtype=np.float64),
    ],
    ids=["float32-2d", "bfloat16", "float16-0d", "float64-scalar", "empty"],
)
def test_wire_round_trip_keeps_dtype_shape_and_bits(value):
    packed = wire.encode({"items": [(value, None)], "n": 3})
    back = wire.decode(packed)["items"][0][0]
    assert type(back) is type(value)
    assert back.dtype == value.dtype and np.shape(back) == np.shape(value)
    assert np.asarray(back).tobytes() == np.asarray(value).tobytes()


def test_wire_message_holds_no_numpy_object():
    packed = wire.encode({"a": np.ones(3, np.float32), "b": [np.float16(1)], "c": (np.int64(2),)})

    def walk(value):
        assert not isinstance(value, np.ndarray | np.generic), type(value)
        if isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list | tuple) and not isinstance(value, wire.Packed):
            for v in value:
                walk(v)

    walk(packed)


def test_worker_in_numpy_1_26_serves_the_suite_on_numpy_2(old_numpy_python):
    """A real worker in the environment of numpy 1.26: every dtype crosses both ways, views
    are made there, and it reports its own numpy."""
    assert np.__version__.startswith("2.")
    rng = np.random.default_rng(0)
    with Worker("numpy_impl", python=str(old_numpy_python)) as worker:
        assert worker.info["numpy"] == "1.26.4"
        assert worker.info["interpreter"].endswith("numpy-1.26/bin/python")
        for dtype in (np.float16, ml_dtypes.bfloat16, np.float32, np.float64):
            x = (rng.standard_normal(64) * 30).astype(dtype)
            items = [(x, None), (x, ("step", 1, 3, 10)), (x, ("scalar", 5))]
            results = worker.call("reference", "forward", "cpu", items)
            with Worker("numpy_impl") as here:
                expected = here.call("reference", "forward", "cpu", items)
            for got, want in zip(results, expected, strict=True):
                assert got.error is None, got.error
                assert got.output.dtype == want.output.dtype
                assert got.output.tobytes() == want.output.tobytes()


# -- probing interpreters ---------------------------------------------------------------------


def test_probe_reads_versions_without_importing(old_numpy_python):
    found = probe(old_numpy_python, ("numpy", "jax"), ("numpy", "jax"))
    assert found.numpy == "1.26.4"
    assert found.missing(("jax",)) == f"jax is not installed in {old_numpy_python}"
    assert found.missing(("numpy",)) is None


def test_probe_refuses_what_cannot_serve_a_worker(tmp_path):
    with pytest.raises(InterpreterError, match="no such file"):
        probe(tmp_path / "nothing")
    script = tmp_path / "not-python"
    script.write_text("#!/bin/sh\necho hello\n")
    script.chmod(0o755)
    with pytest.raises(InterpreterError, match="not a Python interpreter"):
        probe(script)


def test_run_with_bad_interpreters_says_why_in_one_line(tmp_path, old_numpy_python):
    bare = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True)
    cases = [
        (["--python", str(tmp_path / "none")], "no such file"),
        (["--python", str(bare / "bin" / "python")], "numpy is not installed there"),
        (["--python", f"nosuchframework={bare}/bin/python"], "unknown framework"),
        (["--python", str(old_numpy_python), "--impl", "jax/nn"], "jax is not installed in"),
        (["--env", "no-such-env"], "unknown environment"),
    ]
    for extra, message in cases:
        args = ["run", "--json", str(tmp_path / "r.json"), *extra]
        if "--impl" not in extra:
            args += ["--impl", "numpy/reference"]
        assert message in one_line_error(conformance(*args)), extra


def test_env_that_is_not_built_is_refused(tmp_path):
    line = one_line_error(
        conformance(
            "run",
            "--impl",
            "numpy/reference",
            "--env",
            "numpy-1.26",
            env={"CONFORMANCE_ENVS": str(tmp_path)},
        )
    )
    assert "not built" in line and "env build numpy-1.26" in line


# -- run, check and sweep in another interpreter ---------------------------------------------


def test_run_records_the_interpreter_and_its_numpy(tmp_path, old_numpy_python):
    out = tmp_path / "r.json"
    result = conformance(
        "run",
        "--python",
        str(old_numpy_python),
        "--impl",
        "numpy/reference",
        "--dtype",
        "bfloat16",
        "--json",
        str(out),
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr
    document = json.loads(out.read_text())
    records = document["measurements"] + document["special_values"] + document["checks"]
    assert records
    for record in records:
        assert record["runtime"]["numpy"] == "1.26.4", record
        assert record["runtime"]["interpreter"] == str(old_numpy_python)
    (entry,) = document["implementations"]
    assert entry["numpy"] == "1.26.4" and entry["version"] == "1.26.4"
    assert document["environment"]["workers"] == [
        {"interpreter": str(old_numpy_python), "python": entry["python"], "numpy": "1.26.4"}
    ]


def test_check_runs_a_users_function_in_its_own_interpreter(tmp_path, old_numpy_python):
    out = tmp_path / "c.json"
    result = conformance(
        "check",
        "--impl",
        "mutants:selu",
        "--python",
        str(old_numpy_python),
        "--dtype",
        "float32",
        "--json",
        str(out),
        cwd=CHECKOUT / "tests",
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr
    document = json.loads(out.read_text())
    assert {r["runtime"]["numpy"] for r in document["measurements"]} == {"1.26.4"}


def test_sweep_in_another_interpreter_measures_in_the_suite(tmp_path, old_numpy_python):
    out = tmp_path / "s.json"
    result = conformance(
        "sweep",
        "--impl",
        "numpy/reference",
        "--dtype",
        "float16",
        "--python",
        str(old_numpy_python),
        "--json",
        str(out),
        "--checkpoint",
        str(tmp_path / "checkpoints"),
        "--corpus",
        str(tmp_path / "corpus"),
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr
    (record,) = json.loads(out.read_text())["measurements"]
    assert record["count"] == 1 << 16
    assert record["max_ulp"] <= 0.5 and record["verdict"] == "pass"
    assert record["runtime"]["numpy"] == "1.26.4"
