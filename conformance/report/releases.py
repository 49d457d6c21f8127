"""The report's view of the matrix (`python -m conformance matrix`): numerics across releases.

From the matrix's summary (`matrix/summary.py`, schema "matrix/1"): per framework, its
cells in release order (interpreter, numpy, how the gate ended); per implementation, dtype
and quantity, the largest error of each input set and the number of special cases outside
the profile in each release, with the release where it changed; the changes between
releases; and the known deviations whose version range the measurements contradict.
"""

from __future__ import annotations

from pathlib import Path

from conformance.io import JSONFileError, read_json

SCHEMA = "matrix/1"


class MatrixFileError(ValueError):
    """A summary file the report cannot use: the message names the file."""


def load(path: Path) -> dict:
    try:
        document = read_json(path)
    except JSONFileError as error:
        raise MatrixFileError(str(error)) from None
    if not isinstance(document, dict) or document.get("schema") != SCHEMA:
        raise MatrixFileError(f"{path}:1: not a matrix summary of schema {SCHEMA}")
    return document


def view(summary: dict) -> dict:
    """What the templates show of a matrix summary."""
    frameworks: dict[str, dict] = {}
    for cell in summary["cells"]:
        entry = frameworks.setdefault(cell["framework"], {"name": cell["framework"], "cells": []})
        entry["cells"].append(cell)
    for entry in frameworks.values():
        entry["versions"] = [c["version"] for c in entry["cells"] if c["status"] == "done"]
        entry["rows"] = _numeric_rows(summary["rows"], entry["name"], entry["versions"])
    counts: dict[str, int] = {}
    for change in summary["changes"]:
        counts[change["what"]] = counts.get(change["what"], 0) + 1
    return {
        "generated_at": summary.get("generated_at", ""),
        "frameworks": list(frameworks.values()),
        "cells": summary["cells"],
        "changes": summary["changes"],
        "change_counts": counts,
        "policy": summary["policy"],
        "accuracy_changes": [c for c in summary["changes"] if c["check"] == "accuracy"],
    }


def _numeric_rows(rows: list[dict], framework: str, versions: list[str]) -> list[dict]:
    """Per (implementation, dtype, quantity): the accuracy of each input set, and the
    special cases outside the profile, in each release."""
    out: dict[tuple, dict] = {}
    for row in rows:
        if row["framework"] != framework or row["check"] not in ("accuracy", "special"):
            continue
        label = row["detail"] if row["check"] == "accuracy" else "special cases"
        key = (row["impl"], row["dtype"], row["quantity"], label)
        entry = out.setdefault(
            key,
            {
                "impl": row["impl"],
                "dtype": row["dtype"],
                "quantity": row["quantity"],
                "what": label,
                "cells": {v: None for v in versions},
            },
        )
        for version, state in row["by_version"].items():
            if version not in entry["cells"]:
                continue
            if row["check"] == "accuracy":
                entry["cells"][version] = {
                    "verdict": state["verdict"],
                    "text": "" if state["figure"] is None else f"{state['figure']:.3g}",
                    "kinds": state["kinds"],
                }
            else:
                cell = entry["cells"][version] or {"verdict": "pass", "bad": 0, "kinds": []}
                if state["verdict"] != "pass":
                    cell["bad"] += 1
                    cell["kinds"] = sorted(set(cell["kinds"]) | set(state["kinds"]))
                    if cell["verdict"] != "fail":
                        cell["verdict"] = state["verdict"]
                cell["text"] = f"{cell['bad']} outside" if cell["bad"] else "all within"
                entry["cells"][version] = cell
    rows_out = []
    for entry in out.values():
        states = [
            (c["verdict"], c["text"], tuple(c["kinds"])) for c in entry["cells"].values() if c
        ]
        entry["changed"] = len(set(states)) > 1
        rows_out.append(entry)
    return rows_out
