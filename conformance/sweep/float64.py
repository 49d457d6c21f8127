"""float64 cannot be exhausted: a search for its worst inputs, in the manner of
Zimmermann's accuracy studies of mathematical libraries ("Accuracy of Mathematical
Functions in Single, Double, Double Extended, and Quadruple Precision").

The search:

1. *Every binade*: SAMPLES random bit patterns in each binade of each sign (2 x 2046
   binades, and the subnormals spread over their magnitudes).
2. *Hard regions*, seeded on purpose: where the result crosses a power of two (its ulp
   halves or doubles: x = 2^k/λ on the positive side, expm1(x) = -2^k/(λα) on the
   negative), tiny negatives (λα·expm1(x) ≈ λα·x, where exp(x) - 1 cancels), the
   saturation to -λα near x ≈ -37.4, the derivative's underflow to subnormals near
   x ≈ -745, and the overflow of λ·x near DBL_MAX/λ.
3. *Refinement*: around each of the REFINE worst inputs so far whose output has the right
   class, bit patterns at distances 2^0 ... 2^24 ulps, ROUNDS times, keeping the worst.

Screening uses an estimate of the exact value in numpy.longdouble (x86-64's 64-bit
significand: about 2^-10 ulp of float64), which only ranks the inputs; the CANDIDATES worst
(a quarter of them wrong classes without an estimate, a quarter the worst estimated wrong
classes, the rest the worst of the right class) are then measured against the reference
(mpmath, correctly rounded, `measure.compare`), and only those figures are reported. The
result is therefore a *lower bound* on the maximum error, with the inputs that reach it:
they go to the worst-case corpus (`corpus.py`; a user's function's to a file), which
`replay` evaluates again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

import reference
from reference import FLOAT64
from reference.constants import derive
from reference.formats import ulp

from ..measure import Figure, as_float64, compare_one_sided, hexf

SAMPLES = 1024  # per binade and sign
REFINE = 32
ROUNDS = 3
CANDIDATES = 256
TOP = 16
SEED = 20170608

_LD = np.longdouble
#: Whether longdouble carries the 11 extra bits the screening relies on.
EXTENDED = np.finfo(_LD).nmant >= 63


def _constants() -> tuple[np.longdouble, np.longdouble]:
    c = derive(80)
    return _LD(str(c.lam)), _LD(str(c.lam_alpha))


def estimate(quantity: str, x: np.ndarray) -> np.ndarray:
    """q(x) in longdouble (a ranking estimate, not a reference), for finite x."""
    lam, lam_alpha = _constants()
    xl = x.astype(_LD)
    with np.errstate(over="ignore", invalid="ignore"):
        negative = np.minimum(xl, _LD(0))
        if quantity == "forward":
            return np.where(xl > 0, lam * xl, lam_alpha * np.expm1(negative))
        return np.where(xl > 0, lam, lam_alpha * np.exp(negative))


def screen(quantity: str, x: np.ndarray, got: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(estimated ulp error of `got` at `x`, whether its class looks right). The error is
    estimated wherever `got` and the estimate are finite, a wrong class (a zero or a
    flushed value where a number is due) included, as `measure.compare` counts it; +inf
    elsewhere (NaN or an infinity given or due): those go to the reference first."""
    est = estimate(quantity, x)
    with np.errstate(over="ignore", invalid="ignore"):
        e64 = est.astype(np.float64)
        error = np.abs((got.astype(_LD) - est) / ulp(e64, FLOAT64).astype(_LD)).astype(np.float64)
        same_class = (
            (np.isnan(got) == np.isnan(e64))
            & (np.isinf(got) == np.isinf(e64))
            & ((got == 0) == (e64 == 0))
            & (np.signbit(got) == np.signbit(e64))
        )
    finite = np.isfinite(got) & np.isfinite(e64)
    error = np.where(finite, error, np.where(same_class, 0.0, np.inf))
    return error, same_class


def binade_samples(rng: np.random.Generator, per_binade: int) -> np.ndarray:
    """`per_binade` random float64 bit patterns in every binade, both signs, and as many
    among the subnormals, log-uniform in magnitude."""
    exponents = np.repeat(np.arange(1, 2047, dtype=np.uint64), per_binade)
    mantissa = rng.integers(0, 1 << 52, size=exponents.size, dtype=np.uint64)
    normal = (exponents << np.uint64(52)) | mantissa
    sub = np.exp2(rng.uniform(0, 52, size=per_binade * 4)).astype(np.uint64)
    magnitudes = np.concatenate([normal, np.maximum(sub, 1)])
    return np.concatenate([magnitudes, magnitudes | np.uint64(1 << 63)]).view(np.float64)


def hard_regions(rng: np.random.Generator, spread: int = 64) -> np.ndarray:
    """Inputs around the places where SELU in float64 is hard (the module's list)."""
    c = derive(80)
    lam, lam_alpha = float(c.lam), float(c.lam_alpha)
    centres = []
    k = np.arange(-1074, 1024, dtype=np.float64)
    centres.append(np.ldexp(1.0, k.astype(int)) / lam)  # λx = 2^k
    with np.errstate(invalid="ignore", divide="ignore"):
        k_neg = np.arange(-1074, 1, dtype=np.float64)
        t = np.ldexp(1.0, k_neg.astype(int)) / lam_alpha
        centres.append(np.log1p(-t[t < 1]))  # λα·expm1(x) = -2^k
    centres.append(-np.logspace(-300, np.log10(2.0**-20), 512))  # tiny negatives
    centres.append(np.linspace(-40.0, -35.0, 512))  # saturation to -λα
    centres.append(np.linspace(-746.0, -700.0, 512))  # the derivative's subnormals
    centres.append(np.array([np.finfo(np.float64).max / lam]))  # λx overflows
    x = np.concatenate(centres)
    x = x[np.isfinite(x) & (x != 0)]
    return neighbours(rng, x, spread, max_distance=1 << 12)


def neighbours(rng, x: np.ndarray, count: int, max_distance: int) -> np.ndarray:
    """`count` bit patterns around each of `x`, at random distances up to max_distance ulps
    (and the 8 nearest on each side), same sign, finite."""
    bits = x.astype(np.float64).view(np.int64)
    near = np.concatenate([np.arange(-8, 9), rng.integers(-max_distance, max_distance, count)])
    moved = (bits[:, None] + near[None, :]).ravel()
    same_sign = (moved < 0) == np.repeat(bits < 0, near.size)
    out = moved[same_sign].view(np.float64)
    return out[np.isfinite(out)]


@dataclass
class SearchResult:
    count: int  # inputs screened
    worst: list[dict]  # the TOP worst, measured against the reference
    kinds: dict[str, int]  # special-value violations among the measured candidates
    figure: Figure  # the errors of the measured candidates, violations included
    first_by_kind: dict[str, dict]  # the first measured candidate of each kind
    worst_without_violations: list[dict]  # the TOP worst of the candidates without one

    @property
    def first(self) -> dict | None:
        """The first violation, of the first kind found: {"kind", "input", ...}."""
        if not self.first_by_kind:
            return None
        kind, example = next(iter(self.first_by_kind.items()))
        return {"kind": kind, **{k: v for k, v in example.items() if k != "ulp"}}


def search(call, quantity: str, per_binade: int = SAMPLES, seed: int = SEED) -> SearchResult:
    """Search for the worst inputs of `call` (x: float64 array -> outputs), deterministic
    for a given seed."""
    rng = np.random.default_rng(seed)
    pool_x = np.concatenate([binade_samples(rng, per_binade), hard_regions(rng)])
    pool_x = np.unique(pool_x.view(np.uint64)).view(np.float64)
    pool_err, pool_same = screen(quantity, pool_x, call(pool_x))
    count = pool_x.size
    for _ in range(ROUNDS):  # around the worst of the right class: the kernel's numerics
        ordinary = np.flatnonzero(pool_same & np.isfinite(pool_err))
        best = pool_x[ordinary[np.argsort(-pool_err[ordinary], kind="stable")[:REFINE]]]
        spread = [neighbours(rng, best, 256, 1 << k) for k in (4, 10, 16, 24)]
        x = np.unique(np.concatenate(spread).view(np.uint64)).view(np.float64)
        err, same = screen(quantity, x, call(x))
        count += x.size
        pool_x, pool_err = np.concatenate([pool_x, x]), np.concatenate([pool_err, err])
        pool_same = np.concatenate([pool_same, same])

    # The candidates: a share for the wrong classes without an estimate (NaN or infinity
    # given or due), one for the worst estimated wrong classes (zeros, flushed values),
    # and the rest for the worst estimated errors of the right class, so that neither
    # kind crowds out the other.
    def worst_of(mask, n):
        where = np.flatnonzero(mask)
        return where[np.argsort(-pool_err[where], kind="stable")[:n]]

    no_estimate = np.flatnonzero(np.isinf(pool_err))[: CANDIDATES // 4]
    violating = worst_of(~pool_same & np.isfinite(pool_err), CANDIDATES // 4)
    ordinary = worst_of(pool_same & np.isfinite(pool_err), CANDIDATES * 2)
    chosen = pool_x[np.concatenate([no_estimate, violating, ordinary])].view(np.uint64)
    _, first = np.unique(chosen, return_index=True)  # distinct, in order of rank
    candidates = chosen[np.sort(first)][:CANDIDATES]
    return measure(call, quantity, candidates.view(np.float64), count)


def measure(call, quantity: str, x: np.ndarray, count: int | None = None) -> SearchResult:
    """Measure inputs `x` exactly (the reference) and keep the TOP worst."""
    got = call(x)
    left = reference.evaluate(quantity, x)
    right = None
    zeros = x == 0
    if quantity == "gradient" and zeros.any():
        right = (zeros, reference.evaluate(quantity, x[zeros], at_zero="right"))
    comparison, expected = compare_one_sided(x, got, left, right, FLOAT64)
    errors = comparison.ulp
    kinds = comparison.kind_counts()
    first_by_kind = {}
    for kind, mask in comparison.kinds.items():
        if mask.any():
            i = int(np.flatnonzero(mask)[0])
            ulp = None if np.isnan(errors[i]) else float(errors[i])
            first_by_kind[kind] = {"ulp": ulp, **_values(x, got, expected, i)}

    def top(errors) -> list[dict]:
        ranked = np.where(np.isnan(errors), -1.0, errors)
        order = np.lexsort((x.view(np.uint64), -ranked))
        return [
            {"ulp": float(errors[i]), **_values(x, got, expected, i)}
            for i in order[:TOP].tolist()
            if ranked[i] >= 0
        ]

    worst = top(errors)
    ordinary = np.where(comparison.violations(), np.nan, errors)
    return SearchResult(
        count if count is not None else x.size,
        worst,
        kinds,
        comparison.figure(),
        first_by_kind,
        top(ordinary),
    )


def _values(x, got, expected, i) -> dict:
    return {
        "bits": f"{int(x.view(np.uint64)[i]):#018x}",
        "input": hexf(x[i]),
        "output": hexf(as_float64(got[i])),
        "expected": hexf(expected[i]),
    }


# -- the worst-case file --------------------------------------------------------------------


def write_cases(path, worst: list[dict], header: str) -> None:
    """One line per input: bits, input, output, expected (float.hex), ulp error."""
    from ..io import write_atomic

    lines = [f"# {line}" for line in header.splitlines()]
    lines.append("# bits, input, output, expected, ulp")
    for w in worst:
        lines.append(f"{w['bits']}, {w['input']}, {w['output']}, {w['expected']}, {w['ulp']:.6g}")
    write_atomic(path, "\n".join(lines) + "\n")


_HEX_FLOAT = re.compile(r"[-+]?(0x[0-9a-fA-F]+(\.[0-9a-fA-F]*)?p[-+]?[0-9]+|inf|nan)")


def read_cases(path) -> np.ndarray:
    """The inputs of a worst-case file: a corpus file (`corpus.py`), the `input` column
    (float.hex) of `write_cases`, or one hex float a line; ValueError naming the file and
    line of anything else."""
    from .. import corpus

    with open(path) as f:
        if f.readline().strip() == ",".join(corpus.COLUMNS):
            return np.array([e.value for e in corpus.read(path)], dtype=np.float64)
    values = []
    with open(path) as f:
        for number, line in enumerate(f, 1):
            text = line.split("#", 1)[0].strip()
            if not text:
                continue
            fields = [t.strip() for t in text.split(",")]
            value = fields[1] if len(fields) > 1 else fields[0]  # bits, input, ... or input
            if not _HEX_FLOAT.fullmatch(value):
                raise ValueError(f"{path}:{number}: not a worst-case line: {text[:60]!r}")
            values.append(float.fromhex(value))
    if not values:
        raise ValueError(f"{path}:1: no inputs")
    return np.array(values, dtype=np.float64)
