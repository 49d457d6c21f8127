"""The comparison report (`python -m conformance report`), from real runs.

The runs are `python -m conformance check` on one user implementation id
(tests/mutants.py: under_test), once correct and once with two mutations switched on
(SELU_MUTANT): -0.0 turned into +0.0 in the value, and a derivative of 0 at x = 0. That is
a kernel before and after a bad patch, which `--compare` must report. The page is opened in
headless Chromium (Debian's chromium and chromium-driver, through Selenium).
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conformance.report import Inputs, compare, model, render

HERE = Path(__file__).parent
CHECKOUT = HERE.parent
IMPL = "mutants:under_test"
IMPL_ID = f"{IMPL} (derivative {IMPL}_grad)"  # the id `check` gives a value and a derivative
MUTATED = {"SELU_MUTANT": "negative_zero_lost", "SELU_MUTANT_GRAD": "grad_zero_at_zero"}


def conformance(*args, env=None, cwd=HERE, timeout=600):
    env = {**os.environ, "PYTHONPATH": str(CHECKOUT), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "conformance", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _check(path: Path, env: dict):
    return conformance(
        "check", "--impl", IMPL, "--grad", f"{IMPL}_grad", "--dtype", "float32",
        "--json", str(path), env=env,
    )  # fmt: skip


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """(before.json, after.json): the correct implementation, then the mutated one."""
    folder = tmp_path_factory.mktemp("runs")
    before, after = folder / "before.json", folder / "after.json"
    good = _check(before, {})
    assert good.returncode == 0, good.stdout[-2000:] + good.stderr[-2000:]
    bad = _check(after, MUTATED)
    assert bad.returncode == 1, bad.stdout[-2000:] + bad.stderr[-2000:]
    return before, after


def test_markdown_says_what_conforms_and_where_the_rest_goes_wrong(runs):
    before, after = runs
    _, markdown = render(Inputs(results=[after], asv=None))
    first = markdown.splitlines()[0]
    assert first == "## SELU conformance: 0 of 1 implementations conform"
    assert f"- ✗ fail: {IMPL_ID}" in markdown
    # The worst finding of the mutated implementation names the input in hex.
    worst = next(line for line in markdown.splitlines() if line.startswith(f"| {IMPL_ID} ✗"))
    assert "`-0x0.0p+0`" in worst or "`0x0.0p+0`" in worst, worst
    assert "no cause recorded" in worst  # no deviation is recorded for a user's function
    _, markdown = render(Inputs(results=[before], asv=None))
    assert markdown.splitlines()[0] == "## SELU conformance: 1 of 1 implementations conform"


def test_compare_lists_the_new_failures_and_the_changed_special_values(runs):
    before, after = runs
    old, new = (json.loads(p.read_text()) for p in runs)
    diff = compare.results(old, new)
    worse = {c["what"] for c in diff["worse"]}
    assert f"{IMPL_ID} cpu float32 value special value -0" in worse
    assert f"{IMPL_ID} cpu float32 derivative special value +0" in worse
    changed = {c["what"]: (c["old"], c["new"]) for c in diff["special"]}
    assert changed[f"{IMPL_ID} cpu float32 value special value -0"] == ("-0x0.0p+0", "0x0.0p+0")
    assert changed[f"{IMPL_ID} cpu float32 derivative special value +0"][1] == "0x0.0p+0"
    assert not diff["better"]
    # The other way round, the same findings are fixed.
    back = compare.results(new, old)
    assert {c["what"] for c in back["better"]} == worse and not back["worse"]
    # And on the page, through the command line.
    out = before.parent / "compared"
    result = conformance(
        "report", "--results", str(after), "--compare", str(before), str(after),
        "--asv", str(out / "none"), "--out", str(out), cwd=CHECKOUT,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    markdown = (out / "report.md").read_text()
    assert f"  - {IMPL_ID} cpu float32 value special value -0: pass → **fail**" in markdown


def test_special_values_say_which_one_sided_derivative_and_mark_disagreements(runs):
    before, after = (json.loads(p.read_text()) for p in runs)
    # The mutated run under another id beside the correct one: they disagree at ±0.
    for record in after["special_values"] + after["measurements"] + after["checks"]:
        record["impl"] = "mutated"
    after["implementations"][0]["id"] = "mutated"
    rows = {
        (r["quantity"], r["case"]): r
        for r in model.special_matrix(model.merge([before, after]), "float32")
    }
    at_zero = rows[("derivative", "+0")]
    assert at_zero["disagree"]
    assert at_zero["cells"][0]["text"] in ("λα (left)", "λ (right)")
    assert at_zero["cells"][1]["text"] == "+0"
    assert rows[("value", "-0")]["cells"][1]["text"] == "+0"
    assert rows[("value", "-0")]["cells"][0]["text"] == "−0"
    assert not rows[("value", "+1")]["disagree"]


def test_error_profiles_and_histograms_cover_every_measured_input(runs):
    _, after = runs
    document = json.loads(after.read_text())
    for record in document["measurements"]:
        histogram = sum(record["ulp_histogram"].values())
        assert histogram == record["count"]
        in_binades = sum(n for side in record["error_by_binade"].values() for *_, n in side)
        assert 0 < in_binades <= record["count"]
        largest = max(w for side in record["error_by_binade"].values() for _, w, _ in side)
        assert largest == record["max_ulp"]


@pytest.mark.parametrize(
    ("content", "message"),
    [("{not json", "bad.json:1: not valid JSON"), ('{"schema_version": 7}', "bad.json:1: not a")],
    ids=["corrupt", "wrong-schema"],
)
def test_a_bad_results_file_is_one_line_and_exit_2(tmp_path, content, message):
    (tmp_path / "bad.json").write_text(content)
    result = conformance(
        "report", "--results", str(tmp_path / "bad.json"), "--out", str(tmp_path), cwd=CHECKOUT
    )
    assert result.returncode == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


# -- in a real browser ----------------------------------------------------------------------


def _browser() -> tuple[str, str]:
    """Chromium and its driver (Debian's chromium, chromium-driver), installed with apt
    where they are missing and this process may; pytest.skip where they cannot be."""
    found = shutil.which("chromium"), shutil.which("chromedriver")
    if not all(found) and shutil.which("apt-get") and os.geteuid() == 0:
        for command in (
            ["apt-get", "update", "-qq"],
            ["apt-get", "install", "-y", "-qq", "chromium", "chromium-driver"],
        ):
            subprocess.run(
                command,
                capture_output=True,
                timeout=900,
                env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
            )
        found = shutil.which("chromium"), shutil.which("chromedriver")
    if not all(found):
        pytest.skip(
            "headless Chromium is missing and cannot be installed here "
            "(apt-get install chromium chromium-driver, as root)"
        )
    return found


def test_the_page_in_headless_chromium(runs, tmp_path):
    """No console errors; the verdict table, every other table and every plot visible;
    a screenshot kept (results/report-screenshot.png) for a person to look at."""
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.common.by import By

    chromium, driver_path = _browser()
    before, after = runs
    matrix = CHECKOUT / "docs" / "matrix" / "summary.json"  # the committed matrix
    html, _ = render(
        Inputs(
            results=[after],
            asv=CHECKOUT / ".asv" / "results",
            compare=[(before, after)],
            matrix=matrix,
        )
    )
    page = tmp_path / "index.html"
    page.write_text(html)
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--window-size=1400,1000",
        "--disable-dev-shm-usage",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # Chromium leaves its singleton-socket folder in TMPDIR: tmp_path, which pytest prunes.
    service = webdriver.ChromeService(
        executable_path=driver_path, env={**os.environ, "TMPDIR": str(tmp_path)}
    )
    driver = webdriver.Chrome(options=options, service=service)
    try:
        driver.get(page.as_uri())
        assert driver.title.startswith("SELU conformance report")
        tables = driver.find_elements(By.TAG_NAME, "table")
        assert len(tables) >= 5
        for table in tables:
            assert table.is_displayed() and table.size["height"] > 0 and table.size["width"] > 0
        plots = driver.find_elements(By.CSS_SELECTOR, "figure.plot svg")
        assert len(plots) >= 4  # errors per binade and histograms, value and derivative
        for plot in plots:
            assert plot.is_displayed() and plot.size["height"] > 50 and plot.size["width"] > 50
        verdicts = driver.find_element(By.CSS_SELECTOR, "table.verdicts")
        assert IMPL_ID in verdicts.text and "✗" in verdicts.text
        releases = driver.find_element(By.ID, "releases")  # across releases, from the matrix
        assert releases.is_displayed()
        body = driver.find_element(By.TAG_NAME, "body").text
        for cell in json.loads(matrix.read_text())["cells"]:  # every release, shown
            assert cell["version"] in body, cell["name"]
        # The whole page, for the screenshot.
        height = driver.execute_script("return document.body.scrollHeight")
        driver.set_window_size(1400, min(height + 100, 16000))
        shot = CHECKOUT / "results" / "report-screenshot.png"
        shot.parent.mkdir(exist_ok=True)
        assert driver.save_screenshot(str(shot))
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert not errors, errors
    finally:
        driver.quit()


def test_each_cell_says_where_its_worst_input_came_from_and_which_positions_are_wrong():
    def measurement(input_set, max_ulp, **more):
        return {
            "impl": "jax/nn", "device": "cpu", "dtype": "float32", "quantity": "forward",
            "input_set": input_set, "max_ulp": max_ulp, "verdict": "known-deviation",
            "worst_input": "-0x1.389b68p-3", "worst_output": "0x0p+0", "worst_expected": "0x0p+0",
            **more,
        }  # fmt: skip

    nan = {
        "impl": "jax/nn", "device": "cpu", "dtype": "float32", "quantity": "gradient",
        "case": "NaN", "input": "nan", "output": "0x1.0cfabe0000000p+0", "expected": ["nan"],
        "outputs": {"body": "nan", "tail": "0x1.0cfabe0000000p+0",
                    "one-element": "0x1.0cfabe0000000p+0"},
        "wrong_positions": ["tail", "one-element"], "ok": False, "ulp": 0.0,
        "kinds": ["nan-not-propagated"], "verdict": "known-deviation",
    }  # fmt: skip
    document = {
        "implementations": [{"id": "jax/nn", "available": True}],
        "measurements": [
            measurement("sampled", 4.93, source="sampled"),
            measurement("corpus", 6.55, source="corpus"),
        ],
        "special_values": [nan],
        "checks": [],
    }
    (row,) = model.verdict_matrix(document)["rows"]
    cell = next(c for c in row["cells"] if c and c["max_ulp"] is not None)
    assert cell["max_ulp"] == 6.55 and cell["source"] == "corpus"
    # A record of an older suite, without "source": read from its input set.
    sweep = measurement("exhaustive", 7.0, range=["0x00000000", "0x100000000"])
    document["measurements"].append(sweep)
    cell = next(c for c in model.verdict_matrix(document)["rows"][0]["cells"] if c)
    assert cell["source"] == "sweep"
    assert model.describe(nan) == "nan-not-propagated (tail, one-element)"
    (finding,) = model.worst_findings(document)  # a wrong class before any ulp figure
    assert finding["detail"] == "NaN: nan-not-propagated (in the tail and one-element)"
    document["special_values"] = []
    (finding,) = model.worst_findings(document)
    assert finding["detail"] == "7 ulp (from the sweep inputs)"


def test_the_compiled_section_names_the_implementations_it_does_not_compare():
    """Eager against compiled: a compiled variant and its eager counterpart are compared;
    every other implementation of the run is named as having no compiled variant."""
    ids = ["numpy/reference", "torch/functional", "torch/compile", "mlx/nn", "mine:selu"]
    document = {
        "implementations": [{"id": i, "available": True} for i in ids],
        "checks": [{"impl": "torch/compile", "check": "eager-vs-compiled"}],
    }
    assert model.without_compiled_variant(document) == ["numpy/reference", "mlx/nn", "mine:selu"]
    document["checks"] = []
    assert model.without_compiled_variant(document) == ids


def test_the_self_normalisation_section_names_the_frameworks_without_a_suite():
    document = {
        "implementations": [
            {"id": i, "available": True}
            for i in ("numpy/reference", "torch/functional", "onnxruntime/selu", "mine:selu")
        ]
    }
    assert model.without_self_normalization(document) == ["numpy", "onnxruntime"]


def test_the_speed_section_names_the_implementations_without_asv_results():
    ids = ("numpy/reference", "paddle/functional", "mine:selu")
    document = {"implementations": [{"id": i, "available": True} for i in ids]}
    assert model.untimed(document, ["numpy/reference"]) == [
        {"impl": "paddle/functional", "environment": "paddle-3.3"},
        {"impl": "mine:selu", "environment": None},
    ]


def test_the_speed_section_shows_the_bandwidth_fraction_and_the_noisy_cases(runs, tmp_path):
    from test_speed import _asv_results  # asv's own Results: one noisy case, one steady

    before, _ = runs
    html, markdown = render(Inputs(results=[before], asv=_asv_results(tmp_path), machine="m"))
    assert "as a fraction of this machine's memory bandwidth (10 GB/s" in html
    assert '200 µs ±20% <span class="noisy">noisy</span>' in html
    assert "0.05 · 0.03</span>" in html and "0.50 · 0.50</span>" in html  # scale · memory
    assert "too noisy to gate</span>: 1 of 2 here" in html
    assert "Fraction of the memory bandwidth (10 GB/s, `bench_bandwidth`), float32:" in markdown
    assert "| numpy/reference | 0.03 noisy | 0.50 |" in markdown
    assert "Too noisy to gate (spread over 15 %): 1 of 2 cases." in markdown
