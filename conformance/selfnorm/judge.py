"""Run the suites and judge what they measured against the bounds (`bounds`) and the
known deviations (conformance/data/self_normalization.toml).

Two kinds of record, both in results.json:

- `self_normalization`: one per stack {framework, depth, width, batch, activation,
  initializer, inputs, contrast, final_mean, final_variance, ok, verdict, bounds,
  layer_means, layer_variances, grad_norms, gradient_factor, violation}. `ok`: every layer
  within the bounds. `verdict`: "pass" when a SELU stack is ok and a contrast is not (the
  check can fail), "fail" otherwise.
- `self_normalization_checks`: one per initialiser, Keras idiom, AlphaDropout rate and
  saturation dtype, and child failure {framework, check, dtype, ok, verdict, detail, …}.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from packaging.specifiers import InvalidSpecifier, SpecifierSet

from ..axes import ALL_DTYPES, QUANTITIES
from ..frameworks.base import SelfNormCheck as Check
from ..policy import Deviation
from ..process.interpreter import Interpreter
from ..process.worker import Worker, WorkerError
from ..registry import unavailable
from .bounds import stack_bounds, variance_standard_error
from .child import TASK
from .probes import selu_constants
from .suites import Suite, suites

CONFIG_PATH = Path(__file__).resolve().parent.parent / "data" / "self_normalization.toml"


def missing_package(suite: Suite, interpreter: Interpreter | None = None) -> str | None:
    """Why `suite` cannot run here (in `interpreter`, default the suite's own: "keras is
    not installed"), or None."""
    return unavailable(suite.packages, suite.requires, interpreter)


LECUN_NAME = "lecun_normal"


class SelfNormError(ValueError):
    """A configuration file that cannot be used; the message names the file and line."""


@dataclass
class Run:
    records: list[dict] = field(default_factory=list)  # results.json self_normalization
    checks: list[dict] = field(default_factory=list)  # results.json self_normalization_checks
    skipped: dict[str, str] = field(default_factory=dict)  # child -> why it did not run


def load_config(path: str | Path | None = None) -> dict:
    path = Path(path or CONFIG_PATH)
    try:
        text = path.read_text()
        config = tomllib.loads(text)
    except OSError as error:
        raise SelfNormError(f"{path}: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:  # its message says "(at line N, column M)"
        raise SelfNormError(f"{path}: {error}") from None
    lines = text.splitlines()

    def line_of(header: str) -> int:  # where a table starts, for the error message
        return next((i + 1 for i, line in enumerate(lines) if line.strip() == header), 1)

    for section, keys in {
        "stack": ("depth", "width", "batch", "seed", "z"),
        "initializer": ("fan_in", "z"),
        "alpha_dropout": ("rates", "samples", "z"),
    }.items():
        for key in keys:
            if key not in config.get(section, {}):
                line = line_of(f"[{section}]")
                raise SelfNormError(f"{path}:{line}: [{section}] needs {key}")
    starts = [i + 1 for i, line in enumerate(lines) if line.strip() == "[[deviation]]"]
    deviations = []
    for n, entry in enumerate(config.get("deviation", [])):
        line = starts[n] if n < len(starts) else 1
        for key in ("framework", "check", "observed", "cause"):
            if key not in entry:
                raise SelfNormError(f"{path}:{line}: a [[deviation]] needs {key}")
        try:
            versions = SpecifierSet(entry.get("versions", ""))
        except InvalidSpecifier:
            raise SelfNormError(f"{path}:{line}: bad versions {entry['versions']!r}") from None
        deviations.append(_deviation(entry, versions, line))
    config["deviations"] = deviations
    return config


def _deviations(config: dict) -> list[Deviation]:
    """The deviations of a configuration: those `load_config` read, or, in one made by
    hand, its [[deviation]] tables (line 0)."""
    if "deviations" in config:
        return config["deviations"]
    return [
        _deviation(entry, SpecifierSet(entry.get("versions", "")), 0)
        for entry in config.get("deviation", [])
    ]


def _deviation(entry: dict, versions: SpecifierSet, line: int) -> Deviation:
    """A [[deviation]] of the file as the policy's Deviation (one matcher for the gate,
    the sweeps and these checks): its `framework` is the suite, `observed` the value."""
    return Deviation(
        impls=(entry["framework"],),
        versions=versions,
        devices=("*",),
        dtypes=tuple(entry.get("dtypes", ALL_DTYPES)),
        quantities=QUANTITIES,
        checks=(entry["check"],),
        max_ulp=None,
        kinds=frozenset(),
        cases=(),
        cause=entry["cause"],
        issue=entry.get("issue", ""),
        line=line,
        observed=entry["observed"],
    )


def _measure(
    suite: Suite, config: dict, timeout: float, python: str | None
) -> tuple[dict | None, str | None]:
    """The raw measurements of one suite, in a worker of its framework (in the interpreter
    `python`, default the suite's own), or why there are none."""
    arguments = {
        "checks": list(suite.checks),
        "config": {k: config[k] for k in ("stack", "initializer", "alpha_dropout")},
        "constants": selu_constants(),
    }
    worker = Worker(suite.module, suite.env, None, None, timeout, python)
    try:
        worker.start()
        return worker.task(TASK, arguments, what=f"measuring {suite.name}"), None
    except WorkerError as error:
        return None, f"{error.kind}: {error}"
    finally:
        worker.close()


def run(
    frameworks,
    config: dict | None = None,
    timeout: float = 600.0,
    progress=None,
    interpreters=None,
) -> Run:
    """Measure and judge every suite of `frameworks` (the groups of `suites.suites`);
    `interpreters(name)`: the interpreter (`process.interpreter.Interpreter`) of the
    framework `name`'s workers, None for the suite's own. A suite runs where its own
    framework is placed, else where the framework it runs on is (Keras's suite on jax in
    jax's environment, where it finds no keras)."""
    config = config or load_config()
    out = Run()
    for suite in suites(frameworks):
        interpreter = None
        if interpreters:
            interpreter = interpreters(suite.marker) or interpreters(suite.group)
        if (why := missing_package(suite, interpreter)) is not None:
            out.skipped[suite.name] = why
            continue
        if progress:
            progress(f"self-normalisation: {suite.name}")
        python = None if interpreter is None else interpreter.path
        measured, error = _measure(suite, config, timeout, python)
        if measured is None:
            out.checks.append(
                {
                    "framework": suite.name,
                    "check": "run",
                    "dtype": None,
                    "ok": False,
                    "verdict": "fail",
                    "detail": error,
                }
            )
            continue
        _judge(suite.name, measured, config, out)
    return out


def _judge(child: str, measured: dict, config: dict, out: Run) -> None:
    if "stacks" in measured:
        for stack in measured["stacks"]:
            out.records.append(_stack_record(child, stack, measured["initializer"], config))
        out.checks.append(_initializer_check(child, measured["initializer"], config))
    for idiom in measured.get("idioms", []):
        out.checks.append(
            {
                "framework": child,
                "check": Check.KERAS_IDIOM,
                "dtype": "float32",
                "name": idiom["check"],
                "ok": idiom["ok"],
                "verdict": "pass" if idiom["ok"] else "fail",
                "detail": idiom["detail"],
            }
        )
    if "alpha_dropout" in measured:
        dropout = measured["alpha_dropout"]
        z = config["alpha_dropout"]["z"]
        for m in dropout["moments"]:
            ok = abs(m["mean"]) <= z * m["mean_error"] and abs(m["variance"] - 1) <= (
                z * m["variance_error"]
            )
            out.checks.append(
                {
                    "framework": child,
                    "check": Check.ALPHA_DROPOUT_MOMENTS,
                    "dtype": "float32",
                    "name": f"rate {m['rate']}",
                    "ok": ok,
                    "verdict": "pass" if ok else "fail",
                    "detail": (
                        f"rate {m['rate']}, {m['samples']} standardised SELU activations: "
                        f"mean {m['mean']:+.5f} (bound ±{z * m['mean_error']:.5f}), "
                        f"variance {m['variance']:.5f} (bound 1 ± {z * m['variance_error']:.5f})"
                    ),
                    **{k: m[k] for k in ("rate", "mean", "variance")},
                }
            )
        for s in dropout["saturation"]:
            out.checks.append(_saturation_check(child, s, measured["version"], config))


def _violation(means, variances, factor, b) -> str | None:
    for layer, (mean, variance) in enumerate(zip(means, variances, strict=True), start=1):
        if not abs(mean) <= b.mean:
            return f"layer {layer}: mean {mean:+.4g} beyond ±{b.mean:.4g}"
        if not abs(variance - 1) <= b.variance:
            return f"layer {layer}: variance {variance:.4g} beyond 1 ± {b.variance:.4g}"
    low, high = b.gradient_factor / b.gradient_spread, b.gradient_factor * b.gradient_spread
    if not low <= factor <= high:
        return (
            f"input-gradient norm factor {factor:.4g} outside [{low:.4g}, {high:.4g}] "
            f"(expected {b.gradient_factor:.4g})"
        )
    return None


def _stack_record(child: str, stack: dict, initializer: dict, config: dict) -> dict:
    s = config["stack"]
    b = stack_bounds(s["depth"], s["width"], s["batch"], s["z"])
    norms = stack["grad_norms"]
    factor = norms[0] / norms[-1] if norms[-1] else math.inf
    violation = _violation(stack["means"], stack["variances"], factor, b)
    ok = violation is None
    return {
        "framework": child,
        "depth": s["depth"],
        "width": s["width"],
        "batch": s["batch"],
        "activation": stack["activation"],
        "initializer": LECUN_NAME,
        "initializer_call": initializer["call"],
        "inputs": stack["inputs"],
        "contrast": stack["contrast"],
        "final_mean": stack["means"][-1],
        "final_variance": stack["variances"][-1],
        "ok": ok,
        "verdict": "pass" if ok != stack["contrast"] else "fail",
        "violation": violation,
        "bounds": b.as_dict(),
        "gradient_factor": factor,
        "layer_means": stack["means"],
        "layer_variances": stack["variances"],
        "grad_norms": norms,
    }


def _initializer_check(child: str, sample: dict, config: dict) -> dict:
    z = config["initializer"]["z"]
    n = sample["samples"]
    variance_bound = z * variance_standard_error(n)
    mean_bound = z / math.sqrt(n)
    ok = (
        abs(sample["scaled_variance"] - 1) <= variance_bound
        and abs(sample["scaled_mean"]) <= mean_bound
    )
    return {
        "framework": child,
        "check": Check.LECUN_NORMAL,
        "dtype": "float32",
        "name": sample["call"],
        "ok": ok,
        "verdict": "pass" if ok else "fail",
        "detail": (
            f"{sample['call']}, fan_in {sample['fan_in']}, {n} samples: variance·fan_in "
            f"{sample['scaled_variance']:.5f} (bound 1 ± {variance_bound:.5f}), "
            f"mean·√fan_in {sample['scaled_mean']:+.5f} (bound ±{mean_bound:.5f}), "
            f"largest |w|·√fan_in {sample['scaled_max_abs']:.4f}"
        ),
        **{k: sample[k] for k in ("scaled_variance", "scaled_mean", "scaled_max_abs")},
    }


def _saturation_check(child: str, s: dict, version: str, config: dict) -> dict:
    ok = s["observed"] is not None and s["observed"] == s["expected"]
    record = {
        "framework": child,
        "check": Check.ALPHA_DROPOUT_SATURATION,
        "dtype": s["dtype"],
        "ok": ok,
        "verdict": "pass" if ok else "fail",
        "expected": s["expected"],
        "observed": s["observed"],
        "detail": f"expected -λα = {s['expected']}; {s['detail']}",
    }
    for deviation in _deviations(config):
        if deviation.matches(child, version, "cpu", s["dtype"], "forward", record["check"]):
            if ok:
                record["note"] = "known deviation no longer observed: remove its entry"
                record["stale_deviation"] = deviation.line
            elif s["observed"] == deviation.observed:
                record["verdict"] = "known-deviation"
                record["cause"] = deviation.cause
                record["issue"] = deviation.issue
    return record
