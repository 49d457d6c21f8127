"""The matrix's summary: the numerics of each implementation across its framework's releases.

    schema "matrix/1"
    cells      [{name, framework, version, python, numpy, environment, implementations,
                 status, detail, seconds, counts, verdict, key}]
    rows       [{impl, device, dtype, quantity, check, detail, by_version: {version:
                 {figure, kinds, verdict, deviation}}, changes: [...]}]
               one per finding that some cell gave: `detail` the input set (accuracy) or
               the special case; `figure` its ulp error (None where a check has none)
    changes    [{impl, ..., from, to, what: appeared | disappeared | changed, before, after}]
               between consecutive releases of the implementation's framework
    policy     [{line, impl, versions, problem: claims-absent | omits-present, version,
                 cause}]: each known deviation's version range against the measurements

A row's state in a release is its verdict, its kinds of violation and its figure to three
significant digits; a change is a difference of state between two consecutive releases
that both measured the row. A deviation is *present* in a release when a record it would
match (all but the version) is outside the profile there and no other entry covers it,
*absent* otherwise; a range that claims a release where it is absent, or leaves out one where it is
present, is reported.
"""

from __future__ import annotations

import itertools
import math
from datetime import UTC, datetime
from pathlib import Path

from .. import results
from ..policy import Policy
from .cells import Cell, results_path
from .run import DONE, CellState

SCHEMA = "matrix/1"
ROW_KEYS = ("impl", "device", "dtype", "quantity", "check", "detail")


def _figure(value) -> float | None:
    if value is None:
        return None
    value = float(value)
    if math.isinf(value) or math.isnan(value):
        return None
    return float(f"{value:.3g}")


def row_records(document: dict):
    """(row key, state) of every record of a results document that the matrix follows."""
    for r in document.get("measurements", []):
        kinds = sorted((r.get("violations") or {}).keys())
        key = (r["impl"], r["device"], r["dtype"], r["quantity"], "accuracy", r["input_set"])
        yield key, r, _figure(r.get("max_ulp")), kinds
    for r in document.get("special_values", []):
        key = (r["impl"], r["device"], r["dtype"], r["quantity"], "special", r["case"])
        yield key, r, _figure(r.get("ulp")), sorted(r.get("kinds") or [])
    for r in document.get("checks", []):
        if r.get("check") == "special":
            continue  # the cases are rows of their own
        key = (r["impl"], r["device"], r.get("dtype"), r.get("quantity"), r["check"], "")
        figure = _figure(r.get("max_ulp", r.get("max_ulp_between")))
        kind = r.get("kind")
        kinds = sorted(kind) if isinstance(kind, list) else [kind] if kind else []
        yield key, r, figure, kinds
    for r in document.get("self_normalization", []):
        detail = f"{r['activation']}, {r['inputs']} inputs"
        key = (r["framework"], "cpu", r.get("dtype", "float32"), None, "self-normalization", detail)
        yield key, r, None, []  # its verdict says it; the violation's text has its numbers
    for r in document.get("self_normalization_checks", []):
        key = (r["framework"], "cpu", r.get("dtype"), None, r["check"], r.get("name", ""))
        yield key, r, None, []


def build(cells: list[Cell], states: dict[str, CellState], folder: Path, policy: Policy) -> dict:
    """The summary of the cells' results in `folder`."""
    cell_entries, rows, presence = [], {}, []
    for cell in cells:
        state = states.get(cell.name)
        entry = {
            "name": cell.name,
            "framework": cell.framework,
            "version": cell.version,
            "environment": None if cell.own else cell.name,
            "implementations": list(cell.implementations),
            "status": state.status if state else "not run",
            "detail": state.detail if state else "",
            "seconds": state.seconds if state else None,
            "key": state.key if state else cell.key(),
        }
        if state is not None and state.status == DONE:
            document = results.read(results_path(folder, cell))
            impls = document.get("implementations", [])
            first = next((i for i in impls if i.get("available")), {})
            entry |= {
                "python": first.get("python"),
                "numpy": first.get("numpy"),
                "versions": {i["id"]: i.get("version") for i in impls if i.get("available")},
                "counts": document["summary"]["counts"],
                "verdict": document["summary"]["verdict"],
            }
            # A row of no implementation (a self-normalisation suite) takes the release
            # as the workers reported it (2.4.1+cu121), as the implementations' rows do.
            reported = first.get("version") or cell.version
            for key, record, figure, kinds in row_records(document):
                version = entry["versions"].get(key[0], reported)
                row = rows.setdefault(key, {"framework": cell.framework, "by_version": {}})
                row["by_version"][version] = {
                    "figure": figure,
                    "kinds": kinds,
                    "verdict": record.get("verdict"),
                    "deviation": (record.get("deviation") or {}).get("line"),
                }
                judged_by = (record.get("deviation") or {}).get("line")
                presence.append((key, version, record.get("verdict"), judged_by))
        cell_entries.append(entry)
    row_list, changes = [], []
    for key, row in rows.items():
        versions = _ordered(row["by_version"])
        row_changes = _changes(key, versions, row["by_version"])
        changes += row_changes
        row_list.append(
            {
                **dict(zip(ROW_KEYS, key, strict=True)),
                "framework": row["framework"],
                "by_version": {v: row["by_version"][v] for v in versions},
                "changed": bool(row_changes),
            }
        )
    return {
        "schema": SCHEMA,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "cells": cell_entries,
        "rows": row_list,
        "changes": changes,
        "policy": policy_ranges(policy, presence),
    }


def _ordered(by_version: dict) -> list[str]:
    from packaging.version import InvalidVersion, Version

    def key(v: str):
        try:
            return (0, Version(v.split("+")[0]))
        except InvalidVersion:
            return (1, v)

    return sorted(by_version, key=key)


def _state(entry: dict) -> tuple:
    """What the numerics of a row are in a release: within the profile or not, the kinds
    of violation and the figure. Not the verdict itself: a deviation that the policy
    covers in one release and not in the next is the same numerics."""
    return (entry["verdict"] == "pass", tuple(entry["kinds"]), entry["figure"])


def _changes(key: tuple, versions: list[str], by_version: dict) -> list[dict]:
    out = []
    for before, after in itertools.pairwise(versions):
        a, b = by_version[before], by_version[after]
        if _state(a) == _state(b):
            continue
        if a["verdict"] == "pass" and b["verdict"] != "pass":
            what = "appeared"
        elif a["verdict"] != "pass" and b["verdict"] == "pass":
            what = "disappeared"
        else:
            what = "changed"  # other kinds, or another figure
        out.append(
            {
                **dict(zip(ROW_KEYS, key, strict=True)),
                "from": before,
                "to": after,
                "what": what,
                "before": a,
                "after": b,
            }
        )
    return out


def shows(deviation, verdict: str, line: int | None) -> bool:
    """Whether a record that `deviation` would match (all but the version) shows it: it is
    outside the profile, and no other entry covers it (an entry of its own for a range of
    releases whose bound differs)."""
    if verdict == "pass":
        return False
    return not (verdict == "known-deviation" and line is not None and line != deviation.line)


def policy_ranges(policy: Policy, presence: list[tuple]) -> list[dict]:
    """Each known deviation's version range against what the cells measured."""
    out = []
    for deviation in policy.deviations:
        seen: dict[str, bool] = {}  # version -> present
        for (impl, device, dtype, quantity, check, detail), version, verdict, line in presence:
            case = detail if check == "special" else None
            if not deviation.matches(impl, None, device, dtype, quantity, check, case):
                continue
            seen[version] = seen.get(version, False) or shows(deviation, verdict, line)
        for version, present in sorted(seen.items()):
            claimed = deviation.covers(version)
            if claimed and not present:
                problem = "claims-absent"
            elif present and not claimed:
                problem = "omits-present"
            else:
                continue
            out.append(
                {
                    "line": deviation.line,
                    "impl": list(deviation.impls),
                    "checks": list(deviation.checks),
                    "versions": str(deviation.versions),
                    "problem": problem,
                    "version": version,
                    "cause": deviation.cause,
                }
            )
    return out
