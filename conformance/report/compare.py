"""What changed between two runs: before and after a framework upgrade, a patch to a
kernel, or a change of machine.

Two results.json files (the gate's, or sweeps'): findings that now fail, findings that
no longer fail (fixed, or a recorded deviation gone), accuracy bounds that moved, special
values whose output changed, implementations that appeared or went away, and the
framework versions that differ. Two asv results files: the cases whose median time moved
by more than `SPEED_THRESHOLD`.
"""

from __future__ import annotations

from . import asv_results
from .model import QUANTITY_NAMES, RECORD_KEYS, VERDICTS

SPEED_THRESHOLD = 0.10  # this machine's runs repeat within a few per cent (README, Speed)


def _label(name: str, record: dict) -> str:
    if name == "self_normalization":
        return (
            f"self-normalisation {record['framework']} {record['activation']}, {record['inputs']}"
        )
    if name == "self_normalization_checks":
        parts = [record["framework"], record["check"], record.get("dtype"), record.get("name")]
        return "self-normalisation " + " ".join(p for p in parts if p)
    parts = [record["impl"], record.get("device") or "", record.get("dtype") or ""]
    quantity = record.get("quantity")
    if quantity:
        parts.append(QUANTITY_NAMES.get(quantity, quantity))
    if name == "measurements":
        parts.append(f"accuracy ({record.get('input_set')})")
    elif name == "special_values":
        parts.append(f"special value {record['case']}")
    else:
        parts.append(record.get("check", ""))
    return " ".join(p for p in parts if p)


def results(old: dict, new: dict) -> dict:
    """{"worse": [...], "better": [...], "ulp": [...], "special": [...], "appeared": [...],
    "gone": [...], "versions": [...]} (each a list of dicts for the templates)."""
    out = {k: [] for k in ("worse", "better", "ulp", "special", "appeared", "gone")}
    for name, key in RECORD_KEYS.items():
        before = {tuple(r.get(k) for k in key): r for r in old.get(name, [])}
        after = {tuple(r.get(k) for k in key): r for r in new.get(name, [])}
        for k, record in after.items():
            label = _label(name, record)
            was = before.get(k)
            if was is None:
                if record["verdict"] != "pass":
                    out["appeared"].append({"what": label, "verdict": record["verdict"]})
                continue
            a, b = VERDICTS.index(was["verdict"]), VERDICTS.index(record["verdict"])
            change = {"what": label, "old": was["verdict"], "new": record["verdict"]}
            change["detail"] = _detail(name, was, record)
            if b > a:
                out["worse"].append(change)
            elif b < a:
                out["better"].append(change)
            if name == "measurements" and was.get("max_ulp") != record.get("max_ulp"):
                out["ulp"].append(
                    {
                        "what": label,
                        "old": was.get("max_ulp"),
                        "new": record.get("max_ulp"),
                        "worst_input": record.get("worst_input"),
                    }
                )
            if name == "special_values" and was["output"] != record["output"]:
                out["special"].append(
                    {
                        "what": label,
                        "old": was["output"],
                        "new": record["output"],
                        "expected": " or ".join(record["expected"]),
                    }
                )
        for k, record in before.items():
            if k not in after and record["verdict"] != "pass":
                out["gone"].append({"what": _label(name, record), "verdict": record["verdict"]})
    old_versions = old.get("environment", {}).get("frameworks", {})
    new_versions = new.get("environment", {}).get("frameworks", {})
    out["versions"] = [
        {"name": n, "old": old_versions.get(n, "—"), "new": new_versions.get(n, "—")}
        for n in sorted(set(old_versions) | set(new_versions))
        if old_versions.get(n) != new_versions.get(n)
    ]
    return out


def _detail(name: str, was: dict, now: dict) -> str:
    if name == "measurements":
        return f"max {was.get('max_ulp')} → {now.get('max_ulp')} ulp"
    if name == "special_values":
        return f"x = {now['input']}: {was['output']} → {now['output']}"
    if name == "self_normalization":
        return f"{was.get('violation') or 'within'} → {now.get('violation') or 'within'}"
    if name == "self_normalization_checks":
        return now.get("detail", "")
    if "mismatched" in now:
        return f"{was.get('mismatched')} → {now['mismatched']} of {now.get('variants')} differ"
    return ""  # a check's summary: its cases are listed on their own


def speed(old: dict, new: dict, threshold: float = SPEED_THRESHOLD) -> list[dict]:
    """Cases (asv_results rows) whose median time moved by more than `threshold`,
    the largest change first."""
    before = {_speed_key(r): r for r in old["rows"]}
    out = []
    for row in new["rows"]:
        was = before.get(_speed_key(row))
        if was is None or not was["seconds"]:
            continue
        ratio = row["seconds"] / was["seconds"]
        if abs(ratio - 1) > threshold:
            out.append(
                {
                    "what": " ".join(str(p) for p in _speed_key(row) if p != "new"),
                    "old": was["seconds"],
                    "new": row["seconds"],
                    "ratio": ratio,
                }
            )
    return sorted(out, key=lambda c: -abs(c["ratio"] - 1))


def _speed_key(row: dict) -> tuple:
    return asv_results.case_key(row)
