"""Sweeps and the matrix on a Dask cluster (`--cluster local:N`, `--scheduler`), and the
checkpoints of separate machines joined (`sweep --merge`).

Every case runs the real CLI in a subprocess, from tests/ (where mutants.py lives), against
a LocalCluster it starts or a `dask scheduler` and `dask worker`s started here. A sweep on
a cluster must record what the sweep here records, bit for bit, whatever dies on the way.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from importlib.util import find_spec
from pathlib import Path

import pytest
from cli import conformance, only_record

HERE = Path(__file__).parent
CHECKOUT = HERE.parent
DASK = Path(sys.executable).parent / "dask"  # distributed's command line

# make test-cluster (CI runs it after make test): minutes of clusters starting and stopping.
pytestmark = [
    pytest.mark.cluster,
    pytest.mark.skipif(
        find_spec("distributed") is None, reason="distributed is not installed (cluster.txt)"
    ),
]

#: 24 chunks of a function a quarter of a second late per chunk: long enough to kill
#: something midway.
SLOW = ["--impl", "mutants:slow", "--start", "0xbf800000", "--stop", "0xbf980000"]
SLOW += ["--chunk", "65536"]
SLOW_CHUNKS = 24


def environment(cache: Path, **more) -> dict:
    # A cache of its own: no checkpoint of an earlier test (or run) is resumed.
    return {**os.environ, "PYTHONPATH": str(CHECKOUT), "CONFORMANCE_CACHE": str(cache), **more}


def command(tool: str, *args) -> list[str]:
    return [sys.executable, "-m", "conformance", tool, *args]


def sweep(tmp: Path, *args, env=None, timeout=300):
    more = {"CONFORMANCE_CACHE": str(tmp / "cache"), **(env or {})}
    return conformance("sweep", "--quiet", *args, cwd=HERE, env=more, timeout=timeout)


def chunk_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("0*.json"))


def wait_for_chunks(folder: Path, count: int, process: subprocess.Popen) -> int:
    deadline = time.monotonic() + 120
    while len(chunk_files(folder)) < count and time.monotonic() < deadline:
        assert process.poll() is None, "the sweep ended before it could be interrupted"
        time.sleep(0.05)
    return len(chunk_files(folder))


@pytest.fixture(scope="module")
def slow_here(tmp_path_factory) -> dict:
    """The record of SLOW swept here, without a cluster."""
    tmp = tmp_path_factory.mktemp("here")
    result = sweep(tmp, *SLOW, "--json", str(tmp / "s.json"), "--jobs", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    return only_record(tmp / "s.json")


@pytest.mark.torch
def test_a_sweep_on_a_local_cluster_records_what_the_sweep_here_does(tmp_path):
    pytest.importorskip("torch")
    args = ["--impl", "torch/functional", "--start", "0xbf800000", "--stop", "0xbf880000"]
    args += ["--chunk", "65536"]
    here = sweep(tmp_path, *args, "--json", str(tmp_path / "here.json"), "--jobs", "1")
    assert here.returncode == 0, here.stdout + here.stderr
    folder = tmp_path / "c"
    there = sweep(
        tmp_path, *args, "--json", str(tmp_path / "there.json"), "--checkpoint", str(folder),
        "--cluster", "local:2", "--batch", "3",
    )  # fmt: skip
    assert there.returncode == 0, there.stdout + there.stderr
    assert only_record(tmp_path / "there.json") == only_record(tmp_path / "here.json")
    measured = [line for line in there.stderr.splitlines() if "measured" in line]
    assert sum(int(line.split()[-2]) for line in measured) == 8
    # What picks the kernels keys the checkpoint; the worker's report lies beside it.
    manifest = json.loads((folder / "manifest.json").read_text())
    info = json.loads((folder / "info.json").read_text())
    assert manifest["cpu_capability"] == info["cpu_capability"] is not None
    assert manifest["numpy_simd"] == info["numpy_simd"]
    assert info["version"] == manifest["version"]


def dask_workers(client: int) -> list:
    """The client's Dask worker processes: its children that run the suite's workers."""
    import psutil

    found = []
    for child in psutil.Process(client).children():
        grandchildren = child.children()
        if any("conformance.process.worker" in " ".join(g.cmdline()) for g in grandchildren):
            found.append(child)
    return found


def start_slow_sweep(tmp_path, *more, env=None) -> tuple[subprocess.Popen, Path, Path]:
    folder, out = tmp_path / "c", tmp_path / "s.json"
    process = subprocess.Popen(
        command("sweep", "--quiet", *SLOW, "--json", str(out), "--checkpoint", str(folder), *more),
        cwd=HERE,
        # A process killed cannot remove its workers' log files: they go in tmp_path.
        env=environment(tmp_path / "cache", TMPDIR=str(tmp_path), **(env or {})),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return process, folder, out


def test_a_dask_worker_killed_midway_is_replaced_and_the_record_is_the_same(tmp_path, slow_here):
    process, folder, out = start_slow_sweep(tmp_path, "--cluster", "local:2", "--batch", "2")
    wait_for_chunks(folder, 4, process)
    victim = dask_workers(process.pid)[0]
    victim.send_signal(signal.SIGKILL)
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stdout + stderr
    assert only_record(out) == slow_here
    assert "Dask workers lost during the sweep: 1" in stderr
    assert len(chunk_files(folder)) == SLOW_CHUNKS


def test_chunks_dask_gives_up_on_are_failures_and_not_saved(tmp_path):
    # No second try: a task on the worker killed is a KilledWorker at once.
    no_retry = {"DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0"}
    process, folder, out = start_slow_sweep(
        tmp_path, "--cluster", "local:2", "--batch", "2", env=no_retry
    )
    wait_for_chunks(folder, 4, process)
    dask_workers(process.pid)[0].send_signal(signal.SIGKILL)
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 1, stdout + stderr
    record = only_record(out)
    assert record["failed_chunks"] and record["verdict"] == "fail"
    for failed in record["failed_chunks"]:
        assert failed["kind"] == "crash" and "Dask gave up on it" in failed["error"]
    failed_inputs = sum(f["stop"] - f["start"] for f in record["failed_chunks"])
    assert record["count"] + failed_inputs == SLOW_CHUNKS * 65536
    # Not saved: the next run measures them again (as a resumed sweep does, below).
    assert len(chunk_files(folder)) == SLOW_CHUNKS - failed_inputs // 65536


def test_a_client_killed_resumes_from_its_checkpoint_with_the_same_record(tmp_path, slow_here):
    process, folder, out = start_slow_sweep(tmp_path, "--cluster", "local:2", "--batch", "2")
    wait_for_chunks(folder, 6, process)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=60)
    done = len(chunk_files(folder))
    assert 0 < done < SLOW_CHUNKS, "the kill came too late to interrupt the sweep"
    assert not out.exists()
    again = sweep(
        tmp_path, *SLOW, "--json", str(out), "--checkpoint", str(folder), "--cluster", "local:2"
    )
    assert again.returncode == 0, again.stdout + again.stderr
    assert only_record(out) == slow_here
    timing = next(iter(json.loads(out.read_text())["timings"]["sweeps"].values()))
    assert timing["resumed_chunks"] >= done


@pytest.mark.parametrize(
    "impl, start, stop, kind, why",
    [
        # [1.5, 1.75) begins at 0x3fc00000: the last two of the four chunks.
        ("mutants:aborts_on_some", "0x3fbe0000", "0x3fc20000", "crash", "SIGABRT"),
        # +inf at 0x7f800000, NaNs after it: the last two of the four chunks.
        ("mutants:hangs_on_nan", "0x7f7e0000", "0x7f820000", "timeout", "timed out after 3 s"),
    ],
)
def test_a_crash_or_a_hang_costs_the_chunk_and_not_the_dask_worker(
    tmp_path, impl, start, stop, kind, why
):
    folder, out = tmp_path / "c", tmp_path / "s.json"
    result = sweep(
        tmp_path, "--impl", impl, "--start", start, "--stop", stop, "--chunk", "65536",
        "--timeout", "3", "--json", str(out), "--checkpoint", str(folder), "--cluster", "local:1",
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    record = only_record(out)
    failed = record["failed_chunks"]
    assert [(f["start"], f["kind"]) for f in failed] == [
        (int(stop, 16) - 2 * 65536, kind),
        (int(stop, 16) - 65536, kind),
    ]
    assert all(why in f["error"] for f in failed)
    assert record["count"] == 2 * 65536  # the other two were measured
    assert len(chunk_files(folder)) == 2  # the failed ones are measured again next time
    # One Dask worker measured all four chunks: it lived through the crashes and hangs.
    assert "(0) measured 4 chunks" in result.stderr and "lost" not in result.stderr


# -- an existing cluster: a worker of another code refused -------------------------------


class Cluster:
    """A `dask scheduler` and `dask worker`s, started here, stopped at the end."""

    def __init__(self, tmp: Path):
        self.tmp, self.file = tmp, tmp / "scheduler.json"
        self.processes: dict[str, subprocess.Popen] = {}
        self.logs: dict[str, Path] = {}
        scheduler = ["scheduler", "--scheduler-file", str(self.file), "--port", "0"]
        self._start("scheduler", scheduler, CHECKOUT)

    def _start(self, name: str, args: list[str], pythonpath: Path) -> None:
        self.logs[name] = self.tmp / f"{name}.log"
        with open(self.logs[name], "w") as log:
            self.processes[name] = subprocess.Popen(
                [str(DASK), *args, "--host", "127.0.0.1", "--no-dashboard"],
                cwd=HERE,
                # The suite's own cache (as test_matrix.py's cells have it): a cell
                # computes no reference values the gate has computed before.
                env={**os.environ, "PYTHONPATH": str(pythonpath)},
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def worker(self, name: str, pythonpath: Path) -> None:
        args = ["worker", "--scheduler-file", str(self.file), "--nthreads", "1", "--name", name]
        self._start(name, args, pythonpath)
        self.wait_for(f"Register worker addr: tcp://127.0.0.1:[0-9]+ name: {name}")

    def stop(self, name: str) -> None:
        self.processes[name].terminate()
        self.processes[name].wait(timeout=60)
        self.wait_for(f"Remove worker addr: tcp://127.0.0.1:[0-9]+ name: {name}")

    def wait_for(self, pattern: str) -> None:
        import re

        deadline = time.monotonic() + 60
        while not re.search(pattern, self.logs["scheduler"].read_text()):
            assert time.monotonic() < deadline, self.logs["scheduler"].read_text()
            time.sleep(0.1)

    def close(self) -> None:
        for process in reversed(self.processes.values()):
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
def cluster(tmp_path):
    running = Cluster(tmp_path)
    deadline = time.monotonic() + 60
    while not running.file.exists():
        assert time.monotonic() < deadline, running.logs["scheduler"].read_text()
        time.sleep(0.1)
    yield running
    running.close()


def changed_copy(tmp: Path) -> Path:
    """The suite's code with one file of the measurement changed: another code hash."""
    copy = tmp / "copy"
    for package in ("conformance", "reference"):
        shutil.copytree(
            CHECKOUT / package, copy / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(CHECKOUT / "constraints.txt", copy)  # the pins: part of a cell's key
    with open(copy / "conformance" / "measure.py", "a") as handle:
        handle.write("\n# changed\n")
    return copy


def test_a_worker_of_another_code_is_refused_and_the_others_do_the_work(tmp_path, cluster):
    cluster.worker("changed", changed_copy(tmp_path))
    cluster.worker("same", CHECKOUT)
    args = ["--impl", "mutants:selu", "--start", "0xbf800000", "--stop", "0xbf840000"]
    args += ["--chunk", "65536"]
    here = sweep(tmp_path, *args, "--json", str(tmp_path / "here.json"))
    assert here.returncode == 0, here.stdout + here.stderr
    out = tmp_path / "there.json"
    there = sweep(
        tmp_path, *args, "--json", str(out), "--scheduler-file", str(cluster.file), "--fresh"
    )
    assert there.returncode == 0, there.stdout + there.stderr
    assert only_record(out) == only_record(tmp_path / "here.json")
    refused = [line for line in there.stderr.splitlines() if "refused" in line]
    assert len(refused) == 1 and "(changed): its code hash is" in refused[0], there.stderr
    assert "(same) measured 4 chunks" in there.stderr
    assert "(changed) measured" not in there.stderr

    # The matrix refuses it too (a cell's key holds the suite's code), and writes what
    # it writes here.
    documents = {}
    for where, more in (("here", []), ("there", ["--scheduler-file", str(cluster.file)])):
        matrix = run_matrix(tmp_path, where, *more)
        documents[where] = cell_results(tmp_path / where)
    assert documents["there"] == documents["here"]
    assert "refused Dask worker" in matrix.stderr and "(changed): its suite-numpy" in matrix.stderr
    assert "suite-numpy: done" in matrix.stderr and "(same)" in matrix.stderr

    # With no worker left that matches, the sweep is refused in one line.
    cluster.stop("same")
    none = sweep(
        tmp_path, *args, "--json", str(out), "--scheduler-file", str(cluster.file), "--fresh"
    )
    assert none.returncode == 2, none.stdout + none.stderr
    last = none.stderr.strip().splitlines()[-1]
    assert "no Dask worker matches this machine (refused: " in last and "(changed)" in last


def run_matrix(tmp: Path, where: str, *more):
    """The matrix of the cell suite-numpy (the smallest) into tmp/where."""
    folder = tmp / where
    result = subprocess.run(
        command("matrix", "--env", "suite-numpy", "--folder", str(folder),
                "--json", str(tmp / f"{where}.json"), *more),
        cwd=CHECKOUT, env={**os.environ, "PYTHONPATH": str(CHECKOUT)}, capture_output=True,
        text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    state = json.loads((folder / "suite-numpy.state.json").read_text())
    assert state["status"] == "done" and (folder / "suite-numpy.log").exists()
    return result


def cell_results(folder: Path) -> dict:
    from conformance.results import VOLATILE_KEYS

    document = json.loads((folder / "suite-numpy.json").read_text())
    return {k: v for k, v in document.items() if k not in VOLATILE_KEYS}


# -- sweep --merge --------------------------------------------------------------------------

START, CHUNK = 0xBC000000, 65536
MUTANT = ["--impl", "mutants:exp_minus_one", "--chunk", str(CHUNK)]


def shard(tmp: Path, name: str, first: int, chunks: int, *more) -> Path:
    folder = tmp / name
    a, b = START + first * CHUNK, START + (first + chunks) * CHUNK
    result = sweep(
        tmp, *MUTANT, "--start", hex(a), "--stop", hex(b), "--checkpoint", str(folder),
        "--json", str(tmp / f"{name}.json"), *more,
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr  # the mutant fails
    return folder


@pytest.fixture(scope="module")
def shards(tmp_path_factory) -> Path:
    """Two shards of 4 chunks, the sweep of their union, and one beyond it."""
    tmp = tmp_path_factory.mktemp("shards")
    shard(tmp, "a", 0, 4)
    shard(tmp, "b", 4, 4)
    shard(tmp, "whole", 0, 8)
    shard(tmp, "beyond", 9, 1)
    return tmp


def test_merged_shards_are_the_sweep_of_their_union(shards, tmp_path):
    for order in (["a", "b"], ["b", "a"]):
        out = tmp_path / f"{''.join(order)}.json"
        result = sweep(tmp_path, "--merge", *(str(shards / n) for n in order), "--json", str(out))
        assert result.returncode == 1, result.stdout + result.stderr  # the mutant's verdict
        assert only_record(out) == only_record(shards / "whole.json")
        assert "FAIL" in result.stdout


def test_shards_that_cover_the_whole_range_merge_into_the_exhaustive_record(tmp_path):
    args = ["--impl", "mutants:exp_minus_one", "--dtype", "bfloat16", "--chunk", "4096"]
    for name, start, stop in (("low", "0x0", "0x8000"), ("high", "0x8000", "0x10000")):
        result = sweep(
            tmp_path, *args, "--start", start, "--stop", stop,
            "--checkpoint", str(tmp_path / name), "--json", str(tmp_path / f"{name}.json"),
        )  # fmt: skip
        assert result.returncode in (0, 1), result.stdout + result.stderr  # 1 for one half
    whole = sweep(tmp_path, *args, "--json", str(tmp_path / "whole.json"))
    assert whole.returncode == 1, whole.stdout + whole.stderr
    out = tmp_path / "merged.json"
    merged = sweep(
        tmp_path, "--merge", str(tmp_path / "low"), str(tmp_path / "high"), "--json", str(out)
    )
    assert merged.returncode == whole.returncode == 1, merged.stdout + merged.stderr
    record = only_record(out)
    assert record["input_set"] == "exhaustive" and record["count"] == 1 << 16
    assert record == only_record(tmp_path / "whole.json")


def _edited(shards: Path, tmp: Path, name: str, file: str, key: str, value) -> Path:
    folder = tmp / f"{name}-edited"
    shutil.copytree(shards / name, folder)
    data = json.loads((folder / file).read_text())
    data[key] = value
    (folder / file).write_text(json.dumps(data))
    return folder


def _missing_a_chunk(shards: Path, tmp: Path) -> Path:
    folder = tmp / "b-missing"
    shutil.copytree(shards / "b", folder)
    chunk_files(folder)[1].unlink()
    return folder


@pytest.mark.parametrize(
    "case, message",
    [
        ("overlap", "overlaps"),
        ("gap", "their union has a gap"),
        ("code", "its code is 'elsewhere'"),
        ("numpy", "its worker's numpy (info.json) is '1.26.4'"),
        ("missing", "1 of its 4 chunks are missing"),
        ("not a checkpoint", "no manifest.json"),
    ],
)
def test_merge_refuses_shards_that_do_not_make_one_sweep(shards, tmp_path, case, message):
    edited = lambda file, key, value: _edited(shards, tmp_path, "b", file, key, value)  # noqa: E731
    folders = {
        "overlap": lambda: [shards / "a", shards / "whole"],
        "gap": lambda: [shards / "a", shards / "b", shards / "beyond"],
        "code": lambda: [shards / "a", edited("manifest.json", "code", "elsewhere")],
        "numpy": lambda: [shards / "a", edited("info.json", "numpy", "1.26.4")],
        "missing": lambda: [shards / "a", _missing_a_chunk(shards, tmp_path)],
        "not a checkpoint": lambda: [shards / "a", tmp_path],
    }[case]()
    result = sweep(tmp_path, "--merge", *map(str, folders), "--json", str(tmp_path / "m.json"))
    assert result.returncode == 2, result.stdout + result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert message in line and str(folders[-1]) in line, line
    assert not (tmp_path / "m.json").exists()


# -- bad input, and Dask only where it is asked for ----------------------------------------

SMALL = ["--impl", "mutants:selu", "--start", "0xbf800000", "--stop", "0xbf820000"]
SMALL += ["--chunk", "65536"]


@pytest.mark.parametrize(
    "args, env, message",
    [
        (["--cluster", "local:0"], {}, "local:N"),
        (["--cluster", "local:x"], {}, "local:N"),
        (["--cluster", "lokal:2"], {}, "local:N"),
        (["--scheduler", "tcp://127.0.0.1:9"], {}, "cannot reach the scheduler"),
        (["--scheduler", "no-port"], {}, "cannot reach the scheduler no-port"),
        (["--scheduler-file", "/no/such/file.json"], {}, "no such file"),
        (["--scheduler"], {"DASK_SCHEDULER_ADDRESS": ""}, "scheduler-address"),
        (["--cluster", "local:1", "--scheduler", "x"], {}, "give one of"),
        (["--cluster", "local:1", "--batch", "0"], {}, "--batch must be positive"),
        (["--cluster", "local:1", "--dtype", "float64"], {}, "float64 search runs here"),
        (["--merge", "x", "--cluster", "local:1"], {}, "--merge takes the sweep"),
    ],
)
def test_bad_cluster_options_are_one_line_and_exit_2(tmp_path, args, env, message):
    started = time.monotonic()
    result = sweep(tmp_path, *SMALL, *args, env=env)
    assert result.returncode == 2, result.stdout + result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert message in line, line
    assert time.monotonic() - started < 30  # an unreachable scheduler: seconds, not a hang


def test_the_matrix_refuses_a_bad_cluster_option_in_one_line(tmp_path):
    result = subprocess.run(
        command("matrix", "--env", "suite-numpy", "--cluster", "local:0"),
        cwd=CHECKOUT, env=environment(tmp_path), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2, result.stdout + result.stderr
    assert "local:N" in result.stderr and len(result.stderr.strip().splitlines()) == 1


#: The CLI in a process that reports, last, what of Dask it imported; `BLOCK` hides
#: distributed as if it were not installed.
WRAPPER = """
import importlib.abc, json, sys
if {block}:
    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name.split(".")[0] in ("dask", "distributed"):
                raise ImportError("No module named " + repr(name))
    sys.meta_path.insert(0, Block())
from conformance.cli import main
status = main(sys.argv[1:])
loaded = sorted(m for m in ("dask", "distributed") if m in sys.modules)
print(json.dumps({{"status": status, "loaded": loaded}}))
"""


def wrapped(tmp_path, *args, block: bool):
    script = tmp_path / "wrapper.py"
    script.write_text(WRAPPER.format(block=block))
    return subprocess.run(
        [sys.executable, str(script), "sweep", "--quiet", *args],
        cwd=HERE,
        env=environment(tmp_path / "cache"),
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_without_the_options_dask_is_never_imported(tmp_path):
    result = wrapped(tmp_path, *SMALL, "--json", str(tmp_path / "s.json"), block=False)
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report == {"status": 0, "loaded": []}, result.stdout + result.stderr


def test_a_cluster_without_distributed_installed_is_one_line(tmp_path):
    result = wrapped(tmp_path, *SMALL, "--cluster", "local:1", block=True)
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["status"] == 2, result.stdout + result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert "needs distributed, which is not installed" in line
    assert "requirements/cluster.txt" in line
