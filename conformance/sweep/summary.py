"""What a sweep keeps of its chunks: a few kilobytes however many inputs it measured.

A `RangeSummary` holds, for a range of consecutive bit patterns:

- `rows`: a histogram of ulp errors per *binade of the input* (its sign and exponent
  field, so subnormals, ±0 and inf/NaN have rows of their own). The columns are
  `BUCKETS`: correctly rounded (<= 0.5 ulp), then one column per power of two of the
  error, (0.5, 1], (1, 2], ..., (2^29, 2^30], > 2^30, and last the inputs without an ulp
  figure (a NaN given where a number is due, a wrong output where ±inf or NaN is due); the
  other special-value violations are in the column of their error (`measure`);
- `kinds`: how many inputs gave each kind of special-value violation, `first`, the first
  such input of each kind (in bit-pattern order), and `kind_max`, the largest error among
  each kind's inputs (None: none has a figure);
- `top`: the TOP worst inputs by ulp error (violations included), ties broken by the lower
  bit pattern; `top_ordinary`, the TOP worst of the inputs without a violation (a kernel's
  own inaccuracy, which a flood of flushed values would crowd out of `top`);
- `errors`: chunks the implementation failed on (an exception, a crash, a hang, a wrong
  shape or dtype, a modified input), each with its range and the reason;
- `count`, `mpmath` (inputs the reference had to resolve in mpmath) and `seconds` (time in
  the implementation, the reference and the measurement, summed over the workers).

`merge` is associative and independent of the order of its arguments, which is what makes
a resumed sweep end with the same summary as an uninterrupted one; `merge_all` merges many
at once. Summaries travel as
JSON (`as_json`, `from_json`): between the worker and the parent, and into the checkpoint.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from reference import Format

from ..measure import BUCKETS, LAST_FINITE, NO_FIGURE, Figure  # noqa: F401 (the columns)

TOP = 16
TIME_PARTS = ("implementation", "reference", "measurement")


@dataclass
class RangeSummary:
    count: int = 0
    rows: dict[int, list[int]] = field(default_factory=dict)
    kinds: dict[str, int] = field(default_factory=dict)
    first: dict[str, dict] = field(default_factory=dict)  # kind -> {"bits", "input", ...}
    top: list[dict] = field(default_factory=list)  # {"ulp", "bits", "input", "output", ...}
    errors: list[dict] = field(default_factory=list)  # {"start", "stop", "error"}
    kind_max: dict[str, float | None] = field(default_factory=dict)
    top_ordinary: list[dict] = field(default_factory=list)
    mpmath: int = 0
    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(TIME_PARTS, 0.0))

    def merge(self, other: RangeSummary) -> RangeSummary:
        return RangeSummary.merge_all([self, other])

    @classmethod
    def merge_all(cls, parts) -> RangeSummary:
        """Every part merged, in order, in one pass: the same summary as merging them one
        by one (the sums in the same order), without copying the histogram each time,
        which makes 4096 merges take seconds."""
        out = cls()
        tops, ordinary = [], []
        for part in parts:
            out.count += part.count
            out.mpmath += part.mpmath
            for row, counts in part.rows.items():
                mine = out.rows.setdefault(row, [0] * len(BUCKETS))
                for column, n in enumerate(counts):
                    mine[column] += n
            for kind, n in part.kinds.items():
                out.kinds[kind] = out.kinds.get(kind, 0) + n
            for kind, largest in part.kind_max.items():
                known = [u for u in (out.kind_max.get(kind), largest) if u is not None]
                out.kind_max[kind] = max(known) if known else None
            for kind, example in part.first.items():
                if kind not in out.first or example["bits"] < out.first[kind]["bits"]:
                    out.first[kind] = example
            for name, seconds in part.seconds.items():
                out.seconds[name] = out.seconds.get(name, 0.0) + seconds
            tops += part.top
            ordinary += part.top_ordinary
            out.errors += part.errors
        out.rows = dict(sorted(out.rows.items()))
        out.top = sorted(tops, key=_worst_first)[:TOP]
        out.top_ordinary = sorted(ordinary, key=_worst_first)[:TOP]
        out.errors = sorted(out.errors, key=lambda e: e["start"])
        return out

    @property
    def max_ulp(self) -> float:
        return self.top[0]["ulp"] if self.top else 0.0

    @property
    def ordinary_max(self) -> float:
        """The largest error of the inputs without a violation."""
        return self.top_ordinary[0]["ulp"] if self.top_ordinary else 0.0

    @property
    def figure(self) -> Figure:
        return Figure(self.max_ulp, dict(sorted(self.kind_max.items())), self.ordinary_max)

    def as_json(self) -> dict:
        return {
            "count": self.count,
            "rows": {str(r): c for r, c in self.rows.items()},
            "kinds": self.kinds,
            "first": self.first,
            "top": self.top,
            "errors": self.errors,
            "kind_max": self.kind_max,
            "top_ordinary": self.top_ordinary,
            "mpmath": self.mpmath,
            "seconds": self.seconds,
        }

    @classmethod
    def from_json(cls, data: dict) -> RangeSummary:
        return cls(
            count=data["count"],
            rows={int(r): list(c) for r, c in data["rows"].items()},
            kinds=dict(data["kinds"]),
            first=dict(data["first"]),
            top=list(data["top"]),
            errors=list(data["errors"]),
            kind_max=dict(data["kind_max"]),
            top_ordinary=list(data["top_ordinary"]),
            mpmath=data["mpmath"],
            seconds=dict(data["seconds"]),
        )


def _worst_first(entry: dict) -> tuple:
    return (-entry["ulp"], entry["bits"])


def binade(row: int, fmt: Format) -> dict:
    """What a histogram row index (the sign and exponent fields of the inputs) stands for:
    {"sign": "+" | "-", "exponent": e | "subnormal" | "inf/nan", "label": text}, where a
    normal binade e holds the inputs with 2^e <= |x| < 2^(e+1)."""
    width = fmt.bits - fmt.precision  # exponent bits
    sign = "-" if row >> width else "+"
    field_ = row & ((1 << width) - 1)
    if field_ == 0:
        exponent, label = "subnormal", f"{sign}0 and {sign}subnormals"
    elif field_ == (1 << width) - 1:
        exponent, label = "inf/nan", f"{sign}inf and NaNs with sign {sign}"
    else:
        exponent = field_ - (fmt.emax)
        label = f"{sign}[2^{exponent}, 2^{exponent + 1})"
    return {"sign": sign, "exponent": exponent, "label": label}
