"""`python -m conformance list | run`: exit codes, one-line errors, deterministic results."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conformance import cli, registry, results
from conformance.registry import Spec

CHECKOUT = Path(__file__).parent.parent


def conformance(*args, timeout=900):
    env = {**os.environ, "PYTHONPATH": str(CHECKOUT)}
    return subprocess.run(
        [sys.executable, "-m", "conformance", *args],
        cwd=CHECKOUT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_list_names_every_implementation():
    result = conformance("list", "--no-probe")
    assert result.returncode == 0, result.stderr
    for spec in registry.SPECS:
        assert spec.id in result.stdout


def test_run_is_deterministic_and_writes_the_schema(tmp_path):
    paths = [tmp_path / "a.json", tmp_path / "b.json"]
    for path in paths:
        result = conformance(
            "run", "--impl", "numpy/reference", "--dtype", "float16", "--json", str(path)
        )
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    a, b = (results.read(p) for p in paths)
    assert results.without_volatile(a) == results.without_volatile(b)
    assert a["schema_version"] == 1
    m = a["measurements"][0]
    for key in (
        "impl",
        "device",
        "dtype",
        "quantity",
        "input_set",
        "count",
        "max_ulp",
        "worst_input",
        "worst_output",
        "worst_expected",
        "verdict",
    ):
        assert key in m
    assert {s["case"] for s in a["special_values"]} >= {"-0", "NaN", "+inf", "-inf"}
    assert a["environment"]["frameworks"]["numpy"]


@pytest.mark.parametrize(
    "args,needle",
    [
        (["run", "--impl", "torch/functonal"], "unknown implementation 'torch/functonal'"),
        (["run", "--impl", "mutants:selu"], "use `check`"),
        (["run", "--dtype", "float128"], "invalid choice"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_run_bad_input(args, needle):
    result = conformance(*args)
    assert result.returncode == 2
    assert needle in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_missing_framework_is_a_one_line_usage_error(monkeypatch, capsys):
    ghost = Spec("ghost/selu", "nothing", "ghost_impl", "selu", ("a_framework_not_installed",))
    monkeypatch.setitem(registry.BY_ID, ghost.id, ghost)
    status = cli.main(["run", "--impl", "ghost/selu"])
    err = capsys.readouterr().err
    assert status == 2
    assert "ghost/selu cannot run here: a_framework_not_installed is not installed" in err


def test_corrupt_results_file_is_reported_with_its_line(tmp_path):
    path = tmp_path / "results.json"
    path.write_text('{"schema_version": 1,\n "measurements": [,]}\n')
    with pytest.raises(results.ResultsError, match=rf"{path}:2: not valid JSON"):
        results.read(path)


def test_results_are_written_atomically(tmp_path):
    path = results.write({"schema_version": 1}, tmp_path / "out" / "r.json")
    assert json.loads(path.read_text()) == {"schema_version": 1}
    assert [p.name for p in path.parent.iterdir()] == ["r.json"]  # no temporary left


@pytest.mark.parametrize(
    "command,option",
    [
        (["run", "--impl", "numpy/reference", "--json"], "--json"),
        (["check", "--impl", "mutants:selu", "--json"], "--json"),
        (["sweep", "--impl", "mutants:selu", "--dtype", "bfloat16", "--json"], "--json"),
        (
            ["sweep", "--impl", "mutants:selu", "--dtype", "bfloat16", "--checkpoint"],
            "--checkpoint",
        ),
        (["sweep", "--impl", "mutants:selu", "--dtype", "bfloat16", "--corpus"], "--corpus"),
        (["report", "--out"], "--out"),
    ],
)
def test_an_unwritable_destination_is_refused_before_any_work(tmp_path, command, option):
    """A path that cannot be written (here, below a file) costs one line and exit 2, before
    any implementation is called (no progress line, well under a second of work)."""
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    target = blocker / "results" / ("r.json" if option == "--json" else "folder")
    env = {**os.environ, "PYTHONPATH": str(CHECKOUT)}
    result = subprocess.run(
        [sys.executable, "-m", "conformance", *command, str(target)],
        cwd=CHECKOUT / "tests",
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert option in result.stderr and str(blocker) in result.stderr
    assert "..." not in result.stderr and "Traceback" not in result.stderr


def test_an_unwritable_cache_folder_is_refused(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    env = {**os.environ, "PYTHONPATH": str(CHECKOUT), "CONFORMANCE_CACHE": str(blocker)}
    result = subprocess.run(
        [sys.executable, "-m", "conformance", "run", "--impl", "numpy/reference"],
        cwd=CHECKOUT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2 and "CONFORMANCE_CACHE" in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_pytest_refuses_an_unwritable_json_before_the_gate(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    env = {**os.environ, "PYTHONPATH": str(CHECKOUT)}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "conformance", "--impl", "numpy/reference", "-q",
         "--json", str(blocker / "gate.json"), "-p", "no:cacheprovider"],
        cwd=CHECKOUT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    assert "--json" in result.stdout + result.stderr
    assert "passed" not in result.stdout
