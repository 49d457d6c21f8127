"""The cells of the matrix: one framework release in one interpreter, and what it runs.

A cell is an environment of the catalog (`environments.toml`, built by uv) or, for the
frameworks the catalog's [suite] names, the suite's own interpreter with the release that
constraints.txt pins. Its *key* is a digest of what its results depend on: the lock (or
constraints.txt), the implementations it runs and the suite's code and data. A cell whose
stored key equals the key now is not measured again.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path

from packaging.version import InvalidVersion, Version

from ..environments import catalog
from ..io import CHECKOUT
from ..registry import SPECS

SUITE_PREFIX = "suite-"  # the name of a cell in the suite's own interpreter: suite-jax


@dataclass(frozen=True)
class Cell:
    name: str  # the environment's name, or suite-FRAMEWORK
    framework: str
    version: str  # the framework's release
    implementations: tuple[str, ...]
    environment: catalog.Environment | None  # None: the suite's own interpreter

    @property
    def own(self) -> bool:
        return self.environment is None

    def sort_key(self):
        try:
            return (self.framework, Version(self.version.split("+")[0]), self.name)
        except InvalidVersion:
            return (self.framework, Version("0"), self.name)

    def key(self) -> str:
        """What its results depend on, as a digest."""
        digest = hashlib.sha256()
        lock = (
            (CHECKOUT / "constraints.txt").read_text()
            if self.environment is None
            else self.environment.lock_text() or ""
        )
        digest.update(lock.encode())
        digest.update("\n".join(self.implementations).encode())
        digest.update(code_digest().encode())
        digest.update(policy_digest(self.implementations).encode())
        return digest.hexdigest()[:20]


@functools.cache
def _policy():
    from ..policy import load

    return load()


def policy_digest(implementations) -> str:
    """A digest of what of the policy can judge these implementations: the profiles and
    the known deviations of any of them, with their lines (a record names the line of the
    deviation that judged it). Moving another framework's range does not touch this one."""
    policy = _policy()
    digest = hashlib.sha256(repr(sorted(policy.profiles.items())).encode())
    wanted = set(implementations)
    for deviation in policy.deviations:
        if wanted & set(deviation.impls):
            digest.update(repr(sorted(deviation.as_dict().items())).encode())
    return digest.hexdigest()


#: Parts of the suite that cannot change a cell's records: what reads them (the report),
#: what runs the cells (the matrix, the environments; a cell's lock is in its key).
_NOT_MEASURING = ("conformance/report", "conformance/matrix", "conformance/environments")
_NOT_MEASURING_FILES = (
    "conformance/data/environments.toml",
    "conformance/data/policy.toml",  # by the entries that judge the cell: policy_digest
)
_LOCKS = "conformance/data/environments/"


@functools.cache  # once per process: every cell's key needs it, several times a run
def code_digest() -> str:
    """A digest of the suite's code and data that a cell's records depend on: the
    reference, the conformance package (the checks, the measurement, the workers, the
    adapters) and its data (inputs, the corpus, the self-normalisation bounds); the
    policy counts by the entries of the cell's implementations (`policy_digest`)."""
    digest = hashlib.sha256()
    for folder in ("reference", "conformance"):
        for path in sorted((CHECKOUT / folder).rglob("*")):
            relative = path.relative_to(CHECKOUT).as_posix()
            if not path.is_file() or path.suffix not in {".py", ".toml", ".csv"}:
                continue
            if "__pycache__" in path.parts or relative.startswith(_NOT_MEASURING):
                continue
            if relative in _NOT_MEASURING_FILES or relative.startswith(_LOCKS):
                continue
            digest.update(relative.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def implementations_of(framework: str, environment: catalog.Environment | None) -> tuple:
    """What a cell of `framework` runs: the environment's list, else every implementation
    of the framework (in the suite's own interpreter) or those of it that need nothing
    but the framework's own packages (in an environment: keras/jax, not keras/torch)."""
    if environment is not None and environment.implementations:
        return environment.implementations
    specs = [s for s in SPECS if s.framework == framework]
    if environment is not None:
        specs = [s for s in specs if not s.uses]
    return tuple(s.id for s in specs)


def default_cells(frameworks=(), environments=()) -> list[Cell]:
    """The cells of the catalog, ordered by framework and release; `frameworks` and
    `environments` (names) narrow them."""
    cells = []
    for environment in catalog.load().values():
        cells.append(
            Cell(
                environment.name,
                environment.framework,
                environment.version(),
                implementations_of(environment.framework, environment),
                environment,
            )
        )
    from ..registry import lookup  # the pinned release: the suite's own package metadata

    for framework in catalog.suite_frameworks():
        implementations = implementations_of(framework, None)
        version = lookup(implementations[0]).version() if implementations else "?"
        cells.append(Cell(SUITE_PREFIX + framework, framework, version, implementations, None))
    if frameworks:
        cells = [c for c in cells if c.framework in set(frameworks)]
    if environments:
        cells = [c for c in cells if c.name in set(environments)]
    return sorted(cells, key=Cell.sort_key)


def results_path(folder: Path, cell: Cell) -> Path:
    return folder / f"{cell.name}.json"
