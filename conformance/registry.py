"""Every implementation under test, by its stable id `framework/variant`, built from the
framework adapters (`conformance/frameworks/`, contract in `frameworks/base.py`).

A `Spec` says what an implementation calls and what it claims (dtypes, a derivative, its
devices) and the environment its worker needs; the code that calls the framework runs
only inside a worker process (`process/worker.py`), so that the main process never imports
a framework. Availability is decided here from the installed packages alone (no import),
with the reason when one is missing.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import shutil
from dataclasses import dataclass, field

from .axes import ALL_DTYPES, DEVICES, QUANTITIES
from .frameworks import Adapter, adapter, adapters
from .frameworks.base import GatePart
from .process.interpreter import Interpreter

__all__ = ["ALL_DTYPES", "BY_ID", "FRAMEWORKS", "QUANTITIES", "SPECS", "Spec", "lookup"]

#: Thread pools every framework may use: OpenMP, MKL, OpenBLAS.
_COMMON_THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


@dataclass(frozen=True)
class Spec:
    """One implementation under test."""

    id: str  # "torch/functional"
    calls: str  # what it calls, for people
    module: str  # framework module in conformance.frameworks (runs in the worker)
    variant: str  # which of that module's variants
    packages: tuple[str, ...]  # import names it needs; the first names its framework version
    dtypes: tuple[str, ...] = ALL_DTYPES
    gradient: bool = True
    eager: str | None = None  # for a compiled variant: the id of its eager counterpart
    env: dict = field(default_factory=dict, hash=False)  # environment of its worker
    framework: str = ""  # its adapter's name: the pytest marker, the group of the id
    devices: tuple[str, ...] = DEVICES
    uses: tuple[str, ...] = ()  # the adapters it runs on besides its own
    requires: dict = field(default_factory=dict, hash=False)  # {distribution: PEP 440 range}
    programs: dict = field(default_factory=dict, hash=False)  # {program on PATH: how to install}
    gate: GatePart = GatePart.MAIN  # the gate target that checks it (make gate, gate-more)

    @property
    def quantities(self) -> tuple[str, ...]:
        return QUANTITIES if self.gradient else ("forward",)

    def unavailable(self, interpreter: Interpreter | None = None) -> str | None:
        """Why this implementation cannot run here (in `interpreter`, default the suite's
        own), or None when it can."""
        return unavailable(self.packages, self.requires, interpreter) or absent(self.programs)

    def version(self, interpreter: Interpreter | None = None) -> str:
        """The installed version of its framework (in `interpreter`, default the suite's
        own), read from package metadata."""
        if interpreter is not None:
            return interpreter.version(distributions_of(self.packages[0]))
        return package_version(self.packages[0])


def missing(packages) -> str | None:
    """Why code that imports `packages` cannot run here ("keras is not installed"), or
    None: found without importing them."""
    for package in packages:
        if importlib.util.find_spec(package) is None:
            return f"{package} is not installed"
    return None


def unavailable(packages, requires: dict, interpreter: Interpreter | None = None) -> str | None:
    """Why code that imports `packages` and needs the releases `requires` cannot run in
    `interpreter` (default: the suite's own), or None: from package metadata alone."""
    lacking = missing(packages) if interpreter is None else interpreter.missing(packages)
    return lacking or unmet(requires, interpreter)


def absent(programs: dict) -> str | None:
    """Why a program the implementation runs cannot be found on PATH, or None."""
    for program, install in programs.items():
        if shutil.which(program) is None:
            return f"{program} is not on PATH ({install})"
    return None


def unmet(requires: dict, interpreter: Interpreter | None = None) -> str | None:
    """Why the releases installed (in `interpreter`, default the suite's own) do not meet
    `requires` ({distribution: PEP 440 range}), or None."""
    from packaging.specifiers import SpecifierSet
    from packaging.version import InvalidVersion, Version

    for dist, wanted in requires.items():
        if interpreter is not None:
            version, where = interpreter.version((dist,)), f" in {interpreter.path}"
        else:
            version, where = package_version(dist), ""
        if version == "not installed":
            continue  # `missing` says so
        try:
            if Version(version.split("+")[0]) in SpecifierSet(wanted):
                continue
        except InvalidVersion:
            continue
        return f"{dist} {version} is installed{where}; the adapter needs {dist}{wanted}"
    return None


def requirements_of(frameworks) -> dict[str, str]:
    """The releases the adapters `frameworks` (names) need, merged."""
    out: dict[str, str] = {}
    for name in frameworks:
        out.update(adapter(name).requires)
    return out


def packages_of(frameworks) -> tuple[str, ...]:
    """The import names the adapters `frameworks` (names) need, in order, once each."""
    return tuple(dict.fromkeys(p for name in frameworks for p in adapter(name).packages))


def distributions_of(package: str) -> tuple[str, ...]:
    """The distributions that may carry an import name (tensorflow: tensorflow-cpu, ...)."""
    return next(
        (a.distributions for a in adapters() if a.packages[0] == package and a.distributions),
        (package,),
    )


def all_packages() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(import names, distributions) of every adapter: what a probe of another
    interpreter asks for (`process.interpreter.probe`)."""
    names = tuple(dict.fromkeys(p for a in adapters() for p in a.packages))
    dists = tuple(dict.fromkeys(d for name in names for d in distributions_of(name)))
    return names, dists


def package_version(package: str) -> str:
    """The installed version of an import name, from its distribution's metadata."""
    for dist in distributions_of(package):
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return "not installed"


def framework_packages() -> tuple[str, ...]:
    """The import name that carries each framework's version, in the registry's order."""
    return tuple(a.packages[0] for a in adapters())


def thread_environment(threads: int | None, frameworks=None) -> dict[str, str]:
    """Environment that limits the intra-op pools of `frameworks` (names; default: every
    adapter's) to `threads` threads; nothing when `threads` is None."""
    if threads is None:
        return {}
    env = dict.fromkeys(_COMMON_THREAD_VARIABLES, str(threads))
    for a in _adapters(frameworks):
        if a.thread_env is not None:
            env.update(a.thread_env(threads))
    return env


def shared_environment(frameworks=None) -> dict[str, str]:
    """The environment of every process that runs `frameworks` (default: every adapter):
    their adapters' `env`, in the registry's order."""
    env: dict[str, str] = {}
    for a in _adapters(frameworks):
        env.update(a.env)
    return env


def user_environment(threads: int | None = None) -> dict[str, str]:
    """The worker environment of a user's function, which may call any framework: every
    adapter's, where the caller's own environment does not set the variable, and every
    pool at `threads` threads."""
    env = {k: v for k, v in shared_environment().items() if k not in os.environ}
    return {**env, **thread_environment(threads)}


def _adapters(frameworks) -> list[Adapter]:
    if frameworks is None:
        return list(adapters())
    return [adapter(name) for name in dict.fromkeys(frameworks)]


def _specs() -> tuple[Spec, ...]:
    specs = []
    for a in adapters():
        for v in a.variants:
            uses = tuple(v.uses)
            specs.append(
                Spec(
                    id=f"{a.name}/{v.name}",
                    calls=v.calls,
                    module=a.module,
                    variant=v.name,
                    packages=packages_of((a.name, *uses)),
                    dtypes=v.dtypes,
                    gradient=v.gradient,
                    eager=f"{a.name}/{v.eager}" if v.eager else None,
                    env={**shared_environment((a.name, *uses)), **v.env},
                    framework=a.name,
                    devices=v.devices,
                    uses=uses,
                    requires=requirements_of((a.name, *uses)),
                    programs={
                        program: how
                        for name in (a.name, *uses)
                        for program, how in adapter(name).programs.items()
                    },
                    gate=v.gate or a.gate,
                )
            )
    return tuple(specs)


SPECS: tuple[Spec, ...] = _specs()
BY_ID = {spec.id: spec for spec in SPECS}
FRAMEWORKS = tuple(dict.fromkeys(spec.framework for spec in SPECS))


def lookup(impl_id: str) -> Spec:
    """The Spec of an id; ValueError naming the known ids otherwise."""
    try:
        return BY_ID[impl_id]
    except KeyError:
        raise ValueError(
            f"unknown implementation {impl_id!r}; known: {', '.join(BY_ID)} "
            "(or MODULE:FUNCTION with `check`)"
        ) from None


def _print_part(argv: list[str] | None = None) -> int:
    """python -m conformance.registry --part main|more: the ids of one part of the gate, as
    an alternation for asv's -b (make bench-quick)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m conformance.registry")
    parser.add_argument("--part", choices=[p.value for p in GatePart], required=True)
    part = parser.parse_args(argv).part
    print("|".join(s.id for s in SPECS if s.gate == part))
    return 0


if __name__ == "__main__":
    raise SystemExit(_print_part())
