"""The comparison report: `python -m conformance report`.

model.py     what the report says, from results.json files (verdicts, worst inputs, special
             values, constants, eager against compiled, deviations, error profiles)
plots.py     the figures, as inline SVG
compare.py   what changed between two runs (results.json, or asv results)
releases.py  the matrix's summary: numerics across framework releases
templates/   index.html (one self-contained page) and report.md (GitHub-flavoured Markdown,
             short enough for a CI job summary or a pull-request comment)

`write` takes the results files of the gate and of sweeps, asv's results directory (the
newest run of one machine) and pairs of files to compare, and writes both files
atomically into the output directory.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass, field
from pathlib import Path

import jinja2

from conformance import results as results_file
from conformance.io import JSONFileError, read_json
from conformance.report import asv_results as speed_results

from . import compare as comparing
from . import model, plots
from . import releases as across_releases

TEMPLATES = Path(__file__).with_name("templates")
SPECIAL_DTYPE = "float32"


class ReportError(ValueError):
    """An input the report cannot use (message names the file, and the line)."""


@dataclass
class Inputs:
    results: list[Path]
    asv: Path | None = None
    machine: str | None = None
    compare: list[tuple[Path, Path]] = field(default_factory=list)
    matrix: Path | None = None  # the matrix's summary (python -m conformance matrix)


def _ulp(value) -> str:
    if value is None:
        return ""
    if value == 0:
        return "0"
    return f"{value:.3g}"


def _environment(document: dict, sources: list[Path]) -> dict:
    env = dict(document.get("environment", {}))
    for key, default in (("frameworks", {}), ("devices", []), ("python", ""), ("platform", "")):
        env.setdefault(key, default)
    env.setdefault("cpu", "")
    env["profile"] = document.get("profile") or "strict"
    env["policy"] = document.get("policy") or ""
    env["generated_at"] = document.get("generated_at", "")
    env["machine"] = f"{env.get('cpu', '')} ({env.get('cpu_count', '?')} CPUs)"
    env["sources"] = [str(s) for s in sources]
    return env


def _speed(asv: Path | None, machine: str | None) -> dict | None:
    """The newest asv run of `machine` (or of the only machine in the directory)."""
    if asv is None or not Path(asv).is_dir():
        return None
    machines = sorted(p.name for p in Path(asv).iterdir() if (p / "machine.json").exists())
    if not machines:
        return None
    if machine is None:
        machine = platform.node() if platform.node() in machines else machines[0]
    try:
        run = speed_results.load_results(asv, machine)
    except FileNotFoundError:
        return None
    tables = speed_results.tables(run)
    impls = list(dict.fromkeys(r["impl"] for r in run["rows"]))
    float32 = {}
    for table in tables:
        by_impl = {row["impl"]: row["cells"] for row in table["rows"] if row["dtype"] == "float32"}
        for impl in impls:
            float32[(table["title"], impl)] = by_impl.get(impl, [None] * len(table["sizes"]))
    quick = run["rows"] and all(
        r["size"] == min(x["size"] for x in run["rows"]) for r in run["rows"]
    )
    note = (
        "These are the quick benchmarks (one call per figure, the smallest size only): "
        "they prove the benchmarks run; `make bench` measures."
        if quick
        else ""
    )
    from .gating import load as gating

    settings = gating()
    noisy = sum(settings.noisy(r["spread"]) for r in run["rows"])
    return {
        **run,
        "tables": tables,
        "impls": impls,
        "float32": float32,
        "note": note,
        "gating": settings,
        "noisy": noisy,
    }


def _read_pair(old: Path, new: Path) -> tuple[str, object, object]:
    """("results", doc, doc) or ("speed", rows, rows): asv results files are told from
    results.json by their "result_columns"."""
    kinds, loaded = [], []
    for path in (old, new):
        try:
            head = read_json(path)
        except JSONFileError as error:
            raise ReportError(str(error)) from None
        if isinstance(head, dict) and "result_columns" in head:
            kinds.append("speed")
            loaded.append(speed_results.load_results_file(path))
        else:
            kinds.append("results")
            try:
                loaded.append(results_file.read(path))
            except results_file.ResultsError as error:
                raise ReportError(str(error)) from None
    if kinds[0] != kinds[1]:
        raise ReportError(f"{old} and {new}: one is a results.json, the other asv results")
    return kinds[0], loaded[0], loaded[1]


def context(inputs: Inputs) -> dict:
    """Everything the templates need."""
    documents = []
    for path in inputs.results:
        try:
            documents.append(results_file.read(path))
        except results_file.ResultsError as error:
            raise ReportError(str(error)) from None
    document = model.merge(documents)
    impls = model.impl_order(document)
    matrix = model.verdict_matrix(document)
    special = model.special_matrix(document, SPECIAL_DTYPE)
    speed = _speed(inputs.asv, inputs.machine)
    worst = model.worst_findings(document)
    bounds = _bounds(document)
    profiles, histograms = model.error_profiles(document), model.histograms(document)
    sweeps = [m for m in document["measurements"] if m.get("histogram")]
    normalization = model.self_normalization(document)
    figures = {"errors": [], "sweeps": [], "speed": [], "selfnorm": []}
    if normalization and normalization["stacks"]:
        figure = plots.self_normalization(normalization["stacks"], normalization["bounds"])
        figures["selfnorm"].append(("self-normalization", figure))
    for quantity in model.QUANTITIES:
        name = model.QUANTITY_NAMES[quantity]
        figure = plots.error_by_binade(profiles, quantity, impls, bounds)
        if figure:
            figures["errors"].append((f"binade-{name}", figure))
        figure = plots.histogram_heatmap(histograms, quantity, impls)
        if figure:
            figures["errors"].append((f"histogram-{name}", figure))
        figure = plots.sweep_binades(sweeps, quantity, impls)
        if figure:
            figures["sweeps"].append((f"sweep-{name}", figure))
    if speed:
        figure = plots.speed(speed["rows"])
        if figure:
            figures["speed"].append(("speed-float32", figure))
    compared = {"results": [], "speed": []}
    for old, new in inputs.compare:
        kind, a, b = _read_pair(old, new)
        if kind == "results":
            compared["results"].append({"old": old, "new": new, "diff": comparing.results(a, b)})
        else:
            diff = comparing.speed(a, b)
            compared["speed"].append(
                {"old": old, "new": new, "diff": diff, "threshold": comparing.SPEED_THRESHOLD}
            )
    releases = None
    if inputs.matrix is not None:
        try:
            releases = across_releases.view(across_releases.load(inputs.matrix))
        except across_releases.MatrixFileError as error:
            raise ReportError(str(error)) from None
    return {
        "releases": releases,
        "env": _environment(document, inputs.results),
        "dtypes": model.DTYPES,
        "quantity_names": model.QUANTITY_NAMES,
        "symbols": model.VERDICT_SYMBOLS,
        "verdict_labels": model.VERDICT_LABELS,
        "verdict_words": model.VERDICT_WORDS,
        "impls": impls,
        "matrix": matrix,
        "headline": model.headline(matrix),
        "worst": worst,
        "worst_by_impl": {f["impl"]: f for f in worst},
        "special": special,
        "special_dtype": SPECIAL_DTYPE,
        "disagreements": [r for r in special if r["disagree"]],
        "constants": model.constants(document),
        "compiled": model.eager_vs_compiled(document),
        "uncompiled": model.without_compiled_variant(document),
        "deviations": model.deviations(document),
        "selfnorm": normalization,
        "no_selfnorm": model.without_self_normalization(document),
        "figures": figures,
        "speed": speed,
        "untimed": model.untimed(document, speed["impls"]) if speed else [],
        "asv_dir": inputs.asv,
        "compare": compared if inputs.compare else None,
        "ulp": _ulp,
        "seconds": speed_results.seconds_text,
        "gbps": lambda v: "" if v is None else f"{v:.3g} GB/s",
        "fraction": lambda v: "" if v is None else f"{v:.2f}",
        "spread": speed_results.spread_text,
    }


def _bounds(document: dict) -> dict:
    """The profile's ulp bound per dtype, for the plots' dashed lines."""
    from conformance import policy

    try:
        loaded = policy.load(document.get("policy") or None)
        return dict(loaded.profile(document.get("profile")).max_ulp)
    except (policy.PolicyError, OSError, KeyError):
        return {}


def render(inputs: Inputs) -> tuple[str, str]:
    """(index.html, report.md) as text."""
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(["html", "html.j2"]),
        undefined=jinja2.StrictUndefined,  # a name the template misspells is an error
        trim_blocks=False,
        keep_trailing_newline=True,
    )
    values = context(inputs)
    html = environment.get_template("index.html.j2").render(values)
    markdown = environment.get_template("report.md.j2").render(values)
    return html, markdown


def write(inputs: Inputs, out: Path) -> tuple[Path, Path]:
    html, markdown = render(inputs)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    return (
        results_file.write_atomic(out / "index.html", html),
        results_file.write_atomic(out / "report.md", markdown),
    )
