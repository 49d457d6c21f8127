"""The self-normalisation suites, from the framework adapters (`SelfNormSuite`): which
checks each runs, in which framework module, with what environment.

A suite belongs to a group, the framework it runs on (Keras's suites to their backend's),
which is how `--impl` selects them: `--impl torch/functional` runs the torch group, torch's
own suite and Keras's on torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..frameworks import adapters
from ..registry import packages_of, requirements_of, shared_environment


@dataclass(frozen=True)
class Suite:
    name: str  # "keras-jax": the `framework` of its records, part of its test ids
    group: str  # "jax": the framework it runs on
    marker: str  # "keras": its adapter's name, the pytest marker of its tests
    module: str  # the framework module its worker serves
    checks: tuple[str, ...]
    packages: tuple[str, ...]  # what it imports
    env: dict = field(default_factory=dict, hash=False)  # its worker's environment
    requires: dict = field(default_factory=dict, hash=False)  # releases it needs


def all_suites() -> list[Suite]:
    """Every suite, grouped by the framework it runs on, the groups in the registry's order
    of their frameworks, a framework's own suite first."""
    found = []
    for a in adapters():
        for s in a.selfnorm:
            frameworks = (a.name, *s.uses)
            env = {**shared_environment(frameworks), **s.env}
            group = s.uses[0] if s.uses else a.name
            packages = packages_of(frameworks)
            requires = requirements_of(frameworks)
            found.append(Suite(s.name, group, a.name, a.module, s.checks, packages, env, requires))
    order = [a.name for a in adapters()]
    return sorted(found, key=lambda s: (order.index(s.group), s.marker != s.group))


def groups() -> tuple[str, ...]:
    """The frameworks that have suites, in order."""
    return tuple(dict.fromkeys(s.group for s in all_suites()))


def suites(frameworks) -> list[Suite]:
    """The suites of the groups `frameworks`, in order."""
    wanted = set(frameworks)
    return [s for s in all_suites() if s.group in wanted]
