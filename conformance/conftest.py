"""pytest options and the session-wide runner of the conformance gate.

pytest conformance [--impl ID ...] [--dtype D ...] [--device cpu|cuda ...]
                   [--profile NAME] [--policy FILE] [--json PATH] [--jobs N]
pytest conformance -m torch          one framework (markers: numpy, torch, tensorflow,
                                     jax, onnxruntime, keras)
"""

from __future__ import annotations

import os

import pytest

from conformance import destinations, results
from conformance import policy as policy_module
from conformance.frameworks.base import GatePart
from conformance.io import CACHE_DIR
from conformance.registry import ALL_DTYPES, FRAMEWORKS


def pytest_addoption(parser):
    group = parser.getgroup("conformance", "SELU conformance gate")
    group.addoption(
        "--impl",
        action="append",
        default=[],
        metavar="ID",
        help="implementation id to check (repeatable; default: all)",
    )
    group.addoption(
        "--dtype",
        action="append",
        default=[],
        choices=ALL_DTYPES,
        help="dtype to check (repeatable; default: all)",
    )
    group.addoption(
        "--device",
        action="append",
        default=[],
        metavar="DEVICE",
        help="device: cpu, cuda (repeatable; default: cpu)",
    )
    group.addoption(
        "--part",
        default=None,
        choices=[p.value for p in GatePart],
        help="only the implementations of this part of the gate: main (make gate), more "
        "(make gate-more); default: every implementation",
    )
    group.addoption("--profile", default=None, help="tolerance profile (default: strict)")
    group.addoption("--policy", default=None, help="policy TOML (default: the suite's own)")
    group.addoption("--json", default=None, metavar="PATH", help="write results.json here")
    group.addoption(
        "--jobs",
        type=int,
        default=min(2, os.cpu_count() or 1),
        help="framework groups checked in parallel",
    )
    group.addoption(
        "--call-timeout",
        type=float,
        default=120.0,
        help="seconds one call may take before it counts as a hang",
    )


def pytest_configure(config):
    for framework in FRAMEWORKS:
        config.addinivalue_line("markers", f"{framework}: implementations of {framework}")
    # Where the results go, checked before any implementation runs.
    try:
        if config.getoption("--json", None):
            destinations.file(config.getoption("--json"), "--json")
        destinations.folder(CACHE_DIR / "reference", "the cache folder (CONFORMANCE_CACHE)")
    except destinations.DestinationError as error:
        pytest.exit(f"conformance: {error}", returncode=2)


@pytest.fixture(scope="session")
def gate(request):
    """The runner, with every selected implementation scheduled at first use."""
    from conformance.runner import Runner

    config = request.config
    try:
        policy = policy_module.load(config.getoption("--policy"))
        profile = policy.profile(config.getoption("--profile"))
    except policy_module.PolicyError as error:
        pytest.exit(f"conformance: {error}", returncode=2)
    cases = config._conformance_cases
    runner = Runner(
        policy,
        profile,
        timeout=config.getoption("--call-timeout"),
        jobs=config.getoption("--jobs"),
        dtypes=config.getoption("--dtype") or None,
        placement=config._conformance_placement,
    )
    pairs = list(dict.fromkeys((case.spec, case.device) for case in cases if not case.skip))
    runner.submit(pairs)
    yield runner
    runner.close()  # after the last test every outcome is in; earlier (-x, ^C) it stops them
    findings = []
    for spec, device in pairs:
        if runner.done(spec.id, device):
            findings += runner.outcome(spec.id, device).findings
    config._conformance_findings = findings
    config._conformance_run = (
        runner.versions,
        profile.name,
        policy.path,
        {case.spec.id: case.skip for case in cases if case.skip},
    )


def pytest_sessionfinish(session):
    """results.json (--json) of the gate's findings and the self-normalisation checks
    (conformance/test_self_normalization.py), whichever of them ran."""
    config = session.config
    path = config.getoption("--json", None)
    gate = getattr(config, "_conformance_run", None)
    selfnorm = getattr(config, "_selfnorm_run", None)
    if not path or (gate is None and selfnorm is None):
        return
    versions, profile, policy_path, skipped = gate or ({}, None, None, {})
    findings = getattr(config, "_conformance_findings", [])
    document = results.build(findings, versions, profile, policy_path, skipped, selfnorm)
    results.write(document, path)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    run = getattr(config, "_selfnorm_run", None)
    if run is not None:
        known = [c for c in run.checks if c["verdict"] == "known-deviation"]
        if known:
            terminalreporter.section("self-normalisation: known deviations (recorded)")
            for check in known:
                terminalreporter.line(f"{check['framework']} {check['check']}: {check['detail']}")
        for check in run.checks:
            if "stale_deviation" in check:
                terminalreporter.line(
                    f"NOTE {check['framework']} {check['check']}: {check['note']}"
                )
    findings = getattr(config, "_conformance_findings", None)
    if not findings:
        return
    known = [f for f in findings if f.verdict == "known-deviation"]
    stale = results.prune_stale([r for group in results.flatten(findings) for r in group])
    if known:
        terminalreporter.section("known deviations (recorded in the policy)")
        for finding in known:
            terminalreporter.line(finding.message.splitlines()[0])
    for note in stale:
        terminalreporter.line(f"NOTE {note}")
    if config.getoption("--json"):
        terminalreporter.line(f"results: {config.getoption('--json')}")
