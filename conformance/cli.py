"""python -m conformance list | run | check | sweep | env | matrix | report

`sweep` lives in sweep/command.py, `env` in environments/command.py, `matrix` in
matrix/command.py.

Exit status: 0 conformant (or only recorded known deviations), 1 a violation or a
regression, 2 a usage or configuration error (one line on stderr, never a traceback).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from . import destinations, results, selfnorm
from . import policy as policy_module
from .corpus import CorpusError
from .engine import Engine, Target
from .frameworks.user_impl import parse as parse_user_spec
from .io import CACHE_DIR
from .placement import Placement, PlacementError
from .placement import add_arguments as add_placement_arguments
from .placement import parse as parse_placement
from .process.worker import Failure, Worker, WorkerError
from .registry import ALL_DTYPES, BY_ID, SPECS, lookup
from .runner import Runner

DEFAULT_JSON = Path("results") / "results.json"


class UsageError(Exception):
    """Bad input: reported in one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m conformance",
        description="SELU conformance: implementations against the ground truth",
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("list", help="every implementation, available or not, and why not")
    p.add_argument(
        "--no-probe",
        action="store_true",
        help="do not start the frameworks to ask for their devices",
    )
    p.set_defaults(run=cmd_list)

    def common(p, impl_help):
        p.add_argument("--impl", action="append", default=[], help=impl_help)
        p.add_argument("--dtype", action="append", choices=ALL_DTYPES, default=[])
        p.add_argument("--profile", default=None, help="tolerance profile (default: strict)")
        p.add_argument("--policy", default=None, help="policy TOML (default: the suite's own)")
        p.add_argument("--json", default=None, help=f"results file (default: {DEFAULT_JSON})")
        p.add_argument(
            "--timeout",
            type=float,
            default=120.0,
            help="seconds one call may take before it counts as a hang",
        )
        p.add_argument("-v", "--verbose", action="store_true", help="print passing checks too")
        add_placement_arguments(p)

    p = sub.add_parser("run", help="the gate over the built-in implementations")
    common(p, "implementation id (repeatable; default: every available one)")
    p.add_argument(
        "--device", action="append", default=[], help="cpu, cuda (repeatable; default: cpu)"
    )
    p.add_argument(
        "--jobs",
        type=int,
        default=min(2, os.cpu_count() or 1),
        help="framework groups run in parallel (default: 2, or 1 on one core)",
    )
    p.add_argument(
        "--no-self-normalization",
        action="store_true",
        help="leave out the deep-stack, initialiser, Keras-idiom and AlphaDropout checks",
    )
    p.set_defaults(run=cmd_run)

    p = sub.add_parser("check", help="the same checks on your own MODULE:FUNCTION")
    common(p, "MODULE:FUNCTION computing selu elementwise on a numpy array")
    p.add_argument("--grad", default=None, help="MODULE:FUNCTION computing its derivative")
    p.set_defaults(run=cmd_check)

    from .environments.command import add_parser as add_env
    from .matrix.command import add_parser as add_matrix
    from .sweep.command import add_parser as add_sweep

    add_sweep(sub, UsageError)
    add_env(sub, UsageError)
    add_matrix(sub, UsageError)

    p = sub.add_parser("report", help="index.html and report.md from results and asv results")
    p.add_argument(
        "--results",
        action="append",
        default=[],
        metavar="PATH",
        help=f"results.json of the gate or of sweeps (repeatable; default: {DEFAULT_JSON})",
    )
    p.add_argument(
        "--asv", default=".asv/results", metavar="DIR", help="asv results (default: .asv/results)"
    )
    p.add_argument("--machine", default=None, help="asv machine (default: this host's name)")
    p.add_argument("--out", default="report", metavar="DIR", help="output folder (default: report)")
    p.add_argument(
        "--compare",
        nargs=2,
        action="append",
        default=[],
        metavar=("OLD", "NEW"),
        help="what changed between two results.json (or two asv results files); repeatable",
    )
    p.add_argument(
        "--matrix",
        default=None,
        metavar="PATH",
        help="the matrix's summary (python -m conformance matrix --json PATH) to show",
    )
    p.set_defaults(run=cmd_report)
    return parser


def placement_of(args, own_environments: bool = True) -> Placement:
    try:
        return parse_placement(args.python, args.env, own_environments)
    except PlacementError as error:
        raise UsageError(str(error)) from None


# -- report --------------------------------------------------------------------------------


def cmd_report(args) -> int:
    from .report import Inputs, ReportError, write

    destinations.folder(args.out, "--out")
    inputs = Inputs(
        results=[Path(p) for p in args.results or [DEFAULT_JSON]],
        asv=Path(args.asv),
        machine=args.machine,
        compare=[(Path(a), Path(b)) for a, b in args.compare],
        matrix=Path(args.matrix) if args.matrix else None,
    )
    try:
        html, markdown = write(inputs, Path(args.out))
    except ReportError as error:
        raise UsageError(str(error)) from None
    print(f"{html}\n{markdown}")
    return 0


# -- list ----------------------------------------------------------------------------------


def cmd_list(args) -> int:
    devices: dict[str, str] = {}
    rows = []
    placement = parse_placement([], [])  # adapters with an environment of their own: there
    for spec in SPECS:
        why = placement.unavailable(spec)
        version = spec.version(placement.interpreter(spec)) if not why else "-"
        if not why and not args.no_probe:
            key = (spec.module, tuple(sorted(spec.env.items())))
            if key not in devices:
                target = Target.of(spec, placement.python(spec))
                try:
                    with Worker(
                        target.module, target.env, timeout=120, python=target.python
                    ) as worker:
                        devices[key] = ",".join(worker.info["devices"])
                except WorkerError as error:
                    devices[key] = f"unusable: {error}"
            device_text = devices[key]
        else:
            device_text = "-" if why else "(not probed)"
        rows.append(
            (
                spec.id,
                "yes" if not why else "no",
                version,
                ",".join(spec.dtypes),
                device_text,
                "yes" if spec.gradient else "no",
                why or spec.calls,
            )
        )
    header = ("id", "available", "version", "dtypes", "devices", "derivative", "calls / why not")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header) - 1)]
    for row in [header, *rows]:
        print(
            "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=False)) + "  " + row[-1]
        )
    return 0


# -- run and check -------------------------------------------------------------------------


def check_destinations(args) -> None:
    """Before any work: the results file and the reference cache can be written."""
    destinations.file(args.json or DEFAULT_JSON, "--json")
    destinations.folder(CACHE_DIR / "reference", "the cache folder (CONFORMANCE_CACHE)")


def _report(findings, verbose: bool) -> None:
    for finding in findings:
        if finding.verdict == "fail":
            print(f"FAIL {finding.message}")
        elif finding.verdict == "known-deviation":
            print(f"KNOWN {finding.message.splitlines()[0]}")
            if verbose:
                print("\n".join(finding.message.splitlines()[1:]))
        elif verbose:
            print(f"ok   {finding.message}")


def _finish(findings, versions, profile, policy, skipped, args, started, selfnorm=None) -> int:
    document = results.build(findings, versions, profile.name, policy.path, skipped, selfnorm)
    path = results.write(document, args.json or DEFAULT_JSON)
    counts = document["summary"]["counts"]
    stale = document["summary"]["stale_deviations"]
    for note in stale:
        print(f"NOTE {note}")
    print(
        f"{counts['pass']} passed, {counts['known-deviation']} known deviations, "
        f"{counts['fail']} failed in {time.perf_counter() - started:.0f} s; results: {path}"
    )
    return 1 if counts["fail"] else 0


def cmd_run(args) -> int:
    started = time.perf_counter()
    policy, profile = policy_module.load_profile(args.policy, args.profile)
    check_destinations(args)
    config = None if args.no_self_normalization else selfnorm.load_config()
    placement = placement_of(args)
    requested = args.impl or [spec.id for spec in SPECS]
    specs, skipped = [], {}
    for impl_id in requested:
        if ":" in impl_id:
            raise UsageError(
                f"{impl_id!r}: run takes implementation ids; use `check` for MODULE:FUNCTION"
            )
        try:
            spec = lookup(impl_id)
        except ValueError as error:
            raise UsageError(str(error)) from None
        why = placement.unavailable(spec)
        if why and args.impl:
            raise UsageError(f"{impl_id} cannot run here: {why}")
        if why:
            skipped[impl_id] = why
            print(f"skip {impl_id}: {why}")
            continue
        specs.append(spec)
    devices = args.device or ["cpu"]
    runner = Runner(
        policy,
        profile,
        timeout=args.timeout,
        jobs=args.jobs,
        dtypes=args.dtype or None,
        progress=_progress,
        placement=placement,
    )
    pairs = [(spec, device) for spec in specs for device in devices]
    findings = []
    try:
        runner.submit(pairs)
        for spec, device in pairs:
            outcome = runner.outcome(spec.id, device)
            if outcome.skipped:
                print(f"skip {outcome.skipped}")
            _report(outcome.findings, args.verbose)
            findings += outcome.findings
    finally:
        runner.close()
    normalization = None
    frameworks = [g for g in selfnorm.groups() if g in {spec.framework for spec in specs}]
    if frameworks and config is not None:
        normalization = selfnorm.run(
            frameworks, config, progress=_progress, interpreters=placement.of_framework
        )
        _report_selfnorm(normalization, args.verbose)
    return _finish(
        findings, runner.versions, profile, policy, skipped, args, started, normalization
    )


def _report_selfnorm(run, verbose: bool) -> None:
    for child, why in run.skipped.items():
        print(f"skip self-normalisation {child}: {why}")
    for record in run.records:
        label = "FAIL" if record["verdict"] == "fail" else "ok  "
        if record["verdict"] == "fail" or verbose:
            kind = "contrast" if record["contrast"] else "stack"
            outcome = record["violation"] or "within the bounds at every layer"
            print(
                f"{label} self-normalisation {record['framework']} {kind} "
                f"{record['activation']}, {record['inputs']} inputs: {outcome}"
            )
    labels = {"fail": "FAIL", "known-deviation": "KNOWN", "pass": "ok  "}
    for check in run.checks:
        if check["verdict"] != "pass" or verbose:
            print(
                f"{labels[check['verdict']]} self-normalisation {check['framework']} "
                f"{check['check']}: {check['detail']}"
            )


def cmd_check(args) -> int:
    started = time.perf_counter()
    if len(args.impl) != 1:
        raise UsageError("check takes exactly one --impl MODULE:FUNCTION")
    forward = args.impl[0]
    if forward in BY_ID:
        raise UsageError(f"{forward} is a built-in implementation: use `run --impl {forward}`")
    for spec in (forward, args.grad):
        if spec is not None:
            try:
                parse_user_spec(spec)
            except ValueError as error:
                raise UsageError(str(error)) from None
    policy, profile = policy_module.load_profile(args.policy, args.profile)
    check_destinations(args)
    placement = placement_of(args, own_environments=False)
    if placement.environments:
        raise UsageError(
            "check takes --python PATH, not --env: a user's function may call any framework"
        )
    interpreter = placement.interpreters.get("*")
    if set(placement.interpreters) - {"*"}:
        raise UsageError("check takes --python PATH for the whole function, not FRAMEWORK=PATH")
    python = None if interpreter is None else interpreter.path
    target = Target.user_function(forward, args.grad, args.dtype or ALL_DTYPES, python)
    engine = Engine(policy, profile, timeout=args.timeout, progress=_progress)
    try:
        try:
            engine.info(target)
        except WorkerError as error:
            if error.kind is Failure.LOAD:
                raise UsageError(f"cannot import: {error.detail}") from None
            raise UsageError(f"{forward}: {error}") from None
        findings = engine.run(target, "cpu", args.dtype or None)
        _report(findings, args.verbose)
    finally:
        engine.close()
    return _finish(findings, engine.versions, profile, policy, {}, args, started)


def _progress(message: str) -> None:
    print(f"  ... {message}", file=sys.stderr, flush=True)


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    try:
        return args.run(args)
    except (
        UsageError,
        policy_module.PolicyError,
        results.ResultsError,
        selfnorm.SelfNormError,
        destinations.DestinationError,
        CorpusError,
    ) as error:
        text = str(error).splitlines()[0] if str(error) else type(error).__name__
        print(f"python -m conformance {args.command}: {text}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("python -m conformance: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # a bug of the suite: one line, and how to see more
        if os.environ.get("CONFORMANCE_DEBUG"):
            raise
        print(
            f"python -m conformance {args.command}: internal error: "
            f"{type(error).__name__}: {error} (CONFORMANCE_DEBUG=1 shows the traceback)",
            file=sys.stderr,
        )
        return 3
