"""Command line of the reference.

    python -m reference constants [--digits N]
        α, λ and λ·α, derived from the fixed-point conditions, N significant digits (50).
    python -m reference eval [--dtype D] [--gradient] [--at-zero left|right] X [X ...]
        the correctly rounded value at each input X (hex like -0x1.8p-3, or decimal, rounded
        to D first), printed in hex and decimal.
    python -m reference bench [--dtype D] [--log2-size K] [--repeat R]
        speed of the reference on 2^K standard-normal inputs, and how many needed mpmath.
    python -m reference moments [--digits N]
        E[selu(Z)] and E[selu(Z)²] for Z ~ N(0, 1) by quadrature (0 and 1, N decimals, 30),
        the paper's mean/variance map at its fixed point (0, 1), and the Jacobian there
        with its spectral radius.

Usage errors exit with status 2 and one line on stderr.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time

import mpmath
import numpy as np

from . import EvalStats, decimal_digits, derive, selu, selu_grad
from .formats import FORMATS


def _constants(args) -> int:
    if args.digits < 1 or args.digits > 100_000:
        raise ValueError("--digits must be between 1 and 100000")
    strings = decimal_digits(args.digits)
    print(f"alpha        = {strings['alpha']}")
    print(f"lambda       = {strings['lam']}")
    print(f"lambda*alpha = {strings['lam_alpha']}")
    return 0


def _parse_value(text: str) -> float:
    try:
        return float.fromhex(text) if "0x" in text.lower() else float(text)
    except ValueError:
        raise ValueError(f"not a number: {text!r} (use hex like -0x1.8p-3, or decimal)") from None


def _eval(args) -> int:
    fmt = FORMATS[args.dtype]
    with np.errstate(over="ignore"):
        x = np.array([_parse_value(t) for t in args.values], dtype=np.float64).astype(fmt.dtype)
    if args.gradient:
        y = selu_grad(x, at_zero=args.at_zero)
    else:
        y = selu(x)
    name = "selu'" if args.gradient else "selu"
    for xi, yi in zip(x.astype(np.float64).tolist(), y.astype(np.float64).tolist(), strict=True):
        print(f"{name}({xi.hex()}) = {yi.hex()}  [{fmt}: {yi!r}]")
    return 0


def _bench(args) -> int:
    fmt = FORMATS[args.dtype]
    x = np.random.default_rng(0).standard_normal(1 << args.log2_size).astype(fmt.dtype)
    derive(64)  # the constants' first derivation is start-up, not evaluation
    print(
        f"reference on 2^{args.log2_size} standard-normal {fmt} inputs, "
        f"numpy {np.__version__}, {platform.processor() or platform.machine()}"
    )
    for name, function in (("selu", selu), ("selu_grad", selu_grad)):
        times = []
        for _ in range(args.repeat):
            stats = EvalStats()
            start = time.perf_counter()
            function(x, stats=stats)
            times.append(time.perf_counter() - start)
        print(
            f"  {name:9s} best {min(times):.3f} s, median {sorted(times)[len(times) // 2]:.3f} s"
            f" of {args.repeat}; {stats.mpmath} inputs needed mpmath"
            f" ({stats.evaluations} distinct), max precision {stats.max_precision} bits"
        )
    return 0


def _moments(args) -> int:
    from .moments import fixed_decimals, fixed_point_jacobian, selu_moments

    if args.digits < 1 or args.digits > 1000:
        raise ValueError("--digits must be between 1 and 1000")
    prec = int(args.digits * 3.33) + 64
    moments = selu_moments(prec)
    print(f"Z ~ N(0, 1), α and λ derived at {prec} bits; quadrature (mpmath.quad):")
    for name, moment in moments.items():
        print(
            f"  {name:14s} = {fixed_decimals(moment.value, args.digits)}"
            f"  (quadrature error estimate {mpmath.nstr(moment.error, 3)})"
        )
    fixed = fixed_point_jacobian(prec)
    print("mean/variance map g(μ, ν) = (μ̃, ν̃) of a dense unit, weights with ω = 0, τ = 1:")
    print(f"  g(0, 1) = ({fixed_decimals(fixed.value[0], args.digits)},")
    print(f"             {fixed_decimals(fixed.value[1], args.digits)})")
    print("  Jacobian at (0, 1), rows μ̃ and ν̃, columns ∂/∂μ and ∂/∂ν:")
    for i in range(2):
        row = "  ".join(f"{mpmath.nstr(fixed.jacobian[i, j], 20):>24s}" for j in range(2))
        print(f"    [{row} ]")
    eigenvalues = ", ".join(mpmath.nstr(mpmath.chop(e), 20) for e in fixed.eigenvalues)
    print(f"  eigenvalues {eigenvalues}")
    verdict = "below 1: the fixed point attracts" if fixed.spectral_radius < 1 else "NOT below 1"
    print(f"  spectral radius {mpmath.nstr(fixed.spectral_radius, 20)} ({verdict})")
    print(f"  spectral norm   {mpmath.nstr(fixed.spectral_norm, 20)}")
    return 0 if fixed.spectral_radius < 1 else 1


class _Parser(argparse.ArgumentParser):
    """Usage errors in one line (no usage block), exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m reference", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    p = sub.add_parser("constants", help="α, λ and λ·α to N significant digits")
    p.add_argument("--digits", type=int, default=50)
    p.set_defaults(run=_constants)
    p = sub.add_parser("eval", help="correctly rounded selu or selu' at given inputs")
    p.add_argument("values", nargs="+", metavar="X")
    p.add_argument("--dtype", choices=list(FORMATS), default="float32")
    p.add_argument("--gradient", action="store_true", help="the derivative instead of selu")
    p.add_argument("--at-zero", choices=("left", "right"), default="left")
    p.set_defaults(run=_eval)
    p = sub.add_parser("bench", help="speed of the reference and its mpmath share")
    p.add_argument("--dtype", choices=[f for f in FORMATS], default="float32")
    p.add_argument("--log2-size", type=int, default=24)
    p.add_argument("--repeat", type=int, default=5)
    p.set_defaults(run=_bench)
    p = sub.add_parser("moments", help="the moments of selu(Z) and the fixed point's Jacobian")
    p.add_argument("--digits", type=int, default=30)
    p.set_defaults(run=_moments)
    return parser


def _protect_negative_values(argv: list[str]) -> list[str]:
    """`eval -0x1p-3 -inf`: argparse takes a token starting with '-' for an option; a
    leading space makes it a value (float() and float.fromhex() ignore the space)."""
    if not argv or argv[0] != "eval":
        return argv
    protected = argv[:1]
    for token in argv[1:]:
        if token.startswith("-") and token[1:2] not in ("-", "h", ""):
            try:
                _parse_value(token)
                token = " " + token
            except ValueError:
                pass
        protected.append(token)
    return protected


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = _parser().parse_args(_protect_negative_values(argv))
    try:
        return args.run(args)
    except ValueError as error:
        print(f"python -m reference {args.command}: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
