"""Self-normalisation in the gate: one test per framework and check (conformance.selfnorm).

Test ids read `selfnorm-torch-stack-selu-standardised`, `selfnorm-torch-stack-relu-
standardised-contrast` (a contrast passes when it leaves the bounds: the check can fail),
`selfnorm-tensorflow-lecun-normal`, `selfnorm-keras-jax-keras-idiom`,
`selfnorm-torch-alpha-dropout-saturation-float64`, …. The measurements run once per
session, a child process per framework; a missing framework is skipped with the reason.
"""

from __future__ import annotations

import pytest

from conformance import selfnorm
from conformance.frameworks.base import SelfNormCheck as Check
from conformance.selfnorm.child import STACKS
from conformance.selfnorm.judge import missing_package
from conformance.selfnorm.suites import suites

#: The dtypes of the AlphaDropout saturation value (`probes.saturation`).
SATURATION_DTYPES = ("float32", "float64")


def _frameworks(config) -> list[str]:
    """Every group of suites, or those of the implementations chosen with --impl."""
    wanted = {impl.split("/")[0] for impl in config.getoption("--impl")}
    return [g for g in selfnorm.groups() if not wanted or g in wanted]


def _variants(kind: str):
    if kind == Check.STACK:
        return [
            (
                f"{a}-{'standardised' if i == 'standardised' else 'unstandardised'}"
                + ("-contrast" if contrast else ""),
                (a, i),
            )
            for a, i, contrast in STACKS
        ]
    if kind == Check.ALPHA_DROPOUT_SATURATION:
        return [(d, d) for d in SATURATION_DTYPES]
    return [("", None)]


def _cases(frameworks):
    for suite in suites(frameworks):
        missing = missing_package(suite)
        for kind in suite.checks:
            for suffix, key in _variants(kind):
                case_id = "-".join(p for p in ("selfnorm", suite.name, kind, suffix) if p)
                marks = [getattr(pytest.mark, suite.marker)]
                if missing:
                    marks.append(pytest.mark.skip(reason=f"{suite.name}: {missing}"))
                yield pytest.param(suite.group, suite.name, kind, key, id=case_id, marks=marks)


@pytest.fixture(scope="session")
def self_normalization(request):
    """Every available framework's measurements, judged, kept for results.json."""
    try:  # children whose framework is missing are left out (their tests skip)
        run = selfnorm.run(_frameworks(request.config))
    except selfnorm.SelfNormError as error:
        pytest.exit(f"conformance: {error}", returncode=2)
    request.config._selfnorm_run = run
    return run


def pytest_generate_tests(metafunc):
    if "kind" in metafunc.fixturenames:
        cases = list(_cases(_frameworks(metafunc.config)))
        metafunc.parametrize(("framework", "child", "kind", "key"), cases)


def test_self_normalization(self_normalization, framework, child, kind, key):
    run = self_normalization
    failed = [c for c in run.checks if c["framework"] == child and c["check"] == "run"]
    if failed:
        pytest.fail(f"{child}: the measurement did not finish: {failed[0]['detail']}")
    if kind == Check.STACK:
        found = [
            r
            for r in run.records
            if r["framework"] == child and (r["activation"], r["inputs"]) == key
        ]
    else:
        found = [
            c
            for c in run.checks
            if c["framework"] == child and c["check"] == kind and (key is None or c["dtype"] == key)
        ]
    assert found, f"{child}: no {kind} {key or ''} measured"
    bad = [r for r in found if r["verdict"] == "fail"]
    assert not bad, "\n".join(_message(r) for r in bad)


def _message(record: dict) -> str:
    if "activation" in record:
        what = (
            f"{record['framework']}: {record['depth']} × {record['width']} dense layers, "
            f"{record['activation']}, {record['initializer_call']}, {record['inputs']} inputs"
        )
        if record["contrast"]:
            return f"{what}: a contrast that stayed within the bounds (the check cannot fail)"
        return f"{what}: {record['violation']}"
    return f"{record['framework']} {record['check']}: {record['detail']}"
