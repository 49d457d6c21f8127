"""One module per framework: the code that calls it. Imported only inside a worker process
(and, for timing, inside asv's benchmark processes).

Each module provides:

    version() -> str                      the framework's version
    devices() -> list[str]                "cpu", and "cuda" where a GPU is usable
    set_threads(n) -> None                one intra-op thread (called before any other call)
    build(variant, quantity, device) -> f f(x: numpy.ndarray) -> numpy.ndarray, elementwise:
                                          selu ("forward") or its derivative ("gradient")
    snippet(variant, quantity, dtype, device, x_hex) -> str
                                          one line of Python that reproduces one value
    kernels(variant, direction, device, x, g) -> Kernels
                                          SELU and the scale y = 2x, for timing

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

import time
from collections.abc import Callable
from dataclasses import dataclass, field


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
