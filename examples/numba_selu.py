"""A user's own SELU kernel, checked by the suite: numba's @vectorize with math.expm1, once
as written and once with fastmath=True (LLVM's fast-math flags: no NaNs, no infinities, no
signed zeros, reassociation). docs/extending.md shows what `python -m conformance check`
says about each:

    PYTHONPATH=examples .venv/bin/python -m conformance check --impl numba_selu:selu \\
        --dtype float32 --dtype float64
    PYTHONPATH=examples .venv/bin/python -m conformance check --impl numba_selu:selu_fastmath \\
        --dtype float32 --dtype float64

The constants are the float64 roundings of λ and λα; float32 inputs are computed in float32
(the signature's type), as a kernel writer's float32 kernel would be.
"""

import math

from numba import vectorize

LAMBDA = 1.0507009873554804934193349852946
LAMBDA_ALPHA = 1.7580993408473768599402175208123

SIGNATURES = ["float32(float32)", "float64(float64)"]


def _selu(x):
    if x > 0:
        return LAMBDA * x
    return LAMBDA_ALPHA * math.expm1(x)


selu = vectorize(SIGNATURES)(_selu)
selu_fastmath = vectorize(SIGNATURES, fastmath=True)(_selu)
