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

# bench_selu's classes: a direction and a size each (Forward20: forward, 2^20 elements).
BENCHMARKS = {"forward": "bench_selu.Forward", "backward": "bench_selu.Backward"}
DIRECTIONS = tuple(BENCHMARKS)
BANDWIDTH = "bench_bandwidth.Memory.track_stream_gbps"


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
    """{commit, date, machine, stream_gbps, rows}: a row {direction, output, impl, dtype, size,
    device, seconds, q25, q75, spread, samples, gbps, fraction, memory_fraction, benchmark,
    params} per case that ran (skipped and failed ones are left out). `output` is "new" (an
    output allocated at every call) or "into" (ForwardInto: written into one made once).
    `spread` is the
    interquartile range over the median (`gating.spread`); `memory_fraction`
    the case's GB/s over the machine's streaming bandwidth (`stream_gbps`, from
    bench_bandwidth in the same run; None where it did not run, and on a GPU, whose own
    bandwidth is not measured); `benchmark` and `params`
    name the case as asv does (`asv_name`)."""
    keys = run.get_all_result_keys()
    stream = _stream_gbps(run, keys)
    found = []
    for direction, prefix in BENCHMARKS.items():
        classes = sorted({k.rsplit(".", 1)[0] for k in keys if k.startswith(prefix)})
        for cls in classes:
            found += _class_rows(run, keys, direction, cls, stream)
    return {
        "commit": run.commit_hash,
        "date": run.date,
        "machine": machine,
        "stream_gbps": stream,
        "rows": found,
    }


def _stream_gbps(run, keys) -> float | None:
    if BANDWIDTH not in keys:
        return None
    (value,) = run.get_result_value(BANDWIDTH, run.get_result_params(BANDWIDTH))
    return None if value is None or math.isnan(value) else value


def _class_rows(run, keys, direction: str, cls: str, stream: float | None) -> list[dict]:
    columns = {}  # benchmark name -> {parameter combination: value}
    for name in ("time_selu", "track_gbps", "track_fraction_of_scale"):
        key = f"{cls}.{name}"
        if key in keys:
            params = run.get_result_params(key)
            combinations = list(itertools.product(*params))
            values = run.get_result_value(key, params)
            stats = run.get_result_stats(key, params) or [None] * len(values)
            samples = run.get_result_samples(key, params) or [None] * len(values)
            columns[name] = dict(zip(combinations, values, strict=True))
            columns[name + ".stats"] = dict(zip(combinations, stats, strict=True))
            columns[name + ".samples"] = dict(zip(combinations, samples, strict=True))
    if "time_selu" not in columns:
        return []
    from .gating import spread

    found = []
    for combination, seconds in columns["time_selu"].items():
        if seconds is None or math.isnan(seconds):
            continue
        impl, dtype, size, device = (ast.literal_eval(v) for v in combination)
        stats = columns["time_selu.stats"][combination] or {}
        samples = columns["time_selu.samples"][combination]
        gbps = _value(columns, "track_gbps", combination)
        found.append(
            {
                "direction": direction,
                "output": "into" if cls.startswith(f"{BENCHMARKS[direction]}Into") else "new",
                "impl": impl,
                "dtype": dtype,
                "size": size,
                "device": device,
                "seconds": seconds,
                "q25": stats.get("q_25"),
                "q75": stats.get("q_75"),
                "spread": spread(seconds, stats.get("q_25"), stats.get("q_75")),
                "samples": len(samples) if samples else stats.get("repeat"),
                "gbps": gbps,
                "fraction": _value(columns, "track_fraction_of_scale", combination),
                # the host's bandwidth: a GPU's is not measured (None on cuda)
                "memory_fraction": (
                    gbps / stream if gbps is not None and stream and device == "cpu" else None
                ),
                "benchmark": f"{cls}.time_selu",
                "params": list(combination),
            }
        )
    return found


def asv_name(row: dict) -> str:
    """The case as asv compare names it: bench_selu.Forward20.time_selu('jax/nn',
    'float32', 1048576, 'cpu')."""
    return f"{row['benchmark']}({', '.join(row['params'])})"


def agreement(first: dict, second: dict, min_size: int = 1 << 20) -> dict:
    """How far two runs' medians are apart, per case of at least `min_size` elements in
    both: |t2 - t1| / t1 for time_selu, and likewise for GB/s and the fraction."""
    before = {case_key(r): r for r in first["rows"] if r["size"] >= min_size}
    differences = {"seconds": [], "gbps": [], "fraction": []}
    for row in second["rows"]:
        old = before.get(case_key(row))
        if old is None:
            continue
        for name, values in differences.items():
            if old[name] and row[name] is not None:
                values.append((abs(row[name] - old[name]) / old[name], case_key(row)))
    return {name: sorted(values, reverse=True) for name, values in differences.items()}


def case_key(row: dict) -> tuple:
    """(direction, output, impl, dtype, size, device): what names a case across runs."""
    return (
        row["direction"],
        row.get("output", "new"),
        row["impl"],
        row["dtype"],
        row["size"],
        row["device"],
    )


def _value(columns: dict, name: str, combination: tuple):
    value = columns.get(name, {}).get(combination)
    return None if value is None or math.isnan(value) else value


def tables(results: dict) -> list[dict]:
    """The results pivoted for reading: one table per direction (and output) and device, a
    row per implementation and dtype, a column per size. [{"title", "direction", "output",
    "device", "sizes", "rows": [{"impl", "dtype", "cells": [row | None per size]}]}]"""
    out = []
    for direction in DIRECTIONS:
        for output in ("new", "into"):
            for device in DEVICES:
                cases = [
                    r
                    for r in results["rows"]
                    if (r["direction"], r.get("output", "new"), r["device"])
                    == (direction, output, device)
                ]
                if cases:
                    out.append(_table(cases, direction, output, device))
    return out


def _table(cases: list[dict], direction: str, output: str, device: str) -> dict:
    sizes = sorted({r["size"] for r in cases})
    cells = {(r["impl"], r["dtype"], r["size"]): r for r in cases}
    rows = [
        {"impl": impl, "dtype": dtype, "cells": [cells.get((impl, dtype, n)) for n in sizes]}
        for impl, dtype in dict.fromkeys((r["impl"], r["dtype"]) for r in cases)
    ]
    label = direction if output == "new" else f"{direction} into an output made once"
    return {
        "title": f"{label}, {device}",
        "direction": direction,
        "output": output,
        "device": device,
        "sizes": sizes,
        "rows": rows,
    }


def summary_markdown(results: dict, settings=None) -> str:
    """One Markdown table per direction and device: a row per implementation and dtype, a
    column per size, each cell "time ±spread · GB/s · fraction of the scale · fraction of
    the memory bandwidth", and "noisy" where the case is too noisy to gate
    (conformance/data/gating.toml)."""
    from .gating import load

    settings = settings or load()
    stream = results.get("stream_gbps")
    lines = [
        f"asv results of {results['machine']}, commit {results['commit'][:8]}: per call, "
        "median time ±(interquartile range / median) · GB/s · fraction of the scale y=2x · "
        "fraction of the memory bandwidth "
        + (f"({stream:.3g} GB/s, bench_bandwidth)" if stream else "(not measured in this run)")
        + f"; noisy: spread over {settings.max_spread:.0%}, too noisy to gate",
        "",
    ]
    noisy = 0
    for table in tables(results):
        sizes = table["sizes"]
        lines += [
            f"{table['title']}:",
            "",
            "| impl | dtype | " + " | ".join(f"2^{n.bit_length() - 1}" for n in sizes) + " |",
            "| --- | --- |" + " ---: |" * len(sizes),
        ]
        for row in table["rows"]:
            cells = " | ".join(_cell(c, settings) for c in row["cells"])
            noisy += sum(bool(c) and settings.noisy(c["spread"]) for c in row["cells"])
            lines.append(f"| {row['impl']} | {row['dtype']} | {cells} |")
        lines.append("")
    lines.append(f"{noisy} of {len(results['rows'])} cases too noisy to gate.")
    return "\n".join(lines)


def _cell(row: dict | None, settings) -> str:
    if row is None:
        return ""
    parts = [seconds_text(row["seconds"]) + spread_text(row["spread"])]
    parts.append("" if row["gbps"] is None else f"{row['gbps']:.3g} GB/s")
    parts.append("" if row["fraction"] is None else f"{row['fraction']:.2f}")
    parts.append("" if row["memory_fraction"] is None else f"{row['memory_fraction']:.2f}")
    text = " · ".join(parts)
    return text + " noisy" if settings.noisy(row["spread"]) else text


def spread_text(value: float | None) -> str:
    return "" if value is None else f" ±{value:.0%}"


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
