"""The self-normalisation reference: moments of selu(Z), the mean/variance map, its fixed
point and Jacobian (reference.moments), each computed two independent ways."""

import mpmath
import pytest

from reference import derive
from reference.moments import (
    fixed_decimals,
    fixed_point_jacobian,
    mean_variance_map,
    mean_variance_map_by_quadrature,
    selu_moments,
)

# Klambauer et al. (2017), eq. (6) and the text after it: the Jacobian at (0, 1) with
# ω = 0, τ = 1, and its spectral norm, as printed (6 and 4 decimals).
PAPER_JACOBIAN = [["0.0", "0.088834"], ["0.0", "0.782648"]]
PAPER_SPECTRAL_NORM = "0.7877"


def test_moments_are_zero_and_one_to_far_more_than_30_digits():
    m = selu_moments(160)
    assert abs(m["E[selu(Z)]"].value) < mpmath.mpf(10) ** -40
    assert abs(m["E[selu(Z)^2]"].value - 1) < mpmath.mpf(10) ** -40
    assert all(moment.error < mpmath.mpf(10) ** -40 for moment in m.values())


def test_the_moments_move_with_the_constants():
    """The quadrature does not just echo the conditions: α 2^-60 off (relative) moves the
    mean and the variance by about that much."""
    with mpmath.workprec(160):
        c = derive(160)
        off = 1 + mpmath.mpf(2) ** -60
        wrong = c._replace(alpha=c.alpha * off, lam_alpha=c.lam_alpha * off)
        mean, variance = mean_variance_map_by_quadrature(0, 1, constants=wrong)
    assert mpmath.mpf(2) ** -64 < abs(mean) < mpmath.mpf(2) ** -56
    assert mpmath.mpf(2) ** -64 < abs(variance - 1) < mpmath.mpf(2) ** -56


@pytest.mark.parametrize(
    ("mu", "nu", "omega", "tau"),
    [(0, 1, 0, 1), ("0.3", "1.4", "0.5", "0.9"), ("-0.2", "0.7", -1, "1.3"), (2, 3, 1, 1)],
)
def test_closed_form_map_agrees_with_quadrature(mu, nu, omega, tau):
    with mpmath.workprec(160):
        closed = mean_variance_map(
            mpmath.mpf(mu), mpmath.mpf(nu), mpmath.mpf(omega), mpmath.mpf(tau)
        )
        quad = mean_variance_map_by_quadrature(
            mpmath.mpf(mu), mpmath.mpf(nu), mpmath.mpf(omega), mpmath.mpf(tau)
        )
        for a, b in zip(closed, quad, strict=True):
            assert abs(a - b) < mpmath.mpf(10) ** -35 * max(1, abs(a))


def test_fixed_point_and_its_jacobian():
    fixed = fixed_point_jacobian(160)
    assert abs(fixed.value[0]) < mpmath.mpf(10) ** -40
    assert abs(fixed.value[1] - 1) < mpmath.mpf(10) ** -40
    # independently: central differences of the quadrature map
    with mpmath.workprec(200):
        h = mpmath.mpf(10) ** -12
        g = mean_variance_map_by_quadrature
        for j, (dmu, dnu) in enumerate(((h, 0), (0, h))):
            plus, minus = g(dmu, 1 + dnu), g(-dmu, 1 - dnu)
            for i in range(2):
                difference = (plus[i] - minus[i]) / (2 * h)
                assert abs(difference - fixed.jacobian[i, j]) < mpmath.mpf(10) ** -15
    for i in range(2):  # the paper rounds some digits and truncates others: within one
        for j in range(2):  # unit of the last printed digit
            paper = mpmath.mpf(PAPER_JACOBIAN[i][j])
            assert abs(fixed.jacobian[i, j] - paper) < mpmath.mpf(10) ** -6
    assert abs(fixed.spectral_norm - mpmath.mpf(PAPER_SPECTRAL_NORM)) < mpmath.mpf(10) ** -4
    assert fixed.spectral_radius < 1  # attracting
    # at ω = 0 the mean of z is 0 whatever μ is: the first column vanishes, and the
    # spectral radius is the variance's own derivative
    assert abs(fixed.jacobian[0, 0]) < mpmath.mpf(10) ** -30
    assert abs(fixed.jacobian[1, 0]) < mpmath.mpf(10) ** -30
    assert abs(fixed.spectral_radius - fixed.jacobian[1, 1]) < mpmath.mpf(10) ** -30


def test_the_fixed_point_repels_nothing_but_a_wrong_initialiser_moves_it():
    """With τ = 2 (He-normal weights) (0, 1) is no longer a fixed point: the variance map
    sends ν = 1 elsewhere, which is why the initialiser matters."""
    with mpmath.workprec(120):
        _, variance = mean_variance_map(0, 1, 0, 2)
    assert variance > mpmath.mpf("1.5")


def test_fixed_decimals():
    assert fixed_decimals(mpmath.mpf("-1e-40"), 30) == "0." + "0" * 30
    assert fixed_decimals(mpmath.mpf(1) - mpmath.mpf("1e-45"), 30) == "1." + "0" * 30
    assert fixed_decimals(mpmath.mpf("0.25"), 3) == "0.250"
