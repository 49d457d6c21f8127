"""numpy/reference: the suite's own vectorised SELU in numpy, accurate and fast.

Not the ground truth (that is `reference/`, in mpmath): an implementation under test like
the others, showing what a careful one looks like. It meets the strict profile everywhere:

- float16, bfloat16, float32: evaluated in float64 (λ·x, λα·expm1(x), λα·e^x with the
  constants correctly rounded to float64) and rounded once to the format: error below
  0.5 ulp + 2^-28 ulp.
- float64: evaluated in numpy.longdouble (x87 extended, 64-bit significand, on x86-64
  Linux) and rounded once to float64: error below 0.5 ulp + 2^-10 ulp, given a libm
  expm1l/expl within a few ulp of the extended format. (Where longdouble is float64, as
  on Windows and macOS, the error rises to about 2 ulp.)

selu(-0) = -0 (the branch for x <= 0 keeps x itself, and expm1(-0) = -0), NaN propagates,
selu(-inf) = -λα, and the derivative at ±0 is the left value λα.
"""

import numpy as np

from conformance.frameworks.base import Adapter, Kernels, Variant

ADAPTER = Adapter(
    name="numpy",
    module="numpy_impl",
    packages=("numpy",),
    order=0,
    output_reuse=("reference",),
    variants=(
        Variant(
            "reference",
            "the suite's own vectorised numpy SELU (conformance/frameworks/numpy_impl.py)",
        ),
    ),
)

# α, λ from the fixed-point conditions (python -m reference constants), 40 digits: more
# than float64 or the x87 extended format can hold, so each parses to its correct rounding.
LAM = "1.050700987355480493419334985294606351959"
LAM_ALPHA = "1.758099340847376859940217520812279577324"


def version() -> str:
    return np.__version__


def devices() -> list[str]:
    return ["cpu"]


def set_threads(n: int) -> None:
    """numpy's elementwise loops are single-threaded already."""


def _selu(quantity: str, x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    if x.dtype.kind != "f" and x.dtype.name != "bfloat16":
        raise TypeError(f"selu is defined for floating-point arrays, not {x.dtype}")
    wide = np.longdouble if x.dtype == np.float64 else np.float64
    lam, lam_alpha = wide(LAM), wide(LAM_ALPHA)
    with np.errstate(invalid="ignore", over="ignore"):  # NaN, inf inputs; λ·x overflow
        xw = x.astype(wide)
        positive = xw > 0
        # Where x > 0 the negative branch gets 0 instead (its result is discarded), so
        # it cannot overflow; where x <= 0 it gets x itself, keeping -0.
        negative = np.where(positive, wide(0), xw)
        if quantity == "forward":
            y = np.where(positive, lam * xw, lam_alpha * np.expm1(negative))
        else:
            y = np.where(positive, lam, lam_alpha * np.exp(negative))
        if out is None:
            return y.astype(x.dtype)
        np.copyto(out, y, casting="same_kind")  # rounds to out's dtype as astype does
        return out


def build(variant: str, quantity: str, device: str):
    assert variant == "reference" and device == "cpu"
    return lambda x: _selu(quantity, np.asarray(x))


def kernels(variant: str, direction: str, device: str, x: np.ndarray, g: np.ndarray) -> Kernels:
    """numpy has no autodiff: "backward" is the value and g times the derivative."""
    assert variant == "reference" and device == "cpu"
    if direction == "forward":
        return Kernels(lambda: _selu("forward", x), lambda: np.multiply(x, 2))
    return Kernels(
        lambda: (_selu("forward", x), g * _selu("gradient", x)),
        lambda: (np.multiply(x, 2), np.multiply(g, 2)),
    )


def kernels_into(variant: str, device: str, x: np.ndarray) -> Kernels:
    """The forward SELU and the scale writing into outputs made once (numpy's out=; the
    reference's wider intermediates are still made at every call)."""
    assert variant == "reference" and device == "cpu"
    y, scaled = np.empty_like(x), np.empty_like(x)
    return Kernels(lambda: _selu("forward", x, out=y), lambda: np.multiply(x, 2, out=scaled))


def snippet(variant, quantity, dtype, device, x_hex) -> str:
    name = "selu" if quantity == "forward" else "selu_grad"
    return (
        'python -c "import numpy as np, ml_dtypes; '
        "from conformance.frameworks.numpy_impl import _selu; "
        f"x = np.array([float.fromhex('{x_hex}')]).astype('{dtype}'); "
        f"print(float(_selu('{quantity}', x)[0]).hex())\"  # {name}, from the checkout"
    )
