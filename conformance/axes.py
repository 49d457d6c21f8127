"""The axes of the matrix the suite covers, besides the implementations: the floating-point
formats, the quantities (SELU and its derivative), the devices, and the checks."""

from enum import StrEnum

ALL_DTYPES = ("float16", "bfloat16", "float32", "float64")
QUANTITIES = ("forward", "gradient")
DEVICES = ("cpu", "cuda")


class CheckName(StrEnum):
    """The checks, as the policy's deviations name them (`checks = [...]`) and as the last
    part of a finding id reads (an input set's name for accuracy)."""

    ACCURACY = "accuracy"  # every input of an input set against the reference
    SPECIAL = "special"  # each special case alone, at three positions
    LAYOUT = "layout"  # other memory layouts, bitwise against the plain call
    THREADS = "threads"  # one intra-op thread, bitwise against the default pool
    EAGER_VS_COMPILED = "eager-vs-compiled"  # a compiled variant against its eager one
    DTYPE = "dtype"  # integer, bool and complex inputs; the effective constants
    SWEEP = "sweep"  # every input of a range (`sweep/`)
