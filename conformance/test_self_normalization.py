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
from conformance.selfnorm.child import STACKS
from conformance.selfnorm.judge import CHILDREN, missing_package

KINDS = {
    "torch": ("stack", "lecun-normal", "alpha-dropout-moments", "alpha-dropout-saturation"),
    "tensorflow": ("stack", "lecun-normal"),
    "jax": ("stack", "lecun-normal"),
    "keras-torch": ("keras-idiom",),
    "keras-jax": ("keras-idiom",),
    "keras-tensorflow": (
        "keras-idiom",
        "alpha-dropout-moments",
        "alpha-dropout-saturation",
    ),
}
MARKS = {"keras-tensorflow": "keras", "keras-jax": "keras", "keras-torch": "keras"}


def _frameworks(config) -> list[str]:
    """Every framework, or those of the implementations chosen with --impl."""
    wanted = {impl.split("/")[0] for impl in config.getoption("--impl")}
    return [f for f in selfnorm.FRAMEWORKS if not wanted or f in wanted]


def _cases(frameworks):
    for framework in frameworks:
        for child in CHILDREN[framework]:
            missing = missing_package(child)
            for kind in KINDS[child]:
                if kind == "stack":
                    variants = [
                        (
                            f"{a}-{'standardised' if i == 'standardised' else 'unstandardised'}"
                            + ("-contrast" if contrast else ""),
                            (a, i),
                        )
                        for a, i, contrast in STACKS
                    ]
                elif kind == "alpha-dropout-saturation":
                    variants = [(d, d) for d in ("float32", "float64")]
                else:
                    variants = [("", None)]
                for suffix, key in variants:
                    case_id = "-".join(p for p in ("selfnorm", child, kind, suffix) if p)
                    marks = [getattr(pytest.mark, MARKS.get(child, framework))]
                    if missing:
                        marks.append(pytest.mark.skip(reason=f"{child}: {missing}"))
                    yield pytest.param(framework, child, kind, key, id=case_id, marks=marks)


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
    if kind == "stack":
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
