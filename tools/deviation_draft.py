"""Draft [[deviation]] entries for the policy from a results file: a maintainer's tool.

    python -m tools.deviation_draft results.json > draft.toml

Every finding that is not a pass becomes part of an entry keyed on (implementation,
quantity, check), with the observed bound per dtype (rounded up to 3 significant digits),
the violation kinds and, for special cases, the case names; implementations with identical
entries are merged (one kernel behind several ids). The cause and the upstream issue are
left for a person to write, from the framework's source: the draft does not know them.
"""

from __future__ import annotations

import json
import math
import sys
from collections import defaultdict

from conformance import results


def _up(value: float) -> float:
    if value <= 0 or not math.isfinite(value):
        return value
    digits = 3 - math.floor(math.log10(value)) - 1
    return math.ceil(value * 10**digits) / 10**digits


def _minor_range(version: str) -> str:
    """'2.13.0+cpu' -> '>=2.13,<2.14': the pinned release series."""
    parts = version.split("+")[0].split(".")
    if len(parts) < 2 or not all(p.isdigit() for p in parts[:2]):
        return f"=={version}"
    major, minor = int(parts[0]), int(parts[1])
    return f">={major}.{minor},<{major}.{minor + 1}"


def draft(document: dict, versions: dict[str, str]) -> str:
    groups: dict[tuple, dict] = defaultdict(lambda: {"dtypes": {}, "kinds": set(), "cases": set()})
    for record in document["measurements"] + document["checks"]:
        if record.get("verdict") == "pass" or record.get("check") == "dtype":
            continue
        key = (record["impl"], record.get("quantity"), record.get("check", "accuracy"))
        group = groups[key]
        bound = record.get("max_ulp") or 0.0
        group["dtypes"][record["dtype"]] = max(group["dtypes"].get(record["dtype"], 0.0), bound)
        group["kinds"] |= set(record.get("violations") or {})
        if record.get("kind"):
            group["kinds"].add(record["kind"])
    for case in document["special_values"]:
        if case.get("verdict") == "pass":
            continue
        group = groups[(case["impl"], case["quantity"], "special")]
        group["dtypes"][case["dtype"]] = max(
            group["dtypes"].get(case["dtype"], 0.0), case.get("ulp") or 0.0
        )
        group["kinds"] |= set(case.get("kinds", []))
        group["cases"].add(case["name"] if "name" in case else case["case"])
    merged: dict[tuple, list[str]] = defaultdict(list)
    for (impl, quantity, check), group in groups.items():
        signature = (
            _minor_range(versions.get(impl, "")),
            quantity,
            check,
            tuple(sorted((d, _up(v)) for d, v in group["dtypes"].items())),
            tuple(sorted(group["kinds"])),
            tuple(sorted(group["cases"])),
        )
        merged[signature].append(impl)
    lines = []
    for (version_range, quantity, check, bounds, kinds, cases), impls in merged.items():
        lines.append("[[deviation]]")
        lines.append(f"impl = {json.dumps(impls[0] if len(impls) == 1 else impls)}")
        lines.append(f'versions = "{version_range}"')
        lines.append(f"dtypes = {json.dumps([d for d, _ in bounds])}")
        if quantity:
            lines.append(f'quantities = ["{quantity}"]')
        lines.append(f'checks = ["{check}"]')
        if any(v for _, v in bounds):
            table = ", ".join(f"{d} = {v:g}" for d, v in bounds)
            lines.append(f"max_ulp = {{ {table} }}")
        if kinds:
            lines.append(f"kinds = {json.dumps(list(kinds))}")
        if cases:
            lines.append(f"cases = {json.dumps(list(cases), ensure_ascii=False)}")
        lines.append('cause = "TODO"')
        lines.append('issue = ""')
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m tools.deviation_draft RESULTS.json", file=sys.stderr)
        return 2
    try:
        document = results.read(argv[0])
    except results.ResultsError as error:
        print(f"deviation_draft: {error}", file=sys.stderr)
        return 2
    versions = {i["id"]: i.get("version", "") for i in document["implementations"]}
    print(draft(document, versions))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
