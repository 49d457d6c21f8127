"""Worker processes: a crash, a hang or an exception of the implementation is a result, and
inputs reach the function with the layout the check built (strides, 0-d, offsets)."""

import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from conformance import views
from conformance.process.worker import Worker, WorkerError

HERE = Path(__file__).parent


@pytest.fixture
def in_tests_dir(monkeypatch):
    monkeypatch.chdir(HERE)  # user modules are imported from the current directory
    monkeypatch.syspath_prepend(str(HERE))


def user_worker(forward, gradient=None, timeout=20.0):
    return Worker("user_impl", user=(forward, gradient), timeout=timeout)


def test_calls_return_outputs_and_keep_0d_and_views(in_tests_dir):
    x = np.linspace(-3, 3, 72, dtype=np.float32)
    items = [
        (x, None),
        (x, ("scalar", 5)),
        (x, ("transpose", 8, 9)),
        (x, ("step", 1, 3, 20)),
        (x, ("slice", 3, 40)),
        (x, ("fortran", 6, 12)),
    ]
    with user_worker("worker_probe:describe") as worker:
        results = worker.call("user", "forward", "cpu", items)
    for (array, view), result in zip(items, results, strict=True):
        seen = views.apply(array, view)
        assert result.error is None
        assert result.output.shape == seen.shape
        # worker_probe.describe returns x * 0 + its C-contiguity flag, so the flag shows.
        assert np.all(result.output.ravel() == float(seen.flags.c_contiguous))


def test_exception_is_an_item_error(in_tests_dir):
    with user_worker("worker_probe:raises") as worker:
        (result,) = worker.call("user", "forward", "cpu", [(np.zeros(3, np.float32), None)])
    assert result.output is None and "ZeroDivisionError" in result.error


def test_modified_input_is_detected(in_tests_dir):
    with user_worker("mutants:in_place") as worker:
        (result,) = worker.call("user", "forward", "cpu", [(np.ones(5, np.float32), None)])
    assert result.modified


def test_crash_is_reported_with_the_signal_and_the_worker_restarts(in_tests_dir):
    worker = user_worker("mutants:aborts")
    with worker:
        with pytest.raises(WorkerError, match="crashed \\(signal SIGABRT\\) on array 1 of 1"):
            worker.call("user", "forward", "cpu", [(np.ones(4, np.float32), None)])
        assert not worker.alive
        with pytest.raises(WorkerError, match="SIGABRT"):  # a new worker, the same fate
            worker.call("user", "forward", "cpu", [(np.ones(4, np.float32), None)])


def test_hang_times_out(in_tests_dir):
    worker = user_worker("mutants:hangs", timeout=2.0)
    with worker:
        with pytest.raises(WorkerError, match="timed out after 2 s on array 1 of 1"):
            worker.call("user", "forward", "cpu", [(np.ones(4, np.float32), None)])


def test_tensorflow_autograph_leaves_no_module_files(tmp_path):
    """tf.function writes each converted function as a module file in the temporary folder
    and deletes it at exit; the worker's child ends in os._exit, so it must delete them."""
    pytest.importorskip("tensorflow")
    x = np.linspace(-2, 2, 16, dtype=np.float32)
    with Worker("tensorflow_impl", env={"TMPDIR": str(tmp_path)}) as worker:
        for quantity in ("forward", "gradient"):
            (result,) = worker.call("xla", quantity, "cpu", [(x, None)])
            assert result.error is None
        assert list(tmp_path.glob("__autograph_generated_file*.py"))  # written, in use
    assert list(tmp_path.glob("__autograph_generated_file*.py")) == []


def test_a_module_that_does_not_import_fails_to_load(in_tests_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with pytest.raises(WorkerError, match="cannot load: ModuleNotFoundError"):
        with user_worker("no_such_module_here:f"):
            pass
    with pytest.raises(WorkerError, match="AttributeError"):
        with user_worker("mutants:no_such_function"):
            pass
    assert list(tmp_path.iterdir()) == []  # the workers' log files went with them


def test_a_framework_module_reports_version_and_devices():
    with Worker("numpy_impl") as worker:
        assert worker.info["version"] == np.__version__
        assert worker.info["devices"] == ["cpu"]
        assert worker.info["python"] == sys.version.split()[0]


def test_compiled_variants_get_a_fresh_worker_per_dtype():
    """What torch.compile generates depends on what its process compiled before, so the
    engine gives a compiled variant one worker per dtype (and eager ones one for all)."""
    from conformance import policy
    from conformance.engine import Engine, Target
    from conformance.registry import lookup

    p = policy.load()
    engine = Engine(p, p.profile(None))
    try:
        compiled, eager = Target.of(lookup("torch/compile")), Target.of(lookup("torch/functional"))
        first = engine.worker(compiled, dtype="float16")
        assert engine.worker(compiled, dtype="float16") is first
        assert engine.worker(compiled, dtype="float32") is not first
        plain = engine.worker(eager, dtype="float16")
        assert engine.worker(eager, dtype="float32") is plain
    finally:
        engine.close()
