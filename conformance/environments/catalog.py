"""The environments of `data/environments.toml` ($CONFORMANCE_CATALOG to read another): for
each, its framework, its requirements, its lock file (`data/environments/NAME.txt`, beside
the catalog) and its folder (`$CONFORMANCE_ENVS/NAME`, default `.envs/NAME` in the
checkout).

An environment is *built* when its folder holds an interpreter and the digest of the lock
it was built from equals the lock file's: a changed lock rebuilds it. A lock is *current*
when it was compiled from the requirements the file declares now (its header records
their digest): a changed requirement without a new lock is reported, not built.
"""

from __future__ import annotations

import hashlib
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from ..frameworks import adapters
from ..io import CHECKOUT

CATALOG = Path(
    os.environ.get(
        "CONFORMANCE_CATALOG", Path(__file__).resolve().parent.parent / "data" / "environments.toml"
    )
)
LOCKS = CATALOG.parent / "environments"  # NAME.txt, beside the catalog
ENVS_DIR = Path(os.environ.get("CONFORMANCE_ENVS", CHECKOUT / ".envs"))
STAMP = ".conformance-lock"  # in the environment: the digest of the lock it was built from
REQUIREMENTS_LINE = "# requirements-sha256: "  # in the lock's header


class CatalogError(ValueError):
    """An unknown environment or an unusable environments.toml: one line."""


@dataclass(frozen=True)
class Environment:
    name: str
    framework: str  # the adapter it serves
    requirements: tuple[str, ...]
    implementations: tuple[str, ...]  # () : every implementation of the framework
    python_version: str
    exclude_newer: str
    note: str = ""

    @property
    def folder(self) -> Path:
        return ENVS_DIR / self.name

    @property
    def python(self) -> Path:
        return self.folder / "bin" / "python"

    @property
    def lock(self) -> Path:
        return LOCKS / f"{self.name}.txt"

    def requirements_digest(self) -> str:
        text = "\n".join([*self.requirements, self.python_version, self.exclude_newer])
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def lock_text(self) -> str | None:
        try:
            return self.lock.read_text()
        except OSError:
            return None

    def lock_digest(self) -> str | None:
        text = self.lock_text()
        return None if text is None else hashlib.sha256(text.encode()).hexdigest()[:16]

    def lock_current(self) -> bool:
        """Whether the lock was compiled from the requirements declared now."""
        text = self.lock_text() or ""
        return f"{REQUIREMENTS_LINE}{self.requirements_digest()}" in text.splitlines()

    def built(self) -> bool:
        """Whether the folder holds an interpreter built from the lock as it is now."""
        try:
            stamp = (self.folder / STAMP).read_text().strip()
        except OSError:
            return False
        return self.python.exists() and stamp == self.lock_digest()

    def version(self) -> str:
        """The framework's version the lock pins."""
        wanted = _framework_distributions(self.framework)
        for line in (self.lock_text() or "").splitlines():
            name, _, version = line.strip().partition("==")
            if _normal(name) in wanted and version:
                return version.split()[0]
        return "?"

    def pins(self) -> dict[str, str]:
        """Every distribution the lock pins, by its normalised name."""
        out = {}
        for line in (self.lock_text() or "").splitlines():
            name, sep, version = line.strip().partition("==")
            if sep and not name.startswith("#"):
                out[_normal(name)] = version.split()[0]
        return out


def _normal(name: str) -> str:
    return name.strip().lower().replace("_", "-")


def _framework_distributions(framework: str) -> set[str]:
    for a in adapters():
        if a.name == framework:
            return {_normal(d) for d in (a.distributions or a.packages[:1])}
    return {_normal(framework)}


def load(path: Path = CATALOG) -> dict[str, Environment]:
    """Every environment of the catalog, in its order; CatalogError naming the file."""
    try:
        data = tomllib.loads(path.read_text())
    except OSError as error:
        raise CatalogError(f"{path}: cannot read ({error.strerror})") from None
    except tomllib.TOMLDecodeError as error:
        raise CatalogError(f"{path}: {error}") from None
    known = {a.name for a in adapters()}
    out = {}
    for name, spec in (data.get("env") or {}).items():
        framework = spec.get("framework")
        if framework not in known:
            raise CatalogError(f"{path}: env {name}: unknown framework {framework!r}")
        requirements = spec.get("requirements")
        if not isinstance(requirements, list) or not requirements:
            raise CatalogError(f"{path}: env {name}: requirements must be a non-empty list")
        out[name] = Environment(
            name=name,
            framework=framework,
            requirements=tuple(requirements),
            implementations=tuple(spec.get("implementations", ())),
            python_version=str(spec.get("python", data.get("python", "3.11"))),
            exclude_newer=str(spec.get("exclude_newer", data.get("exclude_newer", ""))),
            note=str(spec.get("note", "")),
        )
    return out


def suite_frameworks(path: Path = CATALOG) -> tuple[str, ...]:
    """The frameworks whose pinned release (constraints.txt) is a cell of the matrix."""
    data = tomllib.loads(path.read_text())
    return tuple((data.get("suite") or {}).get("frameworks", ()))


def get(name: str) -> Environment:
    environments = load()
    if name not in environments:
        raise CatalogError(f"unknown environment {name!r}; known: {', '.join(environments)}")
    return environments[name]
