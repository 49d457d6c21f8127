"""Where each implementation's worker runs: the suite's own interpreter, or another one.

    --python PATH              every implementation of the run in that interpreter
    --python FRAMEWORK=PATH    that framework's implementations there (repeatable)
    --env NAME                 the implementations of a built environment of the matrix
                               (environments.toml) in its interpreter (repeatable)

An adapter whose pins conflict with the suite's names an environment of its own
(`Adapter.environment`, built by `make own-envs`): where neither option places it, its
workers run there, and while it is not built its implementations are unavailable, with
that reason.

The reference, the measurement, the policy and the results stay in the suite's process
whatever the placement; only the workers move (`process/worker.py`). Each interpreter is
probed once (`process.interpreter.probe`) and what it lacks is a one-line error.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .frameworks import adapters
from .process.interpreter import Interpreter, InterpreterError, probe
from .registry import Spec, all_packages


class PlacementError(ValueError):
    """A --python or --env that cannot be used: one line."""


@dataclass
class Placement:
    """Interpreters by framework name ("*": every framework); `environments`: the name of
    the environment of the matrix each framework's interpreter belongs to, where it does."""

    interpreters: dict[str, Interpreter] = field(default_factory=dict)
    environments: dict[str, str] = field(default_factory=dict)
    unbuilt: dict[str, str] = field(default_factory=dict)  # framework: why its own is unusable

    def unavailable(self, spec: Spec) -> str | None:
        """Why `spec` cannot run under this placement, or None."""
        for name in (spec.framework, *spec.uses):
            if name in self.unbuilt:
                return self.unbuilt[name]
        return spec.unavailable(self.interpreter(spec))

    def interpreter(self, spec: Spec) -> Interpreter | None:
        """The interpreter `spec` runs in; None: the suite's own."""
        return self.of_framework(spec.framework)

    def of_framework(self, name: str) -> Interpreter | None:
        """The interpreter of the framework `name`'s workers; None: the suite's own."""
        return self.interpreters.get(name) or self.interpreters.get("*")

    def python(self, spec: Spec) -> str | None:
        interpreter = self.interpreter(spec)
        return None if interpreter is None else interpreter.path

    def environment(self, spec: Spec) -> str | None:
        return self.environments.get(spec.framework) or self.environments.get("*")

    def describe(self, spec: Spec) -> dict:
        """What results.json records of the placement of `spec` (beside the worker's own
        report of its versions)."""
        out = {}
        if (name := self.environment(spec)) is not None:
            out["environment"] = name
        return out


def parse(python: list[str], env: list[str], own_environments: bool = True) -> Placement:
    """The placement of `--python` and `--env` values, and of the adapters with an
    environment of their own (unless `own_environments` is false: a user's function in
    `check`); PlacementError in one line."""
    from .environments import catalog  # the catalog reads environments.toml

    names = {a.name for a in adapters()}
    placement = Placement()
    for value in python:
        framework, _, path = value.rpartition("=")
        if framework and framework not in names:
            known = ", ".join(sorted(names))
            raise PlacementError(
                f"--python {value}: unknown framework {framework!r}; known: {known}"
            )
        placement.interpreters[framework or "*"] = _probe(path)
    for name in env:
        try:
            environment = catalog.get(name)
        except catalog.CatalogError as error:
            raise PlacementError(str(error)) from None
        if not environment.built():
            raise PlacementError(
                f"--env {name}: not built; `python -m conformance env build {name}` builds it"
            )
        placement.interpreters[environment.framework] = _probe(str(environment.python))
        placement.environments[environment.framework] = name
    if own_environments:
        _own_environments(placement, catalog)
    return placement


def _own_environments(placement: Placement, catalog) -> None:
    """The adapters with an environment of their own (`Adapter.environment`) that neither
    --python nor --env placed: their workers go there, or `unbuilt` says why they cannot."""
    for a in adapters():
        if a.environment is None or a.name in placement.interpreters:
            continue
        if "*" in placement.interpreters:
            continue  # --python PATH: every framework in that interpreter
        try:
            environment = catalog.get(a.environment)
            if not environment.built():
                raise PlacementError(
                    f"its environment {a.environment} is not built (make own-envs, or "
                    f"python -m conformance env build {a.environment})"
                )
            placement.interpreters[a.name] = _probe(str(environment.python))
        except (catalog.CatalogError, PlacementError) as error:
            placement.unbuilt[a.name] = str(error)
            continue
        placement.environments[a.name] = a.environment


def _probe(path: str) -> Interpreter:
    packages, distributions = all_packages()
    try:
        return probe(path, packages, distributions)
    except InterpreterError as error:
        raise PlacementError(str(error)) from None


def add_arguments(p) -> None:
    """--python and --env: where the workers run (`placement.py`)."""
    p.add_argument(
        "--python",
        action="append",
        default=[],
        metavar="[FRAMEWORK=]PATH",
        help="run the workers (of FRAMEWORK) with this interpreter; it needs numpy, "
        "ml_dtypes and the framework (repeatable)",
    )
    p.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME",
        help="run the workers of that environment's framework in it (env list; repeatable)",
    )
