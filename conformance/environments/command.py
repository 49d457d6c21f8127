"""python -m conformance env list | lock NAME... | build NAME...|--all

env list             name, framework, version, lock current, built, size on disk
env lock NAME|--all  compile the requirements of environments.toml into lock files
env build NAME|--all build from the locks (a built environment whose lock is unchanged
                     is left as it is)
env build --own      the environments adapters run in by default (Adapter.environment):
                     make own-envs builds these
"""

from __future__ import annotations

import sys

from . import build as builder
from . import catalog


def add_parser(sub, usage_error) -> None:
    p = sub.add_parser("env", help="environments of other framework releases, built by uv")
    verbs = p.add_subparsers(dest="verb", required=True, parser_class=sub._parser_class)
    q = verbs.add_parser("list", help="every environment: framework, version, built, size")
    q.set_defaults(run=lambda args: cmd_list(args))
    for verb, what in (("lock", "write the lock files"), ("build", "build from the locks")):
        q = verbs.add_parser(verb, help=what)
        q.add_argument("names", nargs="*", metavar="NAME")
        q.add_argument("--all", action="store_true", help="every environment of the catalog")
        if verb == "build":
            q.add_argument(
                "--own",
                action="store_true",
                help="the environments adapters run in by default (make own-envs)",
            )
        q.set_defaults(run=lambda args, verb=verb: _each(args, verb, usage_error))


def chosen(names, every: bool, usage_error) -> list[catalog.Environment]:
    """The environments named (or every one); the usage error for an unknown name."""
    try:
        environments = catalog.load()
    except catalog.CatalogError as error:
        raise usage_error(str(error)) from None
    if every:
        return list(environments.values())
    if not names:
        raise usage_error("name an environment, or give --all")
    unknown = [n for n in names if n not in environments]
    if unknown:
        raise usage_error(f"unknown environment {unknown[0]!r}; known: {', '.join(environments)}")
    return [environments[n] for n in names]


def _own() -> list[str]:
    """The environments that adapters name as their own (`Adapter.environment`)."""
    from ..frameworks import adapters

    return [a.environment for a in adapters() if a.environment]


def _each(args, verb: str, usage_error) -> int:
    names = [*args.names, *(_own() if getattr(args, "own", False) else ())]
    if getattr(args, "own", False) and not names:
        return 0
    for environment in chosen(names, args.all, usage_error):
        try:
            if verb == "lock":
                path = builder.lock(environment)
                release = f"{environment.framework} {environment.version()}"
                print(f"{environment.name}: {path} ({release})")
            else:
                built = builder.build(environment, _progress)
                size = builder.sizes([environment]).own.get(environment.name, 0)
                state = "built" if built else "up to date"
                where = environment.folder
                print(f"{environment.name}: {state}, {size / 2**20:.0f} MiB in {where}")
        except builder.BuildError as error:
            raise usage_error(str(error)) from None
    return 0


def cmd_list(args) -> int:
    environments = list(catalog.load().values())
    sizes = builder.sizes(environments)
    header = ("name", "framework", "version", "lock", "built", "MiB", "note")
    rows = []
    for e in environments:
        lock = "current" if e.lock_current() else ("stale" if e.lock_text() else "missing")
        size = sizes.own.get(e.name)
        rows.append(
            (
                e.name,
                e.framework,
                e.version(),
                lock,
                "yes" if e.built() else "no",
                "-" if size is None else f"{size / 2**20:.0f}",
                e.note,
            )
        )
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header) - 1)]
    for row in [header, *rows]:
        cells = "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=False))
        print(f"{cells}  {row[-1]}")
    print(
        f"on disk: {sizes.total / 2**30:.2f} GiB for the {len(sizes.own)} built environments "
        "(files shared through uv's cache by hard links counted once)"
    )
    return 0


def _progress(message: str) -> None:
    print(f"  ... {message}", file=sys.stderr, flush=True)
