"""python -m tools.policy_ranges [SUMMARY] [--policy FILE] [--write]

The known deviations' version ranges against the matrix (`make matrix`, its summary
docs/matrix/summary.json): for each deviation of the policy, the measured releases of its
framework where it is present (a record it would match, all but the version, outside the
profile) and absent, its range, and the range the measurements support: from the first
release where it is present to before the first measured release after the last one, the
range's own bounds kept where the measurements allow them. A deviation whose releases are
not contiguous (present, absent, present again) gets no proposal: a person splits it.

`--write` rewrites the `versions = "..."` line of each entry whose proposal differs from
its range, and nothing else of the file. Review with `git diff conformance/data/policy.toml`,
then run `make matrix` again: the summary's `policy` is empty when the ranges agree.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from packaging.specifiers import SpecifierSet
from packaging.version import Version

from conformance import policy as policy_module
from conformance.matrix.summary import ROW_KEYS, shows

DEFAULT_SUMMARY = Path("docs/matrix/summary.json")


def _public(version: str) -> Version:
    return Version(version.split("+")[0])


def presence(summary: dict, deviation) -> dict[str, bool]:
    """Release -> whether the deviation is present there, over the rows it would match."""
    out: dict[str, bool] = {}
    for row in summary["rows"]:
        impl, device, dtype, quantity, check, detail = (row[k] for k in ROW_KEYS)
        case = detail if check == "special" else None
        if not deviation.matches(impl, None, device, dtype, quantity, check, case):
            continue
        for version, state in row["by_version"].items():
            shown = shows(deviation, state["verdict"], state["deviation"])
            out[version] = out.get(version, False) or shown
    return out


def proposal(deviation, present: dict[str, bool]) -> str | None:
    """The range the measurements support, or None (no release present, or not
    contiguous)."""
    releases = sorted(present, key=_public)
    flags = [present[v] for v in releases]
    if not any(flags):
        return None
    first = flags.index(True)
    last = len(flags) - 1 - flags[::-1].index(True)
    if not all(flags[first : last + 1]):
        return None
    # The range's own bounds stay where the measurements allow them: a lower bound above
    # the last release measured without the deviation and at most the first with it; an
    # upper bound above the last with it and at most the next measured without it.
    # Below the oldest release measured and above the newest the measurements say nothing.
    lowers = [s for s in deviation.versions if s.operator in (">=", ">")]
    uppers = [s for s in deviation.versions if s.operator in ("<", "<=")]
    first_v, last_v = _public(releases[first]), _public(releases[last])
    before = _public(releases[first - 1]) if first > 0 else None
    after = _public(releases[last + 1]) if last + 1 < len(releases) else None
    own_lower = _public(lowers[0].version) if lowers else None
    own_upper = _public(uppers[0].version) if uppers else None
    if own_lower is not None and own_lower <= first_v and (before is None or own_lower > before):
        lower = str(lowers[0])
    else:
        lower = f">={first_v}"
    if own_upper is not None and own_upper > last_v and (after is None or own_upper <= after):
        upper = str(uppers[0])
    elif after is not None:
        upper = f"<{after}"
    else:
        upper = f"<{last_v.major}.{last_v.minor + 1}"
    return f"{lower},{upper}"


def rewrite(path: Path, changes: dict[int, str]) -> None:
    """Set the `versions` of the entries starting at the given lines."""
    lines = path.read_text().splitlines(keepends=True)
    for start, versions in changes.items():
        for number in range(start, len(lines)):
            text = lines[number].strip()
            if text.startswith("versions"):
                lines[number] = f'versions = "{versions}"\n'
                break
            if number > start and text.startswith("["):
                raise ValueError(f"{path}:{start}: the entry has no versions line")
    path.write_text("".join(lines))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.policy_ranges", description=__doc__)
    parser.add_argument("summary", nargs="?", default=str(DEFAULT_SUMMARY))
    parser.add_argument("--policy", default=None)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args(argv)
    try:
        summary = json.loads(Path(args.summary).read_text())
        policy = policy_module.load(args.policy)
    except (OSError, ValueError, policy_module.PolicyError) as error:
        print(f"python -m tools.policy_ranges: {error}", file=sys.stderr)
        return 2
    changes = {}
    for deviation in policy.deviations:
        present = presence(summary, deviation)
        if not present:
            continue
        proposed = proposal(deviation, present)
        releases = sorted(present, key=_public)
        shown = ", ".join(f"{v}{'' if present[v] else ' (absent)'}" for v in releases)
        moved = proposed is not None and SpecifierSet(proposed) != deviation.versions
        impls = ",".join(deviation.impls)
        what = proposed if moved else "keep"
        print(f"line {deviation.line} {impls} {deviation.versions}: {shown} -> {what}")
        if moved:
            changes[deviation.line] = proposed
    if args.write and changes:
        rewrite(policy.path, changes)
        print(f"{len(changes)} ranges rewritten in {policy.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
