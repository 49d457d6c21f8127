"""The policy: tolerance profiles and known deviations, from a TOML file (data, not code).

    [profiles.NAME]                  one per named profile; "strict" is the default
    description = "..."
    max_ulp = {float16 = 1.0, ...}   the bound per dtype, for forward and derivative
    allow = ["flush-to-zero"]        violation kinds (measure.KINDS) this profile accepts

    [[deviation]]                    a known deviation of a pinned framework
    impl = "tensorflow/nn"           an implementation id, or a list of them (one kernel
                                     behind several ids)
    versions = ">=2.21,<2.22"        PEP 440 range of its framework's version
    devices = ["cpu"]                which devices ("*" = all; the default)
    dtypes = ["float32"]             which dtypes (default all)
    quantities = ["forward"]         forward, gradient (default both)
    checks = ["accuracy"]            accuracy, special, layout, threads, eager-vs-compiled, dtype,
                                     sweep (every input of float16, bfloat16, float32, and
                                     the float64 worst-case search: `conformance sweep`)
    max_ulp = 1.5e7                  the observed bound (accuracy: ulps against the exact
                                     value over every input with a figure, violations
                                     included, `measure`; layout and the like: ulps between
                                     two outputs), or a table by dtype: {float32 = 1.5e7}
    kinds = ["flush-to-zero"]        violation kinds it shows (default none)
    cases = ["-0"]                   for checks = ["special"]: the special cases it covers
    cause = "one sentence"           why, from the framework's source
    issue = "https://..."            the upstream issue, where there is one

A finding within the profile passes (its error outside the kinds the profile allows within
the bound, no other kind); one beyond it that a deviation covers (every kind it shows
listed, its largest error within the recorded bound) is a "known-deviation"; anything else
fails, a recorded deviation that got worse included. A deviation that matches a
passing finding is reported as stale, so the entry can go.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from .axes import ALL_DTYPES, QUANTITIES, CheckName
from .measure import KINDS, Figure
from .registry import BY_ID

DEFAULT_POLICY = Path(__file__).parent / "data" / "policy.toml"
DEFAULT_PROFILE = "strict"
CHECKS = tuple(CheckName)  # the names a deviation's `checks` may list
FAILURE_KINDS = ("error", "crash", "timeout", "wrong-dtype", "wrong-shape", "modified-input")


class PolicyError(ValueError):
    """A policy file that cannot be used; the message names the file and the line."""


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    max_ulp: dict
    allow: frozenset

    def bound(self, dtype: str) -> float:
        return self.max_ulp[dtype]


@dataclass(frozen=True)
class Deviation:
    impls: tuple
    versions: SpecifierSet
    devices: tuple
    dtypes: tuple
    quantities: tuple
    checks: tuple
    max_ulp: dict | None  # dtype -> bound; None: kinds only
    kinds: frozenset
    cases: tuple
    cause: str
    issue: str
    line: int
    observed: str | None = None  # the value it gives, where a check compares one value

    def matches(
        self,
        impl: str,
        version: str | None,
        device: str,
        dtype: str,
        quantity: str,
        check: str,
        case: str | None = None,
    ) -> bool:
        if impl not in self.impls or check not in self.checks:
            return False
        if "*" not in self.devices and device not in self.devices:
            return False
        # A check of the whole implementation (dtype "all": dtype handling) is matched by
        # its implementation, version, device and check alone.
        if dtype != "all" and (dtype not in self.dtypes or quantity not in self.quantities):
            return False
        if case is not None and self.cases and case not in self.cases:
            return False
        return version is None or self.covers(version)

    def covers(self, version: str) -> bool:
        """Whether its range holds the framework release `version`."""
        try:
            return Version(_public(version)) in self.versions
        except InvalidVersion:
            return False

    def bound(self, dtype: str) -> float | None:
        return None if self.max_ulp is None else self.max_ulp.get(dtype)

    def as_dict(self) -> dict:
        return {
            "impl": list(self.impls),
            "versions": str(self.versions),
            "devices": list(self.devices),
            "dtypes": list(self.dtypes),
            "quantities": list(self.quantities),
            "checks": list(self.checks),
            "max_ulp": self.max_ulp,
            "kinds": sorted(self.kinds),
            "cases": list(self.cases),
            "cause": self.cause,
            "issue": self.issue,
            "line": self.line,
        }


def _public(version: str) -> str:
    """'2.13.0+cpu' -> '2.13.0': local labels do not take part in the version range."""
    return version.split("+")[0]


@dataclass(frozen=True)
class Verdict:
    """The policy's word on one finding. `deviation`: the recorded deviation that covers it
    (known-deviation), that it is worse than (fail), or that no longer applies (`stale`:
    it passed although the deviation matches, so the entry may go)."""

    verdict: str  # "pass", "known-deviation", "fail"
    deviation: Deviation | None = None
    note: str = ""
    stale: bool = False


class Policy:
    def __init__(self, profiles: dict[str, Profile], deviations: list[Deviation], path: Path):
        self.profiles, self.deviations, self.path = profiles, deviations, path

    def profile(self, name: str | None) -> Profile:
        name = name or DEFAULT_PROFILE
        if name not in self.profiles:
            raise PolicyError(
                f"unknown profile {name!r}; {self.path} defines {', '.join(self.profiles)}"
            )
        return self.profiles[name]

    def judge(
        self,
        profile: Profile,
        *,
        impl: str,
        version: str,
        device: str,
        dtype: str,
        quantity: str,
        check: str,
        figure: Figure,
        bound: float,
        case: str | None = None,
    ) -> Verdict:
        """The verdict on one finding: its ulp figure against `bound` (the profile's, or 0
        for checks that compare an implementation with itself) and its violation kinds.
        The profile judges the error outside the kinds it allows; a recorded deviation,
        the largest error over every input (`figure.max_ulp`)."""
        unexplained = set(figure.kinds) - profile.allow
        within = figure.outside(profile.allow) <= bound and not unexplained
        max_ulp = figure.max_ulp
        matching = [
            d
            for d in self.deviations
            if d.matches(impl, version, device, dtype, quantity, check, case)
        ]
        if within:
            if matching:
                return Verdict(
                    "pass",
                    matching[0],
                    "recorded deviation no longer observed: "
                    f"{self.path.name} line {matching[0].line} can go",
                    stale=True,
                )
            return Verdict("pass")
        for deviation in matching:
            recorded = deviation.bound(dtype)
            ulp_ok = recorded is None or max_ulp <= recorded or max_ulp <= bound
            if ulp_ok and unexplained <= deviation.kinds:
                return Verdict("known-deviation", deviation)
        if matching:
            d = matching[0]
            worse = []
            recorded = d.bound(dtype)
            if recorded is not None and max_ulp > recorded:
                worse.append(f"{max_ulp:g} ulp > recorded {recorded:g}")
            if unexplained - d.kinds:
                worse.append(f"new kinds {', '.join(sorted(unexplained - d.kinds))}")
            return Verdict(
                "fail",
                d,
                f"worse than the deviation recorded at {self.path.name} "
                f"line {d.line}: {'; '.join(worse)}",
            )
        return Verdict("fail")


# -- loading -----------------------------------------------------------------------------


def load(path: str | Path | None = None) -> Policy:
    """Read and validate a policy file; PolicyError (file and line) if it is not usable."""
    path = Path(path) if path else DEFAULT_POLICY
    try:
        text = path.read_text()
    except OSError as error:
        raise PolicyError(f"{path}: cannot read the policy file ({error.strerror})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise PolicyError(f"{path}: {error}") from None
    lines = text.splitlines()

    def line_of(pattern: str, occurrence: int = 0) -> int:
        found = [i + 1 for i, line in enumerate(lines) if re.match(pattern, line.strip())]
        return found[occurrence] if occurrence < len(found) else 0

    def fail(message: str, line: int) -> PolicyError:
        return PolicyError(f"{path}:{line}: {message}" if line else f"{path}: {message}")

    unknown = set(data) - {"profiles", "deviation"}
    if unknown:
        raise fail(f"unknown top-level key(s) {', '.join(sorted(unknown))}", 0)
    profiles = {}
    for name, spec in (data.get("profiles") or {}).items():
        line = line_of(rf"\[profiles\.{re.escape(name)}\]")
        profiles[name] = _profile(name, spec, lambda m, line=line: fail(m, line))
    if DEFAULT_PROFILE not in profiles:
        raise fail(f"no [profiles.{DEFAULT_PROFILE}]: the default profile is required", 0)
    deviations = []
    for i, spec in enumerate(data.get("deviation") or []):
        start = line_of(r"\[\[deviation\]\]", i)

        def fail_at(message, key=None, start=start):
            # The line of the offending key inside this entry, else the entry's own line.
            line = start
            for number in range(start, len(lines)):
                text = lines[number].strip()
                if text.startswith("["):
                    break
                if key and re.match(rf"{re.escape(key)}\s*=", text):
                    line = number + 1
                    break
            return fail(message, line)

        deviations.append(_deviation(spec, start, fail_at))
    return Policy(profiles, deviations, path)


def load_profile(path: str | Path | None, profile: str | None) -> tuple[Policy, Profile]:
    """The policy of `path` (default: the suite's own) and its profile `profile` (default:
    strict); PolicyError as for `load` and `Policy.profile`."""
    policy = load(path)
    return policy, policy.profile(profile)


def _profile(name: str, spec: dict, fail) -> Profile:
    extra = set(spec) - {"description", "max_ulp", "allow"}
    if extra:
        raise fail(f"profile {name}: unknown key(s) {', '.join(sorted(extra))}")
    max_ulp = spec.get("max_ulp")
    if not isinstance(max_ulp, dict) or set(max_ulp) != set(ALL_DTYPES):
        raise fail(f"profile {name}: max_ulp must give a bound for each of {', '.join(ALL_DTYPES)}")
    if not all(isinstance(v, int | float) and v >= 0 for v in max_ulp.values()):
        raise fail(f"profile {name}: max_ulp bounds must be non-negative numbers")
    allow = spec.get("allow", [])
    if not isinstance(allow, list) or set(allow) - set(KINDS):
        raise fail(f"profile {name}: allow must list kinds among {', '.join(KINDS)}")
    return Profile(
        name,
        str(spec.get("description", "")),
        {k: float(v) for k, v in max_ulp.items()},
        frozenset(allow),
    )


def _names(spec: dict, key: str, allowed, default, fail) -> tuple:
    value = spec.get(key, default)
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        raise fail(f"deviation: {key} must be a non-empty list", key)
    bad = [v for v in value if allowed is not None and v not in allowed]
    if bad:
        raise fail(f"deviation: unknown {key} {', '.join(map(str, bad))}", key)
    return tuple(value)


def _deviation(spec: dict, line: int, fail) -> Deviation:
    keys = {
        "impl",
        "versions",
        "devices",
        "dtypes",
        "quantities",
        "checks",
        "max_ulp",
        "kinds",
        "cases",
        "cause",
        "issue",
    }
    extra = set(spec) - keys
    if extra:
        raise fail(f"deviation: unknown key(s) {', '.join(sorted(extra))}", sorted(extra)[0])
    for required in ("impl", "versions", "checks", "cause"):
        if required not in spec:
            raise fail(f"deviation: {required} is required")
    impls = (spec["impl"],) if isinstance(spec["impl"], str) else spec["impl"]
    if not isinstance(impls, list | tuple) or not impls:
        raise fail("deviation: impl must be an id or a list of ids", "impl")
    unknown = [i for i in impls if i not in BY_ID]
    if unknown:
        raise fail(f"deviation: unknown impl {', '.join(map(repr, unknown))}", "impl")
    try:
        versions = SpecifierSet(spec["versions"])
    except (InvalidSpecifier, TypeError):
        raise fail(
            f"deviation: versions {spec['versions']!r} is not a PEP 440 range", "versions"
        ) from None
    dtypes = _names(spec, "dtypes", ALL_DTYPES, list(ALL_DTYPES), fail)
    max_ulp = spec.get("max_ulp")
    if max_ulp is not None:
        table = max_ulp if isinstance(max_ulp, dict) else {d: max_ulp for d in dtypes}
        if set(table) - set(ALL_DTYPES):
            raise fail(
                f"deviation: max_ulp names unknown dtypes "
                f"{', '.join(sorted(set(table) - set(ALL_DTYPES)))}",
                "max_ulp",
            )
        if not all(isinstance(v, int | float) and v >= 0 for v in table.values()):
            raise fail("deviation: max_ulp must be non-negative numbers", "max_ulp")
        max_ulp = {d: float(v) for d, v in table.items()}
    kinds = _names(spec, "kinds", KINDS + FAILURE_KINDS, ["none"], fail) if "kinds" in spec else ()
    return Deviation(
        impls=tuple(impls),
        versions=versions,
        devices=_names(spec, "devices", None, ["*"], fail),
        dtypes=dtypes,
        quantities=_names(spec, "quantities", QUANTITIES, list(QUANTITIES), fail),
        checks=_names(spec, "checks", CHECKS, None, fail),
        max_ulp=max_ulp,
        kinds=frozenset(kinds),
        cases=tuple(spec.get("cases", ())),
        cause=str(spec["cause"]),
        issue=str(spec.get("issue", "")),
        line=line,
    )
