"""The worst-case corpus: the worst inputs the sweeps and searches found, kept as data.

In the manner of CORE-MATH's worst-case files and numpy's umath-validation sets, the
inputs where each implementation was worst are committed, one file per dtype and quantity
(`data/worst/float32-forward.csv`), each line an input in hex with its correctly rounded
value and what was found there:

    input            the input, float.hex() of its value
    expected         the correctly rounded SELU (or derivative) there, hex
    impl, device     where it was found
    cpu              the CPU's instruction-set level there (`results.cpu_level`: x86-64-v4
                     for AVX-512), which selects the frameworks' kernels
    version          the framework version it was found with
    ulp              the error found (6 significant digits; empty: the output had none)
    kind             the special-value violation there, if any
    found_by         "sweep" (every input of the dtype) or "search" (the float64 search)

The gate replays every distinct input of a file, for every implementation of that dtype
and quantity, as the accuracy input set "corpus" (so what a sweep found is measured again
by every `make test`); where a line belongs to the implementation, device, CPU level and
version being checked, its error there must not have grown nor its class changed. `sweep` refreshes
the lines of the implementation it swept and says what changed (`refresh`).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reference import format_of

from .measure import KINDS, compare, hexf, round_significant
from .registry import BY_ID

FOLDER = Path(__file__).parent / "data" / "worst"
COLUMNS = ("input", "expected", "impl", "device", "cpu", "version", "ulp", "kind", "found_by")
FOUND_BY = ("sweep", "search")
#: Replayed inputs are called in an array of a multiple of this length, each in the
#: vectorised body (the sweeps call chunks of 2^20, whose every element is in the body).
PADDING = 1024
#: An ulp figure in the file has 6 significant digits: within this, an error is the same.
SAME = 1e-5


class CorpusError(ValueError):
    """A corpus file that cannot be used; the message names the file and the line."""


@dataclass(frozen=True)
class Entry:
    input: str  # hex
    expected: str
    impl: str
    device: str
    cpu: str
    version: str
    ulp: float | None
    kind: str
    found_by: str

    @property
    def value(self) -> float:
        return _parse(self.input)


def path(dtype: str, quantity: str, folder: Path = FOLDER) -> Path:
    return Path(folder) / f"{dtype}-{quantity}.csv"


def _parse(text: str) -> float:
    return float(text) if text in ("nan", "-nan", "inf", "-inf") else float.fromhex(text)


def read(file: Path) -> list[Entry]:
    """The entries of a corpus file; CorpusError (file and line) if it is not one."""
    file = Path(file)
    try:
        text = file.read_text()
    except OSError as error:
        raise CorpusError(f"{file}: cannot read the corpus file ({error.strerror})") from None
    rows = csv.reader(io.StringIO(text))
    header = next(rows, None)
    if header is None or tuple(header) != COLUMNS:
        raise CorpusError(f"{file}:1: the header must be {','.join(COLUMNS)}")
    entries = []
    for number, row in enumerate(rows, 2):
        if len(row) != len(COLUMNS):
            raise CorpusError(f"{file}:{number}: {len(row)} fields, not {len(COLUMNS)}")
        fields = dict(zip(COLUMNS, row, strict=True))
        try:
            _parse(fields["input"]), _parse(fields["expected"])
            ulp = float(fields["ulp"]) if fields["ulp"] else None
        except ValueError:
            raise CorpusError(f"{file}:{number}: not a hex input, value and ulp: {row}") from None
        if fields["impl"] not in BY_ID:
            raise CorpusError(f"{file}:{number}: unknown implementation {fields['impl']!r}")
        if fields["kind"] and fields["kind"] not in KINDS:
            raise CorpusError(f"{file}:{number}: unknown violation kind {fields['kind']!r}")
        if fields["found_by"] not in FOUND_BY:
            raise CorpusError(f"{file}:{number}: found_by must be one of {', '.join(FOUND_BY)}")
        entries.append(Entry(**{**fields, "ulp": ulp}))
    return entries


def entries(dtype: str, quantity: str, folder: Path = FOLDER) -> list[Entry]:
    """The entries of the dtype's and quantity's file (none when there is no file)."""
    file = path(dtype, quantity, folder)
    return read(file) if file.exists() else []


def inputs_of(entries_: list[Entry], dtype: str) -> np.ndarray:
    """The distinct inputs of `entries_` as an array of the dtype, in bit-pattern order."""
    fmt = format_of(dtype)
    values = np.array([e.value for e in entries_], dtype=np.float64)
    x = values.astype(fmt.dtype)
    bad = ~((x.astype(np.float64) == values) | np.isnan(values))
    if bad.any():
        raise CorpusError(f"corpus {dtype}: {entries_[int(np.argmax(bad))].input} is no {dtype}")
    uint = {2: np.uint16, 4: np.uint32, 8: np.uint64}[fmt.dtype.itemsize]
    return np.unique(x.view(uint)).view(fmt.dtype)


def padded(x: np.ndarray) -> np.ndarray:
    """`x` followed by copies of itself, to a multiple of PADDING elements."""
    size = -(-max(x.size, 1) // PADDING) * PADDING
    return np.resize(x, size) if x.size else x


# -- writing: the sweep's refresh -----------------------------------------------------------


def write(file: Path, entries_: list[Entry]) -> None:
    from .io import write_atomic

    order = {impl: i for i, impl in enumerate(BY_ID)}
    ranked = sorted(
        entries_,
        key=lambda e: (
            order[e.impl],
            e.device,
            -(e.ulp if e.ulp is not None else -1.0),
            abs(_parse(e.input)) if e.input != "nan" else np.inf,
            e.input,
        ),
    )
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for e in ranked:
        ulp = "" if e.ulp is None else f"{e.ulp:.6g}"
        writer.writerow(
            [e.input, e.expected, e.impl, e.device, e.cpu, e.version, ulp, e.kind, e.found_by]
        )
    write_atomic(file, out.getvalue())


def kind_at(x: str, output: str, expected: str, dtype: str) -> str:
    """The special-value violation of `output` where `expected` is due ("" for none)."""
    fmt = format_of(dtype)
    values = [np.array([_parse(v)]).astype(fmt.dtype) for v in (x, output, expected)]
    comparison = compare(values[1], values[2], np.zeros(1), values[0], fmt)
    return next((k for k, mask in comparison.kinds.items() if mask[0]), "")


@dataclass(frozen=True)
class Change:
    """What a refresh changed in one implementation's lines of one file."""

    file: Path
    impl: str
    device: str
    cpu: str
    version: str
    added: int
    removed: int
    kept: int
    max_before: float | None
    max_after: float | None

    def describe(self) -> str:
        head = f"corpus {self.file}: {self.impl} {self.device} ({self.cpu}) {self.version}"
        if not self.added and not self.removed:
            return f"{head}: unchanged ({self.kept} inputs)"

        def figure(value):
            return "none" if value is None else f"{value:g} ulp"

        return (
            f"{head}: {self.added} inputs added, {self.removed} removed, {self.kept} kept; "
            f"largest error {figure(self.max_before)} -> {figure(self.max_after)}"
        )


def refresh(
    folder: Path,
    dtype: str,
    quantity: str,
    *,
    impl: str,
    device: str,
    version: str,
    found_by: str,
    worst: list[dict],
) -> Change:
    """Replace the lines of `impl` on `device` and this machine's CPU level in the dtype's
    and quantity's file by the inputs of `worst` ({"input", "output", "expected", "ulp"}: a
    sweep's worst inputs and the first input of each violation kind)."""
    from .machine import cpu_level

    cpu = cpu_level()
    file = path(dtype, quantity, folder)
    old = read(file) if file.exists() else []
    key = (impl, device, cpu)
    mine = [e for e in old if (e.impl, e.device, e.cpu) == key]
    new, seen = [], set()
    for w in worst:
        if w["input"] in seen:
            continue
        seen.add(w["input"])
        ulp = w.get("ulp")
        new.append(
            Entry(
                input=w["input"],
                expected=w["expected"],
                impl=impl,
                device=device,
                cpu=cpu,
                version=version,
                ulp=None if ulp is None else round_significant(ulp),
                kind=kind_at(w["input"], w["output"], w["expected"], dtype),
                found_by=found_by,
            )
        )
    others = [e for e in old if (e.impl, e.device, e.cpu) != key]
    if sorted(map(repr, mine)) != sorted(map(repr, new)):
        write(file, others + new)
    before, after = {e.input for e in mine}, {e.input for e in new}

    def largest(group):
        figures = [e.ulp for e in group if e.ulp is not None]
        return max(figures) if figures else None

    return Change(
        file,
        impl,
        device,
        cpu,
        version,
        added=len(after - before),
        removed=len(before - after),
        kept=len(after & before),
        max_before=largest(mine),
        max_after=largest(new),
    )


# -- the gate's replay ----------------------------------------------------------------------


@dataclass(frozen=True)
class Replay:
    """What the replay of a corpus says of the lines of the implementation checked."""

    regressions: list[str]  # "x = ...: 1.2 -> 3.4 ulp", one per input that got worse
    improved: int  # inputs whose error shrank: their lines can be refreshed
    compared: int  # the implementation's lines compared input by input
    others: list[str]  # "VERSION on CPU" of its lines made elsewhere: not compared


def replay(
    entries_: list[Entry],
    *,
    impl: str,
    device: str,
    cpu: str,
    version: str,
    x: np.ndarray,
    errors: np.ndarray,
    kinds: dict[str, np.ndarray],
) -> Replay:
    """Compare the measurement of the corpus inputs `x` (errors in ulps, NaN: no figure;
    violation masks `kinds`) with the lines of `impl` on `device`, made on a CPU of level
    `cpu` with `version` (another CPU level or version may compute other values: its lines
    are only replayed, judged by the policy)."""
    position = {hexf(float(v)): i for i, v in enumerate(x.astype(np.float64))}
    regressions, improved, compared, elsewhere = [], 0, 0, set()
    for e in entries_:
        if (e.impl, e.device) != (impl, device):
            continue
        if (e.version, e.cpu) != (version, cpu):
            elsewhere.add(f"{e.version} on {e.cpu}")
            continue
        i = position.get(e.input)
        if i is None:  # left out of the call (it hung or crashed there): reported apart
            continue
        compared += 1
        now = None if np.isnan(errors[i]) else float(errors[i])
        kind = next((k for k, mask in kinds.items() if mask[i]), "")
        was = f"{e.ulp:g} ulp" if e.ulp is not None else "no figure"
        if e.ulp is not None and (now is None or now > e.ulp * (1 + SAME)):
            now_text = "no figure" if now is None else f"{round_significant(now):g} ulp"
            regressions.append(f"x = {e.input}: {was} -> {now_text}")
        elif kind != e.kind:
            regressions.append(
                f"x = {e.input}: {e.kind or 'no violation'} -> {kind or 'no violation'}"
            )
        elif e.ulp is not None and now is not None and now < e.ulp / (1 + SAME):
            improved += 1
    return Replay(regressions, improved, compared, sorted(elsewhere))
