"""Ground truth for SELU: exact values, correctly rounded into float16/bfloat16/float32/float64.

    selu(x)  = λ·x           (x > 0)        selu'(x) = λ          (x > 0)
             = λα·(eˣ − 1)   (x <= 0)                = λα·eˣ      (x < 0)

with α and λ derived from the self-normalising fixed-point conditions (`constants`).

Public API:
    selu(x), selu_grad(x, at_zero="left")   arrays in, correctly rounded arrays out
    evaluate(quantity, x)                   the same with each value's rounding error
    EvalStats                               how many inputs needed mpmath
    derive(prec), decimal_digits(n)         the constants, at any precision
    FORMATS, format_of, Format              the four formats and their parameters
    round_mpf, round_float64                the reference's own rounding into a format

Command line: `python -m reference constants [--digits N]`, `python -m reference eval`,
`python -m reference bench`.
"""

from .constants import Constants, decimal_digits, derive, moments, moments_by_quadrature
from .evaluate import EvalStats, Evaluation, evaluate, selu, selu_grad
from .exact import Rounded, correctly_rounded
from .formats import BFLOAT16, FLOAT16, FLOAT32, FLOAT64, FORMATS, Format, format_of, ulp
from .rounding import round_float64, round_mpf

__all__ = [
    "BFLOAT16",
    "FLOAT16",
    "FLOAT32",
    "FLOAT64",
    "FORMATS",
    "Constants",
    "EvalStats",
    "Evaluation",
    "Format",
    "Rounded",
    "correctly_rounded",
    "decimal_digits",
    "derive",
    "evaluate",
    "format_of",
    "moments",
    "moments_by_quadrature",
    "round_float64",
    "round_mpf",
    "selu",
    "selu_grad",
    "ulp",
]
