"""The worst-case corpus (conformance/data/worst/): committed data, refreshed by `sweep`,
replayed by the gate; a regression at one of its inputs fails."""

import numpy as np
import pytest

import reference
from conformance import corpus
from conformance.measure import compare, hexf
from conformance.registry import SPECS
from reference import format_of

SEARCHED = ("float32", "float64")  # what `make sweep` measures: every float32, float64 searched


def committed() -> dict[tuple[str, str], list[corpus.Entry]]:
    return {
        (dtype, quantity): corpus.entries(dtype, quantity)
        for dtype in SEARCHED
        for quantity in ("forward", "gradient")
    }


@pytest.mark.parametrize("dtype", SEARCHED)
@pytest.mark.parametrize("quantity", ["forward", "gradient"])
def test_the_corpus_covers_every_implementation_the_sweeps_measure(dtype, quantity):
    entries = corpus.entries(dtype, quantity)
    found = {e.impl for e in entries}
    due = {s.id for s in SPECS if dtype in s.dtypes and quantity in s.quantities}
    assert due <= found, f"no corpus lines for {sorted(due - found)}"
    assert {e.found_by for e in entries} == {"sweep" if dtype == "float32" else "search"}


def test_every_expected_value_of_the_corpus_is_the_reference():
    """The corpus doubles as a regression test of the ground truth, as CORE-MATH's worst
    cases do: each line's correctly rounded value is the reference's, bit for bit."""
    for (dtype, quantity), entries in committed().items():
        fmt = format_of(dtype)
        x = np.array([e.value for e in entries]).astype(fmt.dtype)
        left = reference.evaluate(quantity, x)
        right = reference.evaluate(quantity, x, at_zero="right")
        for e, a, b in zip(entries, left.values, right.values, strict=True):
            allowed = {hexf(float(a))} | ({hexf(float(b))} if e.value == 0 else set())
            assert e.expected in allowed, (dtype, quantity, e)


def entry(x, expected, impl="jax/nn", ulp=1.0, kind="", version="0.10.2", cpu="x86-64-v4"):
    return corpus.Entry(hexf(x), hexf(expected), impl, "cpu", cpu, version, ulp, kind, "sweep")


def test_files_round_trip_and_a_corrupt_one_names_file_and_line(tmp_path):
    entries = [entry(-0.125, -0.2, ulp=6.55), entry(1.0, 1.05, ulp=None, kind="spurious-inf")]
    file = tmp_path / "float32-forward.csv"
    corpus.write(file, entries)
    assert sorted(map(repr, corpus.read(file))) == sorted(map(repr, entries))
    lines = file.read_text().splitlines()
    file.write_text("\n".join([*lines, "0x1p+0,0x1p+0,jax/nn,cpu"]) + "\n")
    with pytest.raises(corpus.CorpusError, match=f"{file}:4: 4 fields"):
        corpus.read(file)
    file.write_text("\n".join([lines[0], lines[1].replace("jax/nn", "jax/nope")]) + "\n")
    with pytest.raises(corpus.CorpusError, match=f"{file}:2: unknown implementation"):
        corpus.read(file)
    file.write_text("input,expected\n")
    with pytest.raises(corpus.CorpusError, match=f"{file}:1: the header"):
        corpus.read(file)


def test_refresh_replaces_one_implementations_lines_and_says_what_changed(tmp_path):
    from conformance.results import cpu_level

    file = corpus.path("float32", "forward", tmp_path)
    other = entry(-2.0, -1.5, impl="torch/functional", ulp=1.5, cpu=cpu_level())
    old = [entry(-0.5, -0.7, ulp=3.0, cpu=cpu_level()), other]
    corpus.write(file, old)
    worst = [
        {"input": hexf(-0.25), "output": hexf(-0.39), "expected": hexf(-0.38), "ulp": 6.5},
        {"input": hexf(-0.5), "output": hexf(-0.7), "expected": hexf(-0.7), "ulp": 3.0},
        {"input": hexf(-1e-30), "output": hexf(0.0), "expected": hexf(-1.7e-30), "ulp": 7e6},
    ]
    change = corpus.refresh(
        tmp_path, "float32", "forward", impl="jax/nn", device="cpu", version="0.10.2",
        found_by="sweep", worst=worst,
    )  # fmt: skip
    assert (change.added, change.removed, change.kept) == (2, 0, 1)
    assert change.max_before == 3.0 and change.max_after == 7e6
    assert "2 inputs added" in change.describe()
    entries = corpus.read(file)
    assert other in entries and len(entries) == 4
    zero = next(e for e in entries if e.input == hexf(-1e-30))
    assert zero.kind == "spurious-zero"  # the class of the output, derived
    again = corpus.refresh(
        tmp_path, "float32", "forward", impl="jax/nn", device="cpu", version="0.10.2",
        found_by="sweep", worst=worst,
    )  # fmt: skip
    assert "unchanged" in again.describe()


def test_replay_flags_a_grown_error_and_a_changed_class_only_on_the_same_machine():
    x = np.float32([-0.5, -0.25, -(2.0**-100)])
    values = reference.evaluate("forward", x)
    entries = [
        entry(-0.5, float(values.values[0]), ulp=3.0),
        entry(-0.25, float(values.values[1]), ulp=6.55),
        entry(-(2.0**-100), float(values.values[2]), ulp=0.4),
    ]
    cmp = compare(values.values, values.values, values.residual, x, format_of("float32"))
    errors = cmp.ulp.copy()
    errors[0], errors[1], errors[2] = 3.0, 7.0, 0.4  # the same, grown, the same
    kinds = {k: m.copy() for k, m in cmp.kinds.items()}
    kinds["spurious-zero"][2] = True  # a class that was not there
    same = {"impl": "jax/nn", "device": "cpu", "cpu": "x86-64-v4", "version": "0.10.2"}
    found = corpus.replay(entries, **same, x=x, errors=errors, kinds=kinds)
    assert found.compared == 3
    assert found.regressions == [
        f"x = {hexf(-0.25)}: 6.55 ulp -> 7 ulp",
        f"x = {hexf(-(2.0**-100))}: no violation -> spurious-zero",
    ]
    errors[1] = 1.0
    kinds["spurious-zero"][2] = False
    found = corpus.replay(entries, **same, x=x, errors=errors, kinds=kinds)
    assert found.regressions == [] and found.improved == 1
    # Lines made with another version or on another CPU level are not compared.
    for other in ({"version": "0.11.0"}, {"cpu": "x86-64-v3"}):
        found = corpus.replay(entries, **{**same, **other}, x=x, errors=errors * 10, kinds=kinds)
        assert found.compared == 0 and found.others == ["0.10.2 on x86-64-v4"]
