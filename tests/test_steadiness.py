"""benchmarks.steadiness: the machine-speed probe that tells whether two benchmark runs
can agree within 5 % here."""

import json

import pytest

from benchmarks import steadiness


def samples(times_by_half, per_half=6, interval=10.0):
    """Synthetic samples: every kernel takes times_by_half[0] s in the first half of the
    run and times_by_half[1] s in the second."""
    out = []
    for half, seconds in enumerate(times_by_half):
        for i in range(per_half):
            t = (half * per_half + i) * interval
            out.append({"t": t, **dict.fromkeys(steadiness.KERNELS, seconds), "steal": 0.0})
    return out


def test_halves_that_differ_by_ten_percent_are_flagged():
    summary = steadiness.summarise(samples([0.010, 0.011]), window=30.0)
    for kernel in summary["kernels"].values():
        assert kernel["halves"] == [0.010, 0.011]
        assert kernel["halves_differ"] == pytest.approx(0.10)
        # Windows of 30 s: three samples each; the median of the run is the middle value.
        assert len(kernel["windows"]) == 4
    assert "10.0% (over 5 %)" in steadiness.markdown(summary)


def test_a_steady_machine_is_not_flagged():
    summary = steadiness.summarise(samples([0.010, 0.0102]), window=60.0)
    assert all(k["halves_differ"] < steadiness.LIMIT for k in summary["kernels"].values())
    assert "over 5 %" not in steadiness.markdown(summary)


def test_a_short_run_measures_every_kernel(tmp_path, capsys):
    out = tmp_path / "steadiness.json"
    code = steadiness.main(
        ["--minutes", "0.03", "--interval", "0.5", "--window", "1", "--json", str(out)]
    )
    assert code == 0
    document = json.loads(out.read_text())
    assert document["summary"]["samples"] == len(document["samples"]) >= 2
    for name in steadiness.KERNELS:
        assert all(0 < s[name] < 5 for s in document["samples"])
        assert document["summary"]["kernels"][name]["median"] > 0
    assert "| page_faults |" in capsys.readouterr().out


@pytest.mark.parametrize(
    "args, message",
    [
        (["--minutes", "0"], "--minutes must be positive"),
        (["--interval", "-1"], "--interval must be positive"),
        (["--minutes", "0.001", "--quiet"], "at least two samples"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, message, capsys):
    assert steadiness.main(args) == 2
    error = capsys.readouterr().err.strip()
    assert message in error and len(error.splitlines()) == 1
