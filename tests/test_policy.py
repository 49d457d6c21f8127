"""The policy file: loading, errors that name the file and line, and the verdict logic."""

import textwrap

import pytest

from conformance import policy as policy_module
from conformance.measure import Figure
from conformance.policy import PolicyError

PROFILES = """
[profiles.strict]
max_ulp = { float16 = 1.0, bfloat16 = 1.0, float32 = 2.0, float64 = 2.0 }
[profiles.flush-to-zero]
max_ulp = { float16 = 1.0, bfloat16 = 1.0, float32 = 2.0, float64 = 2.0 }
allow = ["flush-to-zero"]
"""

DEVIATION = """
[[deviation]]
impl = "torch/functional"
versions = ">=2.13,<2.14"
dtypes = ["float64"]
quantities = ["forward"]
checks = ["accuracy"]
max_ulp = 3.0
kinds = ["flush-to-zero"]
cause = "a cause"
issue = "https://example.org/1"
"""


def write(tmp_path, text):
    path = tmp_path / "policy.toml"
    path.write_text(textwrap.dedent(text))
    return path


def judge(
    policy,
    *,
    version="2.13.0+cpu",
    dtype="float64",
    quantity="forward",
    check="accuracy",
    max_ulp=0.5,
    kinds=(),
    without_violations=None,
    bound=2.0,
    profile="strict",
    case=None,
):
    # Every violation's inputs at the largest error, unless the rest is given apart.
    rest = max_ulp if without_violations is None else without_violations
    return policy.judge(
        policy.profile(profile),
        impl="torch/functional",
        version=version,
        device="cpu",
        dtype=dtype,
        quantity=quantity,
        check=check,
        figure=Figure(max_ulp, dict.fromkeys(kinds, max_ulp), rest),
        bound=bound,
        case=case,
    )


def test_the_suites_policy_loads_and_has_strict_as_default():
    policy = policy_module.load()
    strict = policy.profile(None)
    assert strict.name == "strict"
    assert strict.bound("float16") == 1.0 and strict.bound("float64") == 2.0
    assert not strict.allow


def test_verdicts(tmp_path):
    policy = policy_module.load(write(tmp_path, PROFILES + DEVIATION))
    assert judge(policy).verdict == "pass"
    assert judge(policy, max_ulp=2.5).verdict == "known-deviation"
    assert judge(policy, max_ulp=2.5, kinds=["flush-to-zero"]).verdict == "known-deviation"
    worse = judge(policy, max_ulp=3.5)
    assert worse.verdict == "fail" and "worse than the deviation recorded" in worse.note
    assert judge(policy, max_ulp=2.5, kinds=["signed-zero"]).verdict == "fail"
    # Outside the deviation's keys it does not apply.
    assert judge(policy, max_ulp=2.5, version="2.14.0").verdict == "fail"
    assert judge(policy, max_ulp=2.5, dtype="float32").verdict == "fail"
    assert judge(policy, max_ulp=2.5, quantity="gradient").verdict == "fail"
    assert judge(policy, max_ulp=2.5, check="layout", bound=0).verdict == "fail"
    # A passing finding that a deviation covers: stale, reported so the entry can go.
    stale = judge(policy, max_ulp=1.0)
    assert stale.verdict == "pass" and "no longer observed" in stale.note
    # The flush-to-zero profile accepts that kind without a deviation.
    assert judge(policy, dtype="float32", kinds=["flush-to-zero"]).verdict == "fail"
    assert (
        judge(policy, dtype="float32", kinds=["flush-to-zero"], profile="flush-to-zero").verdict
        == "pass"
    )
    # A flushed subnormal counts in the figure (here 2^22 ulp): the profile that allows
    # flushing judges the other inputs, strict judges them all.
    flushed = {"max_ulp": 2.0**22, "kinds": ["flush-to-zero"], "without_violations": 0.5}
    assert judge(policy, dtype="float32", profile="flush-to-zero", **flushed).verdict == "pass"
    assert judge(policy, dtype="float32", **flushed).verdict == "fail"
    rest_too_large = {**flushed, "without_violations": 3.0}
    assert judge(policy, dtype="float32", profile="flush-to-zero", **rest_too_large).verdict == (
        "fail"
    )


@pytest.mark.parametrize(
    "text,needle,line",
    [
        (
            PROFILES + "[[deviation]]\nimpl = 'nope/nope'\nversions='>1'\nchecks=['accuracy']\n"
            "cause='x'\n",
            "unknown impl",
            8,
        ),
        (
            PROFILES + DEVIATION.replace('versions = ">=2.13,<2.14"', 'versions = "2.13 or so"'),
            "not a PEP 440 range",
            10,
        ),
        (
            PROFILES + DEVIATION.replace('checks = ["accuracy"]', 'checks = ["speed"]'),
            "unknown checks",
            13,
        ),
        (PROFILES + DEVIATION.replace('cause = "a cause"', 'colour = "red"'), "unknown key", 16),
        (
            PROFILES + DEVIATION.replace('kinds = ["flush-to-zero"]', 'kinds = ["gremlins"]'),
            "unknown kinds",
            15,
        ),
        (PROFILES.replace(", float64 = 2.0 }", " }", 1), "a bound for each", 2),
        (
            "[profiles.lenient]\n"
            "max_ulp = { float16 = 1, bfloat16 = 1, float32 = 1, float64 = 1 }\n",
            "the default profile is required",
            None,
        ),
        (PROFILES + "[[deviation]\n", "", 7),
    ],
)
def test_errors_name_the_file_and_line(tmp_path, text, needle, line):
    path = write(tmp_path, text)
    with pytest.raises(PolicyError) as raised:
        policy_module.load(path)
    message = str(raised.value)
    assert message.startswith(str(path))
    assert needle in message
    if line is not None:
        assert f"{path}:{line}:" in message or f"line {line}" in message, message
    assert "\n" not in message.strip()


def test_unknown_profile_and_missing_file(tmp_path):
    policy = policy_module.load(write(tmp_path, PROFILES))
    with pytest.raises(PolicyError, match="unknown profile 'lax'"):
        policy.profile("lax")
    with pytest.raises(PolicyError, match="cannot read"):
        policy_module.load(tmp_path / "absent.toml")


def test_impl_lists_and_bounds_per_dtype(tmp_path):
    text = PROFILES + DEVIATION.replace(
        'impl = "torch/functional"', 'impl = ["torch/module", "torch/functional"]'
    ).replace('dtypes = ["float64"]', 'dtypes = ["float32", "float64"]').replace(
        "max_ulp = 3.0", "max_ulp = { float32 = 2.5, float64 = 4.0 }"
    )
    policy = policy_module.load(write(tmp_path, text))
    assert judge(policy, dtype="float64", max_ulp=3.5).verdict == "known-deviation"
    assert judge(policy, dtype="float32", max_ulp=3.5).verdict == "fail"
    assert judge(policy, dtype="float32", max_ulp=2.4).verdict == "known-deviation"


def test_every_recorded_deviation_of_the_suite_says_why():
    policy = policy_module.load()
    assert policy.deviations
    for deviation in policy.deviations:
        assert len(deviation.cause) > 40, deviation.line
        assert deviation.issue == "" or deviation.issue.startswith("https://github.com/")
        assert deviation.max_ulp is not None or deviation.kinds, deviation.line


def test_a_deviation_is_stale_only_when_no_record_of_the_run_needs_it():
    """The sampled inputs pass where the corpus needs the deviation: it is not stale."""
    from conformance import results

    note = "recorded deviation no longer observed: policy.toml line 60 can go"

    def records():
        sampled = {"verdict": "pass", "note": note, "stale_deviation": 60}
        corpus = {"verdict": "known-deviation", "deviation": {"line": 60}}
        return sampled, corpus

    sampled, corpus = records()
    assert results.prune_stale([sampled, corpus]) == []
    assert "note" not in sampled and "stale_deviation" not in sampled
    sampled, _ = records()
    assert results.prune_stale([sampled]) == [note] and sampled["note"] == note


def test_the_dtype_check_is_judged_by_the_policy(tmp_path):
    """A silently wrong dtype fails unless a deviation of check "dtype" records it."""
    plain = policy_module.load(write(tmp_path, PROFILES))
    wrong = {"dtype": "all", "check": "dtype", "max_ulp": 0.0, "kinds": ("wrong-dtype",)}
    assert judge(plain, bound=0.0, **wrong).verdict == "fail"
    assert judge(plain, dtype="all", check="dtype", max_ulp=0.0, bound=0.0).verdict == "pass"
    recorded = DEVIATION.replace('checks = ["accuracy"]', 'checks = ["dtype"]').replace(
        'kinds = ["flush-to-zero"]', 'kinds = ["wrong-dtype"]'
    )
    policy = policy_module.load(write(tmp_path, PROFILES + recorded))
    assert judge(policy, bound=0.0, **wrong).verdict == "known-deviation"
