"""results.json: the record of a run (schema_version 1, docs/design.md), written atomically.

    schema_version, generated_at, environment {python, platform, cpu, frameworks, devices},
    profile, policy, implementations [...], measurements [...] (accuracy),
    special_values [...] (one per case), checks [...] (layout, threads, eager-vs-compiled,
    dtype handling, load failures), self_normalization [...] (a deep stack per framework
    and activation) and self_normalization_checks [...] (initialisers, Keras idioms,
    AlphaDropout; conformance.selfnorm.judge), summary {verdict, counts,
    stale_deviations}, timings.

Everything but `generated_at` and `timings` is a function of the inputs, the pins and the
machine's libraries: two runs give the same file apart from those two keys.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from .io import JSONFileError, read_json, write_atomic
from .machine import cpu_level, cpu_name
from .registry import BY_ID, SPECS, framework_packages, package_version

SCHEMA_VERSION = 1
VOLATILE_KEYS = ("generated_at", "timings")


class ResultsError(ValueError):
    """A results file that cannot be read; the message names the file and the line."""


def environment(workers: dict[str, dict]) -> dict:
    names = (*framework_packages(), "mpmath", "ml_dtypes")
    frameworks = {name: package_version(name) for name in names}
    # What the workers ran: in another interpreter (--python, --env) their versions are
    # not the suite's own.
    for impl_id, info in workers.items():
        spec = BY_ID.get(impl_id)
        if spec is not None and info.get("version"):
            frameworks[spec.packages[0]] = info["version"]
    interpreters = sorted(
        {(i.get("interpreter"), i.get("python"), i.get("numpy")) for i in workers.values()}
        - {(None, None, None)},
        key=str,
    )
    devices = sorted({d for info in workers.values() for d in info.get("devices", [])})
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu": cpu_name(),
        "cpu_level": cpu_level(),
        "cpu_count": os.cpu_count(),
        "frameworks": frameworks,
        "devices": devices,
        "workers": [{"interpreter": i, "python": p, "numpy": n} for i, p, n in interpreters],
    }


def build(
    findings,
    versions: dict[str, dict],
    profile: str,
    policy_path: Path,
    skipped: dict[str, str],
    selfnorm=None,
) -> dict:
    """The results document of a run from its findings (findings.Finding) and, where they
    ran, the self-normalisation checks (conformance.selfnorm.Run)."""
    measurements, special_values, checks = flatten(findings)
    for record in measurements + special_values + checks:
        if record.get("impl") in versions:
            record["runtime"] = runtime(versions[record["impl"]])
    counts = {"pass": 0, "known-deviation": 0, "fail": 0}
    for finding in findings:
        counts[finding.verdict] += 1
    stacks, stack_checks = ([], []) if selfnorm is None else (selfnorm.records, selfnorm.checks)
    normalization = stacks + stack_checks
    for record in normalization:
        counts[record["verdict"]] += 1
    stale = prune_stale(measurements + special_values + checks)
    stale += sorted({r["note"] for r in normalization if "stale_deviation" in r})
    verdict = overall_verdict(counts)
    implementations = []
    for spec in SPECS:
        if spec.id in versions:
            info = versions[spec.id]
            implementations.append(
                {
                    "id": spec.id,
                    "available": True,
                    "version": info.get("version"),
                    "devices": info.get("devices", []),
                    "calls": spec.calls,
                    **runtime(info),
                }
            )
        elif spec.id in skipped:
            implementations.append({"id": spec.id, "available": False, "why": skipped[spec.id]})
    for impl_id, info in versions.items():  # user functions
        if impl_id not in {s.id for s in SPECS}:
            implementations.append(
                {
                    "id": impl_id,
                    "available": True,
                    "version": "user",
                    "devices": info.get("devices", []),
                }
            )
    return {
        "schema_version": SCHEMA_VERSION,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "environment": environment(versions),
        "profile": profile,
        "policy": str(policy_path),
        "implementations": implementations,
        "measurements": measurements,
        "special_values": special_values,
        "checks": checks,
        "self_normalization": stacks,
        "self_normalization_checks": stack_checks,
        "summary": {"verdict": verdict, "counts": counts, "stale_deviations": stale},
        "timings": {impl: info.get("seconds") for impl, info in versions.items()},
    }


RUNTIME_KEYS = ("version", "python", "numpy", "interpreter", "environment")


def runtime(info: dict) -> dict:
    """What a record says of where it was measured: its framework's version, the worker's
    Python, numpy and interpreter, and the environment of the matrix it belongs to (where
    it does), from the worker's report (`process/worker.py`, init) and the placement."""
    return {k: info[k] for k in RUNTIME_KEYS if info.get(k) is not None}


def flatten(findings) -> tuple[list, list, list]:
    """(measurements, special_values, checks) of results.json from findings: the accuracy
    records, every special case, and the other checks (each special check's own record
    without its cases)."""
    measurements, special_values, checks = [], [], []
    for finding in findings:
        record = finding.record
        if finding.check == "accuracy":
            measurements.append(record)
        elif finding.check == "special":
            special_values.extend(record.get("cases", []))
            checks.append({k: v for k, v in record.items() if k != "cases"})
        else:
            checks.append(record)
    return measurements, special_values, checks


def prune_stale(records: list[dict]) -> list[str]:
    """The notes of the deviations that can go. A deviation a passing record matched
    (`stale_deviation`) is stale only when no record of the run still needs it (one it
    covers, or one that is worse than it): a deviation of the corpus's inputs is not gone
    because the sampled inputs pass. The others' notes are dropped from their records."""
    in_use = {
        r["deviation"]["line"] for r in records if r.get("deviation") and r["verdict"] != "pass"
    }
    notes = set()
    for record in records:
        line = record.get("stale_deviation")
        if line is None:
            continue
        if line in in_use:
            del record["stale_deviation"]
            record.pop("note", None)
        else:
            notes.add(record["note"])
    return sorted(notes)


def overall_verdict(counts: dict[str, int]) -> str:
    """A run's verdict from its findings' counts: the worst of them."""
    return "fail" if counts["fail"] else "known-deviation" if counts["known-deviation"] else "pass"


def _default(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def write(document: dict, path: str | Path) -> Path:
    """Write atomically: a temporary file in the same folder, then a rename."""
    text = json.dumps(document, indent=1, sort_keys=False, default=_default, allow_nan=False)
    return write_atomic(path, text + "\n")


def read(path: str | Path) -> dict:
    """Read a results file; ResultsError naming the file (and line) when it is unusable."""
    path = Path(path)
    try:
        document = read_json(path)
    except JSONFileError as error:
        raise ResultsError(str(error)) from None
    if not isinstance(document, dict) or document.get("schema_version") != SCHEMA_VERSION:
        raise ResultsError(f"{path}:1: not a results file of schema_version {SCHEMA_VERSION}")
    for key in ("measurements", "special_values", "environment"):
        if key not in document:
            raise ResultsError(f"{path}:1: missing {key!r}")
    return document


def without_volatile(document: dict) -> dict:
    return {k: v for k, v in document.items() if k not in VOLATILE_KEYS}


def merge_measurement(
    path: str | Path,
    record: dict,
    timing: dict,
    info: dict,
    profile: str,
    policy_path: Path,
) -> dict:
    """Add a sweep's measurement to the results file at `path` (created if missing),
    replacing an earlier one of the same implementation, device, dtype, quantity and input
    set; the summary's counts and verdict are recomputed. Returns the document written."""
    path = Path(path)
    impl = record["impl"]
    if path.exists():
        document = read(path)
    else:
        document = build([], {}, profile, policy_path, {})
    key = ("impl", "device", "dtype", "quantity", "input_set")
    document["measurements"] = [
        m for m in document["measurements"] if [m.get(k) for k in key] != [record[k] for k in key]
    ] + [record]
    if not any(entry.get("id") == impl for entry in document.get("implementations", [])):
        entry = {"id": impl, "available": True, "version": info.get("version")}
        entry["devices"] = info.get("devices", [])
        document.setdefault("implementations", []).append(entry)
    devices = set(document["environment"].get("devices", [])) | set(info.get("devices", []))
    document["environment"]["devices"] = sorted(devices)
    name = "-".join(str(record[k]) for k in key)
    document.setdefault("timings", {}).setdefault("sweeps", {})[name] = timing
    counts = {"pass": 0, "known-deviation": 0, "fail": 0}
    for r in document["measurements"] + document.get("checks", []):
        if r.get("verdict") in counts:
            counts[r["verdict"]] += 1
    verdict = overall_verdict(counts)
    document.setdefault("summary", {}).update({"verdict": verdict, "counts": counts})
    document["generated_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    write(document, path)
    return document
