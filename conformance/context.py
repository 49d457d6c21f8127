"""The context a check runs in: one implementation, device, dtype and quantity, with the
calls through its worker (an input that hangs or crashes it is located and learned,
`learned.py`), the reference values, the reproducer snippets and the policy's judgement.

A failed call is a `CallFailed` with its failure kind (the policy's: error, crash, timeout,
wrong-dtype, wrong-shape, modified-input), never recognised by its message.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

import reference
from reference import format_of

from . import corpus, views
from .findings import Finding, finding_id
from .findings import finding as make_finding
from .learned import LEARNED_KINDS, FailedInput
from .measure import Figure, as_float64, compare_one_sided
from .policy import Verdict
from .process.worker import Failure, WorkerError

#: The policy's failure kind of each way a worker fails during a call.
_CALL_FAILURE = {
    Failure.TIMEOUT: "timeout",
    Failure.LOAD: "error",
    Failure.CRASH: "crash",
    Failure.ERROR: "crash",
}


class CallFailed(Exception):
    """A call went wrong: `kind` (a policy failure kind), on item `index` of the call,
    with the outcomes of the items before it in `done`."""

    def __init__(self, kind: str, message: str, index: int = 0, done: list | None = None):
        super().__init__(message)
        self.kind, self.message, self.index = kind, message, index
        self.done = done or []


@dataclass
class _Called:
    """An array called with the inputs that failed before left out: `keep` marks the
    elements called, `output` their outputs (None: the call failed, `failure`)."""

    keep: np.ndarray
    output: np.ndarray | None
    failure: CallFailed | None


#: A probe (a part of an array that hung or crashed, called again to find the input that
#: did it) counts as hanging after this long, or ten times the slowest good call so far.
PROBE_SECONDS = 10.0
#: Inputs located per array before the check gives up on it.
LOCATE_ROUNDS = 3


class Context:
    """The checks of one (target, device, dtype, quantity): `engine` (engine.Engine) holds
    the workers, the reference values and the policy; `target` is an engine.Target."""

    def __init__(self, engine, target, device: str, dtype: str, quantity: str, version: str):
        self.engine, self.target, self.device = engine, target, device
        self.dtype, self.quantity, self.version = dtype, quantity, version
        self.fmt = format_of(dtype)
        self.bound = engine.profile.bound(dtype)
        self.learned = engine.learned(target, quantity)
        self._snippets: dict[str, str] = {}
        # set name -> (inputs called, their outputs), for the checks that compare the
        # implementation with itself (`checks.accuracy`)
        self.accuracy_outputs: dict[str, tuple] = {}

    # -- helpers ----------------------------------------------------------------------

    def id(self, check: str) -> str:
        return finding_id(self.target.id, self.device, self.dtype, self.quantity, check)

    def base_record(self, **more) -> dict:
        return {
            "impl": self.target.id,
            "device": self.device,
            "dtype": self.dtype,
            "quantity": self.quantity,
            **more,
        }

    def outcomes(
        self,
        items: list,
        variant: str | None = None,
        threads: int | None = None,
        timeout: float | None = None,
        probe: bool = False,
    ) -> list:
        """An output, or the CallFailed of what went wrong with it, for each (array, view)
        item. A hang or a crash raises CallFailed (its `index` and the outcomes `done`
        before it): the worker is gone. `probe`: a call made to locate an input, not
        counted as a hang or crash of the implementation."""
        if self.learned.exhausted:
            raise CallFailed("timeout" if self.learned.hangs else "crash", self.learned.exhausted)
        worker = self.engine.worker(self.target, threads, self.dtype)
        started = time.perf_counter()
        try:
            results = worker.call(
                variant or self.target.variant, self.quantity, self.device, items, timeout
            )
        except WorkerError as error:
            if not probe:
                self.learned.count(error.kind)
            done = [self._checked(item, r) for item, r in zip(items, error.done, strict=False)]
            raise CallFailed(
                _CALL_FAILURE[error.kind],
                f"the implementation {error}",
                error.index or 0,
                done,
            ) from None
        self.engine.record_call_time(self.target, time.perf_counter() - started)
        return [self._checked(item, result) for item, result in zip(items, results, strict=True)]

    @staticmethod
    def _checked(item, result):
        array, view = item
        where = f"for a {views.describe(array, view)}"
        if result.error is not None:
            return CallFailed("error", f"raised {result.error} {where}")
        if result.modified:
            return CallFailed("modified-input", f"modified its input {where}")
        expected_shape = views.shape_of(array, view)
        if result.output.dtype != array.dtype:
            return CallFailed("wrong-dtype", f"returned {result.output.dtype} {where}")
        if result.output.shape != expected_shape:
            return CallFailed(
                "wrong-shape",
                f"returned shape {result.output.shape} instead of {expected_shape} {where}",
            )
        return result.output

    def call(self, items: list, variant: str | None = None, threads: int | None = None) -> list:
        """Outputs for (array, view) items; CallFailed on the first bad one."""
        outputs = self.outcomes(items, variant, threads)
        for i, output in enumerate(outputs):
            if isinstance(output, CallFailed):
                output.index = i
                raise output
        return outputs

    def call_array(self, x: np.ndarray, where: str, pad: bool = False) -> _Called:
        """Call on the elements of `x` that have not hung or crashed before (`learned`).
        When the call hangs or crashes, find the input that did it (`locate`), learn it,
        and call again without it, up to LOCATE_ROUNDS times. `pad`: the elements are
        called at the start of an array of a multiple of corpus.PADDING elements (in the
        vectorised body)."""
        keep = ~self.learned.mask(x)
        failure = None
        for _ in range(LOCATE_ROUNDS + 1):
            part = x.ravel()[keep]
            array = corpus.padded(part) if pad else part
            try:
                (output,) = self.call([(array, None)])
                return _Called(keep, output[: part.size], None)
            except CallFailed as failed:
                failure = failed
            if failure.kind not in LEARNED_KINDS or self.learned.exhausted or not part.size:
                break
            culprit = self.locate(part, failure.kind)
            if culprit is None:
                break
            found = FailedInput(float(as_float64(culprit)), failure.kind, where, failure.message)
            self.learned.add(found)
            keep &= ~found.matches(x.ravel())
        return _Called(keep, None, failure)

    def locate(self, x: np.ndarray, kind: str):
        """The input of `x` that makes a call hang or crash (`kind`), by bisection with
        probes of a short timeout; None when no single input does it."""

        def fails(part) -> bool:
            try:
                self.outcomes([(part, None)], timeout=timeout, probe=True)
            except CallFailed as failed:
                return failed.kind == kind
            return False

        slowest = self.engine.slowest_call(self.target)
        timeout = min(self.engine.timeout, max(PROBE_SECONDS, 10 * slowest))
        candidates = np.arange(x.size)
        while candidates.size > 1:
            half = candidates[: candidates.size // 2]
            candidates = half if fails(x[half]) else candidates[candidates.size // 2 :]
        return x[candidates[0]] if fails(x[candidates]) else None

    def left_out_text(self, left_out: list[dict]) -> str:
        parts = [
            f"{r['count']} x {r['input']} ({'hung' if r['kind'] == 'timeout' else 'crashed'} "
            f"in {r['where']})"
            for r in left_out
        ]
        return "left out: " + "; ".join(parts)

    def snippet(self, x_hex: str) -> str:
        if x_hex not in self._snippets:
            try:
                self._snippets[x_hex] = self.engine.worker(self.target, dtype=self.dtype).snippet(
                    self.target.variant, self.quantity, self.dtype, self.device, x_hex
                )
            except WorkerError:
                self._snippets[x_hex] = ""
        return self._snippets[x_hex]

    def judge(self, check: str, figure: Figure, bound: float, case=None) -> Verdict:
        return self.engine.policy.judge(
            self.engine.profile,
            impl=self.target.id,
            version=self.version,
            device=self.device,
            dtype=self.dtype,
            quantity=self.quantity,
            check=check,
            figure=figure,
            bound=bound,
            case=case,
        )

    def finding_from_failure(self, check: str, failure: CallFailed, **record) -> Finding:
        verdict = self.judge(check, Figure(np.inf, {failure.kind: None}), self.bound)
        message = f"{self.id(check)}: {failure.message}"
        rec = self.base_record(check=check, error=failure.message, kind=failure.kind, **record)
        return make_finding(self.id(check), check, verdict, message, rec)

    def expected(self, set_name: str, x: np.ndarray, keep: np.ndarray | None = None):
        """(values, residual) of the reference; at x = ±0 the derivative's two one-sided
        values are both right, so the right-hand ones come too (None for forward). `keep`:
        those of the elements it marks (the reference is of the whole set, cached)."""
        left = self.engine.expected(self.dtype, set_name, x, self.quantity)
        zeros = as_float64(x).ravel() == 0
        right = None
        if self.quantity == "gradient":
            right = (zeros, reference.evaluate(self.quantity, x.ravel()[zeros], at_zero="right"))
        if keep is None or keep.all():
            return left, right
        left = reference.Evaluation(left.values.ravel()[keep], left.residual.ravel()[keep])
        if right is not None:
            chosen = keep[zeros]
            evaluation = right[1]
            right = (
                zeros[keep],
                reference.Evaluation(evaluation.values[chosen], evaluation.residual[chosen]),
            )
        return left, right

    def comparison(self, x, got, left, right):
        """`measure.compare_one_sided` of `got` with the expected values of `expected`."""
        return compare_one_sided(x, got, left, right, self.fmt)

    # -- checks ------------------------------------------------------------------------


@dataclass
class ImplementationContext:
    """The context of a check of the whole implementation on a device (`Scope.IMPLEMENTATION`)."""

    engine: object  # engine.Engine
    target: object  # engine.Target
    device: str
    version: str
