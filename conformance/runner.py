"""Running many implementations: groups in parallel, results in a fixed order.

Implementations that share a framework module (torch/*, tensorflow/*, jax/*) run one after
the other in one engine, so they share its worker process; the groups run in parallel, up
to `jobs` at a time (the frameworks spend much of the gate compiling kernels for new array
shapes, on one core each). The expected values are computed once and shared. Whatever the
order in which groups finish, `outcome(id, device)` gives the same findings.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from .engine import Engine, ReferenceStore, Target
from .findings import Finding
from .placement import Placement
from .policy import Policy, Profile
from .process.worker import WorkerError
from .registry import Spec


@dataclass
class Outcome:
    findings: list[Finding] = field(default_factory=list)
    skipped: str | None = None  # why the implementation did not run on that device


class Runner:
    def __init__(
        self,
        policy: Policy,
        profile: Profile,
        *,
        timeout: float = 120.0,
        jobs: int = 2,
        dtypes=None,
        progress=None,
        placement: Placement | None = None,
    ):
        self.policy, self.profile, self.timeout = policy, profile, timeout
        self.placement = placement or Placement()
        self.dtypes, self.progress = dtypes, progress
        self.store = ReferenceStore()
        self.versions: dict[str, dict] = {}
        self._futures: dict[tuple[str, str], Future] = {}
        self._pool = ThreadPoolExecutor(max_workers=max(1, jobs))
        self._lock = threading.Lock()
        self._stop = threading.Event()

    def submit(self, pairs: list[tuple[Spec, str]]) -> None:
        """Schedule (spec, device) pairs; those of one framework module run in one group."""
        groups: dict[tuple, list[tuple[Spec, str]]] = {}
        for spec, device in pairs:
            key = (spec.module, tuple(sorted(spec.env.items())), self.placement.python(spec))
            groups.setdefault(key, []).append((spec, device))
            self._futures[(spec.id, device)] = Future()
        # In the registry's order, which is the order tests and reports read them in.
        for members in groups.values():
            self._pool.submit(self._run_group, members)

    def _run_group(self, members: list[tuple[Spec, str]]) -> None:
        engine = Engine(
            self.policy, self.profile, self.timeout, self.progress, self.store, self._stop
        )
        try:
            for spec, device in members:
                future = self._futures[(spec.id, device)]
                try:
                    future.set_result(self._run_one(engine, spec, device))
                except BaseException as error:
                    future.set_exception(error)
        finally:
            with self._lock:
                for impl_id, info in engine.versions.items():
                    spec = next(s for s, _ in members if s.id == impl_id)
                    self.versions[impl_id] = {**info, **self.placement.describe(spec)}
            engine.close()

    def _run_one(self, engine: Engine, spec: Spec, device: str) -> Outcome:
        target = Target.of(spec, self.placement.python(spec))
        try:
            available = engine.info(target)["devices"]
        except WorkerError:
            return Outcome(engine.run(target, device, self.dtypes))  # reports the failure
        if device not in available:
            return Outcome(
                skipped=f"{spec.id} has no {device} device here (it has {', '.join(available)})"
            )
        return Outcome(engine.run(target, device, self.dtypes))

    def outcome(self, impl_id: str, device: str) -> Outcome:
        return self._futures[(impl_id, device)].result()

    def done(self, impl_id: str, device: str) -> bool:
        future = self._futures[(impl_id, device)]
        return future.done() and future.exception() is None

    def close(self) -> None:
        """Stop: running groups end at their next step, groups not started are cancelled,
        and the outcomes not reached say so."""
        self._stop.set()
        self._pool.shutdown(wait=True, cancel_futures=True)
        for future in self._futures.values():
            if not future.done():
                future.set_exception(RuntimeError("cancelled: the run stopped first"))
