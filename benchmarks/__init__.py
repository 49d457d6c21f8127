"""asv benchmarks. The suite runs from its checkout (it is not installed), so the checkout
is put on the import path here, for `asv run` with the project's existing environment.

The environment the conformance workers give each framework (its adapter's `env`: float64
enabled where a framework otherwise computes it in a narrower format, log lines off, the
backend a framework's bundled Keras needs) is set here too, before any framework is
imported, for every framework at once: asv's fork server imports them all in one process,
and with it every framework's intra-op pools at `speed.THREADS` threads (SELU_BENCH_THREADS,
1 by default), through the variables each adapter names (`thread_env`); `speed.prepare`
sets them through the framework's own call too."""

import os
import sys
from pathlib import Path

_CHECKOUT = str(Path(__file__).resolve().parent.parent)
if _CHECKOUT not in sys.path:
    sys.path.insert(0, _CHECKOUT)

from conformance.registry import (  # noqa: E402  (needs the path above)
    shared_environment,
    thread_environment,
)

os.environ.update(shared_environment())
os.environ.update(thread_environment(int(os.environ.get("SELU_BENCH_THREADS", "1"))))
