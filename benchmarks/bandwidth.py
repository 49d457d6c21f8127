"""The machine's memory bandwidth, the physical limit of an elementwise operation: what
each SELU case's GB/s is a fraction of in the report (`bench_bandwidth`).

The kernel streams like SELU does: it reads one array and writes another of the same size,
y = 2x, through numpy's `out=` into arrays made once, so that it neither allocates nor
page-faults while timed (the out-of-place framework calls do both; that cost is theirs).
The arrays are 4 × the 32 MiB L3 of the machines this suite runs on, so the traffic goes
to DRAM. One thread, as the benchmarks' frameworks (`speed.THREADS`). The figure is the
nominal traffic (read x, write y: 2 bytes per byte of x), as for SELU, over the median of
`passes` passes, so the two are counted alike; write-allocate traffic is in neither.
"""

from __future__ import annotations

import statistics
import time

import numpy as np

ELEMENTS = 1 << 25  # float32: 128 MiB per array


def stream_gbps(elements: int = ELEMENTS, passes: int = 15) -> float:
    """GB/s of y = 2x over `elements` float32, median over `passes` timed passes after
    one that touches both arrays."""
    x = np.ones(elements, dtype=np.float32)
    y = np.empty_like(x)
    np.multiply(x, 2, out=y)  # faults y in before the clock starts
    seconds = []
    for _ in range(passes):
        start = time.perf_counter()
        np.multiply(x, 2, out=y)
        seconds.append(time.perf_counter() - start)
    return 2 * x.nbytes / statistics.median(seconds) / 1e9
