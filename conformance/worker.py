"""Worker processes: every implementation runs in a child process, never in the suite's own.

A crash (abort, segfault), a hang or a thread-pool clash in a framework then costs one
worker, which is reported and replaced, and the run goes on. The parent (`Worker`) starts
`python -m conformance.worker` with two pipes and talks to it in pickled messages:

    parent -> child   {"op": "init", "module": ..., "threads": n | None, "user": (f, g)}
    child -> parent   {"ok": True, "info": {...}} | {"ok": False, "error": "..."}
    parent -> child   {"op": "call", "variant", "quantity", "device", "items": [(array, view)]}
    child -> parent   one {"index": i, "output": array | None, "error": str | None,
                      "modified": bool} per item, as each is done
    parent -> child   {"op": "snippet", ...} -> {"snippet": str}
    parent -> child   {"op": "sweep", "members": [(module, variant)], "quantity", "device",
                      "dtype", "start", "stop"} -> {"summaries": {i: dict}, "errors": {i:
                      str}}: one chunk of an exhaustive sweep, built and measured in the
                      child for each member (`sweep/chunk.py`)

Each item is an array plus a *view* recipe (`views.apply`), applied in the child, because
pickling an array makes it contiguous: strided, transposed and offset inputs must be made
where the function is called. The parent waits at most `timeout` seconds for each item.
The child's stdout and stderr go to a log file whose tail is quoted when it dies.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import traceback
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

import numpy as np

from . import views

CHECKOUT = Path(__file__).resolve().parent.parent


class WorkerError(RuntimeError):
    """The worker died, hung, or could not load the implementation.

    `kind`: "timeout" (it hung), "crash" (it died), "load" (the module or function could
    not be loaded) or "protocol" (it answered something else). For a failure during
    `call`, `index` is the item it happened on and `done` the results of the items before.
    """

    def __init__(self, message: str, kind: str = "crash"):
        super().__init__(message)
        self.kind = kind
        self.index: int | None = None
        self.done: list[ItemResult] = []


@dataclass
class ItemResult:
    output: np.ndarray | None
    error: str | None = None
    modified: bool = False


def thread_environment(threads: int | None) -> dict[str, str]:
    """Environment that limits every framework's intra-op pool to `threads` threads (XLA's
    flags added to those already set, say --xla_cpu_max_isa)."""
    if threads is None:
        return {}
    n = str(threads)
    xla = f"--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads={n}"
    return {
        "OMP_NUM_THREADS": n,
        "MKL_NUM_THREADS": n,
        "OPENBLAS_NUM_THREADS": n,
        "TF_NUM_INTRAOP_THREADS": n,
        "TF_NUM_INTEROP_THREADS": n,
        "XLA_FLAGS": " ".join(f for f in (os.environ.get("XLA_FLAGS", ""), xla) if f),
    }


def remove_generated_modules() -> None:
    """Delete the module files that TensorFlow's autograph wrote for this process.

    Autograph writes each function it converts (tf.function) as a module,
    <temporary folder>/__autograph_generated_file*.py, and deletes it in an atexit handler.
    The suite's children end in os._exit (worker processes, and asv's forked benchmark
    processes), where atexit handlers never run: without this, every compiled
    TensorFlow function left a file behind (about 4000 in /tmp after a few days' runs)."""
    folder = Path(tempfile.gettempdir()).resolve()
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if name.startswith("__autograph_generated_file") and file:
            path = Path(file).resolve()
            if path.parent == folder:
                path.unlink(missing_ok=True)


class Worker:
    """A child process serving one framework module (or a user's function)."""

    def __init__(
        self,
        module: str,
        env: dict | None = None,
        threads: int | None = None,
        user: tuple[str, str | None] | None = None,
        timeout: float = 300.0,
    ):
        self.module, self.threads, self.user, self.timeout = module, threads, user, timeout
        self.env = dict(env or {})
        self.info: dict = {}
        self._process: subprocess.Popen | None = None
        fd, log_path = tempfile.mkstemp(prefix="conformance-worker-", suffix=".log")
        os.close(fd)
        self._log_path = Path(log_path)

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> dict:
        """Start the child and load the module; WorkerError with the reason if it fails."""
        parent_read, child_write = os.pipe()
        child_read, parent_write = os.pipe()
        env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "JAX_ENABLE_X64": "1",
            **thread_environment(self.threads),
            **self.env,
        }
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(CHECKOUT), env.get("PYTHONPATH", "")) if p
        )
        with open(self._log_path, "ab") as log:  # the child keeps its own handle
            self._process = subprocess.Popen(
                [sys.executable, "-m", "conformance.worker", str(child_read), str(child_write)],
                pass_fds=(child_read, child_write),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=os.getcwd(),
                start_new_session=True,
            )
        os.close(child_read)
        os.close(child_write)
        self._conn_in = Connection(parent_read, writable=False)
        self._conn_out = Connection(parent_write, readable=False)
        reply = self._request(
            {"op": "init", "module": self.module, "threads": self.threads, "user": self.user},
            timeout=max(self.timeout, 120.0),
        )
        if not reply.get("ok"):
            self.stop()
            raise WorkerError(reply["error"], "load")
        self.info = reply["info"]
        return self.info

    def stop(self) -> None:
        if self._process is None:
            return
        if self._process.poll() is None:
            try:
                self._conn_out.send({"op": "exit"})
                self._process.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired, BrokenPipeError):
                self._kill()
        for conn in (self._conn_in, self._conn_out):
            conn.close()
        self._process = None

    def _kill(self) -> None:
        try:
            os.killpg(self._process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self._process.wait()

    def close(self) -> None:
        self.stop()
        self._log_path.unlink(missing_ok=True)

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.close()  # __exit__ is not called when __enter__ raises
            raise
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    # -- requests ----------------------------------------------------------------------

    def _receive(self, timeout: float, what: str):
        if not self._conn_in.poll(timeout):
            self._kill()
            self._process = None
            raise WorkerError(f"timed out after {timeout:g} s {what}", "timeout")
        try:
            return self._conn_in.recv()
        except (EOFError, OSError):
            code = self._process.wait()
            self._process = None
            raise WorkerError(f"crashed ({describe_exit(code)}) {what}{self.log_tail()}") from None

    def _request(self, message: dict, timeout: float):
        self._conn_out.send(message)
        return self._receive(timeout, f"while {message['op']}")

    def call(
        self, variant: str, quantity: str, device: str, items: list, timeout: float | None = None
    ) -> list[ItemResult]:
        """Call the implementation on each (array, view) item; one ItemResult each, waiting
        at most `timeout` seconds (default: the worker's) for each.

        A timeout or a crash raises WorkerError naming the item it happened on (`index`,
        with the results before it in `done`); the worker is then gone, and the next call
        starts a new one.
        """
        if not self.alive:
            self.start()
        self._conn_out.send(
            {
                "op": "call",
                "variant": variant,
                "quantity": quantity,
                "device": device,
                "items": items,
            }
        )
        results = []
        for i, (array, view) in enumerate(items):
            where = f"on array {i + 1} of {len(items)} ({views.describe(array, view)})"
            try:
                reply = self._receive(self.timeout if timeout is None else timeout, where)
                if "fatal" in reply:
                    raise WorkerError(reply["fatal"], "load")
            except WorkerError as error:
                error.index, error.done = i, results
                raise
            results.append(ItemResult(reply["output"], reply["error"], reply["modified"]))
        return results

    def sweep(self, members, quantity, device, dtype, start: int, stop: int) -> dict:
        """Measure the bit patterns [start, stop) in the child, for each (module, variant)
        of `members` (modules other than the worker's own are loaded beside it): {"summaries":
        {i: Summary as JSON}, "errors": {i: why member i failed on them}}. WorkerError on a
        crash or a hang, as for `call`."""
        if not self.alive:
            self.start()
        message = {
            "op": "sweep",
            "members": [list(m) for m in members],
            "threads": self.threads,
            "quantity": quantity,
            "device": device,
            "dtype": dtype,
            "start": start,
            "stop": stop,
        }
        return self._request(message, self.timeout)

    def snippet(self, variant, quantity, dtype, device, x_hex) -> str:
        if not self.alive:
            self.start()
        reply = self._request(
            {
                "op": "snippet",
                "variant": variant,
                "quantity": quantity,
                "dtype": dtype,
                "device": device,
                "x_hex": x_hex,
            },
            60,
        )
        return reply.get("snippet", "")

    def log_tail(self, lines: int = 6) -> str:
        try:
            text = self._log_path.read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return ("; its last output: " + " | ".join(text[-lines:])) if text else ""


def describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit status {code}"


# -- the child ----------------------------------------------------------------------------


def _load(message: dict):
    import importlib

    module = importlib.import_module(f"conformance.frameworks.{message['module']}")
    if message.get("user"):
        module.load(*message["user"])
    if message.get("threads"):
        module.set_threads(message["threads"])
    return module


def _one_line(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}".strip().splitlines()
    return text[0][:300] if text else type(error).__name__


def _serve(conn_in: Connection, conn_out: Connection) -> None:
    module = None
    while True:
        message = conn_in.recv()
        op = message["op"]
        if op == "exit":
            return
        if op == "init":
            try:
                module = _load(message)
                info = {
                    "version": module.version(),
                    "devices": module.devices(),
                    "python": sys.version.split()[0],
                    "numpy": np.__version__,
                }
                conn_out.send({"ok": True, "info": info})
            except BaseException as error:
                conn_out.send({"ok": False, "error": f"cannot load: {_one_line(error)}"})
                return
        elif op == "call":
            try:
                function = module.build(message["variant"], message["quantity"], message["device"])
            except BaseException as error:
                conn_out.send({"fatal": f"cannot build the function: {_one_line(error)}"})
                continue
            for array, view in message["items"]:
                conn_out.send(_call_one(function, array, view))
        elif op == "sweep":
            conn_out.send(_sweep_chunk(module, message))
        elif op == "snippet":
            try:
                text = module.snippet(
                    message["variant"],
                    message["quantity"],
                    message["dtype"],
                    message["device"],
                    message["x_hex"],
                )
            except Exception:
                text = ""
            conn_out.send({"snippet": text})


_EXTRA_MODULES: dict = {}


def _member_module(module, name: str, threads):
    """The framework module `name`: the worker's own, or another loaded beside it (a sweep
    of several implementations shares one worker and one reference evaluation)."""
    if name == module.__name__.rsplit(".", 1)[-1]:
        return module
    if name not in _EXTRA_MODULES:
        _EXTRA_MODULES[name] = _load({"module": name, "threads": threads})
    return _EXTRA_MODULES[name]


def _sweep_chunk(module, message: dict) -> dict:
    from reference import fast

    from .sweep import chunk

    fast.set_threads(1)  # one worker per core already
    functions, errors = [], {}
    for i, (name, variant) in enumerate(message["members"]):
        try:
            member = _member_module(module, name, message.get("threads"))
            functions.append(member.build(variant, message["quantity"], message["device"]))
        except Exception as error:
            errors[i] = f"cannot build the function: {_one_line(error)}"
            functions.append(None)
    live = [i for i, f in enumerate(functions) if f is not None]
    outcomes = chunk.measure_many(
        [functions[i] for i in live],
        message["dtype"],
        message["quantity"],
        message["start"],
        message["stop"],
    )
    summaries = {}
    for i, outcome in zip(live, outcomes, strict=True):
        if isinstance(outcome, chunk.ChunkError):
            errors[i] = str(outcome)
        else:
            summaries[i] = outcome.as_json()
    return {"summaries": summaries, "errors": errors}


def _call_one(function, array: np.ndarray, view) -> dict:
    x = views.apply(array, view)
    before = x.copy()
    try:
        output = function(x)
    except BaseException as error:
        if isinstance(error, KeyboardInterrupt):
            raise
        return {"output": None, "error": _one_line(error), "modified": False}
    modified = before.tobytes() != x.tobytes()
    if isinstance(output, np.generic):  # numpy's own operations on 0-d arrays give these
        output = np.asarray(output)
    if not isinstance(output, np.ndarray):
        return {
            "output": None,
            "modified": modified,
            "error": f"returned {type(output).__name__}, not numpy.ndarray",
        }
    # A C-ordered copy (np.ascontiguousarray would turn a 0-d result into 1-d).
    return {"output": np.array(output, order="C"), "error": None, "modified": modified}


def main(argv: list[str]) -> None:
    # stdout is the log file: frameworks print there, the protocol uses its own pipes.
    conn_in = Connection(int(argv[0]), writable=False)
    conn_out = Connection(int(argv[1]), readable=False)
    try:
        _serve(conn_in, conn_out)
    except (EOFError, BrokenPipeError):
        pass
    except Exception:
        traceback.print_exc()
        sys.exit(3)


if __name__ == "__main__":
    main(sys.argv[1:])
    # Skip interpreter teardown: some frameworks' atexit handlers hang or crash.
    remove_generated_modules()  # the one atexit clean-up that matters
    sys.stdout.flush()
    os._exit(0)
