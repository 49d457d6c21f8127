"""Worker processes: every implementation runs in a child process, never in the suite's own.

A crash (abort, segfault), a hang or a thread-pool clash in a framework then costs one
worker, which is reported and replaced, and the run goes on. The parent (`Worker`) starts
`python -m conformance.process.worker` with two pipes and talks to it in pickled messages:

    parent -> child   {"op": "init", "module": ..., "threads": n | None, "user": (f, g)}
    child -> parent   {"ok": True, "info": {...}} | {"ok": False, "error": "..."}
                      info: version, devices, python, interpreter, numpy, cpu_capability
                      (the module's optional `cpu_capability()`, else None), numpy_simd
    parent -> child   {"op": "call", "variant", "quantity", "device", "items": [(array, view)]}
    child -> parent   one {"index": i, "output": array | None, "error": str | None,
                      "modified": bool} per item, as each is done
    parent -> child   {"op": "snippet", ...} -> {"snippet": str}
    parent -> child   {"op": "task", "task": "MODULE:FUNCTION", "arguments": {...}}
                      -> {"result": ...}: FUNCTION(module, **arguments), where `module` is
                      the worker's framework module; how the sweeps measure a chunk in the
                      child (`sweep/chunk.py`) and the self-normalisation checks measure a
                      framework (`selfnorm/child.py`). An exception it raises comes back
                      as {"error": "..."}.

The child may run in another interpreter (`python`: another virtual environment, another
numpy): it needs only numpy, ml_dtypes and the framework, and the suite's checkout on its
path. Messages cross as builtins (`wire.py`: arrays as raw bytes with their dtype's name),
so that numpy 1.26 on one side and 2.x on the other understand each other.

Each item is an array plus a *view* recipe (`views.apply`), applied in the child, because
pickling an array makes it contiguous: strided, transposed and offset inputs must be made
where the function is called. The parent waits at most `timeout` seconds for each item.
The child's stdout and stderr go to a log file whose tail is quoted when it dies.
"""

from __future__ import annotations

import importlib
import os
import signal
import subprocess
import sys
import tempfile
import traceback
from dataclasses import dataclass
from enum import StrEnum
from multiprocessing.connection import Connection
from pathlib import Path

import numpy as np

from .. import views
from ..io import CHECKOUT
from .wire import decode, encode


class Failure(StrEnum):
    """How a worker failed; the values are the failure kinds of results.json and of the
    policy (`kinds`)."""

    LOAD = "load"  # the module or the function could not be loaded or built
    CRASH = "crash"  # it died
    TIMEOUT = "timeout"  # it hung
    ERROR = "error"  # a task raised, or the child answered something else


class WorkerError(RuntimeError):
    """The worker died, hung, could not load the implementation, or a task failed.

    `kind`: a `Failure`; `detail`: the reason without the context the message adds (for a
    load failure, the exception of the import). For a failure during `call`, `index` is
    the item it happened on and `done` the results of the items before.
    """

    def __init__(self, message: str, kind: Failure = Failure.CRASH, detail: str | None = None):
        super().__init__(message)
        self.kind = Failure(kind)
        self.detail = message if detail is None else detail
        self.index: int | None = None
        self.done: list[ItemResult] = []


@dataclass
class ItemResult:
    output: np.ndarray | None
    error: str | None = None
    modified: bool = False


class Worker:
    """A child process serving one framework module (or a user's function).

    `env`: the environment the framework needs (`engine.Target.environment`), over the caller's;
    `threads`: the intra-op threads the module is told to use (`set_threads`), None for
    its default; `python`: the interpreter the child runs in (default: the suite's own).
    """

    def __init__(
        self,
        module: str,
        env: dict | None = None,
        threads: int | None = None,
        user: tuple[str, str | None] | None = None,
        timeout: float = 300.0,
        python: str | None = None,
    ):
        self.module, self.threads, self.user, self.timeout = module, threads, user, timeout
        self.python = python or sys.executable
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
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **self.env}
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(CHECKOUT), env.get("PYTHONPATH", "")) if p
        )
        with open(self._log_path, "ab") as log:  # the child keeps its own handle
            self._process = subprocess.Popen(
                [self.python, "-m", __name__, str(child_read), str(child_write)],
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
            raise WorkerError(f"cannot load: {reply['error']}", Failure.LOAD, reply["error"])
        self.info = reply["info"]
        return self.info

    def stop(self) -> None:
        if self._process is None:
            return
        if self._process.poll() is None:
            try:
                self._send({"op": "exit"})
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
            raise WorkerError(f"timed out after {timeout:g} s {what}", Failure.TIMEOUT)
        try:
            return decode(self._conn_in.recv())
        except (EOFError, OSError):
            code = self._process.wait()
            self._process = None
            message = f"crashed ({describe_exit(code)}) {what}{self.log_tail()}"
            raise WorkerError(message, Failure.CRASH) from None

    def _send(self, message: dict) -> None:
        self._conn_out.send(encode(message))

    def _request(self, message: dict, timeout: float, what: str | None = None):
        self._send(message)
        return self._receive(timeout, what or f"while {message['op']}")

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
        self._send(
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
                    raise WorkerError(reply["fatal"], Failure.LOAD)
            except WorkerError as error:
                error.index, error.done = i, results
                raise
            results.append(ItemResult(reply["output"], reply["error"], reply["modified"]))
        return results

    def task(self, task: str, arguments: dict, timeout: float | None = None, what: str = ""):
        """Run FUNCTION(module, **arguments) of `task` ("MODULE:FUNCTION") in the child and
        return its result; WorkerError on a crash or a hang (as for `call`; its message
        says `what` the task was doing), or of kind ERROR when it raised."""
        if not self.alive:
            self.start()
        message = {"op": "task", "task": task, "arguments": arguments}
        reply = self._request(message, self.timeout if timeout is None else timeout, what or task)
        if "error" in reply:
            raise WorkerError(reply["error"], Failure.ERROR)
        return reply["result"]

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


def load_module(message: dict):
    """Import the framework module of an init message, load the user's function into it
    and set its threads."""
    module = importlib.import_module(f"conformance.frameworks.{message['module']}")
    _LOADED.append(module)
    if message.get("user"):
        module.load(*message["user"])
    if message.get("threads"):
        module.set_threads(message["threads"])
    return module


_LOADED: list = []  # the framework modules this child imported, for `at_exit`


def _none() -> None:
    return None


def numpy_simd() -> str | None:
    """numpy's SIMD targets on this CPU, which pick its loops: its baseline, then the
    targets it dispatches to that the CPU has ("X86_V2 X86_V3"); None where numpy does not
    say (numpy 2 keeps them in numpy._core, 1.x in numpy.core)."""
    try:
        from numpy._core import _multiarray_umath as umath
    except ImportError:
        try:
            from numpy.core import _multiarray_umath as umath
        except ImportError:
            return None
    features = getattr(umath, "__cpu_features__", {})
    targets = [*getattr(umath, "__cpu_baseline__", [])]
    targets += [t for t in getattr(umath, "__cpu_dispatch__", []) if features.get(t)]
    return " ".join(targets) or None


def one_line(error: BaseException) -> str:
    """An exception as one line: its type and the first line of its message."""
    text = f"{type(error).__name__}: {error}".strip().splitlines()
    return text[0][:300] if text else type(error).__name__


class _Channel:
    """The child's end of the pipe, speaking `wire`'s builtins."""

    def __init__(self, conn: Connection):
        self._conn = conn

    def send(self, message: dict) -> None:
        self._conn.send(encode(message))


def _serve(conn_in: Connection, raw_out: Connection) -> None:
    module = None
    conn_out = _Channel(raw_out)
    while True:
        message = decode(conn_in.recv())
        op = message["op"]
        if op == "exit":
            return
        if op == "init":
            try:
                module = load_module(message)
                info = {
                    "version": module.version(),
                    "devices": module.devices(),
                    "python": sys.version.split()[0],
                    "interpreter": sys.executable,
                    "numpy": np.__version__,
                    # What picks the kernels: a sweep on a cluster refuses a machine
                    # where these differ from its own (sweep/cluster.py).
                    "cpu_capability": getattr(module, "cpu_capability", _none)(),
                    "numpy_simd": numpy_simd(),
                }
                conn_out.send({"ok": True, "info": info})
            except BaseException as error:
                conn_out.send({"ok": False, "error": one_line(error)})
                return
        elif op == "call":
            try:
                function = module.build(message["variant"], message["quantity"], message["device"])
            except BaseException as error:
                conn_out.send({"fatal": f"cannot build the function: {one_line(error)}"})
                continue
            for array, view in message["items"]:
                conn_out.send(_call_one(function, array, view))
        elif op == "task":
            conn_out.send(_task(module, message))
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


def _task(module, message: dict) -> dict:
    try:
        name, _, function = message["task"].partition(":")
        run = getattr(importlib.import_module(name), function)
        return {"result": run(module, **message["arguments"])}
    except Exception as error:
        return {"error": one_line(error)}


def _call_one(function, array: np.ndarray, view) -> dict:
    x = views.apply(array, view)
    before = x.copy()
    try:
        output = function(x)
    except BaseException as error:
        if isinstance(error, KeyboardInterrupt):
            raise
        return {"output": None, "error": one_line(error), "modified": False}
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
    # Skip interpreter teardown: some frameworks' atexit handlers hang or crash; the
    # clean-ups that matter are the modules' own (`at_exit`).
    for loaded in _LOADED:
        getattr(loaded, "at_exit", lambda: None)()
    sys.stdout.flush()
    os._exit(0)
