"""The matrix: environments locked and built by uv, cells keyed and resumed, the summary
across releases, the policy's version ranges against the measurements, and the report."""

import json
import shutil
import subprocess
import sys

import pytest
from cli import CHECKOUT, conformance

from conformance import policy as policy_module
from conformance.matrix import summary

CELLS = ("--env", "numpy-1.26", "--env", "suite-numpy")


@pytest.fixture(scope="module")
def two_cells(tmp_path_factory, old_numpy_python):
    """numpy 1.26 in its environment and the suite's numpy 2, measured once."""
    folder = tmp_path_factory.mktemp("matrix")
    result = conformance(
        "matrix", *CELLS, "--json", str(folder / "m.json"), "--folder", str(folder)
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return folder


def test_the_summary_follows_each_finding_across_releases(two_cells):
    document = json.loads((two_cells / "m.json").read_text())
    cells = {c["name"]: c for c in document["cells"]}
    assert cells["numpy-1.26"]["numpy"] == "1.26.4"
    assert cells["numpy-1.26"]["version"] == "1.26.4"
    assert cells["suite-numpy"]["numpy"].startswith("2.")
    assert all(c["status"] == "done" and c["verdict"] == "pass" for c in cells.values())
    versions = {"1.26.4", cells["suite-numpy"]["version"]}
    accuracy = [r for r in document["rows"] if r["check"] == "accuracy"]
    assert accuracy and all(set(r["by_version"]) == versions for r in accuracy)
    for row in accuracy:  # numpy 1 and 2 compute the reference's kernel alike
        (figure,) = {v["figure"] for v in row["by_version"].values()}
        assert figure < 1 and {v["verdict"] for v in row["by_version"].values()} == {"pass"}
    assert document["changes"] == []


def test_a_rerun_measures_nothing_that_did_not_change(two_cells):
    states = {p: p.read_text() for p in two_cells.glob("*.state.json")}
    assert len(states) == 2
    result = conformance(
        "matrix", *CELLS, "--json", str(two_cells / "again.json"), "--folder", str(two_cells)
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("up to date") == 2
    assert {p: p.read_text() for p in two_cells.glob("*.state.json")} == states


def test_a_range_that_claims_a_release_where_the_deviation_is_absent(two_cells, tmp_path):
    policy = tmp_path / "policy.toml"
    policy.write_text(
        policy_module.DEFAULT_POLICY.read_text()
        + '\n[[deviation]]\nimpl = "numpy/reference"\nversions = ">=1.26,<1.27"\n'
        'dtypes = ["float32"]\nquantities = ["forward"]\nchecks = ["accuracy"]\n'
        'max_ulp = 3\ncause = "a test of the range check"\n'
    )
    out = tmp_path / "m.json"
    result = conformance(
        "matrix", *CELLS, "--json", str(out), "--folder", str(two_cells), "--policy", str(policy)
    )
    assert result.returncode == 0, result.stderr
    found = json.loads(out.read_text())["policy"]
    assert [(p["problem"], p["version"], p["impl"]) for p in found] == [
        ("claims-absent", "1.26.4", ["numpy/reference"])
    ]


def test_a_range_that_leaves_out_a_release_where_the_deviation_is_present():
    policy = policy_module.load()
    deviation = next(d for d in policy.deviations if "jax/nn" in d.impls and "accuracy" in d.checks)
    key = ("jax/nn", "cpu", deviation.dtypes[0], deviation.quantities[0], "accuracy", "sampled")
    outside = "0.0.1"
    assert not deviation.covers(outside)
    found = summary.policy_ranges(policy, [(key, outside, "fail", deviation.line)])
    assert any(p["line"] == deviation.line and p["problem"] == "omits-present" for p in found)
    for verdict, line in (("pass", None), ("known-deviation", deviation.line + 1)):
        # within the profile, or covered by another entry of its own for that release
        found = summary.policy_ranges(policy, [(key, outside, verdict, line)])
        assert not [p for p in found if p["line"] == deviation.line], verdict


def test_a_cell_that_hangs_is_reported_and_the_matrix_goes_on(tmp_path, old_numpy_python):
    out = tmp_path / "m.json"
    result = conformance(
        "matrix", *CELLS, "--json", str(out), "--folder", str(tmp_path), "--cell-timeout", "1"
    )
    assert result.returncode == 1, result.stdout + result.stderr
    cells = json.loads(out.read_text())["cells"]
    assert [c["status"] for c in cells] == ["timeout", "timeout"]
    assert "no results after 1 s" in cells[0]["detail"]


def test_report_shows_the_matrix_and_compares_two_cells(two_cells, tmp_path):
    old, new = two_cells / "numpy-1.26.json", two_cells / "suite-numpy.json"
    result = conformance(
        "report",
        "--results",
        str(new),
        "--matrix",
        str(two_cells / "m.json"),
        "--compare",
        str(old),
        str(new),
        "--out",
        str(tmp_path),
    )
    assert result.returncode == 0, result.stderr
    html = (tmp_path / "index.html").read_text()
    assert 'id="releases"' in html and "1.26.4" in html
    markdown = (tmp_path / "report.md").read_text()
    assert "Across releases (2 cells of the matrix)" in markdown
    assert "numpy 1.26.4 →" in markdown  # the versions of the two cells


def test_report_refuses_a_file_that_is_not_a_matrix_summary(tmp_path, two_cells):
    bad = tmp_path / "m.json"
    bad.write_text('{"schema": "other"}')
    result = conformance(
        "report",
        "--results",
        str(two_cells / "suite-numpy.json"),
        "--matrix",
        str(bad),
        "--out",
        str(tmp_path),
    )
    assert result.returncode == 2 and "not a matrix summary" in result.stderr


# -- environments ---------------------------------------------------------------------------


def _catalog(tmp_path, requirements) -> dict:
    catalog = tmp_path / "environments.toml"
    catalog.write_text(
        'exclude_newer = "2026-12-01"\npython = "3.11"\n\n[env."bad"]\nframework = "numpy"\n'
        f"requirements = {json.dumps(requirements)}\n"
    )
    (tmp_path / "environments").mkdir(exist_ok=True)
    return {"CONFORMANCE_CATALOG": str(catalog), "CONFORMANCE_ENVS": str(tmp_path / "envs")}


def test_a_lock_that_does_not_resolve_is_one_line(tmp_path):
    env = _catalog(tmp_path, ["numpy==0.0.1"])
    result = conformance("env", "lock", "bad", env=env)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "lock bad" in result.stderr


def test_a_lock_out_of_date_with_its_requirements_is_not_built(tmp_path):
    env = _catalog(tmp_path, ["numpy==1.26.4"])
    shutil.copy(
        CHECKOUT / "conformance/data/environments/numpy-1.26.txt", tmp_path / "environments/bad.txt"
    )
    result = conformance("env", "build", "bad", env=env)
    assert result.returncode == 2 and "out of date" in result.stderr, result.stderr
    listing = conformance("env", "list", env=env)
    assert listing.returncode == 0 and "stale" in listing.stdout


def test_unknown_environment_and_framework_are_refused():
    for args, message in (
        (("env", "build", "no-such"), "unknown environment"),
        (("matrix", "--framework", "no-such"), "unknown framework"),
        (("matrix", "--env", "no-such"), "unknown cell"),
    ):
        result = conformance(*args)
        assert result.returncode == 2 and message in result.stderr, (args, result.stderr)


def test_every_committed_lock_is_current():
    from conformance.environments import catalog

    for environment in catalog.load().values():
        assert environment.lock_current(), (
            f"{environment.lock}: `conformance env lock {environment.name}`"
        )


def test_policy_ranges_proposes_what_the_releases_measured_support():
    from tools.policy_ranges import proposal

    policy = policy_module.load()
    deviation = next(d for d in policy.deviations if "jax/nn" in d.impls)
    every = {"0.4.30": True, "0.5.3": True, "0.10.2": True}
    assert proposal(deviation, every) == ">=0.4.30,<0.11"
    assert proposal(deviation, {"0.4.30": False, "0.5.3": True, "0.10.2": True}) == (
        ">=0.5.3,<0.11"
    )
    assert proposal(deviation, {"0.4.30": True, "0.5.3": False, "0.10.2": False}) == (
        ">=0.4.30,<0.5.3"
    )
    assert proposal(deviation, {"0.4.30": True, "0.5.3": False, "0.10.2": True}) is None
    assert proposal(deviation, {"0.4.30": False}) is None


def test_a_killed_matrix_resumes_with_the_cells_it_had_not_finished(tmp_path, old_numpy_python):
    import signal
    import time

    args = [sys.executable, "-m", "conformance", "matrix", *CELLS, "--jobs", "1"]
    args += ["--json", str(tmp_path / "m.json"), "--folder", str(tmp_path)]
    process = subprocess.Popen(args, cwd=CHECKOUT, stderr=subprocess.PIPE, text=True)
    first = tmp_path / "numpy-1.26.state.json"
    deadline = time.time() + 300
    while not first.exists() and time.time() < deadline:
        time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130 and "interrupted" in stderr
    assert not (tmp_path / "suite-numpy.state.json").exists()
    assert not (tmp_path / "m.json").exists()
    again = conformance(
        "matrix", *CELLS, "--json", str(tmp_path / "m.json"), "--folder", str(tmp_path)
    )
    assert again.returncode == 0, again.stderr
    assert "numpy-1.26: up to date" in again.stderr
    assert "suite-numpy: done" in again.stderr


def test_a_change_is_one_of_numerics_not_of_the_policy_covering_it():
    key = ("jax/nn", "cpu", "float32", "forward", "accuracy", "sampled")
    failing = {"figure": 1.47e7, "kinds": ["spurious-zero"], "verdict": "fail", "deviation": 199}
    covered = {**failing, "verdict": "known-deviation"}
    fixed = {"figure": 0.5, "kinds": [], "verdict": "pass", "deviation": None}
    by_version = {"0.4.30": failing, "0.5.3": covered, "0.6.2": fixed}
    changes = summary._changes(key, ["0.4.30", "0.5.3", "0.6.2"], by_version)
    assert [(c["from"], c["to"], c["what"]) for c in changes] == [("0.5.3", "0.6.2", "disappeared")]


@pytest.fixture
def tiny_disk(tmp_path):
    """A 2 MB file system (tmpfs), where an environment does not fit; skips where this
    process may not mount one."""
    folder = tmp_path / "tiny"
    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(folder)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.decode().strip()}")
    yield folder
    subprocess.run(["umount", str(folder)], check=True)


def test_a_build_without_disk_is_one_line(tiny_disk):
    result = conformance("env", "build", "numpy-1.26", env={"CONFORMANCE_ENVS": str(tiny_disk)})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "python -m conformance env: build numpy-1.26: no space left on device"
    )
