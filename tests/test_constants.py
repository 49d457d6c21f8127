"""α and λ: derived from the fixed-point conditions, checked three independent ways."""

import subprocess
import sys

import mpfr_oracle
import mpmath
import pytest

from reference import constants, decimal_digits, derive

# Published with the paper (Klambauer et al. 2017, the constants in its code), 32 digits.
PAPER_ALPHA = "1.6732632423543772848170429916717"
PAPER_LAMBDA = "1.0507009873554804934193349852946"
# Longer expansions quoted in the issue that asked for this reference.
ISSUE_ALPHA = "1.673263242354377284817042991671652038461"
ISSUE_LAMBDA = "1.05070098735548049341933498529460635195898"


def test_agrees_with_the_papers_32_digits():
    c = derive(200)
    assert mpmath.nstr(c.alpha, 32) == PAPER_ALPHA
    assert mpmath.nstr(c.lam, 32) == PAPER_LAMBDA


def test_printed_digits_extend_the_published_expansions():
    d = decimal_digits(50)
    # The quoted expansions are truncated: every quoted digit must be a prefix of ours,
    # up to the last quoted digit, which ours may round.
    assert d["alpha"].startswith(ISSUE_ALPHA[:-1])
    assert d["lam"].startswith(ISSUE_LAMBDA[:-1])
    assert len(d["alpha"].replace(".", "")) == 50


@pytest.mark.parametrize("digits", [1, 10, 50, 200])
def test_every_printed_digit_is_correct(digits):
    # Against MPFR's own correctly rounded decimal conversion of its constants.
    got = decimal_digits(digits)
    lam, lam_alpha, alpha = mpfr_oracle.constants(16 * digits + 256)
    for name, value in (("alpha", alpha), ("lam", lam), ("lam_alpha", lam_alpha)):
        mantissa, exponent = f"{value:.{digits - 1}e}".split("e")
        assert int(exponent) == 0  # all three lie in [1, 2)
        assert got[name].replace(".", "") == mantissa.replace(".", ""), name


def test_independent_mpfr_evaluation_agrees():
    lam, lam_alpha, alpha = mpfr_oracle.constants()
    c = derive(370)
    with mpmath.workprec(400):
        for theirs, ours in ((lam, c.lam), (lam_alpha, c.lam_alpha), (alpha, c.alpha)):
            assert (
                abs(
                    mpmath.mpf(theirs.as_integer_ratio()[0]) / theirs.as_integer_ratio()[1] / ours
                    - 1
                )
                < mpmath.mpf(2) ** -360
            )


@pytest.mark.parametrize("prec", [24, 53, 113, 300])
def test_derived_constants_satisfy_the_fixed_point_in_closed_form(prec):
    c = derive(prec)
    with mpmath.workprec(prec + 64):
        mean, second = constants.moments(c.alpha, c.lam)
        assert abs(mean) < mpmath.mpf(2) ** (4 - prec)
        assert abs(second - 1) < mpmath.mpf(2) ** (4 - prec)
        # And the fixed point is not trivially satisfied: other constants miss it.
        mean, second = constants.moments(c.alpha * (1 + mpmath.mpf(2) ** -20), c.lam)
        assert abs(mean) > mpmath.mpf(2) ** -24


def test_fixed_point_by_quadrature():
    # Numerical integration against the normal density, independent of the closed forms.
    with mpmath.workdps(40):
        c = derive(160)
        mean, second = constants.moments_by_quadrature(c.alpha, c.lam)
        assert abs(mean) < mpmath.mpf(10) ** -35
        assert abs(second - 1) < mpmath.mpf(10) ** -35


def test_root_finder_on_the_quadrature_conditions_recovers_the_constants():
    # Solve E[selu(Z)] = 0, E[selu(Z)^2] = 1 from a rough start, integrals by quadrature.
    with mpmath.workdps(20):

        def conditions(alpha, lam):
            mean, second = constants.moments_by_quadrature(alpha, lam)
            return [mean, second - 1]

        alpha, lam = mpmath.findroot(conditions, (mpmath.mpf("1.5"), mpmath.mpf("1.1")))
        c = derive(80)
        assert abs(alpha - c.alpha) < mpmath.mpf(10) ** -15
        assert abs(lam - c.lam) < mpmath.mpf(10) ** -15


def test_precision_ladder_is_consistent():
    # derive(p) is within one ulp of p bits of derive(4p), for a range of p.
    for prec in (8, 24, 53, 64, 113, 237):
        low, high = derive(prec), derive(4 * prec)
        for name in ("alpha", "lam", "lam_alpha"):
            with mpmath.workprec(8 * prec):
                rel = abs(getattr(low, name) / getattr(high, name) - 1)
            assert rel <= mpmath.mpf(2) ** (1 - prec), (prec, name)


def test_bad_precision_and_digits():
    with pytest.raises(ValueError):
        derive(1)
    with pytest.raises(ValueError):
        decimal_digits(0)


def run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "reference", *args], capture_output=True, text=True, timeout=120
    )


def test_cli_prints_50_digits_by_default():
    result = run_cli("constants")
    assert result.returncode == 0, result.stderr
    lines = dict(line.split(" = ") for line in result.stdout.strip().splitlines())
    digits = decimal_digits(50)
    assert lines["alpha       "] == digits["alpha"]
    assert lines["lambda      "] == digits["lam"]
    assert lines["lambda*alpha"] == digits["lam_alpha"]
    assert lines["alpha       "].startswith(PAPER_ALPHA[:-1])
    assert lines["lambda      "].startswith(PAPER_LAMBDA[:-1])


def test_cli_digits_option_and_errors():
    result = run_cli("constants", "--digits", "80")
    assert result.returncode == 0
    assert len(result.stdout.splitlines()[0].split(" = ")[1].replace(".", "")) == 80
    bad = run_cli("constants", "--digits", "0")
    assert bad.returncode == 2
    assert len(bad.stderr.strip().splitlines()) == 1
    assert "Traceback" not in bad.stderr
