"""The machine a run measures on: its CPU's name and instruction-set level, read without
importing a framework (the level selects the frameworks' kernels, so results and worst
cases are kept per level)."""

from __future__ import annotations

import platform
from pathlib import Path


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_level() -> str:
    """The CPU's instruction-set level, which selects the frameworks' kernels (torch's
    ATEN_CPU_CAPABILITY, XLA's and Eigen's vector width): on x86-64 its micro-architecture
    level, x86-64-v4 (AVX-512), -v3 (AVX2, FMA), -v2; elsewhere the machine, with "+sve"
    where it has SVE. Read from numpy's runtime CPU dispatch (no framework imported)."""
    machine = platform.machine().lower()
    try:
        from numpy._core._multiarray_umath import __cpu_features__ as features
    except ImportError:  # numpy < 2
        from numpy.core._multiarray_umath import __cpu_features__ as features
    if machine in ("x86_64", "amd64"):
        for level in ("X86_V4", "X86_V3", "X86_V2"):
            if features.get(level):
                return f"x86-64-{level[-2:].lower()}"
        return "x86-64"
    return machine + ("+sve" if features.get("SVE") else "")
