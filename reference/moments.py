"""Self-normalisation of SELU: the moments of selu(Z), the paper's mean/variance map and its
fixed point, by mpmath.

Klambauer et al. (2017, "Self-Normalizing Neural Networks", section 3) follow one dense
unit: inputs x_i with mean μ and variance ν, weights with ω = Σ w_i and τ = Σ w_i², so
that z = Σ w_i x_i is (by the central limit theorem) N(μω, ντ). The unit's output
y = selu(z) has mean μ̃ and variance ν̃; g: (μ, ν) ↦ (μ̃, ν̃) is the map from one layer's
activation statistics to the next one's. With ω = 0 and τ = 1 (LeCun-normal weights,
variance 1/fan_in) α and λ make (0, 1) a fixed point of g, and the paper shows that it is
attracting: the Jacobian of g there has spectral radius below 1.

Here everything is computed, nothing is typed in:

- `selu_moments`: E[selu(Z)^k] for k = 1, 2, 4 and E[selu'(Z)^k] for k = 2, 4, Z ~ N(0, 1),
  by mpmath quadrature (the first two are 0 and 1 by construction of α and λ; the others
  size the sampling error and the gradient's growth in `conformance.selfnorm`).
- `mean_variance_map`: g in closed form (Gaussian integrals, below);
  `mean_variance_map_by_quadrature` the same by quadrature, for the tests.
- `fixed_point_jacobian`: the Jacobian of g at (0, 1), ω = 0, τ = 1, by mpmath.diff of the
  closed form, with its eigenvalues, spectral radius and spectral norm.

Closed forms, for z ~ N(m, s²), with Φ the normal CDF and φ its density:

    P(z <= 0)            = Φ(-m/s)
    E[z·1{z>0}]          = m·Φ(m/s) + s·φ(m/s)
    E[z²·1{z>0}]         = (m² + s²)·Φ(m/s) + m·s·φ(m/s)
    E[e^(kz)·1{z<=0}]    = e^(km + k²s²/2)·Φ(-(m + k·s²)/s)

so that μ̃ = λ·(E[z·1{z>0}] + α·(E[e^z·1{z<=0}] - P(z<=0))) and
E[y²] = λ²·(E[z²·1{z>0}] + α²·(E[e^(2z)·1{z<=0}] - 2·E[e^z·1{z<=0}] + P(z<=0))),
ν̃ = E[y²] - μ̃².
"""

from __future__ import annotations

from typing import NamedTuple

import mpmath

from .constants import derive


def _phi(t):
    return mpmath.npdf(t)


def _cdf(t):
    return mpmath.ncdf(t)


class Moment(NamedTuple):
    value: mpmath.mpf
    error: mpmath.mpf  # mpmath.quad's own error estimate


def _expectation(f, prec: int) -> Moment:
    """E[f(Z)], Z ~ N(0, 1), by quadrature on each side of 0 (f has a kink there)."""
    with mpmath.workprec(prec):
        total, error = mpmath.mpf(0), mpmath.mpf(0)
        for interval in ([-mpmath.inf, 0], [0, mpmath.inf]):
            value, err = mpmath.quad(lambda z: f(z) * _phi(z), interval, error=True)
            total += value
            error += err
        return Moment(total, error)


def selu_moments(prec: int = 160) -> dict[str, Moment]:
    """E[selu(Z)], E[selu(Z)²], E[selu(Z)⁴], E[selu'(Z)²], E[selu'(Z)⁴] for Z ~ N(0, 1),
    by quadrature at `prec` bits, α and λ derived at the same precision."""
    c = derive(prec)

    def selu(z):
        return c.lam * z if z > 0 else c.lam_alpha * mpmath.expm1(z)

    def grad(z):
        return c.lam if z > 0 else c.lam_alpha * mpmath.exp(z)

    return {
        "E[selu(Z)]": _expectation(selu, prec),
        "E[selu(Z)^2]": _expectation(lambda z: selu(z) ** 2, prec),
        "E[selu(Z)^4]": _expectation(lambda z: selu(z) ** 4, prec),
        "E[selu'(Z)^2]": _expectation(lambda z: grad(z) ** 2, prec),
        "E[selu'(Z)^4]": _expectation(lambda z: grad(z) ** 4, prec),
    }


def mean_variance_map(mu, nu, omega=0, tau=1, constants=None):
    """(μ̃, ν̃): the mean and variance of selu(z), z ~ N(μω, ντ), in closed form, at the
    current mpmath precision. At ω = 0 the mean of z is 0 whatever μ is: only ω ≠ 0 makes
    μ̃ depend on μ."""
    c = constants or derive(mpmath.mp.prec)
    m = mpmath.mpf(mu) * omega
    s2 = mpmath.mpf(nu) * tau
    s = mpmath.sqrt(s2)
    negative = _cdf(-m / s)
    positive_1 = m * _cdf(m / s) + s * _phi(m / s)
    positive_2 = (m**2 + s2) * _cdf(m / s) + m * s * _phi(m / s)

    def exp_below(k):  # E[e^(kz)·1{z<=0}]
        return mpmath.exp(k * m + k**2 * s2 / 2) * _cdf(-(m + k * s2) / s)

    mean = c.lam * (positive_1 + c.alpha * (exp_below(1) - negative))
    second = c.lam**2 * (positive_2 + c.alpha**2 * (exp_below(2) - 2 * exp_below(1) + negative))
    return mean, second - mean**2


def mean_variance_map_by_quadrature(mu, nu, omega=0, tau=1, constants=None):
    """The same map by quadrature over the density of z (an independent check)."""
    c = constants or derive(mpmath.mp.prec)
    m = mpmath.mpf(mu) * omega
    s = mpmath.sqrt(mpmath.mpf(nu) * tau)

    def moment(k):
        # z = m + s·t, t ~ N(0, 1); the kink of selu is at t = -m/s
        kink = -m / s
        below = mpmath.quad(
            lambda t: (c.lam_alpha * mpmath.expm1(m + s * t)) ** k * _phi(t), [-mpmath.inf, kink]
        )
        above = mpmath.quad(lambda t: (c.lam * (m + s * t)) ** k * _phi(t), [kink, mpmath.inf])
        return below + above

    mean = moment(1)
    return mean, moment(2) - mean**2


class FixedPoint(NamedTuple):
    value: tuple  # g(0, 1): (0, 1) up to the working precision
    jacobian: mpmath.matrix  # [[∂μ̃/∂μ, ∂μ̃/∂ν], [∂ν̃/∂μ, ∂ν̃/∂ν]] at (0, 1)
    eigenvalues: list
    spectral_radius: mpmath.mpf
    spectral_norm: mpmath.mpf  # largest singular value


def fixed_point_jacobian(prec: int = 160, omega=0, tau=1) -> FixedPoint:
    """g at (μ, ν) = (0, 1) and the Jacobian there (weights with sums ω and τ)."""
    with mpmath.workprec(prec):
        c = derive(prec)

        def g(i):
            return lambda mu, nu: mean_variance_map(mu, nu, omega, tau, c)[i]

        jacobian = mpmath.matrix(2, 2)
        for i in range(2):
            jacobian[i, 0] = mpmath.diff(g(i), (0, 1), (1, 0))
            jacobian[i, 1] = mpmath.diff(g(i), (0, 1), (0, 1))
        eigenvalues = list(mpmath.eig(jacobian, left=False, right=False))
        radius = max(abs(e) for e in eigenvalues)
        norm = mpmath.sqrt(max(abs(e) for e in mpmath.eigsy(jacobian.T * jacobian)[0]))
        return FixedPoint(
            mean_variance_map(0, 1, omega, tau, c), jacobian, eigenvalues, radius, norm
        )


def fixed_decimals(value, places: int) -> str:
    """`value` with exactly `places` digits after the point (no exponent): 0 and 1 print as
    0.000… and 1.000…, however small their error."""
    from decimal import Decimal, localcontext

    text = mpmath.nstr(value, places + 20, min_fixed=-mpmath.inf, max_fixed=mpmath.inf)
    with localcontext() as context:
        context.prec = places + 40  # quantize needs every digit it keeps
        rounded = Decimal(text).quantize(Decimal(1).scaleb(-places))
        return format(rounded + 0, "f")  # + 0: "-0.000" prints as "0.000"
