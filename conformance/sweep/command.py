"""`python -m conformance sweep`: the command line of the sweeps.

    sweep --impl ID|MODULE:FUNCTION [--dtype float32] [--quantity forward|gradient]
          [--device cpu] [--start 0xHEX --stop 0xHEX] [--jobs N] [--json PATH]
    sweep --all                     every available implementation and quantity
    sweep --impl ... --dtype float64 [--samples N] [--seed S]    worst-case search
    sweep --impl ... --replay FILE  the inputs of a worst-case file, measured again
    sweep ... --cluster local:N | --scheduler [ADDRESS] | --scheduler-file FILE
                                    the chunks measured on a Dask cluster (sweep/cluster.py)
    sweep --merge DIR [DIR ...]     the checkpoints of sweeps over disjoint ranges, joined

float16, bfloat16 and float32 are swept exhaustively; float64 is searched. The result is
merged into --json (default results/sweeps.json) as a measurement with input_set
"exhaustive" (or "exhaustive[start,stop)", "worst-case search", "replay NAME"). The worst
inputs of a whole sweep or a search of a built-in implementation refresh its lines of the
worst-case corpus (conformance/data/worst/, `corpus.py`; --corpus DIR elsewhere), which
the gate replays; what changed is printed. A user's function's search writes its worst
inputs to results/worst/.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from reference import format_of

from .. import cluster, corpus, destinations, results
from .. import policy as policy_module
from ..engine import Target
from ..frameworks.user_impl import parse as parse_user_spec
from ..measure import Figure, round_significant
from ..placement import Placement, PlacementError
from ..placement import add_arguments as add_placement_arguments
from ..placement import parse as parse_placement
from ..process.worker import Worker, WorkerError
from ..registry import BY_ID, SPECS, lookup
from . import float64, shards
from .checkpoint import CheckpointError
from .run import (
    CHECKPOINTS,
    CHUNK,
    Sweep,
    SweepError,
    file_name,
    judged_record,
    record,
    run,
    run_group,
)

DEFAULT_JSON = Path("results") / "sweeps.json"
WORST_DIR = Path("results") / "worst"
SWEPT = ("float16", "bfloat16", "float32")


def add_parser(sub, usage_error) -> None:
    p = sub.add_parser(
        "sweep",
        help="every float32 (float16, bfloat16) input, or a float64 worst-case search",
    )
    p.add_argument("--impl", default=None, help="implementation id or MODULE:FUNCTION")
    p.add_argument(
        "--all", action="store_true", help="every available implementation, both quantities"
    )
    p.add_argument("--dtype", default=None, help="float32 (default), float16, bfloat16, float64")
    p.add_argument("--quantity", choices=("forward", "gradient"), default=None)
    p.add_argument("--device", default="cpu")
    p.add_argument("--start", default=None, help="first bit pattern, hex (default 0)")
    p.add_argument("--stop", default=None, help="end of the range, hex (default: all)")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="worker processes")
    p.add_argument("--json", default=None, help=f"results file to merge into ({DEFAULT_JSON})")
    p.add_argument("--profile", default=None)
    p.add_argument("--policy", default=None)
    p.add_argument("--timeout", type=float, default=600.0, help="seconds one chunk may take")
    add_placement_arguments(p)
    p.add_argument("--chunk", type=int, default=CHUNK, help=f"inputs per chunk ({CHUNK})")
    p.add_argument("--checkpoint", default=None, help="checkpoint folder (default: .cache)")
    p.add_argument(
        "--corpus",
        default=str(corpus.FOLDER),
        help="worst-case corpus to refresh (default: the suite's, conformance/data/worst)",
    )
    p.add_argument(
        "--fresh", action="store_true", help="discard the checkpoint and measure everything"
    )
    p.add_argument("--samples", type=int, default=float64.SAMPLES, help="float64: per binade")
    p.add_argument("--seed", type=int, default=float64.SEED, help="float64: search seed")
    p.add_argument("--replay", default=None, help="measure the inputs of a worst-case file")
    p.add_argument("--quiet", action="store_true", help="no progress")
    p.add_argument(
        "--merge",
        nargs="+",
        default=None,
        metavar="DIR",
        help="join the checkpoint folders of sweeps over disjoint ranges into one record",
    )
    cluster.add_arguments(p)
    p.add_argument(
        "--batch",
        type=int,
        default=None,
        help="on a cluster: chunks per task (default: a few seconds' worth)",
    )
    p.set_defaults(run=lambda args: cmd_sweep(args, usage_error))


def _hex(text: str | None, default: int, name: str, limit: int, usage_error) -> int:
    if text is None:
        return default
    try:
        value = int(text, 16)
    except ValueError:
        raise usage_error(f"--{name} {text!r} is not a hexadecimal integer") from None
    if not 0 <= value <= limit:
        raise usage_error(f"--{name} {text} is outside 0x0..{limit:#x}")
    return value


def _placement(args, usage_error) -> Placement:
    try:
        return parse_placement(args.python, args.env)
    except PlacementError as error:
        raise usage_error(str(error)) from None


def _target(impl: str, quantity: str, usage_error, placement: Placement) -> Target:
    if ":" in impl:
        try:
            parse_user_spec(impl)
        except ValueError as error:
            raise usage_error(str(error)) from None
        forward = impl if quantity == "forward" else None
        everywhere = placement.interpreters.get("*")
        python = None if everywhere is None else everywhere.path
        gradient = impl if quantity == "gradient" else None
        return Target.user_function(forward or impl, gradient, [], python)
    try:
        spec = lookup(impl)
    except ValueError as error:
        raise usage_error(str(error)) from None
    why = placement.unavailable(spec)
    if why:
        raise usage_error(f"{impl} cannot run here: {why}")
    if quantity not in spec.quantities:
        raise usage_error(f"{impl} has no {quantity} (it computes {', '.join(spec.quantities)})")
    return Target.of(spec, placement.python(spec))


def cmd_sweep(args, usage_error) -> int:
    policy, profile = policy_module.load_profile(args.policy, args.profile)
    try:
        args.cluster_options = cluster.options(args)
    except cluster.ClusterError as error:
        raise usage_error(str(error)) from None
    if args.batch is not None and args.batch < 1:
        raise usage_error("--batch must be positive")
    if args.merge:
        return _merge(args, policy, profile, usage_error)
    if args.all == bool(args.impl):
        raise usage_error("give --impl ID (or MODULE:FUNCTION), or --all")
    dtype = args.dtype or ("float64" if args.replay else "float32")
    if dtype not in (*SWEPT, "float64"):
        raise usage_error(f"--dtype {dtype!r}: one of {', '.join((*SWEPT, 'float64'))}")
    if args.replay and (dtype != "float64" or args.all):
        raise usage_error("--replay measures a float64 worst-case file of one --impl")
    if args.cluster_options and dtype == "float64" and not args.all:
        raise usage_error(f"{args.cluster_options.flag}: a float64 search runs here, not there")
    if args.jobs < 1 or args.chunk < 1 or not args.timeout > 0:
        raise usage_error("--jobs, --chunk and --timeout must be positive")
    destinations.file(args.json or DEFAULT_JSON, "--json")
    destinations.folder(args.checkpoint or CHECKPOINTS, "--checkpoint")
    destinations.folder(args.corpus, "--corpus")
    if dtype == "float64" and not args.replay and ":" in (args.impl or ""):
        destinations.folder(WORST_DIR, "the worst-case folder")  # a user's function's
    if dtype != "float64":  # the range, checked once for every sweep of the run
        bits = format_of(dtype).bits
        start = _hex(args.start, 0, "start", 1 << bits, usage_error)
        stop = _hex(args.stop, 1 << bits, "stop", 1 << bits, usage_error)
        if start >= stop:
            raise usage_error(f"--start {start:#x} is not below --stop {stop:#x}")
        args.span = (start, stop)
    if args.all:
        return _placed(args, usage_error, lambda: _sweep_all(args, policy, profile, usage_error))
    quantity = args.quantity or "forward"
    target = _target(args.impl, quantity, usage_error, _placement(args, usage_error))
    if args.impl in BY_ID and dtype not in BY_ID[args.impl].dtypes:
        raise usage_error(f"{args.impl} does not support {dtype}")
    return _placed(
        args, usage_error, lambda: _one(args, target, dtype, quantity, policy, profile, usage_error)
    )


def _placed(args, usage_error, go) -> int:
    """`go()`, with `args.chunks` the placement of the chunks: None (here), or the Dask
    cluster the options ask for (`sweep/cluster.py`, imported only then)."""
    args.chunks = None
    if args.cluster_options is None:
        return go()
    try:
        with cluster.connect(args.cluster_options) as client:
            from .cluster import Chunks

            args.chunks = Chunks(client, args.batch)
            return go()
    except cluster.ClusterError as error:
        raise usage_error(str(error)) from None


def _one(args, target, dtype, quantity, policy, profile, usage_error) -> int:
    if dtype == "float64":
        return _search(args, target, dtype, quantity, policy, profile, usage_error)
    start, stop = args.span
    sweep = Sweep(
        target, args.device, dtype, quantity, start, stop, args.chunk, args.jobs, args.timeout
    )
    try:
        outcome = run(
            sweep,
            Path(args.checkpoint) if args.checkpoint else None,
            progress=not args.quiet,
            fresh=args.fresh,
            cluster=args.chunks,
        )
    except (SweepError, CheckpointError) as error:
        raise usage_error(str(error)) from None
    return _finish(args, sweep, outcome, policy, profile)


def _finish(args, sweep: Sweep, outcome, policy, profile) -> int:
    """The record of a sweep (`record`), the corpus refreshed, merged into --json, printed."""
    target = sweep.target
    made = record(sweep, outcome, policy, profile)
    rec, timing = made["record"], made["timing"]
    change = _refresh_corpus(args, target, sweep, rec, outcome.info["version"])
    results.merge_measurement(
        args.json or DEFAULT_JSON, rec, timing, outcome.info, profile.name, policy.path
    )
    _print(rec, timing, target, change)
    return 1 if rec["verdict"] == "fail" else 0


def _merge(args, policy, profile, usage_error) -> int:
    """`--merge DIR ...`: the sweep of the union of the folders' ranges (`shards.join`),
    recorded as one sweep over it would be."""
    alone = {"--impl": args.impl, "--all": args.all, "--start": args.start}
    alone |= {"--stop": args.stop, "--replay": args.replay, "--dtype": args.dtype}
    alone |= {"--quantity": args.quantity, "--cluster/--scheduler": args.cluster_options}
    given = [name for name, value in alone.items() if value]
    if given:
        raise usage_error(f"--merge takes the sweep from its folders, not {', '.join(given)}")
    try:
        manifest, outcome = shards.join([Path(folder) for folder in args.merge])
    except (SweepError, CheckpointError) as error:
        raise usage_error(str(error)) from None
    impl = manifest["impl"].split(" (derivative ")[0]  # a user's function: its label
    if ":" in impl:
        target = _target(impl, manifest["quantity"], usage_error, Placement())
    else:
        try:
            spec = lookup(impl)
        except ValueError as error:
            raise usage_error(str(error)) from None
        target = Target.of(spec, _placement(args, usage_error).python(spec))
    sweep = Sweep(
        target,
        *(manifest[k] for k in ("device", "dtype", "quantity", "start", "stop", "chunk")),
    )
    return _finish(args, sweep, outcome, policy, profile)


def _refresh_corpus(args, target: Target, sweep: Sweep | None, rec: dict, version: str):
    """The worst inputs of a whole sweep (`sweep`) or of a search (None) of a built-in
    implementation, its worst without a violation, and the first input of each violation
    kind, into the corpus (`corpus.refresh`); the Change, or None where nothing is
    refreshed (a user's function, a part of the range, chunks that failed)."""
    if target.user is not None:
        return None
    if sweep is not None and (not sweep.full or rec["failed_chunks"]):
        return None
    worst = [
        *rec["worst"],
        *rec.get("worst_without_violations", []),
        *rec.get("first_by_kind", {}).values(),
    ]
    change = corpus.refresh(
        Path(args.corpus),
        rec["dtype"],
        rec["quantity"],
        impl=target.id,
        device=rec["device"],
        version=version,
        found_by="search" if sweep is None else "sweep",
        worst=worst,
    )
    rec["cases_file"] = str(change.file)
    return change


def _print(rec: dict, timing: dict | None, target: Target, change=None) -> None:
    """What a person reads: the verdict, the worst input with a reproducer, violations."""
    head = f"{rec['impl']} {rec['device']} {rec['dtype']} {rec['quantity']} {rec['input_set']}"
    bound = " (a lower bound)" if rec.get("lower_bound") else ""
    print(f"{head}: {rec['verdict'].upper()}")
    line = f"  {rec['count']} inputs, max error {rec['max_ulp']:g} ulp{bound}"
    if timing and timing.get("wall_s"):
        share = ", ".join(f"{k} {100 * v:.0f}%" for k, v in timing.get("share", {}).items())
        rate = timing.get("inputs_per_second")
        if rate is None:
            line += f"; {timing['wall_s']:g} s, every chunk from the checkpoint"
        else:
            line += f"; {timing['wall_s']:g} s, {rate / 1e6:.1f} M inputs/s"
            line += f" ({share})" if share else ""
    print(line)
    if rec.get("worst_input"):
        print(
            f"  worst: x = {rec['worst_input']}: got {rec['worst_output']}, "
            f"expected {rec['worst_expected']}"
        )
        snippet = _snippet(target, rec, rec["worst_input"])
        if snippet:
            print(f"  reproduce: {snippet}")
    if rec["violations"]:
        counts = ", ".join(f"{k} x{n}" for k, n in rec["violations"].items())
        first = rec["first_violation"]
        print(
            f"  special-value violations: {counts}; first: {first['kind']} at "
            f"x = {first['input']}: got {first['output']}, expected {first['expected']}"
        )
    for chunk in rec.get("failed_chunks", [])[:5]:
        print(f"  FAILED {chunk['error']}")
    if rec.get("note"):
        print(f"  {rec['note']}")
    if rec.get("deviation"):
        d = rec["deviation"]
        print(f"  known deviation: {d.get('cause', '')[:160]}")
    if change is not None:
        print(f"  {change.describe()}")
    elif rec.get("cases_file"):
        print(f"  worst inputs: {rec['cases_file']}")


def _snippet(target: Target, rec: dict, x_hex: str) -> str:
    try:
        with Worker(target.module, target.env, 1, target.user, 60, target.python) as worker:
            return worker.snippet(
                target.variant, rec["quantity"], rec["dtype"], rec["device"], x_hex
            )
    except WorkerError:
        return ""


# -- float64: the worst-case search and the replay -----------------------------------------


def _search(args, target, dtype, quantity, policy, profile, usage_error) -> int:
    started = time.perf_counter()
    worker = Worker(target.module, target.env, None, target.user, args.timeout, target.python)
    try:
        try:
            info = dict(worker.start())
        except WorkerError as error:
            raise usage_error(f"{target.id}: {error}") from None
        if args.device not in info["devices"]:
            raise usage_error(f"{target.id} has no device {args.device!r} here")

        def call(x: np.ndarray) -> np.ndarray:
            x = x.astype(dtype)
            (result,) = worker.call(target.variant, quantity, args.device, [(x, None)])
            if result.error:
                raise WorkerError(f"raised {result.error}", "error")
            if result.output.shape != x.shape or result.output.dtype != x.dtype:
                raise WorkerError(
                    f"returned {result.output.dtype} of shape {result.output.shape}", "error"
                )
            return result.output

        try:
            if args.replay:
                try:
                    x = float64.read_cases(args.replay).astype(dtype)
                except (OSError, ValueError) as error:
                    raise usage_error(str(error)) from None
                found = float64.measure(call, quantity, x.astype(np.float64))
                input_set = f"replay {Path(args.replay).name}"
            else:
                found = float64.search(call, quantity, args.samples, args.seed)
                input_set = "worst-case search"
        except WorkerError as error:
            found, failure, failure_kind = None, str(error), error.kind
            input_set = f"replay {Path(args.replay).name}" if args.replay else "worst-case search"
    finally:
        worker.close()

    if found is None:
        figure, failed, worst, first = Figure(0.0), {failure_kind}, [], None
    else:  # the figure's numbers are rounded for the record already (`Figure.of`)
        figure, failed, worst, first = found.figure, None, found.worst, found.first
    rec = judged_record(
        policy,
        profile,
        impl=target.id,
        version=info["version"],
        device=args.device,
        dtype=dtype,
        quantity=quantity,
        input_set=input_set,
        source="replay" if args.replay else "search",
        count=found.count if found else 0,
        figure=figure,
        violations=found.kinds if found else {},
        worst=_rounded(worst),
        first=first,
        failed=failed,
        lower_bound=True,
        # What ranked the candidates (the figures are the reference's either way).
        screening="x87 long double" if float64.EXTENDED else "long double = double",
    )
    if found is None:
        rec["error"] = failure
    else:
        rec["first_by_kind"] = found.first_by_kind
        rec["worst_without_violations"] = _rounded(found.worst_without_violations)
    change = None
    if found is not None and not args.replay and target.user is None:
        change = _refresh_corpus(args, target, None, rec, info["version"])
    elif found is not None and not args.replay:
        cases = WORST_DIR / f"{file_name(target.id)}-{args.device}-{dtype}-{quantity}.txt"
        float64.write_cases(
            cases,
            worst,
            f"SELU {quantity}, {dtype}: worst inputs found for {target.id} {info['version']} "
            f"on {args.device}\n(search seed {args.seed}, {args.samples} samples per binade, "
            f"{found.count} inputs screened); replay:\npython -m conformance sweep "
            f"--impl {target.id} --dtype {dtype} --quantity {quantity} --replay {cases}",
        )
        rec["cases_file"] = str(cases)
    wall = time.perf_counter() - started
    timing = {"wall_s": round(wall, 1), "inputs_per_second": round(rec["count"] / wall)}
    results.merge_measurement(
        args.json or DEFAULT_JSON, rec, timing, info, profile.name, policy.path
    )
    _print(rec, timing, target, change)
    return 1 if rec["verdict"] == "fail" else 0


def _rounded(worst: list[dict]) -> list[dict]:
    """Worst inputs with their ulp figures rounded for the record (`round_significant`)."""
    return [{**w, "ulp": round_significant(w["ulp"])} for w in worst]


# -- every implementation -------------------------------------------------------------------


def _sweep_all(args, policy, profile, usage_error) -> int:
    """Every available implementation, forward and derivative: float32 exhaustively (or
    the --dtype given) and the float64 worst-case search. Implementations whose worker
    environments agree share a worker and each chunk's reference (`run_group`)."""
    dtypes = [args.dtype] if args.dtype else ["float32", "float64"]
    quantities = [args.quantity] if args.quantity else ["forward", "gradient"]
    available = []
    placement = _placement(args, usage_error)
    for spec in SPECS:
        why = placement.unavailable(spec)
        if why:
            print(f"skip {spec.id}: {why}")
        else:
            available.append(spec)
    status = 0
    started = time.perf_counter()
    for dtype in dtypes:
        for quantity in quantities:
            targets = [
                Target.of(spec, placement.python(spec))
                for spec in available
                if dtype in spec.dtypes and quantity in spec.quantities
            ]
            if dtype == "float64":
                for target in targets:
                    try:
                        code = _search(args, target, dtype, quantity, policy, profile, usage_error)
                    except usage_error as error:  # does not load, or lacks the device
                        print(f"skip {target.id}: {error}")
                        continue
                    status = max(status, code)
                continue
            for group in _compatible_groups(targets):
                code = _sweep_group(args, group, dtype, quantity, policy, profile, usage_error)
                status = max(status, code)
    print(f"all sweeps done in {time.perf_counter() - started:.0f} s")
    return status


def _compatible_groups(targets: list[Target]) -> list[list[Target]]:
    """Targets grouped so that the worker environments within a group agree (Keras's
    backend is chosen by an environment variable: one per process)."""
    groups: list[tuple[dict, list[Target]]] = []
    for target in targets:
        for env, members in groups:
            if all(env.get(k, v) == v for k, v in target.env.items()):
                env.update(target.env)
                members.append(target)
                break
        else:
            groups.append((dict(target.env), [target]))
    return [members for _, members in groups]


def _sweep_group(args, targets, dtype, quantity, policy, profile, usage_error) -> int:
    start, stop = args.span
    sweeps = [
        Sweep(t, args.device, dtype, quantity, start, stop, args.chunk, args.jobs, args.timeout)
        for t in targets
    ]
    try:
        outcomes = run_group(
            sweeps,
            progress=not args.quiet,
            fresh=args.fresh,
            skip_unavailable=True,
            cluster=args.chunks,
        )
    except (SweepError, CheckpointError) as error:
        raise usage_error(str(error)) from None
    status = 0
    for sweep, outcome in zip(sweeps, outcomes, strict=True):
        if isinstance(outcome, str):  # does not load, or lacks the device
            print(f"skip {sweep.target.id}: {outcome}")
            continue
        made = record(sweep, outcome, policy, profile)
        made["timing"]["group"] = [t.id for t in targets]
        version = outcome.info["version"]
        change = _refresh_corpus(args, sweep.target, sweep, made["record"], version)
        results.merge_measurement(
            args.json or DEFAULT_JSON,
            made["record"],
            made["timing"],
            outcome.info,
            profile.name,
            policy.path,
        )
        _print(made["record"], made["timing"], sweep.target, change)
        status = max(status, 1 if made["record"]["verdict"] == "fail" else 0)
    return status
