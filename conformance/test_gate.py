"""The conformance gate: one test per implementation, device, dtype, quantity and check.

Test ids read `tensorflow/nn-float32-forward-sampled`: implementation, device (when not
cpu), dtype, quantity, and the check (an input set's name for accuracy: exhaustive,
sampled or corpus; special, layout, threads, eager-vs-compiled; dtype once per
implementation). Each
test is a thin assertion over the engine's finding: it fails with the finding's message,
which names the input in hex, the output, the expected value, the ulps and a reproducer.
Missing frameworks and devices are skipped with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from conformance.checks import plan
from conformance.engine import Target
from conformance.findings import finding_id
from conformance.placement import PlacementError
from conformance.placement import parse as parse_placement
from conformance.registry import SPECS, Spec, lookup


@dataclass(frozen=True)
class Case:
    spec: Spec
    device: str
    dtype: str
    quantity: str | None
    check: str  # the last part of the id: an input set's name for accuracy
    skip: str | None

    @property
    def id(self) -> str:
        return finding_id(self.spec.id, self.device, self.dtype, self.quantity, self.check)


def _cases(config) -> list[Case]:
    """The engine's plan (`checks.plan`) of every selected implementation and device."""
    wanted = config.getoption("--impl")
    for impl_id in wanted:
        try:
            lookup(impl_id)
        except ValueError as error:
            raise pytest.UsageError(str(error)) from None
    part = config.getoption("--part")
    specs = [s for s in SPECS if (not wanted or s.id in wanted) and part in (None, s.gate)]
    dtypes = config.getoption("--dtype") or None
    devices = config.getoption("--device") or ["cpu"]
    try:  # adapters with an environment of their own run there (`placement.py`)
        placement = parse_placement([], [])
    except PlacementError as error:
        raise pytest.UsageError(str(error)) from None
    config._conformance_placement = placement
    cases = []
    for spec in specs:
        skip = placement.unavailable(spec)
        for device in devices:
            cases += [
                Case(spec, device, p.dtype, p.quantity, p.part, skip)
                for p in plan(Target.of(spec, placement.python(spec)), device, dtypes)
            ]
    return cases


def pytest_generate_tests(metafunc):
    if "case" not in metafunc.fixturenames:
        return
    cases = _cases(metafunc.config)
    metafunc.config._conformance_cases = cases
    params = []
    for case in cases:
        marks = [getattr(pytest.mark, case.spec.framework)]
        if case.skip:
            marks.append(pytest.mark.skip(reason=f"{case.spec.id}: {case.skip}"))
        params.append(pytest.param(case, id=case.id, marks=marks))
    metafunc.parametrize("case", params)


def test_conformance(case: Case, gate):
    outcome = gate.outcome(case.spec.id, case.device)
    if outcome.skipped:
        pytest.skip(outcome.skipped)
    by_id = {f.finding_id: f for f in outcome.findings}
    finding = by_id.get(case.id)
    if finding is None:
        # The implementation did not load: every one of its tests carries that failure.
        failures = [f for f in outcome.findings if f.verdict == "fail"]
        assert failures, f"{case.id}: no finding was produced"
        pytest.fail(failures[0].message, pytrace=False)
    if finding.verdict == "fail":
        pytest.fail(finding.message, pytrace=False)
    assert finding.verdict in ("pass", "known-deviation")
