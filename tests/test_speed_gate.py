"""The speed gate: benchmarks/compare.py (asv's verdict on two sides, their runs
interleaved), benchmarks/slowdown.py (a regression made on purpose) and the gate's settings
(conformance/report/gating.py)."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from benchmarks import compare, slowdown
from conformance.report import gating

CHECKOUT = Path(__file__).resolve().parent.parent

# Rows as asv compare 0.6.6 prints them (tabulate's "github" format), flagged or not.
TABLE = (CHECKOUT / "tests" / "data" / "asv_compare_table.md").read_text()


def test_asv_compare_marks_are_read_case_by_case():
    assert compare.flagged_rows(TABLE) == {
        "bench_selu.Forward12.time_selu('numpy/reference', 'float32', 4096, 'cpu')": "+",
        "bench_selu.Backward20.time_selu('torch/functional', 'float64', 1048576, 'cpu')": "-",
    }


def test_the_gate_settings_are_read_and_a_bad_file_is_named(tmp_path):
    settings = gating.load()
    assert settings.factor <= 1.15 and settings.max_spread > 0
    assert settings.noisy(None) and settings.noisy(settings.max_spread * 1.01)
    assert not settings.noisy(settings.max_spread * 0.99)
    assert gating.spread(2.0, 1.9, 2.3) == pytest.approx(0.2)
    assert gating.spread(2.0, None, 2.3) is None
    broken = tmp_path / "gating.toml"
    broken.write_text("factor = 1.1\n")
    with pytest.raises(ValueError, match=str(broken)):
        gating.load(broken)
    broken.write_text("factor = [\n")
    with pytest.raises(ValueError, match=str(broken)):
        gating.load(broken)
    valid = "factor = 1.1\nmax_spread = 0.1\n"
    for bad in (
        'order = "ABC"\nsamples = [3, 10, 1.0]',
        'order = "AAA"\nsamples = [3, 10, 1.0]',
        'order = "AB"\nsamples = [10, 3, 1.0]',
        'order = "AB"\nsamples = [3, 10]',
    ):
        broken.write_text(valid + bad + "\n")
        with pytest.raises(ValueError, match=str(broken)):
            gating.load(broken)
    assert set(settings.order) == {"A", "B"}
    assert settings.order.count("A") == settings.order.count("B")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["no-such-revision", "HEAD"], "is neither a revision nor env:NAME"),
        (["HEAD", "env:no-such-environment"], "unknown environment 'no-such-environment'"),
        (["HEAD", "HEAD", "--order", "AAB C"], "--order is a word of A and B"),
        (["HEAD", "HEAD", "--order", "AA"], "--order is a word of A and B"),
    ],
)
def test_a_bad_side_or_order_is_one_line_and_status_2(argv, message):
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.compare", *argv, "--name", "selftest-bad"],
        cwd=CHECKOUT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2, done.stderr
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_an_unknown_implementation_to_slow_down_is_status_2():
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.slowdown", "nosuch/impl", "20"],
        cwd=CHECKOUT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and "unknown implementation 'nosuch/impl'" in done.stderr


def test_the_slowdown_commit_changes_only_the_framework_module():
    commit = slowdown.make_commit("torch/functional", 20)
    changed = compare._git("diff", "--name-only", f"{commit}^", commit).split()
    assert changed == ["conformance/frameworks/torch_impl.py"]
    source = compare._git("show", f"{commit}:conformance/frameworks/torch_impl.py")
    namespace: dict = {}
    exec(compile(source, "torch_impl.py", "exec"), namespace)  # the module still defines
    assert namespace["kernels"].__name__ == "kernels"  # kernels, now the slowed one
    assert "_unslowed_kernels" in namespace
    # The slowed call still gives the framework's output, for every direction.
    variant = slowdown.BY_ID["torch/functional"].variant
    x = np.linspace(-3, 3, 4096, dtype=np.float32)
    g = np.ones_like(x)
    for direction in ("forward", "backward"):
        slowed = namespace["kernels"](variant, direction, "cpu", x, g)
        plain = namespace["_unslowed_kernels"](variant, direction, "cpu", x, g)
        assert slowed.selu_call is not plain.selu_call
        slowed.selu()
        plain.selu()
        assert np.array_equal(_values(slowed.output), _values(plain.output))


def _values(output) -> np.ndarray:
    """A torch call's output (a tensor, or autograd.grad's tuple of one) as numpy."""
    output = output[0] if isinstance(output, tuple | list) else output
    return output.detach().numpy()


def test_a_twin_is_the_same_tree_under_another_hash_and_always_the_same():
    head = compare._git("rev-parse", "HEAD")
    twin = compare._twin(head)
    assert twin != head and compare._twin(head) == twin
    assert compare._git("rev-parse", f"{twin}^{{tree}}") == compare._git(
        "rev-parse", f"{head}^{{tree}}"
    )


AB = ["--order", "AB", "--name", "selftest-aa"]


def test_an_a_a_comparison_runs_asv_and_writes_its_verdict():
    """A real comparison of one small case against itself, A then B: asv runs both, asv
    compare decides, and the verdict names the case, its spread and what asv flagged."""
    case = r"bench_selu\.Forward12\.time_selu\('numpy/reference', 'float32', 4096, 'cpu'\)"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.compare", "HEAD", "HEAD", "-b", case, *AB],
        cwd=CHECKOUT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode in (0, 1), done.stdout[-3000:] + done.stderr[-3000:]
    folder = CHECKOUT / ".asv" / "compare" / "selftest-aa"
    verdict = json.loads((folder / "verdict.json").read_text())
    assert verdict["cases"] == 1 and verdict["order"] == "AB"
    # Each of a side's one process took gating.toml's samples (asv's repeat), no more.
    least, most, _ = verdict["samples"]
    assert verdict["samples"] == list(gating.load().samples)
    from conformance.report import asv_results

    for side in ("a", "b"):
        (row,) = asv_results.load_results(
            folder / "results", verdict["machine"], verdict[side]["commit"]
        )["rows"]
        assert least <= row["samples"] <= most, row
    assert verdict["a"]["commit"] != verdict["b"]["commit"]  # B is A's twin
    assert "numpy/reference" in (folder / "compare.txt").read_text()
    flagged = {f["case"] for f in verdict["flagged"]}
    assert set(verdict["slower_gateable"]) <= flagged
    assert (done.returncode == 1) == bool(verdict["slower_gateable"])
