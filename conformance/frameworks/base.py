"""The adapter contract: everything the suite knows of one framework, in one module.

A framework module under `conformance/frameworks/` declares `ADAPTER = Adapter(...)` at its
top and imports its framework only inside its functions, so that the main process can read
every adapter (ids, dtypes, environments, packages) without importing a framework. The
registry (`conformance/registry.py`), the workers' environments, the pytest markers, the
benchmarks and the self-normalisation checks are all built from the adapters; no other
module of the suite names a framework.

The functions a framework module provides, called in a worker process (or in asv's
benchmark processes):

    version() -> str                      the framework's version
    devices() -> list[str]                "cpu", and "cuda" where a GPU is usable
    set_threads(n) -> None                one intra-op thread (called before any other call)
    build(variant, quantity, device) -> f f(x: numpy.ndarray) -> numpy.ndarray, elementwise:
                                          selu ("forward") or its derivative ("gradient")
    snippet(variant, quantity, dtype, device, x_hex) -> str
                                          one line of Python that reproduces one value
    kernels(variant, direction, device, x, g) -> Kernels
                                          SELU and the scale y = 2x, for timing
    kernels_into(variant, device, x) -> Kernels
                                          where the adapter's `output_reuse` names the
                                          variant: the forward SELU and scale, each
                                          writing into an output made once
    select(variant) -> None               optional: prepare this process for `variant`
                                          before its first call (Keras's backend)
    cpu_capability() -> str               optional: the CPU instruction set its kernels
                                          dispatch to (the worker reports None without
                                          it); a sweep keys its checkpoint on it and, on a
                                          cluster, refuses a machine where it differs

and, where the adapter lists self-normalisation suites (`SelfNormSuite`), the hooks their
checks call (`conformance/selfnorm/child.py`):

    LECUN_NORMAL: str                     the initialiser call, for people
    lecun_normal(fan_in, fan_out, seed) -> numpy.ndarray   a sample of it
    dense_stack(x, g, depth, activation, seed) -> {"means", "variances", "grad_norms"}
        (`stack_moments` builds that dict from numpy-readable arrays)
    alpha_dropout(x, rate, seed) -> numpy.ndarray          AlphaDropout in training mode
    keras_idioms() -> list[dict]          the Keras idioms, bit for bit (Keras only)

`build` returns a function that converts the numpy input the way a user would, calls the
framework and converts back; bfloat16 arrays are ml_dtypes.bfloat16 on both sides. Inputs
may be non-contiguous views and 0-d arrays: adapters pass them on as they are.

`kernels` is `build` without the conversions: it places x (and the upstream gradient g) on
the device once, and returns calls that work on the framework's own arrays there, which is
what a timer may time. `direction` is "forward" (selu(x)) or "backward" (the value and the
gradient with respect to x for the upstream gradient g, as in a training step: selu(x) and
g·selu'(x), through the framework's autodiff). The scale is called the same way (same API
level, compiled where the variant is compiled, in place where it is in place), so the two
differ only in the arithmetic per element: both read and write each element once.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from ..axes import ALL_DTYPES, DEVICES


def no_wait(output) -> None:
    """Calls on this device return once their output is computed."""


@dataclass
class Kernels:
    """The two timed calls of one implementation, device, dtype, size and direction.

    `selu()` and `scale()` start one call on arrays already on the device and keep its
    output (one output alive at a time, as a user's loop would); `clock()` waits for the
    kept output to be computed and then reads the clock, so a timer built on it measures
    finished work without a sync inside each call.
    """

    selu_call: Callable[[], object]
    scale_call: Callable[[], object]
    wait: Callable[[object], None] = no_wait
    output: object = field(default=None, repr=False)

    def selu(self) -> None:
        self.output = self.selu_call()

    def scale(self) -> None:
        self.output = self.scale_call()

    def clock(self) -> float:
        self.wait(self.output)
        return time.perf_counter()


class GatePart(StrEnum):
    """Which gate target checks an implementation: `make gate` (part of `make test`) or
    `make gate-more` (the implementations whose checks take longest: compilers per shape,
    exporters, forward-mode AD; CI runs both). The gate's `--part` option selects one."""

    MAIN = "main"
    MORE = "more"


@dataclass(frozen=True)
class Variant:
    """One implementation of an adapter: its id is `<adapter name>/<name>`."""

    name: str  # "functional"
    calls: str  # what it calls, for people
    dtypes: tuple[str, ...] = ALL_DTYPES
    gradient: bool = True
    eager: str | None = None  # for a compiled variant: the eager variant to compare with
    uses: tuple[str, ...] = ()  # other adapters it runs on (Keras's backend): their
    #                             packages, environment and thread settings come along
    env: Mapping[str, str] = field(default_factory=dict, hash=False)  # more of its worker's env
    devices: tuple[str, ...] = DEVICES  # the devices it may run on
    gate: GatePart | None = None  # the gate target that checks it (None: its adapter's)


class SelfNormCheck(StrEnum):
    """The self-normalisation checks a suite may run (the `check` of their records)."""

    STACK = "stack"  # a deep dense stack keeps mean 0, variance 1 (hooks: dense_stack, ...)
    LECUN_NORMAL = "lecun-normal"  # the initialiser's variance is 1/fan_in (lecun_normal)
    ALPHA_DROPOUT_MOMENTS = "alpha-dropout-moments"  # AlphaDropout keeps them (alpha_dropout)
    ALPHA_DROPOUT_SATURATION = "alpha-dropout-saturation"  # dropped units are -λα
    KERAS_IDIOM = "keras-idiom"  # the Keras idioms, bit for bit (keras_idioms)

    @property
    def title(self) -> str:
        """What the check asserts, for the report."""
        return _SELFNORM_TITLES[self]


_SELFNORM_TITLES = {
    SelfNormCheck.STACK: "a deep stack keeps mean 0, variance 1",
    SelfNormCheck.LECUN_NORMAL: "LeCun normal: variance 1/fan_in",
    SelfNormCheck.KERAS_IDIOM: "Keras idiom, bit for bit",
    SelfNormCheck.ALPHA_DROPOUT_MOMENTS: "AlphaDropout keeps mean 0, variance 1",
    SelfNormCheck.ALPHA_DROPOUT_SATURATION: "AlphaDropout saturation value = -λα rounded",
}


@dataclass(frozen=True)
class SelfNormSuite:
    """A self-normalisation child: the checks it runs in a process of its own.

    `name` is the `framework` of its records ("torch", "keras-jax"); `checks` are
    `SelfNormCheck`s, in the order of their tests; the hooks they need are the adapter
    module's (see the module docstring).
    """

    name: str
    checks: tuple[SelfNormCheck, ...]
    uses: tuple[str, ...] = ()  # other adapters it runs on, as for a Variant
    env: Mapping[str, str] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class Adapter:
    """What the suite knows of one framework, read without importing it."""

    name: str  # "torch": the first part of its ids, its pytest marker
    module: str  # its module in conformance.frameworks, "torch_impl"
    packages: tuple[str, ...]  # import names it needs; the first names its version
    variants: tuple[Variant, ...]
    distributions: tuple[str, ...] = ()  # distributions of packages[0], where named otherwise
    # releases its code needs, by distribution ({"keras": ">=3"}): an older one installed
    # is a reason it cannot run, as a missing package is
    requires: Mapping[str, str] = field(default_factory=dict, hash=False)
    # programs it runs, found on PATH, with how to install each ({"clang": "apt-get install
    # clang"}): one missing is a reason it cannot run, as a missing package is
    programs: Mapping[str, str] = field(default_factory=dict, hash=False)
    # the environment of the matrix (environments.toml) its workers run in by default,
    # where its pins conflict with the suite's (or its weight would slow make test's
    # install); built by `make own-envs`
    environment: str | None = None
    env: Mapping[str, str] = field(
        default_factory=dict, hash=False
    )  # environment of every process that runs it
    thread_env: Callable[[int], dict[str, str]] | None = None  # environment for n threads
    selfnorm: tuple[SelfNormSuite, ...] = ()
    benchmark_preload: bool = True  # imported once in asv's fork server (not Keras: its
    #                                 variants need different backends)
    warm_imports: tuple[str, ...] = ()  # modules a benchmark process imports ahead
    order: int = 100  # position in listings and runs (the registry's order)
    gate: GatePart = GatePart.MAIN  # the gate target that checks its variants
    # variants whose forward call can write into an output made once (numpy's out=,
    # onnxruntime's IOBinding, jax's buffer donation): the module's `kernels_into` times
    # them so, beside the out-of-place `kernels` (bench_selu's ForwardInto classes)
    output_reuse: tuple[str, ...] = ()
    # the most elements one timed call takes (ExecuTorch: the exported program's planned
    # bound); the benchmarks skip a larger size with this reason rather than fail on it
    max_timed_elements: int | None = None

    def variant(self, name: str) -> Variant:
        return next(v for v in self.variants if v.name == name)


def appended_flags(variable: str, flags: str) -> str:
    """`flags` after those already in the environment variable (say, --xla_cpu_max_isa)."""
    return " ".join(f for f in (os.environ.get(variable, ""), flags) if f)


def stack_moments(outputs, grads) -> dict[str, list[float]]:
    """The dict `dense_stack` returns, from the stack's outputs (the input first, then each
    layer's) and the gradients with respect to each of them (the input's first), any array
    numpy can read: every layer's mean and variance and every gradient's norm, in float64."""
    import numpy as np

    wide = [np.asarray(t).astype(np.float64) for t in outputs]
    return {
        "means": [float(t.mean()) for t in wide[1:]],
        "variances": [float(t.var()) for t in wide[1:]],
        "grad_norms": [float(np.linalg.norm(np.asarray(t).astype(np.float64))) for t in grads],
    }
