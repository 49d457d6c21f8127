"""What the report shows, computed from results.json documents (and asv's results): plain
dicts and lists that the templates (`templates/`) and the plots (`plots.py`) only lay out.

Every table is keyed the way the gate keys its findings: implementation id, device, dtype,
quantity ("forward" or "gradient", shown as "derivative") and check. Several results files
(say, the gate and a float32 sweep) are merged: a later file's record of the same key
replaces an earlier one's.
"""

from __future__ import annotations

import math
from collections import defaultdict

from conformance.frameworks import adapter, adapters
from conformance.frameworks.base import SelfNormCheck
from conformance.registry import BY_ID

QUANTITIES = ("forward", "gradient")
QUANTITY_NAMES = {"forward": "value", "gradient": "derivative"}
DTYPES = ("float16", "bfloat16", "float32", "float64")
VERDICTS = ("pass", "known-deviation", "fail")  # best to worst
# What a verdict means to a reader, and the symbol beside its colour (never colour alone).
VERDICT_LABELS = {"pass": "conforms", "known-deviation": "known deviation", "fail": "fails"}
VERDICT_SYMBOLS = {"pass": "✓", "known-deviation": "≈", "fail": "✗", None: "·"}
# What identifies a record of each list of results.json: the same finding in two runs.
RECORD_KEYS = {
    "measurements": ("impl", "device", "dtype", "quantity", "input_set"),
    "special_values": ("impl", "device", "dtype", "quantity", "case"),
    "checks": ("impl", "device", "dtype", "quantity", "check"),
    "self_normalization": ("framework", "activation", "inputs"),
    "self_normalization_checks": ("framework", "check", "dtype", "name"),
}
VERDICT_WORDS = {"pass": "conforms", "known-deviation": "deviates", "fail": "fails"}


#: Where a measurement's inputs came from, as a reader is told it: the gate's sampled and
#: exhaustive sets and its replay of the worst-case corpus, a sweep of every input of the
#: dtype, the float64 worst-case search, a replayed worst-case file.
SOURCES = {
    "sampled": "sampled",
    "exhaustive": "every input",
    "corpus": "corpus",
    "sweep": "sweep",
    "search": "float64 search",
    "replay": "replay",
}


def source_of(record: dict) -> str:
    """The source of a measurement record (`SOURCES`); records of an older suite carry
    none: it is read from their input set."""
    if record.get("source"):
        return record["source"]
    input_set = record.get("input_set", "")
    if "range" in record:
        return "sweep"
    if input_set == "worst-case search":
        return "search"
    if input_set.startswith("replay"):
        return "replay"
    return input_set if input_set in SOURCES else "sampled"


def worst(verdicts) -> str | None:
    ranked = [v for v in verdicts if v in VERDICTS]
    return max(ranked, key=VERDICTS.index) if ranked else None


def merge(documents: list[dict]) -> dict:
    """One document from several results files: records keyed as the gate keys them, the
    later file's record winning; the environment and implementations of the first file that
    has them, every file's name kept in `sources`."""
    merged = {name: {} for name in RECORD_KEYS}
    implementations = {}
    for document in documents:
        for name, key in RECORD_KEYS.items():
            for record in document.get(name, []):
                merged[name][tuple(record.get(k) for k in key)] = record
        for impl in document.get("implementations", []):
            implementations.setdefault(impl["id"], impl)
    first = documents[0]
    return {
        "environment": first.get("environment", {}),
        "profile": first.get("profile"),
        "policy": first.get("policy"),
        "generated_at": max((d.get("generated_at", "") for d in documents), default=""),
        "implementations": list(implementations.values()),
        **{name: list(records.values()) for name, records in merged.items()},
    }


def impl_order(document: dict) -> list[str]:
    """Implementations in the registry's order (numpy/reference first), users' last."""
    ids = [i["id"] for i in document["implementations"] if i.get("available", True)]
    known = [i for i in BY_ID if i in ids]
    return known + [i for i in ids if i not in BY_ID]


def verdict_matrix(document: dict) -> dict:
    """Implementation × dtype × quantity: the worst verdict over every check of the cell,
    the largest ulp error of its accuracy measurements, and the worst finding in words.

    {"columns": [(dtype, quantity)], "rows": [{"impl", "verdict", "cells": [cell | None]}]}
    with cell {"verdict", "max_ulp", "source", "checks": {check: verdict}}: `max_ulp` the
    largest error over every input of its measurements that has a figure (violations
    included), `source` where the input that reached it came from (`SOURCES`)."""
    cells: dict[tuple, dict] = {}

    def cell(record):
        key = (record["impl"], record.get("dtype"), record.get("quantity"))
        empty = {"verdicts": [], "max_ulp": None, "source": None, "checks": {}}
        return cells.setdefault(key, empty)

    for record in document["measurements"]:
        c = cell(record)
        c["verdicts"].append(record["verdict"])
        c["checks"]["accuracy"] = worst([c["checks"].get("accuracy"), record["verdict"]])
        if record.get("max_ulp") is not None and record["max_ulp"] > (c["max_ulp"] or -1.0):
            c["max_ulp"], c["source"] = record["max_ulp"], source_of(record)
    for record in document["special_values"]:
        c = cell(record)
        c["verdicts"].append(record["verdict"])
        c["checks"]["special"] = worst([c["checks"].get("special"), record["verdict"]])
    for record in document["checks"]:
        if record.get("dtype") in DTYPES and record.get("quantity") in QUANTITIES:
            c = cell(record)
            c["verdicts"].append(record["verdict"])
            name = record["check"]
            c["checks"][name] = worst([c["checks"].get(name), record["verdict"]])
    present = {dtype for (_, dtype, _) in cells}
    columns = [(d, q) for d in DTYPES if d in present for q in QUANTITIES]
    rows = []
    for impl in impl_order(document):
        row = []
        for dtype, quantity in columns:
            c = cells.get((impl, dtype, quantity))
            row.append(
                None
                if c is None
                else {
                    "verdict": worst(c["verdicts"]),
                    "max_ulp": c["max_ulp"],
                    "source": SOURCES.get(c["source"], c["source"]),
                    "checks": c["checks"],
                }
            )
        whole = [r["verdict"] for r in _records_of(document, impl)]
        rows.append({"impl": impl, "verdict": worst(whole), "cells": row})
    return {"columns": columns, "rows": rows}


def _records_of(document: dict, impl: str):
    for name in ("measurements", "special_values", "checks"):
        for record in document[name]:
            if record["impl"] == impl:
                yield record


def headline(matrix: dict) -> dict:
    """The first sentence of the report: which implementations conform."""
    by_verdict = defaultdict(list)
    for row in matrix["rows"]:
        by_verdict[row["verdict"]].append(row["impl"])
    return {v: by_verdict.get(v, []) for v in VERDICTS}


def _severity(record: dict) -> tuple:
    """Order of findings, worst first: fail before known deviation, then a wrong class
    (special-value violations) before the ulp figure, then the larger ulp error."""
    kinds = record.get("kinds") or list(record.get("violations") or {})
    ulp = record.get("max_ulp", record.get("ulp")) or 0.0
    return (VERDICTS.index(record["verdict"]), bool(kinds), ulp if math.isfinite(ulp) else 0.0)


def worst_findings(document: dict) -> list[dict]:
    """For each implementation that does not conform: its worst finding, with the input,
    the output, the expected value, why (the recorded cause, or that none is recorded),
    and how to reproduce it."""
    out = []
    for impl in impl_order(document):
        bad = [r for r in _records_of(document, impl) if r["verdict"] != "pass"]
        if not bad:
            continue
        record = max(bad, key=_severity)
        out.append(_finding(record, count=len(bad)))
    return out


def _finding(record: dict, count: int) -> dict:
    what = record.get("check") or ("special" if "case" in record else "accuracy")
    first = record.get("first_violation") or record.get("first_mismatch") or {}
    if what == "accuracy" and first and (record.get("max_ulp") or 0) <= 2:
        # A special-value violation inside an accuracy set: that element is the finding.
        x, got, expected = first["input"], first["output"], first["expected"]
        detail = first["kind"]
    elif what == "accuracy":
        x, got, expected = record["worst_input"], record["worst_output"], record["worst_expected"]
        detail = f"{_ulp(record['max_ulp'])} ulp"
        if first:
            detail += f"; also {', '.join(record['violations'])}"
        detail += f" (from the {SOURCES.get(source_of(record), 'sampled')} inputs)"
    elif what == "special":
        x, got, expected = record["input"], record["output"], " or ".join(record["expected"])
        detail = ", ".join(record["kinds"]) or f"{_ulp(record['ulp'])} ulp"
        detail = f"{record['case']}: {detail}"
        if record.get("wrong_positions") and len(record["wrong_positions"]) < 3:
            detail += f" (in the {' and '.join(record['wrong_positions'])})"
    else:
        x, got = first.get("input"), first.get("output")
        expected = first.get("plain_output")
        detail = f"{record.get('mismatched')} of {record.get('variants')} differ"
        if first.get("layout"):
            detail += f"; first: {first['layout']}"
    deviation = record.get("deviation") or {}
    return {
        "impl": record["impl"],
        "device": record.get("device"),
        "dtype": record.get("dtype"),
        "quantity": QUANTITY_NAMES.get(record.get("quantity"), record.get("quantity") or ""),
        "check": what,
        "verdict": record["verdict"],
        "input": x,
        "output": got,
        "expected": expected,
        "detail": detail,
        "cause": deviation.get("cause") or "",
        "issue": deviation.get("issue") or "",
        "note": record.get("note", ""),
        "reproduce": record.get("reproduce") or first.get("reproduce") or "",
        "others": count - 1,
        "short_cause": shorten(deviation.get("cause") or ""),
    }


def shorten(text: str, limit: int = 80) -> str:
    """The start of a sentence, cut at a word, for a table cell (the whole text beside)."""
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0].rstrip(",;:") + " …"


def _ulp(value) -> str:
    return "" if value is None else f"{value:.3g}"


def special_matrix(document: dict, dtype: str = "float32") -> list[dict]:
    """Per quantity and special case, what each implementation gives in `dtype`, in words:
    "λα (left)" or "λ (right)" for the derivative at ±0, a signed zero, NaN, an infinity, or
    ✓ / the ulp error / the violation otherwise. Rows where the implementations do not all
    say the same are marked `disagree`."""
    impls = impl_order(document)
    table: dict[tuple, dict] = {}
    for record in document["special_values"]:
        if record["dtype"] != dtype:
            continue
        row = table.setdefault((record["quantity"], record["case"]), {"cells": {}})
        row.update(quantity=record["quantity"], case=record["case"], input=record["input"])
        row["expected"] = record["expected"]
        row["cells"][record["impl"]] = {
            "text": describe(record),
            "verdict": record["verdict"],
            "output": record["output"],
        }
    rows = []
    for (quantity, case), row in table.items():
        texts = {c["text"] for c in row["cells"].values()}
        rows.append(
            {
                "quantity": QUANTITY_NAMES[quantity],
                "case": case,
                "input": row["input"],
                "expected": " or ".join(row["expected"]),
                "cells": [row["cells"].get(i) for i in impls],
                "disagree": len(texts) > 1,
            }
        )
    return rows


def describe(record: dict) -> str:
    """A special case's output in words (see `special_matrix`); where it is wrong in some
    positions only (the tail, a one-element array), which."""
    text = _describe_output(record)
    wrong = record.get("wrong_positions") or []
    if wrong and len(wrong) < len(record.get("outputs") or {}):
        text += f" ({', '.join(wrong)})"
    return text


def _describe_output(record: dict) -> str:
    out, expected = record["output"], record["expected"]
    if out is None:
        return ", ".join(record["kinds"]) or "not called"
    if len(expected) == 2 and out in expected:  # the two one-sided derivatives at 0
        return "λα (left)" if out == expected[0] else "λ (right)"
    if out == "nan":
        return "NaN"
    if out in ("inf", "-inf"):
        return "+inf" if out == "inf" else "−inf"
    if float.fromhex(out) == 0:
        return "−0" if out.startswith("-") else "+0"
    if record["kinds"]:
        return ", ".join(record["kinds"])
    if record["ok"]:
        return "✓"
    return f"{_ulp(record['ulp'])} ulp"


def constants(document: dict) -> list[dict]:
    """λ = selu(1) and λα = −selu(−inf) as each implementation computes them, per dtype,
    against the correctly rounded constants."""
    rows = []
    for record in document["checks"]:
        if record.get("check") != "dtype":
            continue
        for dtype, c in record.get("constants", {}).items():
            rows.append(
                {
                    "impl": record["impl"],
                    "dtype": dtype,
                    "lambda": c.get("lambda"),
                    "lambda_correct": c.get("lambda_correct"),
                    "lambda_ulp": c.get("lambda_ulp"),
                    "lambda_alpha": c.get("lambda_alpha"),
                    "lambda_alpha_correct": c.get("lambda_alpha_correct"),
                    "lambda_alpha_ulp": c.get("lambda_alpha_ulp"),
                }
            )
    order = {impl: i for i, impl in enumerate(impl_order(document))}
    return sorted(rows, key=lambda r: (order.get(r["impl"], 99), DTYPES.index(r["dtype"])))


def eager_vs_compiled(document: dict) -> list[dict]:
    """Each compiled variant against its eager counterpart, bit for bit."""
    rows = []
    for record in document["checks"]:
        if record.get("check") != "eager-vs-compiled":
            continue
        first = record.get("first_mismatch") or {}
        spec = BY_ID.get(record["impl"])
        rows.append(
            {
                "impl": record["impl"],
                "eager": spec.eager if spec else "",
                "dtype": record["dtype"],
                "quantity": QUANTITY_NAMES[record["quantity"]],
                "mismatched": record.get("mismatched"),
                "max_ulp": record.get("max_ulp"),
                "input": first.get("input"),
                "compiled": first.get("output"),
                "eager_output": first.get("plain_output"),
                "verdict": record["verdict"],
            }
        )
    return rows


def without_compiled_variant(document: dict) -> list[str]:
    """The implementations of the run that are neither a compiled variant checked against
    its eager counterpart nor such a counterpart, so that the section names every one."""
    compared = {r["impl"] for r in document["checks"] if r.get("check") == "eager-vs-compiled"}
    eager = {BY_ID[i].eager for i in compared if i in BY_ID}
    return [i for i in impl_order(document) if i not in compared and i not in eager]


def without_self_normalization(document: dict) -> list[str]:
    """The frameworks of the run's implementations whose adapters declare no
    self-normalisation suite (`Adapter.selfnorm`), named in that section."""
    frameworks = {BY_ID[i].framework for i in impl_order(document) if i in BY_ID}
    return [a.name for a in adapters() if a.name in frameworks and not a.selfnorm]


def untimed(document: dict, timed: list[str]) -> list[dict]:
    """The implementations of the run with no case in the asv results (`timed`: the ids
    that have one), each with its adapter's own environment where it has one: asv times
    the suite's interpreter, where such an implementation is a skip."""
    rows = []
    for i in impl_order(document):
        if i in timed:
            continue
        spec = BY_ID.get(i)
        own = adapter(spec.framework).environment if spec else None
        rows.append({"impl": i, "environment": own})
    return rows


def deviations(document: dict) -> list[dict]:
    """The recorded deviations the run met, each once: cause, upstream issue, where it is
    recorded, and which implementations, dtypes and quantities it covered."""
    found: dict[tuple, dict] = {}
    for name in ("measurements", "special_values", "checks"):
        for record in document[name]:
            d = record.get("deviation")
            if not d:
                continue
            entry = found.setdefault(
                (d["line"], d["cause"]),
                {**d, "impls": set(), "dtypes": set(), "quantities": set(), "verdicts": set()},
            )
            entry["impls"].add(record["impl"])
            if record.get("dtype") in DTYPES:
                entry["dtypes"].add(record["dtype"])
            if record.get("quantity") in QUANTITIES:
                entry["quantities"].add(QUANTITY_NAMES[record["quantity"]])
            entry["verdicts"].add(record["verdict"])
    rows = []
    for entry in sorted(found.values(), key=lambda e: e["line"]):
        rows.append(
            {
                **entry,
                "impls": sorted(entry["impls"]),
                "dtypes": [d for d in DTYPES if d in entry["dtypes"]],
                "quantities": sorted(entry["quantities"], reverse=True),
                "verdict": worst(entry["verdicts"]),
            }
        )
    return rows


def error_profiles(document: dict) -> dict:
    """{(quantity, impl): {dtype: {"negative": [[b, max_ulp, n]], "positive": [...]}}} from
    the accuracy measurements that carry one (results of an older suite carry none); the
    worst per binade over the input sets."""
    out: dict = defaultdict(dict)
    for record in document["measurements"]:
        profile = record.get("error_by_binade")
        if not profile:
            continue
        mine = out[(record["quantity"], record["impl"])].setdefault(record["dtype"], {})
        for side, entries in profile.items():
            merged = {b: (w, n) for b, w, n in mine.get(side, [])}
            for b, w, n in entries:
                old = merged.get(b, (0.0, 0))
                merged[b] = (max(old[0], w), old[1] + n)
            mine[side] = [[b, w, n] for b, (w, n) in sorted(merged.items())]
    return dict(out)


def histograms(document: dict) -> dict:
    """{(quantity, impl): {dtype: {bucket: count}}}, summed over the input sets."""
    out: dict = defaultdict(dict)
    for record in document["measurements"]:
        histogram = record.get("ulp_histogram")
        if not histogram:
            continue
        mine = out[(record["quantity"], record["impl"])].setdefault(record["dtype"], {})
        for bucket, n in histogram.items():
            mine[bucket] = mine.get(bucket, 0) + n
    return dict(out)


def self_normalization(document: dict) -> dict | None:
    """The deep stacks (a row per framework, activation and inputs, SELU first, then the
    contrasts) and the other self-normalisation checks, or None when they did not run."""
    stacks = document.get("self_normalization", [])
    checks = document.get("self_normalization_checks", [])
    if not stacks and not checks:
        return None
    rows = []
    for r in sorted(stacks, key=lambda r: (r["contrast"], r["framework"], r["activation"])):
        rows.append(
            {
                **r,
                "what": f"{r['activation']}, {r['inputs']} inputs"
                + (" (contrast: must leave the bounds)" if r["contrast"] else ""),
                "outcome": r["violation"] or "within the bounds at every layer",
            }
        )
    names = {check.value: check.title for check in SelfNormCheck}
    names["run"] = "the measurement ran"
    return {
        "stacks": rows,
        "checks": [{**c, "title": names.get(c["check"], c["check"])} for c in checks],
        "verdict": worst(r["verdict"] for r in stacks + checks),
        "bounds": stacks[0]["bounds"] if stacks else None,
        "depth": stacks[0]["depth"] if stacks else None,
        "width": stacks[0]["width"] if stacks else None,
        "batch": stacks[0]["batch"] if stacks else None,
    }
