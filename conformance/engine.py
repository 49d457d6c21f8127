"""The measurement engine: runs every check (`checks/`) of one implementation on one device.

One engine serves pytest (`conformance/test_gate.py`) and the CLI (`run`, `check`); the
sweeps (`sweep/`) share its measurement (`measure.py`), workers and policy. It runs the
steps of `checks.steps`, each check in a `context.Context`, and gives `Finding`s, each with a
verdict from the policy, a message a person can act on (input in hex, output, expected,
ulps, a one-line reproducer) and the record that goes into results.json.

Every call goes through a worker process (`process/worker.py`): a crash or a hang fails
the check it happened in, with its reason, and the engine goes on with the next.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import reference

from .checks import Scope, steps
from .context import Context, ImplementationContext
from .findings import Finding, finding_id
from .io import CACHE_DIR
from .learned import Learned
from .policy import Policy, Profile
from .process.worker import Worker, WorkerError
from .registry import Spec, thread_environment, user_environment


@dataclass
class Target:
    """What is checked: a registered implementation, or a user's MODULE:FUNCTION."""

    id: str
    module: str
    variant: str
    quantities: tuple
    dtypes: tuple
    env: dict  # the environment its framework needs (threads apart: `environment`)
    eager: str | None = None  # variant of the same module to compare with
    user: tuple | None = None
    frameworks: tuple[str, ...] | None = None  # adapters it runs on; None: any (a user's)
    python: str | None = None  # the interpreter of its worker; None: the suite's own

    @classmethod
    def of(cls, spec: Spec, python: str | None = None) -> Target:
        eager = spec.eager.split("/")[1] if spec.eager else None  # a variant of the module
        return cls(
            spec.id,
            spec.module,
            spec.variant,
            spec.quantities,
            spec.dtypes,
            dict(spec.env),
            eager,
            frameworks=(spec.framework, *spec.uses),
            python=python,
        )

    @classmethod
    def user_function(
        cls, forward: str, gradient: str | None, dtypes, python: str | None = None
    ) -> Target:
        quantities = ("forward", "gradient") if gradient else ("forward",)
        label = forward if not gradient else f"{forward} (derivative {gradient})"
        return cls(
            label,
            "user_impl",
            "user",
            quantities,
            tuple(dtypes),
            user_environment(),
            user=(forward, gradient),
            python=python,
        )

    def environment(self, threads: int | None = None) -> dict[str, str]:
        """Its worker's environment, every thread pool it may use at `threads` threads."""
        return {**thread_environment(threads, self.frameworks), **self.env}

    def worker(self, threads: int | None = None, timeout: float = 300.0) -> Worker:
        """A worker (not started) for this target."""
        return Worker(
            self.module, self.environment(threads), threads, self.user, timeout, self.python
        )


class Cancelled(RuntimeError):
    """The run was stopped (Engine.stop) before this implementation was done."""


class ReferenceStore:
    """Correctly rounded expected values, computed once per input set and shared by every
    engine of a run (engines may run in parallel threads: one lock per key)."""

    def __init__(self):
        self._values: dict[tuple, reference.Evaluation] = {}
        self._locks: dict[tuple, threading.Lock] = {}
        self._guard = threading.Lock()

    def get(self, key: tuple, x: np.ndarray, quantity: str, at_zero: str) -> reference.Evaluation:
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self._values:
                self._values[key] = _cached_evaluation(quantity, x, at_zero)
            return self._values[key]


class Engine:
    """Runs checks; holds the workers, the reference values and the policy."""

    def __init__(
        self,
        policy: Policy,
        profile: Profile,
        timeout: float = 120.0,
        progress=None,
        store: ReferenceStore | None = None,
        stop: threading.Event | None = None,
    ):
        self.policy, self.profile, self.timeout = policy, profile, timeout
        self.progress = progress or (lambda message: None)
        self.stop = stop or threading.Event()  # set by another thread: end the run early
        self._workers: dict[tuple, Worker] = {}
        self._store = store or ReferenceStore()
        self.versions: dict[str, dict] = {}
        self._learned: dict[tuple[str, str], Learned] = {}
        self._slowest: dict[str, float] = {}

    def learned(self, target: Target, quantity: str) -> Learned:
        """The inputs `target`'s `quantity` hung or crashed on so far (`learned.py`)."""
        return self._learned.setdefault((target.id, quantity), Learned())

    def record_call_time(self, target: Target, seconds: float) -> None:
        self._slowest[target.id] = max(self._slowest.get(target.id, 0.0), seconds)

    def slowest_call(self, target: Target) -> float:
        """The longest good call of `target` so far (seconds), which sizes the probes."""
        return self._slowest.get(target.id, 0.0)

    def close(self) -> None:
        for worker in self._workers.values():
            worker.close()
        self._workers.clear()

    # -- workers -----------------------------------------------------------------------

    def worker(
        self, target: Target, threads: int | None = None, dtype: str | None = None
    ) -> Worker:
        """The worker of the target's module (shared by its variants); others are closed,
        so that one framework at a time holds memory and threads.

        A compiled variant gets a fresh worker per dtype (`dtype`): what torch.compile
        generates for float32 depends on what the process compiled before (after the
        float16 and bfloat16 checks its vectorised loop has expm1; compiled first, exp(x)
        - 1), and a dtype's verdict must not depend on which dtypes were checked before.
        """
        dtype = dtype if target.eager else None
        key = (
            target.module,
            tuple(sorted(target.env.items())),
            threads,
            target.user,
            dtype,
            target.python,
        )
        if key not in self._workers:
            stale = [
                k
                for k in self._workers
                if k[0] != target.module or k[3:] != (target.user, dtype, target.python)
            ]
            for other in stale:
                self._workers.pop(other).close()
            self._workers[key] = target.worker(threads, self.timeout)
        return self._workers[key]

    def info(self, target: Target) -> dict:
        """Version and devices of the target's framework (starts its worker)."""
        worker = self.worker(target)
        if not worker.alive:
            worker.start()
        self.versions[target.id] = dict(worker.info)
        return worker.info

    # -- the reference -----------------------------------------------------------------

    def expected(
        self, dtype: str, set_name: str, x: np.ndarray, quantity: str, at_zero: str = "left"
    ) -> reference.Evaluation:
        return self._store.get((dtype, set_name, quantity, at_zero), x, quantity, at_zero)

    # -- running -----------------------------------------------------------------------

    def run(self, target: Target, device: str = "cpu", dtypes=None) -> list[Finding]:
        """Every check of `target` on `device`, for the dtypes asked for that it supports."""
        started = time.perf_counter()
        try:
            info = self.info(target)
        except WorkerError as error:
            return [
                Finding(
                    finding_id(target.id, device, "all", None, "load"),
                    "load",
                    "fail",
                    f"{target.id}: {error}",
                    {
                        "impl": target.id,
                        "device": device,
                        "check": "load",
                        "error": str(error),
                        "verdict": "fail",
                    },
                )
            ]
        version = info["version"]
        findings: list[Finding] = []
        for step in steps(target, device, dtypes):
            if self.stop.is_set():
                raise Cancelled(f"{target.id}: the run was stopped")
            if step.scope is Scope.QUANTITY:
                self.progress(f"{target.id} {device} {step.dtype} {step.quantity}")
                context = Context(self, target, device, step.dtype, step.quantity, version)
            else:
                context = ImplementationContext(self, target, device, version)
            for check in step.checks:
                findings += check.run(context)
        self.versions[target.id]["seconds"] = round(time.perf_counter() - started, 1)
        return findings


def _cached_evaluation(quantity: str, x: np.ndarray, at_zero: str) -> reference.Evaluation:
    """reference.evaluate, kept on disk for large float64 sets (every element needs mpmath
    there). The key covers the inputs, the arguments and the reference's source code."""
    if x.dtype != np.float64 or x.size < 4096:
        return reference.evaluate(quantity, x, at_zero=at_zero)
    digest = hashlib.sha256(x.tobytes())
    digest.update(f"{quantity}-{at_zero}".encode())
    for source in sorted((Path(reference.__file__).parent).glob("*.py")):
        digest.update(source.read_bytes())
    path = CACHE_DIR / "reference" / f"{digest.hexdigest()[:32]}.npz"
    try:
        with np.load(path) as saved:
            return reference.Evaluation(saved["values"], saved["residual"])
    except (OSError, KeyError, ValueError):
        pass
    result = reference.evaluate(quantity, x, at_zero=at_zero)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(f".{os.getpid()}.tmp.npz")
        np.savez(temporary, values=result.values, residual=result.residual)
        os.replace(temporary, path)
    except OSError:
        pass
    return result
