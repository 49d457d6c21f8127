"""The machinery of the self-normalisation checks (conformance.selfnorm) without a
framework: the bounds, the judging of stacks, initialiser samples and AlphaDropout
measurements, the saturation probe (on AlphaDropout's formula written in numpy), and the
configuration file's errors. The frameworks themselves are measured in the gate
(conformance/test_self_normalization.py)."""

import math

import numpy as np
import pytest

from conformance.frameworks.base import SelfNormCheck as Check
from conformance.selfnorm import CONFIG_PATH, judge, load_config, probes
from conformance.selfnorm.bounds import stack_bounds
from conformance.selfnorm.suites import Suite, all_suites
from reference import derive

CONFIG = load_config()
S = CONFIG["stack"]
BOUNDS = stack_bounds(S["depth"], S["width"], S["batch"], S["z"])
LAM_ALPHA_64 = float(derive(120).lam_alpha)  # correctly rounded: mpf → float


def test_bounds_come_from_the_moments_and_the_batch():
    assert BOUNDS.mean == pytest.approx(S["z"] / math.sqrt(S["batch"]))
    # E[selu(Z)^4] = 2.50314…: the variance of a squared draw is 1.50314…
    assert BOUNDS.variance == pytest.approx(S["z"] * math.sqrt(1.5031404506) / 32, rel=1e-9)
    # E[selu'(Z)^2] = 1.0715749924…, over 64 layers: the norm grows by χ^32 ≈ 9.1
    assert BOUNDS.gradient_factor == pytest.approx(1.0715749924557993**32, rel=1e-12)
    assert 1 < BOUNDS.gradient_spread < 100


def _stack(means=None, variances=None, factor=None, contrast=False):
    depth = S["depth"]
    norms = [1.0] * (depth + 1)
    norms[0] = BOUNDS.gradient_factor if factor is None else factor
    stack = {
        "activation": "selu",
        "inputs": "standardised",
        "contrast": contrast,
        "means": means or [0.0] * depth,
        "variances": variances or [1.0] * depth,
        "grad_norms": norms,
    }
    return judge._stack_record("torch", stack, {"call": "init"}, CONFIG)


def test_a_stack_within_the_bounds_passes_and_its_contrast_fails():
    record = _stack()
    assert record["ok"] and record["verdict"] == "pass" and record["violation"] is None
    contrast = _stack(contrast=True)  # a contrast that stays within: the check cannot fail
    assert contrast["ok"] and contrast["verdict"] == "fail"


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"means": [0.0] * 4 + [0.2] + [0.0] * 59}, "layer 5: mean +0.2"),
        ({"variances": [1.0] * 63 + [0.7]}, "layer 64: variance 0.7"),
        ({"variances": [1.0] * 10 + [math.nan] + [1.0] * 53}, "layer 11: variance nan"),
        ({"factor": 1e-9}, "input-gradient norm factor 1e-09"),
        ({"factor": 1e4}, "input-gradient norm factor 1e+04"),
    ],
)
def test_a_stack_beyond_the_bounds_names_where(change, words):
    record = _stack(**change)
    assert not record["ok"] and record["verdict"] == "fail"
    assert words in record["violation"]
    contrast = _stack(contrast=True, **change)
    assert not contrast["ok"] and contrast["verdict"] == "pass"


def _truncated_normal(n, shape, corrected, seed=0):
    rng = np.random.default_rng(seed)
    stddev = math.sqrt(1 / n) / (0.87962566103423978 if corrected else 1)
    w = rng.standard_normal(shape)
    while (outside := np.abs(w) > 2).any():  # resample beyond two standard deviations
        w[outside] = rng.standard_normal(outside.sum())
    return w * stddev


@pytest.mark.parametrize(
    ("sample", "ok"),
    [
        (np.random.default_rng(1).standard_normal((512, 512)) / math.sqrt(512), True),
        (_truncated_normal(512, (512, 512), corrected=True), True),
        # Keras's truncated normal without its scale correction: variance 0.774/fan_in
        (_truncated_normal(512, (512, 512), corrected=False), False),
        (np.random.default_rng(1).uniform(-1, 1, (512, 512)) / math.sqrt(512), False),
    ],
)
def test_the_initialiser_check(sample, ok):
    measured = {"call": "numpy", **probes.initializer_sample(sample)}
    check = judge._initializer_check("numpy", measured, CONFIG)
    assert check["ok"] is ok, check["detail"]


def _numpy_alpha_dropout(alpha_p: float):
    """AlphaDropout as Keras writes it (keras/src/layers/regularization/alpha_dropout.py),
    in numpy, with the saturation value alpha_p."""

    def dropout(x, rate, seed):
        t = x.dtype.type
        kept = (np.random.default_rng(seed).random(x.shape) >= rate).astype(x.dtype)
        a = ((1 - rate) * (1 + rate * alpha_p**2)) ** -0.5
        b = -a * alpha_p * rate
        return t(a) * (x * kept + t(alpha_p) * (1 - kept)) + t(b)

    return dropout


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_saturation_probe_reads_the_constant_to_the_ulp(dtype):
    t = np.dtype(dtype).type
    right = float(t(-LAM_ALPHA_64))
    found = probes.saturation(_numpy_alpha_dropout(right), dtype)
    assert found["resolved"] and found["observed"] == found["expected"] == right.hex()
    wrong = float(np.nextafter(t(right), t(0)))  # one ulp towards zero
    found = probes.saturation(_numpy_alpha_dropout(wrong), dtype)
    assert found["resolved"] and found["observed"] == wrong.hex() != found["expected"]
    far = float(t(right) * t(1.001))  # outside the window of ±2 ulps
    found = probes.saturation(_numpy_alpha_dropout(far), dtype)
    assert found["observed"] is None


def test_a_recorded_saturation_deviation_is_known_and_a_fixed_one_is_stale():
    off = float(np.nextafter(-LAM_ALPHA_64, 0))
    config = {
        "deviation": [
            {
                "framework": "torch",
                "check": "alpha-dropout-saturation",
                "dtypes": ["float64"],
                "versions": ">=2.13,<2.14",
                "observed": off.hex(),
                "cause": "a literal",
            }
        ]
    }
    measured = {"dtype": "float64", "expected": (-LAM_ALPHA_64).hex(), "detail": ""}
    seen = judge._saturation_check(
        "torch", {**measured, "observed": off.hex()}, "2.13.0+cpu", config
    )
    assert seen["verdict"] == "known-deviation" and seen["cause"] == "a literal"
    other = judge._saturation_check("torch", {**measured, "observed": off.hex()}, "2.14.0", config)
    assert other["verdict"] == "fail"  # a version the entry does not cover
    worse = float(np.nextafter(off, 0))
    worse = judge._saturation_check(
        "torch", {**measured, "observed": worse.hex()}, "2.13.0", config
    )
    assert worse["verdict"] == "fail"  # not what was recorded
    fixed = judge._saturation_check(
        "torch", {**measured, "observed": (-LAM_ALPHA_64).hex()}, "2.13.0", config
    )
    assert fixed["verdict"] == "pass" and "no longer observed" in fixed["note"]
    assert fixed["stale_deviation"] == 0  # the entry's line, a field: not read from the note
    assert "stale_deviation" not in seen


@pytest.mark.parametrize(("scale", "ok"), [(True, True), (False, False)])
def test_the_dropout_moments_check(scale, ok):
    right = _numpy_alpha_dropout(-LAM_ALPHA_64)

    def plain_dropout(x, rate, seed):  # zeros and 1/(1-p): keeps the mean, not the variance
        kept = np.random.default_rng(seed).random(x.shape) >= rate
        return np.where(kept, x / (1 - rate), 0).astype(x.dtype)

    dropout = right if scale else plain_dropout
    a = CONFIG["alpha_dropout"]
    measured = {
        "version": "1",
        "alpha_dropout": {
            "moments": [probes.dropout_moments(dropout, r, a["samples"], 0) for r in a["rates"]],
            "saturation": [],
        },
    }
    run = judge.Run()
    judge._judge("numpy", measured, CONFIG, run)
    assert [c["ok"] for c in run.checks] == [ok] * len(a["rates"]), [
        c["detail"] for c in run.checks
    ]


def test_config_errors_name_the_file_and_line(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[stack]\ndepth = 64\nwidth = = 3\n")
    with pytest.raises(judge.SelfNormError, match=r"bad\.toml: .*line 3"):
        load_config(bad)
    missing = tmp_path / "missing.toml"
    missing.write_text("[stack]\ndepth = 64\n")
    with pytest.raises(judge.SelfNormError, match=r"missing\.toml:1: \[stack\] needs width"):
        load_config(missing)
    text = CONFIG_PATH.read_text()
    versions = tmp_path / "versions.toml"
    versions.write_text(text.replace('versions = ">=2.13,<2.14"', 'versions = "2.13 or so"', 1))
    line = text.splitlines().index('versions = ">=2.13,<2.14"') + 1 - 4  # its [[deviation]]
    with pytest.raises(judge.SelfNormError, match=rf"versions\.toml:{line}: bad versions"):
        load_config(versions)
    with pytest.raises(judge.SelfNormError, match="No such file"):
        load_config(tmp_path / "absent.toml")


def _suites(*suites):
    return lambda frameworks: [s for s in suites if s.group in frameworks]


def test_a_suite_that_fails_is_a_reported_failure(monkeypatch):
    """A suite whose worker task fails (here: a module without the stack's hook) is a
    failed `run` check with the failure's kind and reason, and the other suites go on."""
    broken = Suite("broken", "numpy", "numpy", "numpy_impl", (Check.STACK,), ("numpy",))
    monkeypatch.setattr(judge, "suites", _suites(broken))
    run = judge.run(["numpy"], CONFIG, timeout=120)
    assert [c["check"] for c in run.checks] == ["run"]
    assert run.checks[0]["verdict"] == "fail"
    assert run.checks[0]["detail"].startswith("error: AttributeError")
    assert "dense_stack" in run.checks[0]["detail"]


def test_the_report_shows_the_stacks_and_the_checks(tmp_path):
    """results.json's self_normalization lists reach the report: the per-layer plot, a row
    per stack, and the checks that are not a plain pass in report.md."""
    from conformance import results
    from conformance.report import Inputs, render

    run = judge.Run()
    run.records += [_stack(), _stack(contrast=True, means=[0.4] + [0.0] * 63)]
    off = float(np.nextafter(-LAM_ALPHA_64, 0)).hex()
    run.checks.append(
        judge._saturation_check(
            "torch",
            {"dtype": "float64", "expected": (-LAM_ALPHA_64).hex(), "observed": off, "detail": "d"},
            "2.13.0",
            CONFIG,
        )
    )
    document = results.build([], {}, "strict", CONFIG_PATH, {}, run)
    assert document["summary"]["counts"] == {"pass": 2, "known-deviation": 1, "fail": 0}
    path = results.write(document, tmp_path / "results.json")
    html, markdown = render(Inputs(results=[path]))
    assert 'id="plot-self-normalization"' in html and "<svg" in html
    assert html.count("(contrast: must leave the bounds)") == 1
    assert "layer 1: mean +0.4 beyond" in markdown
    assert "≈ known deviation" in markdown.split("### Self-normalisation")[1]


def test_a_suite_whose_framework_is_missing_is_left_out_with_the_reason(monkeypatch):
    absent = Suite("absent-suite", "absent", "absent", "absent_impl", (Check.STACK,), ("nope",))
    monkeypatch.setattr(judge, "suites", _suites(absent))
    run = judge.run(["absent"], CONFIG, timeout=120)
    assert run.checks == [] and run.records == []
    assert run.skipped == {"absent-suite": "nope is not installed"}


def test_the_suites_come_from_the_adapters_in_the_gate_order():
    """Each framework's own suite, then Keras's on it; the groups in the registry's order."""
    names = [(s.group, s.name, s.marker) for s in all_suites()]
    assert names == [
        ("torch", "torch", "torch"),
        ("torch", "keras-torch", "keras"),
        ("tensorflow", "tensorflow", "tensorflow"),
        ("tensorflow", "keras-tensorflow", "keras"),
        ("jax", "jax", "jax"),
        ("jax", "keras-jax", "keras"),
        ("mlx", "mlx", "mlx"),
    ]
