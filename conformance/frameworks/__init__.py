"""One module per framework: its adapter (`ADAPTER`, read without importing the framework)
and the code that calls it, which imports the framework inside its functions and runs only
in a worker process (and, for timing, in asv's benchmark processes). The contract is
`base.py`; `user_impl.py` serves a user's own MODULE:FUNCTION.

    from conformance.frameworks import adapters
    adapters()          # every Adapter, in the registry's order
"""

from __future__ import annotations

import functools
import importlib
import pkgutil

from .base import Adapter, Kernels, no_wait

__all__ = ["Adapter", "Kernels", "adapter", "adapters", "no_wait"]


@functools.cache
def adapters() -> tuple[Adapter, ...]:
    """The adapters of every module of this package that declares one."""
    found = []
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        declared = getattr(module, "ADAPTER", None)
        if isinstance(declared, Adapter):
            found.append(declared)
    return tuple(sorted(found, key=lambda a: (a.order, a.name)))


def adapter(name: str) -> Adapter:
    """The adapter of a framework name ("torch"); KeyError otherwise."""
    for a in adapters():
        if a.name == name:
            return a
    raise KeyError(name)
