"""asv's results of the SELU benchmarks (`benchmarks/bench_selu.py`), read for the report
and for `python -m benchmarks.speed summary|agreement`: a row per case (implementation,
dtype, size, device, direction) with the median time, its quartiles, GB/s and the
fraction of the scale y = 2x's speed."""

from __future__ import annotations

import ast
import itertools
import math
import statistics
from pathlib import Path

from ..axes import DEVICES

BENCHMARKS = {"forward": "bench_selu.Forward", "backward": "bench_selu.Backward"}
DIRECTIONS = tuple(BENCHMARKS)


def load_results(results_dir: str | Path, machine: str, commit: str | None = None) -> dict:
    """The asv results of one machine (the newest run, or that of `commit`): see `rows`."""
    from asv.results import iter_results_for_machine

    runs = [
        r
        for r in iter_results_for_machine(str(results_dir), machine)
        if commit is None or r.commit_hash.startswith(commit)
    ]
    if not runs:
        raise FileNotFoundError(f"no asv results for machine {machine!r} in {results_dir}")
    return rows(max(runs, key=lambda r: max(r.started_at.values(), default=0)), machine)


def load_results_file(path: str | Path) -> dict:
    """One asv results file (say, a copy kept from an earlier run): see `rows`."""
    from asv.results import Results

    run = Results.load(str(path))
    return rows(run, run.params.get("machine", ""))


def rows(run, machine: str) -> dict:
    """{commit, date, machine, rows}: a row {direction, impl, dtype, size, device, seconds,
    q25, q75, gbps, fraction} per case that ran (skipped and failed ones are left out)."""
    found = []
    for direction, prefix in BENCHMARKS.items():
        columns = {}  # benchmark name -> {parameter combination: value}
        for name in ("time_selu", "track_gbps", "track_fraction_of_scale"):
            key = f"{prefix}.{name}"
            if key in run.get_all_result_keys():
                params = run.get_result_params(key)
                combinations = list(itertools.product(*params))
                values = run.get_result_value(key, params)
                stats = run.get_result_stats(key, params) or [None] * len(values)
                columns[name] = dict(zip(combinations, values, strict=True))
                columns[name + ".stats"] = dict(zip(combinations, stats, strict=True))
        if "time_selu" not in columns:
            continue
        for combination, seconds in columns["time_selu"].items():
            if seconds is None or math.isnan(seconds):
                continue
            impl, dtype, size, device = (ast.literal_eval(v) for v in combination)
            stats = columns["time_selu.stats"][combination] or {}
            found.append(
                {
                    "direction": direction,
                    "impl": impl,
                    "dtype": dtype,
                    "size": size,
                    "device": device,
                    "seconds": seconds,
                    "q25": stats.get("q_25"),
                    "q75": stats.get("q_75"),
                    "gbps": _value(columns, "track_gbps", combination),
                    "fraction": _value(columns, "track_fraction_of_scale", combination),
                }
            )
    return {"commit": run.commit_hash, "date": run.date, "machine": machine, "rows": found}


def agreement(first: dict, second: dict, min_size: int = 1 << 20) -> dict:
    """How far two runs' medians are apart, per case of at least `min_size` elements in
    both: |t2 - t1| / t1 for time_selu, and likewise for GB/s and the fraction."""
    key = lambda r: (r["direction"], r["impl"], r["dtype"], r["size"], r["device"])  # noqa: E731
    before = {key(r): r for r in first["rows"] if r["size"] >= min_size}
    differences = {"seconds": [], "gbps": [], "fraction": []}
    for row in second["rows"]:
        old = before.get(key(row))
        if old is None:
            continue
        for name, values in differences.items():
            if old[name] and row[name] is not None:
                values.append((abs(row[name] - old[name]) / old[name], key(row)))
    return {name: sorted(values, reverse=True) for name, values in differences.items()}


def _value(columns: dict, name: str, combination: tuple):
    value = columns.get(name, {}).get(combination)
    return None if value is None or math.isnan(value) else value


def tables(results: dict) -> list[dict]:
    """The results pivoted for reading: one table per direction and device, a row per
    implementation and dtype, a column per size. [{"title", "direction", "device",
    "sizes", "rows": [{"impl", "dtype", "cells": [row | None per size]}]}]"""
    out = []
    for direction in DIRECTIONS:
        for device in DEVICES:
            cases = [
                r for r in results["rows"] if (r["direction"], r["device"]) == (direction, device)
            ]
            if not cases:
                continue
            sizes = sorted({r["size"] for r in cases})
            cells = {(r["impl"], r["dtype"], r["size"]): r for r in cases}
            rows = [
                {
                    "impl": impl,
                    "dtype": dtype,
                    "cells": [cells.get((impl, dtype, n)) for n in sizes],
                }
                for impl, dtype in dict.fromkeys((r["impl"], r["dtype"]) for r in cases)
            ]
            title = f"{direction}, {device}"
            out.append(
                {
                    "title": title,
                    "direction": direction,
                    "device": device,
                    "sizes": sizes,
                    "rows": rows,
                }
            )
    return out


def summary_markdown(results: dict) -> str:
    """One Markdown table per direction and device: a row per implementation and dtype, a
    column per size, each cell "time · GB/s · fraction of the scale"."""
    lines = [
        f"asv results of {results['machine']}, commit {results['commit'][:8]}: per call, "
        "median time · GB/s · fraction of the scale y=2x",
        "",
    ]
    for table in tables(results):
        sizes = table["sizes"]
        lines += [
            f"{table['title']}:",
            "",
            "| impl | dtype | " + " | ".join(f"2^{n.bit_length() - 1}" for n in sizes) + " |",
            "| --- | --- |" + " ---: |" * len(sizes),
        ]
        for row in table["rows"]:
            cells = " | ".join(_cell(c) for c in row["cells"])
            lines.append(f"| {row['impl']} | {row['dtype']} | {cells} |")
        lines.append("")
    return "\n".join(lines)


def _cell(row: dict | None) -> str:
    if row is None:
        return ""
    parts = [seconds_text(row["seconds"])]
    parts.append("" if row["gbps"] is None else f"{row['gbps']:.3g} GB/s")
    parts.append("" if row["fraction"] is None else f"{row['fraction']:.2f}")
    return " · ".join(parts)


def seconds_text(value: float) -> str:
    for unit, scale in (("s", 1), ("ms", 1e-3), ("µs", 1e-6)):
        if value >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value / 1e-9:.3g} ns"


def agreement_markdown(differences: dict, limit: float = 0.05) -> str:
    lines = [
        "| quantity | cases | median difference | 90th percentile | largest | over 5 % |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, values in differences.items():
        if not values:
            continue
        d = [v for v, _ in values]  # largest first
        worst = ", ".join(map(str, values[0][1]))
        lines.append(
            f"| {name} | {len(d)} | {statistics.median(d):.2%} | "
            f"{d[len(d) // 10]:.2%} | {d[0]:.2%} ({worst}) | {sum(v > limit for v in d)} |"
        )
    return "\n".join(lines)
