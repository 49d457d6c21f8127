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

from . import inputs, layout, views
from .measure import (
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
from .worker import Worker, WorkerError

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
    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind, self.message = kind, message


class _Context:
    """The checks of one (target, device, dtype, quantity)."""

    def __init__(
        self, engine: Engine, target: Target, device: str, dtype: str, quantity: str, version: str
    ):
        self.engine, self.target, self.device = engine, target, device
        self.dtype, self.quantity, self.version = dtype, quantity, version
        self.fmt = format_of(dtype)
        self.bound = engine.profile.bound(dtype)
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

    def call(self, items: list, variant: str | None = None, threads: int | None = None) -> list:
        """Outputs for (array, view) items; _CallFailed on the first bad one."""
        worker = self.engine.worker(self.target, threads, self.dtype)
        try:
            results = worker.call(variant or self.target.variant, self.quantity, self.device, items)
        except WorkerError as error:
            kind = "timeout" if "timed out" in str(error) else "crash"
            raise _CallFailed(kind, f"the implementation {error}") from None
        outputs = []
        for (array, view), result in zip(items, results, strict=True):
            where = f"for a {views.describe(array, view)}"
            if result.error is not None:
                raise _CallFailed("error", f"raised {result.error} {where}")
            if result.modified:
                raise _CallFailed("modified-input", f"modified its input {where}")
            expected_shape = views.shape_of(array, view)
            if result.output.dtype != array.dtype:
                raise _CallFailed("wrong-dtype", f"returned {result.output.dtype} {where}")
            if result.output.shape != expected_shape:
                raise _CallFailed(
                    "wrong-shape",
                    f"returned shape {result.output.shape} instead of {expected_shape} {where}",
                )
            outputs.append(result.output)
        return outputs

    def snippet(self, x_hex: str) -> str:
        if x_hex not in self._snippets:
            try:
                self._snippets[x_hex] = self.engine.worker(self.target, dtype=self.dtype).snippet(
                    self.target.variant, self.quantity, self.dtype, self.device, x_hex
                )
            except WorkerError:
                self._snippets[x_hex] = ""
        return self._snippets[x_hex]

    def judge(self, check: str, max_ulp: float, kinds, bound: float, case=None) -> Verdict:
        return self.engine.policy.judge(
            self.engine.profile,
            impl=self.target.id,
            version=self.version,
            device=self.device,
            dtype=self.dtype,
            quantity=self.quantity,
            check=check,
            max_ulp=max_ulp,
            kinds=set(kinds),
            bound=bound,
            case=case,
        )

    def finding_from_failure(self, check: str, failure: _CallFailed, **record) -> Finding:
        verdict = self.judge(check, np.inf, {failure.kind}, self.bound)
        message = f"{self.id(check)}: {failure.message}"
        rec = self.base_record(check=check, error=failure.message, kind=failure.kind, **record)
        return _finding(self.id(check), check, verdict, message, rec)

    def expected(self, set_name: str, x: np.ndarray):
        """(values, residual) of the reference; at x = ±0 the derivative's two one-sided
        values are both right, so the right-hand ones come too (None for forward)."""
        left = self.engine.expected(self.dtype, set_name, x, self.quantity)
        if self.quantity != "gradient":
            return left, None
        zeros = as_float64(x).ravel() == 0
        right = reference.evaluate(self.quantity, x.ravel()[zeros], at_zero="right")
        return left, (zeros, right)

    def comparison(self, x, got, left, right):
        """`measure.compare_one_sided` of `got` with the expected values of `expected`."""
        return compare_one_sided(x, got, left, right, self.fmt)

    # -- checks ------------------------------------------------------------------------

    def run_all(self) -> list[Finding]:
        findings = []
        accuracy_outputs = {}
        for set_name, x in inputs.accuracy_sets(self.dtype).items():
            finding, out = self.accuracy(set_name, x)
            findings.append(finding)
            accuracy_outputs[set_name] = (x, out)
        findings.append(self.special())
        findings.append(self.layout())
        set_name, (x, out) = next(iter(accuracy_outputs.items()))
        # The intra-op thread pool is the CPU's; a user's numpy function has none of ours.
        if self.target.user is None and self.device == "cpu":
            findings.append(self.threads(x, out))
        if self.target.eager:
            findings.append(self.eager_vs_compiled(x, out))
        return findings

    def accuracy(self, set_name: str, x: np.ndarray) -> tuple[Finding, np.ndarray | None]:
        check = "accuracy"
        tid = self.id(set_name)
        try:
            (got,) = self.call([(x, None)])
        except _CallFailed as failure:
            finding = self.finding_from_failure(check, failure, input_set=set_name)
            finding.finding_id = tid
            return finding, None
        cmp, expected = self.comparison(x, got, *self.expected(set_name, x))
        summary = summarize(x, got, expected, cmp)
        verdict = self.judge(check, summary.max_ulp, summary.violations, self.bound)
        record = self.base_record(input_set=set_name, **summary.as_dict())
        lines = [
            f"{tid}: {summary.count} inputs, max error {summary.max_ulp:g} ulp "
            f"(bound {self.bound:g})"
        ]
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
        return _finding(tid, check, verdict, "\n".join(lines), record), got

    def special(self) -> Finding:
        check = "special"
        cases = inputs.special_cases(self.dtype)
        x = inputs.special_array(self.dtype)
        try:
            (got,) = self.call([(x, None)])
        except _CallFailed as failure:
            return self.finding_from_failure(check, failure)
        left, right = self.expected("special", x)
        cmp, _ = self.comparison(x, got, left, right)
        x64, g64 = as_float64(x), as_float64(got)
        exp_left = as_float64(left.values)
        right_values = (
            dict(
                zip(
                    np.flatnonzero(right[0]).tolist(),
                    as_float64(right[1].values).tolist(),
                    strict=True,
                )
            )
            if right
            else {}
        )
        records, bad, worst = [], [], Verdict("pass")
        for i, case in enumerate(cases):
            kinds = [k for k, mask in cmp.kinds.items() if mask[i]]
            error = float(cmp.ulp[i]) if not np.isnan(cmp.ulp[i]) else None
            ok = not kinds and error is not None and error <= self.bound
            expected = [hexf(exp_left[i])] + ([hexf(right_values[i])] if i in right_values else [])
            rec = self.base_record(
                case=case.name,
                input=hexf(x64[i]),
                output=hexf(g64[i]),
                expected=expected,
                ok=ok,
                ulp=None if error is None else round_significant(error),
                kinds=kinds,
            )
            # A wrong class (kinds) has no ulp figure: the kinds alone decide.
            verdict = (
                Verdict("pass")
                if ok
                else self.judge(
                    check, error if error is not None else 0.0, kinds, self.bound, case=case.name
                )
            )
            rec["verdict"] = verdict.verdict
            attach_verdict(rec, verdict)
            records.append(rec)
            if not ok:
                bad.append(
                    f"  {case.name}: x = {rec['input']}: got {rec['output']}, expected "
                    f"{' or '.join(expected)}"
                    + (f" ({', '.join(kinds)})" if kinds else f" ({error:g} ulp)")
                    + f" [{verdict.verdict}]"
                )
            worst = _worse(worst, verdict)
        message = f"{self.id(check)}: {len(cases) - len(bad)} of {len(cases)} special cases right"
        if bad:
            for r in records:  # a reproducer for each wrong case (each is one call)
                if not r["ok"]:
                    r["reproduce"] = self.snippet(r["input"])
            first_bad = next(r for r in records if not r["ok"])
            message += "\n" + "\n".join(bad) + f"\n  reproduce: {first_bad['reproduce']}"
        record = self.base_record(check=check, cases=records)
        return _finding(self.id(check), check, worst, message, record)

    def layout(self) -> Finding:
        check = "layout"
        specials = inputs.special_array(self.dtype)
        ordinary = next(iter(inputs.accuracy_sets(self.dtype).values()))
        finite = np.isfinite(as_float64(ordinary))
        base = layout.base_vector(specials, ordinary[finite])
        variants = layout.variants(base, specials.size)
        try:
            outputs = self.call([(v.array, v.view) for v in variants])
            (plain,) = self.call([(base, None)])
        except _CallFailed as failure:
            return self.finding_from_failure(check, failure)
        return self._self_comparison(check, base, plain, variants, outputs)

    def _self_comparison(self, check, base, plain, variants, outputs) -> Finding:
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
        verdict = self.judge(check, max_distance, set(), 0.0)
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


_ORDER = {"pass": 0, "known-deviation": 1, "fail": 2}


def _worse(a: Verdict, b: Verdict) -> Verdict:
    return b if _ORDER[b.verdict] > _ORDER[a.verdict] else a


def attach_verdict(record: dict, verdict: Verdict) -> None:
    """The policy's note and, unless it passed, the deviation that covers the record."""
    if verdict.note:
        record["note"] = verdict.note
    if verdict.deviation is not None and verdict.verdict != "pass":
        d = verdict.deviation
        record["deviation"] = {"line": d.line, "cause": d.cause, "issue": d.issue}


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
