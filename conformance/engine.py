"""The measurement engine: runs every check of one implementation on one device.

One engine serves pytest (`conformance/test_gate.py`) and the CLI (`run`, `check`); the
sweeps (`sweep/`) share its measurement (`measure.py`), workers and policy. For each dtype
and quantity it produces `Finding`s, each with a verdict from the
policy, a message a person can act on (input in hex, output, expected, ulps, a one-line
reproducer) and the record that goes into results.json:

    accuracy            every input of an input set against the correctly rounded reference
    special             the special cases of data/special_values.toml, each on its own
    layout              the same values in other layouts, bitwise against the plain call
    threads             one intra-op thread against the default pool, bitwise
    eager-vs-compiled   a compiled variant against its eager counterpart, bitwise
    dtype               the output dtype, and what integer, bool and complex inputs do

Every call goes through a worker process (`worker.py`): a crash or a hang fails the check
it happened in, with its reason, and the engine goes on with the next.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import reference
from reference import format_of

from . import corpus, inputs, layout, views
from .learned import LEARNED_KINDS, FailedInput, Learned
from .measure import (
    Figure,
    as_float64,
    bitwise_differences,
    compare_one_sided,
    encoding_distance,
    hexf,
    round_significant,
    summarize,
)
from .policy import Policy, Profile, Verdict
from .registry import Spec
from .results import cpu_level
from .worker import CHECKOUT, Worker, WorkerError

CACHE_DIR = Path(os.environ.get("CONFORMANCE_CACHE", Path(__file__).parent.parent / ".cache"))


@dataclass
class Finding:
    """The outcome of one check, for one implementation, device, dtype and quantity."""

    finding_id: str
    check: str
    verdict: str  # pass, known-deviation, fail
    message: str
    record: dict = field(default_factory=dict)


@dataclass
class Target:
    """What is checked: a registered implementation, or a user's MODULE:FUNCTION."""

    id: str
    module: str
    variant: str
    quantities: tuple
    dtypes: tuple
    env: dict
    eager: str | None = None  # variant of the same module to compare with
    user: tuple | None = None

    @classmethod
    def of(cls, spec: Spec) -> Target:
        eager = spec.eager.split("/")[1] if spec.eager else None  # a variant of the module
        env = dict(spec.env)
        if spec.module == "tensorflow_impl":
            env.setdefault("KERAS_BACKEND", "tensorflow")
        if spec.module == "keras_impl":  # Keras would move tensors to a GPU on its own
            env.update({"CUDA_VISIBLE_DEVICES": "", "JAX_PLATFORMS": "cpu"})
        return cls(spec.id, spec.module, spec.variant, spec.quantities, spec.dtypes, env, eager)

    @classmethod
    def user_function(cls, forward: str, gradient: str | None, dtypes) -> Target:
        quantities = ("forward", "gradient") if gradient else ("forward",)
        label = forward if not gradient else f"{forward} (derivative {gradient})"
        return cls(
            label, "user_impl", "user", quantities, tuple(dtypes), {}, user=(forward, gradient)
        )


def finding_id(impl: str, device: str, dtype: str, quantity: str | None, check: str) -> str:
    parts = [impl] + ([device] if device != "cpu" else []) + [dtype]
    parts += [quantity] if quantity else []
    return "-".join([*parts, check])


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
        key = (target.module, tuple(sorted(target.env.items())), threads, target.user, dtype)
        if key not in self._workers:
            stale = [
                k
                for k in self._workers
                if k[0] != target.module or k[3] != target.user or k[4] != dtype
            ]
            for other in stale:
                self._workers.pop(other).close()
            self._workers[key] = Worker(
                target.module, target.env, threads, target.user, self.timeout
            )
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
        for dtype in [d for d in target.dtypes if dtypes is None or d in dtypes]:
            for quantity in target.quantities:
                if self.stop.is_set():
                    raise Cancelled(f"{target.id}: the run was stopped")
                self.progress(f"{target.id} {device} {dtype} {quantity}")
                context = _Context(self, target, device, dtype, quantity, version)
                findings += context.run_all()
        if target.user is None:  # a user's function is only defined on the float dtypes
            findings += _dtype_handling(self, target, device, version)
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


class _CallFailed(Exception):
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
    failure: _CallFailed | None


#: A probe (a part of an array that hung or crashed, called again to find the input that
#: did it) counts as hanging after this long, or ten times the slowest good call so far.
PROBE_SECONDS = 10.0
#: Inputs located per array before the check gives up on it.
LOCATE_ROUNDS = 3


class _Context:
    """The checks of one (target, device, dtype, quantity)."""

    def __init__(
        self, engine: Engine, target: Target, device: str, dtype: str, quantity: str, version: str
    ):
        self.engine, self.target, self.device = engine, target, device
        self.dtype, self.quantity, self.version = dtype, quantity, version
        self.fmt = format_of(dtype)
        self.bound = engine.profile.bound(dtype)
        self.learned = engine.learned(target, quantity)
        self._snippets: dict[str, str] = {}

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
        """An output, or the _CallFailed of what went wrong with it, for each (array, view)
        item. A hang or a crash raises _CallFailed (its `index` and the outcomes `done`
        before it): the worker is gone. `probe`: a call made to locate an input, not
        counted as a hang or crash of the implementation."""
        if self.learned.exhausted:
            raise _CallFailed("timeout" if self.learned.hangs else "crash", self.learned.exhausted)
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
            raise _CallFailed(
                {"timeout": "timeout", "load": "error"}.get(error.kind, "crash"),
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
            return _CallFailed("error", f"raised {result.error} {where}")
        if result.modified:
            return _CallFailed("modified-input", f"modified its input {where}")
        expected_shape = views.shape_of(array, view)
        if result.output.dtype != array.dtype:
            return _CallFailed("wrong-dtype", f"returned {result.output.dtype} {where}")
        if result.output.shape != expected_shape:
            return _CallFailed(
                "wrong-shape",
                f"returned shape {result.output.shape} instead of {expected_shape} {where}",
            )
        return result.output

    def call(self, items: list, variant: str | None = None, threads: int | None = None) -> list:
        """Outputs for (array, view) items; _CallFailed on the first bad one."""
        outputs = self.outcomes(items, variant, threads)
        for i, output in enumerate(outputs):
            if isinstance(output, _CallFailed):
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
            except _CallFailed as failed:
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
            except _CallFailed as failed:
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

    def finding_from_failure(self, check: str, failure: _CallFailed, **record) -> Finding:
        verdict = self.judge(check, Figure(np.inf, {failure.kind: None}), self.bound)
        message = f"{self.id(check)}: {failure.message}"
        rec = self.base_record(check=check, error=failure.message, kind=failure.kind, **record)
        return _finding(self.id(check), check, verdict, message, rec)

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

    def run_all(self) -> list[Finding]:
        # The special values first, each in arrays of its own: an input that hangs or
        # crashes the implementation is most often one of them, and is then known (and
        # left out) before the large arrays of the other checks are called.
        findings = [self.special()]
        accuracy_outputs = {}
        for set_name, x in inputs.accuracy_sets(self.dtype, self.quantity).items():
            finding, called = self.accuracy(set_name, x)
            findings.append(finding)
            accuracy_outputs[set_name] = called
        findings.append(self.layout())
        first = next(iter(accuracy_outputs.values()))
        # The intra-op thread pool is the CPU's; a user's numpy function has none of ours.
        if self.target.user is None and self.device == "cpu":
            findings.append(self.threads(*first))
        if self.target.eager:
            findings.append(self.eager_vs_compiled(*first))
        return findings

    def accuracy(self, set_name: str, x: np.ndarray) -> tuple[Finding, tuple]:
        """The accuracy finding of one input set, and (inputs called, their outputs) for
        the checks that compare the implementation with itself."""
        check = "accuracy"
        tid = self.id(set_name)
        where = f"{self.dtype} {self.quantity}, {set_name} inputs"
        called = self.call_array(x, where, pad=set_name == "corpus")
        left_out = self.learned.left_out(x)
        kept = x.ravel()[called.keep]
        if called.output is None:
            finding = self.finding_from_failure(
                check, called.failure, input_set=set_name, source=set_name, left_out=left_out
            )
            finding.finding_id = tid
            return finding, (kept, None)
        got = called.output
        cmp, expected = self.comparison(kept, got, *self.expected(set_name, x, called.keep))
        summary = summarize(kept, got, expected, cmp)
        failed_kinds = {r["kind"]: None for r in left_out}
        figure = summary.figure
        if failed_kinds:
            figure = Figure(figure.max_ulp, {**figure.kinds, **failed_kinds}, None)
        verdict = self.judge(check, figure, self.bound)
        record = self.base_record(input_set=set_name, source=set_name, **summary.as_dict())
        lines = [
            f"{tid}: {summary.count} inputs, max error {summary.max_ulp:g} ulp "
            f"(bound {self.bound:g})"
        ]
        if summary.in_figure < summary.count:
            lines[0] += (
                f"; {summary.count - summary.in_figure} without an ulp figure (NaN given, "
                "or ±inf or NaN due)"
            )
        if left_out:
            record["left_out"] = left_out
            lines.append(f"  {self.left_out_text(left_out)}")
        if set_name == "corpus":
            verdict = self.replay(kept, cmp, record, lines, verdict)
        if summary.max_ulp > self.bound:
            lines.append(
                f"  worst: x = {summary.worst_input}: got {summary.worst_output}, "
                f"expected {summary.worst_expected}"
            )
            record["reproduce"] = self.snippet(summary.worst_input)
            lines.append(f"  reproduce: {record['reproduce']}")
        if summary.violations:
            counts = ", ".join(f"{k} x{n}" for k, n in summary.violations.items())
            first = summary.first_violation
            lines.append(
                f"  special-value violations: {counts}; first: {first['kind']} at "
                f"x = {first['input']}: got {first['output']}, expected "
                f"{first['expected']}"
            )
            first["reproduce"] = self.snippet(first["input"])
            lines.append(f"  reproduce: {first['reproduce']}")
        return _finding(tid, check, verdict, "\n".join(lines), record), (kept, got)

    def replay(self, kept, cmp, record, lines, verdict: Verdict) -> Verdict:
        """The corpus lines of this implementation, device and version, input by input: an
        error grown, or a class changed, at one of them fails the check."""
        found = corpus.replay(
            corpus.entries(self.dtype, self.quantity),
            impl=self.target.id,
            device=self.device,
            cpu=cpu_level(),
            version=self.version,
            x=kept,
            errors=cmp.ulp,
            kinds=cmp.kinds,
        )
        record["corpus"] = {
            "file": str(corpus.path(self.dtype, self.quantity).relative_to(CHECKOUT)),
            "compared": found.compared,
            "regressions": found.regressions,
            "improved": found.improved,
            "not_compared": found.others,
        }
        if found.others and not found.compared:
            lines.append(
                f"  its corpus lines ({', '.join(found.others)}) are not compared input by "
                f"input here ({self.version} on {cpu_level()}): `make sweep` adds this machine's"
            )
        if found.improved:
            lines.append(f"  {found.improved} corpus inputs improved: `make sweep` refreshes them")
        if not found.regressions:
            return verdict
        lines.append(
            f"  worse than the corpus at {len(found.regressions)} of {found.compared} of its "
            f"inputs: " + "; ".join(found.regressions[:5])
        )
        return Verdict(
            "fail", verdict.deviation, f"regression at {len(found.regressions)} corpus inputs"
        )

    def special(self) -> Finding:
        """Every special case alone, in the body, the tail and a one-element array."""
        check = "special"
        cases = inputs.special_cases(self.dtype)
        values = inputs.special_array(self.dtype)
        arrays = inputs.special_arrays(values)
        n = inputs.SPECIAL_ELEMENTS
        x_all = np.concatenate(arrays)
        outcomes = self._special_outcomes(cases, arrays)
        got_all = np.concatenate(
            [
                o if isinstance(o, np.ndarray) else np.zeros_like(a)
                for o, a in zip(outcomes, arrays, strict=True)
            ]
        )
        left, right = self.expected("special", x_all)
        cmp, _ = self.comparison(x_all, got_all, left, right)
        # The right-hand derivative at ±0, by index into x_all (the other correct answer).
        right_at = {}
        if right is not None:
            zeros, evaluation = right
            indices = np.flatnonzero(zeros).tolist()
            right_at = dict(zip(indices, as_float64(evaluation.values).tolist(), strict=True))
        records, bad, worst = [], [], Verdict("pass")
        for i, case in enumerate(cases):
            span = slice(i * n, (i + 1) * n)
            expected = [hexf(as_float64(left.values[span.start]))]
            if span.start in right_at:
                expected.append(hexf(right_at[span.start]))
            rec, verdict, line = self._special_case(
                case, values[i : i + 1], expected, got_all[span], cmp, span,
                outcomes[2 * i : 2 * i + 2],
            )  # fmt: skip
            records.append(rec)
            if line:
                bad.append(f"{line} [{verdict.verdict}]")
            worst = _worse(worst, verdict)
        message = f"{self.id(check)}: {len(cases) - len(bad)} of {len(cases)} special cases right"
        message += " (each alone: in the body, the tail, a one-element array)"
        if bad:
            for r in records:  # a reproducer for each wrong case (each is one call)
                if not r["ok"] and r["output"] is not None:
                    r["reproduce"] = self.snippet(r["input"])
            message += "\n" + "\n".join(bad)
            first_bad = next((r for r in records if r.get("reproduce")), None)
            if first_bad:
                message += f"\n  reproduce: {first_bad['reproduce']}"
        record = self.base_record(check=check, cases=records)
        return _finding(self.id(check), check, worst, message, record)

    def _special_outcomes(self, cases, arrays) -> list:
        """The outcome of every array of `special_arrays`: an output, a _CallFailed, or
        the FailedInput learned before that stands for its value (not called)."""
        outcomes: list = [None] * len(arrays)
        queue = list(range(len(arrays)))
        while queue:
            for k in queue:
                for failed in self.learned.inputs:
                    if failed.matches(arrays[k][:1])[0]:
                        outcomes[k] = failed
            queue = [k for k in queue if outcomes[k] is None]
            if not queue:
                break
            try:
                for k, outcome in zip(
                    queue, self.outcomes([(arrays[k], None) for k in queue]), strict=True
                ):
                    outcomes[k] = outcome
                break
            except _CallFailed as failure:
                for k, outcome in zip(queue, failure.done, strict=False):
                    outcomes[k] = outcome
                k = queue[failure.index]
                outcomes[k] = failure
                if failure.kind in LEARNED_KINDS and not self.learned.exhausted:
                    case = cases[k // 2]
                    where = f"{self.dtype} {self.quantity}, special case {case.name}"
                    value = float(as_float64(arrays[k][0]))
                    self.learned.add(FailedInput(value, failure.kind, where, failure.message))
                elif self.learned.exhausted:
                    for j in queue[failure.index + 1 :]:
                        outcomes[j] = _CallFailed(failure.kind, self.learned.exhausted)
                    break
                queue = queue[failure.index + 1 :]
        return outcomes

    def _special_case(
        self, case, x0, expected, got, cmp, span, outcomes
    ) -> tuple[dict, Verdict, str]:
        """The record of one special case, its verdict and, when it is wrong, the line that
        says so. `expected`: its correct values (hex; at ±0 the derivative has two);
        `outcomes`: those of its long array and of its one-element array."""
        errors = cmp.ulp[span]
        kinds_of = {k: m[span] for k, m in cmp.kinds.items()}
        called = np.zeros(errors.size, dtype=bool)
        outputs, wrong, failed, kinds, position_ulp = {}, [], {}, set(), []
        for position, where in inputs.SPECIAL_POSITIONS.items():
            outcome = outcomes[0 if where.stop <= inputs.SPECIAL_LENGTH else 1]
            if not isinstance(outcome, np.ndarray):
                failed[position] = outcome
                outputs[position] = None
                continue
            idx = np.arange(errors.size)[where]
            called[idx] = True
            # The worst element of the position: a violation first, then the largest error.
            score = np.where(np.isnan(errors[idx]), np.inf, errors[idx])
            for mask in kinds_of.values():
                score = np.where(mask[idx], np.inf, score)
            j = int(idx[np.argmax(score)])
            position_kinds = [k for k, mask in kinds_of.items() if mask[j]]
            error = None if np.isnan(errors[j]) else float(errors[j])
            outputs[position] = hexf(as_float64(got[j]))
            if position_kinds or error is None or error > self.bound:
                wrong.append(position)
            kinds |= set(position_kinds)
            if error is not None:
                position_ulp.append(error)
        failure_kinds = {f.kind for f in failed.values()}
        ok = not wrong and not failed
        first_wrong = next((p for p in (*wrong, *outputs) if outputs[p] is not None), None)
        rec = self.base_record(
            case=case.name,
            input=hexf(as_float64(x0)[0]),
            output=outputs[first_wrong] if first_wrong else None,
            outputs=outputs,
            expected=expected,
            ok=ok,
            ulp=round_significant(max(position_ulp)) if position_ulp else None,
            kinds=sorted(kinds | failure_kinds),
            wrong_positions=[p for p in outputs if p in wrong or p in failed],
        )
        if failed:
            reason = next(iter(failed.values()))
            rec["error"] = (
                f"not called: {reason.describe()}"
                if isinstance(reason, FailedInput)
                else reason.message
            )
        if ok:
            verdict = Verdict("pass")
        else:
            figure = Figure.of(errors[called], {k: m[called] for k, m in kinds_of.items()})
            if failed:
                figure = Figure(np.inf, {**figure.kinds, **dict.fromkeys(failure_kinds)}, None)
            verdict = self.judge("special", figure, self.bound, case=case.name)
        rec["verdict"] = verdict.verdict
        attach_verdict(rec, verdict)
        if ok:
            return rec, verdict, ""
        return rec, verdict, f"  {case.name}: x = {rec['input']}: {_position_text(rec)}"

    def layout(self) -> Finding:
        check = "layout"
        specials = inputs.special_array(self.dtype)
        specials = specials[~self.learned.mask(specials)]
        ordinary = next(iter(inputs.accuracy_sets(self.dtype, self.quantity).values()))
        usable = np.isfinite(as_float64(ordinary)) & ~self.learned.mask(ordinary)
        base = layout.base_vector(specials, ordinary[usable])
        variants = layout.variants(base, specials.size)
        left_out = self.learned.left_out(inputs.special_array(self.dtype))
        try:
            outputs = self.call([(v.array, v.view) for v in variants])
            (plain,) = self.call([(base, None)])
        except _CallFailed as failure:
            return self.finding_from_failure(check, failure, left_out=left_out)
        return self._self_comparison(check, base, plain, variants, outputs, left_out)

    def _self_comparison(self, check, base, plain, variants, outputs, left_out=()) -> Finding:
        mismatched, max_distance, first = 0, 0.0, None
        for variant, out in zip(variants, outputs, strict=True):
            expected = plain.ravel()[variant.index]
            differ = bitwise_differences(out.ravel(), expected)
            if differ.any():
                mismatched += 1
                distance = encoding_distance(out.ravel()[differ], expected[differ])
                max_distance = max(max_distance, float(distance.max()))
                if first is None:
                    i = int(np.flatnonzero(differ)[0])
                    first = {
                        "layout": variant.describe(),
                        "input": hexf(as_float64(base)[variant.index[i]]),
                        "output": hexf(as_float64(out.ravel())[i]),
                        "plain_output": hexf(as_float64(expected)[i]),
                    }
        kinds = {r["kind"]: None for r in left_out}
        verdict = self.judge(check, Figure(max_distance, kinds, max_distance), 0.0)
        record = self.base_record(
            check=check,
            variants=len(variants),
            mismatched=mismatched,
            max_ulp=max_distance,
            first_mismatch=first,
        )
        message = (
            f"{self.id(check)}: {mismatched} of {len(variants)} layouts differ from the "
            f"plain contiguous call"
        )
        if first:
            message += (
                f" (up to {max_distance:g} ulp); first: {first['layout']}, x = "
                f"{first['input']}: {first['output']} instead of {first['plain_output']}"
            )
        if left_out:
            record["left_out"] = list(left_out)
            message += f"\n  {self.left_out_text(list(left_out))}"
        return _finding(self.id(check), check, verdict, message, record)

    def threads(self, x: np.ndarray, plain: np.ndarray | None) -> Finding:
        check = "threads"
        try:
            if plain is None:
                (plain,) = self.call([(x, None)])
            (single,) = self.call([(x, None)], threads=1)
        except _CallFailed as failure:
            return self.finding_from_failure(check, failure)
        variant = layout.Variant("one intra-op thread", x, None, np.arange(x.size))
        return self._self_comparison(check, x, plain, [variant], [single])

    def eager_vs_compiled(self, x: np.ndarray, compiled: np.ndarray | None) -> Finding:
        check = "eager-vs-compiled"
        try:
            if compiled is None:
                (compiled,) = self.call([(x, None)])
            (eager,) = self.call([(x, None)], variant=self.target.eager)
        except _CallFailed as failure:
            return self.finding_from_failure(check, failure)
        variant = layout.Variant(
            f"compiled, against eager {self.target.eager}", x, None, np.arange(x.size)
        )
        return self._self_comparison(check, x, eager, [variant], [compiled])


def _position_text(record: dict) -> str:
    """What a wrong special case gave, by position: "got λ in the tail and one-element,
    nan in the body; expected nan (nan-not-propagated)"."""
    by_output: dict = {}
    for position, output in record["outputs"].items():
        by_output.setdefault(output, []).append(position)
    parts = []
    for output, positions in by_output.items():
        where = " and ".join(positions)
        if output is None:
            parts.append(f"{record.get('error', 'failed')} ({where})")
        elif len(by_output) == 1:
            parts.append(f"got {output}")
        else:
            parts.append(f"{output} in the {where}")
    kinds = ", ".join(record["kinds"])
    # The error where it has a figure; a wrong class is named by its kind alone.
    ulp = "" if record["ulp"] is None or (kinds and not record["ulp"]) else f"{record['ulp']:g} ulp"
    detail = ", ".join(t for t in (kinds, ulp) if t)
    text = "; ".join(parts) + f"; expected {' or '.join(record['expected'])}"
    return text + (f" ({detail})" if detail else "")


_ORDER = {"pass": 0, "known-deviation": 1, "fail": 2}


def _worse(a: Verdict, b: Verdict) -> Verdict:
    return b if _ORDER[b.verdict] > _ORDER[a.verdict] else a


def attach_verdict(record: dict, verdict: Verdict) -> None:
    """The policy's note and, unless it passed, the deviation that covers the record; a
    passing record that a deviation matches names it in `stale_deviation` (whether the
    entry can go is for the whole run to say: `results.prune_stale`)."""
    if verdict.note:
        record["note"] = verdict.note
    if verdict.deviation is not None:
        d = verdict.deviation
        if verdict.verdict != "pass":
            record["deviation"] = {"line": d.line, "cause": d.cause, "issue": d.issue}
        else:
            record["stale_deviation"] = d.line


def _finding(tid: str, check: str, verdict: Verdict, message: str, record: dict) -> Finding:
    record = dict(record)
    record.setdefault("check", check)
    record["verdict"] = verdict.verdict
    attach_verdict(record, verdict)
    if verdict.verdict == "known-deviation":
        d = verdict.deviation
        message += f"\n  known deviation (policy line {d.line}): {d.cause}"
        if d.issue:
            message += f" [{d.issue}]"
    elif verdict.note:
        message += f"\n  {verdict.note}"
    return Finding(tid, check, verdict.verdict, message, record)


# -- dtype handling -------------------------------------------------------------------------

_OTHER_DTYPES = ("int32", "int64", "bool", "complex64")


def _dtype_handling(engine: Engine, target: Target, device: str, version: str) -> list[Finding]:
    """What integer, bool and complex inputs give, and the effective constants.

    An error or a promotion to a floating (or, for complex input, complex) result are both
    acceptable; a result that silently keeps an integer or bool dtype (truncated values)
    or drops the imaginary part of complex input is a failure. The effective constants,
    λ = selu(1) and λα = -selu(-inf) as the implementation computes them, are recorded
    against the correctly rounded constants of each dtype (their accuracy is judged by
    the special-value check).
    """
    worker = engine.worker(target)
    record = {"impl": target.id, "device": device, "inputs": {}, "constants": {}}
    values = np.array([-2, -1, 0, 1, 2])
    problems = []
    for name in _OTHER_DTYPES:
        x = values.astype(name)
        try:
            (result,) = worker.call(target.variant, "forward", device, [(x, None)])
            if result.error:
                outcome = f"error: {result.error}"
            else:
                kind = result.output.dtype.kind
                outcome = f"{result.output.dtype}: " + ", ".join(
                    str(v) for v in result.output.ravel().tolist()
                )
                if kind in "iub" or (x.dtype.kind == "c" and kind != "c"):
                    problems.append(f"{name} input gave {outcome}")
        except WorkerError as error:
            outcome = f"worker {error}"
            problems.append(f"{name} input: the worker {error}")
        record["inputs"][name] = outcome
    for dtype in target.dtypes:
        fmt = format_of(dtype)
        x = np.array([1.0, -np.inf]).astype(fmt.dtype)
        expected = reference.selu(x)
        try:
            (result,) = worker.call(target.variant, "forward", device, [(x, None)])
            ok = result.output is not None and result.output.dtype == x.dtype
            got = as_float64(result.output) if ok else None
        except WorkerError:
            got = None
        exp = as_float64(expected)
        entry = {
            "lambda": None if got is None else hexf(got[0]),
            "lambda_correct": hexf(exp[0]),
            "lambda_alpha": None if got is None else hexf(-got[1]),
            "lambda_alpha_correct": hexf(-exp[1]),
        }
        if got is not None:
            entry["lambda_ulp"] = float(encoding_distance(result.output[:1], expected[:1])[0])
            entry["lambda_alpha_ulp"] = float(encoding_distance(result.output[1:], expected[1:])[0])
        record["constants"][dtype] = entry
    tid = finding_id(target.id, device, "all", None, "dtype")
    summary = "; ".join(f"{k} -> {v}" for k, v in record["inputs"].items())
    off = [
        f"{d}: λ {c['lambda']} (correct {c['lambda_correct']}), λα {c['lambda_alpha']} "
        f"(correct {c['lambda_alpha_correct']})"
        for d, c in record["constants"].items()
        if c.get("lambda_ulp") or c.get("lambda_alpha_ulp")
    ]
    message = f"{tid}: {summary}" + (
        "\n  effective constants off: " + "; ".join(off) if off else ""
    )
    if problems:
        message += "\n  silently wrong: " + "; ".join(problems)
    verdict = "fail" if problems else "pass"
    record["check"] = "dtype"
    record["verdict"] = verdict
    return [Finding(tid, "dtype", verdict, message, record)]
