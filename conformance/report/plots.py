"""The report's figures, drawn with matplotlib and returned as SVG text to put inline in
the page (no file beside it, no network). Colours are the Okabe-Ito palette, which
readers with the common colour-vision deficiencies tell apart, and every series has a
marker of its own as well, so that no figure relies on colour alone."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")  # no display; before pyplot is imported
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import LogNorm

from conformance.measure import BUCKETS

from .model import DTYPES, QUANTITY_NAMES

OKABE_ITO = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#D55E00",  # vermillion
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#F0E442",  # yellow
    "#000000",
)
MARKERS = "osD^v<>pXh*P"
DTYPE_STYLE = {d: {"color": OKABE_ITO[i], "marker": MARKERS[i]} for i, d in enumerate(DTYPES)}
FLOOR = 1e-3  # an error of 0 ulp is drawn here on the logarithmic axis

plt.rcParams.update(
    {
        "font.size": 8,
        "axes.titlesize": 8,
        "svg.fonttype": "none",  # text stays text: smaller, and searchable in the page
        "svg.hashsalt": "selu-conformance",  # the same figure gives the same SVG
        "axes.spines.top": False,
        "axes.spines.right": False,
    }
)


def svg(figure) -> str:
    """The figure as an inline <svg> element (the XML prologue dropped)."""
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight", dpi=150, metadata={"Date": None})
    plt.close(figure)
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def error_by_binade(profiles: dict, quantity: str, impls: list[str], bounds: dict) -> str | None:
    """Largest ulp error per binade of |x|, one row of panels per implementation: x < 0 on
    the left (|x| growing to the left), x > 0 on the right, a line per dtype, the profile's
    bound of each dtype dashed."""
    rows = [i for i in impls if (quantity, i) in profiles]
    if not rows:
        return None
    figure, axes = plt.subplots(
        len(rows), 2, figsize=(8, 1.7 * len(rows) + 0.9), sharey="row", squeeze=False
    )
    for r, impl in enumerate(rows):
        for c, side in enumerate(("negative", "positive")):
            ax = axes[r][c]
            for dtype, profile in profiles[(quantity, impl)].items():
                entries = profile.get(side) or []
                if not entries:
                    continue
                b = np.array([e[0] for e in entries], dtype=float)
                w = np.maximum([e[1] for e in entries], FLOOR)
                # Up to ~2000 binades a side in float64: drawn as an image inside the SVG,
                # or the page would weigh megabytes of path data.
                ax.plot(b, w, lw=1, ms=2.5, label=dtype, rasterized=True, **DTYPE_STYLE[dtype])
            for dtype in profiles[(quantity, impl)]:
                if dtype in bounds:
                    ax.axhline(bounds[dtype], color=DTYPE_STYLE[dtype]["color"], lw=0.6, ls="--")
            ax.set_yscale("log")
            ax.set_ylim(FLOOR / 2, None)
            side_name = "x < 0 (|x| grows to the left)" if c == 0 else "x > 0"
            ax.set_title(f"{_short(impl)}: {side_name}", loc="left")
            if c == 0:
                ax.invert_xaxis()
                ax.set_ylabel("ulp")
            if r == len(rows) - 1:
                ax.set_xlabel("binade of |x| (log2 |x|)")
    handles, labels = axes[0][0].get_legend_handles_labels()
    figure.suptitle(
        f"{QUANTITY_NAMES[quantity]}: largest error per binade of |x| (dashed: the bound)"
    )
    figure.legend(handles, labels, loc="upper right", ncol=4, frameon=False)
    figure.tight_layout()
    return svg(figure)


def _short(impl: str, limit: int = 36) -> str:
    return impl if len(impl) <= limit else impl[: limit - 1] + "…"


def histogram_heatmap(histograms: dict, quantity: str, impls: list[str]) -> str | None:
    """Share of inputs per ulp-error bucket: a heat map per dtype, a row per implementation
    (counts written in the cells that hold any)."""
    present = [d for d in DTYPES if any(d in histograms.get((quantity, i), {}) for i in impls)]
    if not present:
        return None
    used = sorted(
        {
            BUCKETS.index(bucket)
            for i in impls
            for h in histograms.get((quantity, i), {}).values()
            for bucket in h
        }
    )
    columns = sorted(set(used) | {0, 1, 2})  # ≤ 0.5, (0.5, 1] and (1, 2] always shown
    figure, axes = plt.subplots(
        1,
        len(present),
        figsize=(2.6 * len(present) + 2.5, 0.3 * len(impls) + 2.0),
        sharey=True,
        squeeze=False,
    )
    for ax, dtype in zip(axes[0], present, strict=True):
        share = np.full((len(impls), len(columns)), np.nan)
        counts = np.zeros_like(share)
        for r, impl in enumerate(impls):
            h = histograms.get((quantity, impl), {}).get(dtype)
            if not h:
                continue
            total = sum(h.values())
            for c, column in enumerate(columns):
                n = h.get(BUCKETS[column], 0)
                counts[r, c] = n
                share[r, c] = n / total if n else np.nan
        ax.imshow(share, aspect="auto", cmap="viridis", norm=LogNorm(1e-7, 1))
        for r in range(len(impls)):
            for c in range(len(columns)):
                if counts[r, c]:
                    ax.text(
                        c,
                        r,
                        _count(counts[r, c]),
                        ha="center",
                        va="center",
                        fontsize=5,
                        color="white" if share[r, c] < 0.05 else "black",
                    )
        ax.set_xticks(range(len(columns)), [_bucket_label(c) for c in columns], rotation=90)
        ax.set_yticks(range(len(impls)), [_short(i) for i in impls])
        ax.set_title(dtype)
    figure.suptitle(f"{QUANTITY_NAMES[quantity]}: inputs per ulp error (colour: share, log)")
    figure.tight_layout()
    return svg(figure)


def _count(n: float) -> str:
    n = int(n)
    return f"{n}" if n < 1000 else f"{n / 1000:.0f}k" if n < 1_000_000 else f"{n / 1e6:.0f}M"


def _bucket_label(column: int) -> str:
    label = BUCKETS[column]
    return {"<= 0.5 (correctly rounded)": "≤0.5", "special-value violation": "wrong class"}.get(
        label, label.replace("(", "").replace("]", "").replace(", ", "–")
    )


def sweep_binades(records: list[dict], quantity: str, impls: list[str]) -> str | None:
    """Exhaustive sweeps (their "histogram" per binade of the input): the largest error
    bucket each implementation reaches in each binade, x < 0 on the left (|x| growing to
    the left) and x > 0 on the right."""
    mine = {r["impl"]: r for r in records if r["quantity"] == quantity and r.get("histogram")}
    rows = [i for i in impls if i in mine]
    if not rows:
        return None
    dtype = mine[rows[0]]["dtype"]

    def order(row):  # negative binades from the largest |x| down, then positive ones up
        e = row["exponent"]
        e = -(10**6) if e == "subnormal" else 10**6 if e == "inf/nan" else e
        return (0, -e) if row["sign"] == "-" else (1, e)

    labels = sorted(
        {
            (r["sign"], r["exponent"], r["label"])
            for i in rows
            for r in mine[i]["histogram"]["rows"]
        },
        key=lambda t: order({"sign": t[0], "exponent": t[1]}),
    )
    column_of = {label: n for n, label in enumerate(labels)}
    worst = np.full((len(rows), len(labels)), np.nan)
    for r, impl in enumerate(rows):
        for row in mine[impl]["histogram"]["rows"]:
            reached = [c for c, n in enumerate(row["counts"]) if n]
            worst[r, column_of[(row["sign"], row["exponent"], row["label"])]] = max(reached)
    figure, ax = plt.subplots(figsize=(9, 0.3 * len(rows) + 1.9))
    image = ax.imshow(worst, aspect="auto", cmap="viridis", vmin=0, vmax=len(BUCKETS) - 1)
    step = max(1, len(labels) // 28)
    ax.set_xticks(
        range(0, len(labels), step), [t[2] for t in labels[::step]], rotation=90, fontsize=5
    )
    ax.set_yticks(range(len(rows)), rows)
    ticks = [0, 1, 2, 6, 12, 22, len(BUCKETS) - 1]
    bar = figure.colorbar(image, ax=ax, ticks=ticks, fraction=0.03)
    bar.ax.set_yticklabels([_bucket_label(t) for t in ticks])
    ax.set_title(
        f"{QUANTITY_NAMES[quantity]}, every {dtype} input: largest error per binade of x (ulp)"
    )
    figure.tight_layout()
    return svg(figure)


def speed(rows: list[dict], dtype: str = "float32") -> str | None:
    """GB/s against size per implementation, forward and backward, on each device (asv's
    results)."""
    chosen = [r for r in rows if r["dtype"] == dtype and r["gbps"]]
    if not chosen:
        return None
    panels = sorted(
        {(r["direction"], r["device"]) for r in chosen}, key=lambda p: (p[1], p[0] != "forward")
    )
    figure, axes = plt.subplots(
        1, len(panels), figsize=(3.8 * len(panels), 3.2), sharey=True, squeeze=False
    )
    impls = list(dict.fromkeys(r["impl"] for r in chosen))
    colours = {i: OKABE_ITO[n % len(OKABE_ITO)] for n, i in enumerate(impls)}
    markers = {i: MARKERS[n % len(MARKERS)] for n, i in enumerate(impls)}
    for ax, (direction, device) in zip(axes[0], panels, strict=True):
        for impl in impls:
            line = sorted(
                (r["size"], r["gbps"])
                for r in chosen
                if (r["impl"], r["direction"], r["device"]) == (impl, direction, device)
            )
            if line:
                ax.plot(
                    *zip(*line, strict=True),
                    color=colours[impl],
                    marker=markers[impl],
                    ms=3,
                    lw=1,
                    label=impl,
                )
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("elements")
        ax.set_title(f"{direction}, {device}, {dtype}")
    axes[0][0].set_ylabel("GB/s (nominal traffic / median time)")
    handles, labels = axes[0][0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    figure.tight_layout()
    return svg(figure)


def self_normalization(stacks: list[dict], bounds: dict) -> str | None:
    """Mean and variance of every layer's activations, and the input-gradient norm back
    through the layers, for each framework's SELU stack and the contrasts, with the bounds
    shaded (results.json self_normalization)."""
    if not stacks:
        return None
    figure, axes = plt.subplots(1, 3, figsize=(11.5, 3.4))
    frameworks = list(dict.fromkeys(r["framework"] for r in stacks))
    colours = {f: OKABE_ITO[n % len(OKABE_ITO)] for n, f in enumerate(frameworks)}
    markers = {f: MARKERS[n % len(MARKERS)] for n, f in enumerate(frameworks)}
    styles = {("selu", False): "-", ("relu", True): ":", ("selu", True): "--"}
    depth = len(stacks[0]["layer_means"])
    layers = np.arange(1, depth + 1)
    mean_ax, variance_ax, gradient_ax = axes
    mean_ax.axhspan(-bounds["mean"], bounds["mean"], color="#dddddd", lw=0)
    variance_ax.axhspan(1 - bounds["variance"], 1 + bounds["variance"], color="#dddddd", lw=0)
    expected = bounds["gradient_factor"] ** ((depth - np.arange(depth + 1)) / depth)
    gradient_ax.fill_between(
        np.arange(depth + 1),
        expected / bounds["gradient_spread"],
        expected * bounds["gradient_spread"],
        color="#dddddd",
        lw=0,
    )
    for r in stacks:
        style = {
            "color": colours[r["framework"]],
            "marker": markers[r["framework"]],
            "markevery": 8,
            "ms": 3,
            "lw": 1,
            "ls": styles.get((r["activation"], r["contrast"]), "-."),
            "label": f"{r['framework']}: {r['activation']}, {r['inputs']}",
        }
        mean_ax.plot(layers, r["layer_means"], **style)
        variance_ax.plot(layers, r["layer_variances"], **style)
        norms = np.asarray(r["grad_norms"], dtype=float)
        gradient_ax.plot(np.arange(depth + 1), np.maximum(norms / norms[-1], 1e-30), **style)
    mean_ax.set_title("mean of each layer's activations")
    variance_ax.set_title("variance of each layer's activations")
    variance_ax.set_ylim(0, 2)  # the contrasts leave the plot: ReLU's falls to 0, the
    # unstandardised inputs' starts near 5
    gradient_ax.set_title("‖∂L/∂h‖ relative to the last layer")
    gradient_ax.set_yscale("log")
    mean_ax.set_ylim(-0.8, 0.8)
    for ax in axes:
        ax.set_xlabel("layer")
    gradient_ax.set_xlabel("layer (0: the input)")
    handles, labels = mean_ax.get_legend_handles_labels()
    figure.legend(
        handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=3, frameon=False
    )
    figure.tight_layout()
    return svg(figure)
