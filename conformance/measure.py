"""Comparing an implementation's outputs with the ground truth, element by element.

Two things are measured for every element:

- its *class* against the expected one: NaN, ±inf, ±0, finite nonzero. A wrong class is a
  special-value violation of a named kind (below), always reported as its own finding;
- its error in ulps, |computed - exact| / ulp(exact), for every element whose correctly
  rounded value is finite and whose output is a number, violations included: a zero or a
  flushed value where a normal number is due is an error like any other, and counts in the
  figure a reader sees. The exact value is known from the reference as rounded value +
  residual·ulp (`reference.evaluate`); ulp is the spacing of the target format at |exact|
  (2^qmin below the normal range). An infinite output where a finite value is due counts as
  ±2^(emax+1), the first value past the largest finite one, so that an overflow one step
  early reads as about 1 ulp. Elements without a figure: a NaN output where a number is
  due, and a wrong output where ±inf or NaN is due (counted as violations only).

Violation kinds:
    nan-not-propagated   NaN in, a number out
    spurious-nan         a number expected, NaN out
    signed-zero          ±0 expected, the other zero out
    flush-to-zero        a nonzero subnormal expected, ±0 out (outputs flushed)
    spurious-zero        a nonzero normal expected, ±0 out
    overflow-missed      ±inf expected, a finite number out
    spurious-inf         a finite number expected, ±inf out (or the wrong infinity)
    nonzero-for-zero     ±0 expected, a nonzero number out
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from reference import Format, ulp

KINDS = (
    "nan-not-propagated",
    "spurious-nan",
    "signed-zero",
    "flush-to-zero",
    "spurious-zero",
    "overflow-missed",
    "spurious-inf",
    "nonzero-for-zero",
)


def as_float64(x: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", over="ignore"):  # signalling NaNs become quiet
        return np.asarray(x).astype(np.float64)


def hexf(value: float) -> str:
    """A value as docs/design.md writes it: float.hex(), or "nan", "inf", "-inf"."""
    value = float(value)
    if np.isnan(value):
        return "nan"
    return value.hex()


@dataclass
class Comparison:
    """Per-element outcome of comparing `got` with the expected values."""

    ulp: np.ndarray  # error in ulps (module docstring); NaN where an element has no figure
    kinds: dict[str, np.ndarray] = field(default_factory=dict)  # kind -> boolean mask

    def kind_counts(self) -> dict[str, int]:
        return {k: int(m.sum()) for k, m in self.kinds.items() if m.any()}

    def violations(self) -> np.ndarray:
        out = np.zeros(self.ulp.shape, dtype=bool)
        for mask in self.kinds.values():
            out |= mask
        return out

    def figure(self) -> Figure:
        """The largest error over every element, without the violations, and per kind."""
        return Figure.of(self.ulp, self.kinds)


@dataclass(frozen=True)
class Figure:
    """What the policy judges an ulp figure by: the largest error over every element that
    has one (`max_ulp`), the largest over the elements without a violation, and for each
    violation kind that occurred the largest error among its elements (None: none of them
    has a figure). A profile that allows a kind (flush-to-zero) judges the rest."""

    max_ulp: float
    kinds: dict[str, float | None] = field(default_factory=dict)
    without_violations: float | None = None  # None: not known apart, take max_ulp

    @classmethod
    def of(cls, errors: np.ndarray, kinds: dict[str, np.ndarray]) -> Figure:
        def largest(mask) -> float | None:
            values = errors[mask & ~np.isnan(errors)]
            return round_significant(float(values.max())) if values.size else None

        violating = np.zeros(errors.shape, dtype=bool)
        for mask in kinds.values():
            violating |= mask
        every = largest(np.ones(errors.shape, dtype=bool))
        return cls(
            every or 0.0,
            {k: largest(m) for k, m in kinds.items() if m.any()},
            largest(~violating) or 0.0,
        )

    def outside(self, allowed) -> float:
        """The largest error once the elements of the `allowed` kinds are left out."""
        if not set(self.kinds) & set(allowed) or self.without_violations is None:
            return self.max_ulp
        rest = [u for k, u in self.kinds.items() if k not in allowed and u is not None]
        return max([self.without_violations, *rest])


def compare(
    got: np.ndarray, expected: np.ndarray, residual: np.ndarray, x: np.ndarray, fmt: Format
) -> Comparison:
    """Compare `got` (same dtype and shape as `expected`) with the correctly rounded
    `expected` whose rounding errors are `residual` (ulps), for inputs `x`."""
    g, e, x64 = as_float64(got).ravel(), as_float64(expected).ravel(), as_float64(x).ravel()
    r = np.asarray(residual, dtype=np.float64).ravel()
    g_nan, e_nan = np.isnan(g), np.isnan(e)
    g_inf, e_inf = np.isinf(g), np.isinf(e)
    g_zero, e_zero = g == 0, e == 0
    subnormal_expected = ~e_zero & (np.abs(e) < fmt.smallest_normal)
    kinds = {
        "nan-not-propagated": e_nan & ~g_nan & np.isnan(x64),
        "spurious-nan": g_nan & ~e_nan,
        "signed-zero": g_zero & e_zero & (np.signbit(g) != np.signbit(e)),
        "flush-to-zero": g_zero & subnormal_expected,
        "spurious-zero": g_zero & ~e_zero & ~e_nan & ~e_inf & ~subnormal_expected,
        "overflow-missed": e_inf & ~g_inf & ~g_nan,
        "spurious-inf": g_inf & ~e_nan & (~e_inf | (np.sign(g) != np.sign(e))),
        "nonzero-for-zero": e_zero & ~g_zero & ~g_nan & ~g_inf,
    }
    # NaN expected but NaN also not in x cannot happen for SELU; a NaN expected and a
    # number given for a non-NaN x would be a reference bug, so it is not a kind.
    # Every number given where a finite value is due has a figure, violations included.
    measurable = np.isfinite(e) & ~g_nan
    errors = np.full(g.shape, np.nan)
    errors[measurable] = ulp_error(g[measurable], e[measurable], r[measurable], fmt)
    # Both NaN, the same infinity: exact.
    exact_special = (g_nan & e_nan) | (g_inf & e_inf & (g == e))
    errors[exact_special] = 0.0
    return Comparison(errors, {k: m for k, m in kinds.items()})


def ulp_error(g: np.ndarray, e: np.ndarray, r: np.ndarray, fmt: Format) -> np.ndarray:
    """|computed - exact| in ulps of the exact value, for float64 arrays `g` (computed: a
    number of any class; ±inf counts as ±2^(emax+1)) and `e` (expected, a finite value of
    `fmt`), with exact = e + r·ulp(e) (r NaN counts as 0)."""
    e = np.ascontiguousarray(e, dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        spacing = ulp(e, fmt)
        r = np.where(np.isnan(r), 0.0, r)
        # In units of ulp(expected): computed - expected - residual = computed - exact.
        d = (g - e) / spacing - r
        infinite = np.isinf(g)
        if infinite.any():  # 2^(emax+1) / spacing without 2^(emax+1) (float64's is inf)
            s = spacing[infinite]
            past = np.exp2(fmt.emax + 1 - np.log2(s))
            d[infinite] = np.sign(g[infinite]) * past - e[infinite] / s - r[infinite]
        # exact just below a power of two lies in the binade below, of half the spacing.
        power_of_two = (e.view(np.uint64) & np.uint64((1 << 52) - 1)) == 0
        lower = power_of_two & (np.abs(e) > fmt.smallest_normal) & (r * np.sign(e) < 0)
        d = np.where(lower, 2 * d, d)
        return np.minimum(np.abs(d), np.finfo(np.float64).max)


def compare_one_sided(x, got, left, right, fmt: Format) -> tuple[Comparison, np.ndarray]:
    """Compare `got` with the reference where the derivative at x = ±0 may take either
    one-sided value: `left` is the reference Evaluation (left-hand value at zero), `right`
    None or (zeros, Evaluation of the right-hand values at x[zeros]). At each zero the
    side that fits better counts. Returns the comparison and the expected values (float64,
    flat) it was made against."""
    result = compare(got, left.values, left.residual, x, fmt)
    expected = as_float64(left.values).ravel().copy()
    if right is not None and right[0].any():
        zeros, evaluation = right
        other = compare(
            np.asarray(got).ravel()[zeros],
            evaluation.values,
            evaluation.residual,
            np.asarray(x).ravel()[zeros],
            fmt,
        )
        better = ~other.violations() & (
            np.nan_to_num(other.ulp, nan=np.inf) < np.nan_to_num(result.ulp[zeros], nan=np.inf)
        )
        idx = np.flatnonzero(zeros)[better]
        result.ulp[idx] = other.ulp[better]
        for kind, mask in result.kinds.items():
            mask[idx] = other.kinds[kind][better]
        expected[idx] = as_float64(evaluation.values)[better]
    return result, expected


@dataclass
class Summary:
    """What a measurement reports: the worst element and the violations.

    `max_ulp` is the largest error over every input with a figure (`in_figure` of `count`;
    see the module docstring), violations included; `figure` breaks it down for the policy
    (without the violations, and per kind)."""

    count: int
    max_ulp: float
    worst_input: str | None
    worst_output: str | None
    worst_expected: str | None
    violations: dict[str, int]
    first_violation: dict | None  # {"kind", "input", "output", "expected"}
    figure: Figure
    in_figure: int
    error_by_binade: dict = field(default_factory=dict)  # see `error_profile`
    ulp_histogram: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "count": self.count,
            "max_ulp": self.max_ulp,
            "in_figure": self.in_figure,
            "max_ulp_without_violations": self.figure.without_violations,
            "max_ulp_by_kind": self.figure.kinds,
            "worst_input": self.worst_input,
            "worst_output": self.worst_output,
            "worst_expected": self.worst_expected,
            "violations": self.violations,
            "first_violation": self.first_violation,
            "error_by_binade": self.error_by_binade,
            "ulp_histogram": self.ulp_histogram,
        }


def summarize(
    x: np.ndarray, got: np.ndarray, expected: np.ndarray, comparison: Comparison
) -> Summary:
    x64, g, e = (as_float64(a).ravel() for a in (x, got, expected))
    errors = comparison.ulp
    finite = ~np.isnan(errors)
    if finite.any():
        # The first index of the largest error: deterministic.
        worst = int(np.flatnonzero(finite)[np.argmax(errors[finite])])
        max_ulp = float(errors[worst])
        worst_fields = (hexf(x64[worst]), hexf(g[worst]), hexf(e[worst]))
    else:
        max_ulp, worst_fields = 0.0, (None, None, None)
    first = None
    for kind in KINDS:
        mask = comparison.kinds.get(kind)
        if mask is not None and mask.any():
            i = int(np.flatnonzero(mask)[0])
            first = {
                "kind": kind,
                "input": hexf(x64[i]),
                "output": hexf(g[i]),
                "expected": hexf(e[i]),
            }
            break
    by_binade, histogram = error_profile(x64, errors)
    return Summary(
        int(x64.size),
        round_significant(max_ulp),
        *worst_fields,
        comparison.kind_counts(),
        first,
        comparison.figure(),
        int(finite.sum()),
        by_binade,
        histogram,
    )


#: Columns of an ulp-error histogram (the gate's and the sweeps'): column b
#: (1 <= b < LAST_FINITE) holds the errors in (2^(b-2), 2^(b-1)] ulp, b = ceil(log2(2·error));
#: column 0 the correctly rounded (<= 0.5 ulp), then one above 2^(LAST_FINITE-2) and one for
#: the elements without an ulp figure (a NaN given where a number is due, or a wrong output
#: where ±inf or NaN is due); the other violations are in the column of their error.
LAST_FINITE = 32
BUCKETS = (
    "<= 0.5 (correctly rounded)",
    "(0.5, 1]",
    "(1, 2]",
    *(f"(2^{b - 2}, 2^{b - 1}]" for b in range(3, LAST_FINITE)),
    f"> 2^{LAST_FINITE - 2}",
    "no ulp figure (NaN given, or ±inf or NaN due)",
)
NO_FIGURE = LAST_FINITE + 1


def error_columns(errors: np.ndarray) -> np.ndarray:
    """The histogram column of each error (NaN, no figure: NO_FIGURE): 0 up to 0.5 ulp,
    then ceil(log2(2·error)) up to LAST_FINITE, read off the float64 encoding (exact, as
    `sweep/fused.py` computes it, where a logarithm could be off at a power of two)."""
    errors = np.asarray(errors, dtype=np.float64)
    columns = np.full(errors.shape, NO_FIGURE, dtype=np.int64)
    finite = ~np.isnan(errors)
    figures = errors[finite]
    m, e = np.frexp(figures)  # figure = m·2^e, 0.5 <= m < 1
    column = np.where(m == 0.5, e, e + 1).astype(np.int64)
    column[figures <= 0.5] = 0
    column[np.isinf(figures)] = LAST_FINITE
    columns[finite] = np.minimum(column, LAST_FINITE)
    return columns


def error_profile(x: np.ndarray, errors: np.ndarray) -> tuple[dict, dict]:
    """Where the errors are, compactly enough for results.json and its plots.

    - by binade: {"negative": [[b, max_ulp, count], ...], "positive": [...]}, one entry per
      binade 2^b <= |x| < 2^(b+1) that holds an input with an ulp figure (zeros, infinities
      and NaN have none), b ascending;
    - histogram: {column of BUCKETS: count} over every element (those without an ulp figure
      in the last column), the empty columns left out.
    Elements without an ulp figure are in no binade."""
    finite = ~np.isnan(errors) & np.isfinite(x) & (x != 0)
    xs, es = x[finite], errors[finite]
    by_binade = {}
    for side, mask in (("negative", xs < 0), ("positive", xs > 0)):
        if not mask.any():
            by_binade[side] = []
            continue
        binade = np.frexp(np.abs(xs[mask]))[1] - 1  # |x| = m·2^e with m in [0.5, 1)
        order = np.argsort(binade, kind="stable")
        keys, starts, counts = np.unique(binade[order], return_index=True, return_counts=True)
        worst = np.maximum.reduceat(es[mask][order], starts)
        by_binade[side] = [
            [int(b), round_significant(float(w)), int(n)]
            for b, w, n in zip(keys, worst, counts, strict=True)
        ]
    counts = np.bincount(error_columns(errors), minlength=len(BUCKETS))
    histogram = {label: int(n) for label, n in zip(BUCKETS, counts, strict=True) if n}
    return by_binade, histogram


def round_significant(value: float, digits: int = 6) -> float:
    """Round for the record: the last digits of an ulp figure depend on the machine's libm
    (the reference's float64 residuals), which should not make results.json differ."""
    if value == 0 or not np.isfinite(value):
        return float(value)
    return float(f"{value:.{digits}g}")


def bitwise_differences(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Elements whose bit patterns differ (all NaNs count as equal)."""
    a64, b64 = as_float64(a).ravel(), as_float64(b).ravel()
    same = ((a64 == b64) & (np.signbit(a64) == np.signbit(b64))) | (np.isnan(a64) & np.isnan(b64))
    return ~same


def encoding_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """How many values of the format lie between a and b (0 = the same value): an ulp
    distance that needs no exact value, used to compare an implementation with itself."""
    a, b = np.asarray(a), np.asarray(b)
    uint = {2: np.int16, 4: np.int32, 8: np.int64}[a.dtype.itemsize]

    def ordered(v):
        i = v.ravel().view(uint).astype(np.int64)
        return np.where(i < 0, np.int64(np.iinfo(uint).min) - i, i)

    with np.errstate(over="ignore"):
        return np.abs(ordered(a) - ordered(b)).astype(np.float64)
