"""The chi-squared distribution through the regularised incomplete gamma function, NumPy-free maths.

    P(a, x) = gamma(a, x) / Gamma(a),    Q(a, x) = 1 - P(a, x),
    chi2 with df degrees of freedom:     F(x) = P(df/2, x/2),   sf(x) = Q(df/2, x/2).

P is summed as its power series when x < a + 1 and Q as its continued fraction otherwise
(Numerical Recipes, 3rd ed., sec. 6.2, "gser" and "gcf" with the modified Lentz method): each
converges fast on its side, and the one not computed is 1 minus the other.
"""

from __future__ import annotations

import math

_EPS = 1e-15
_TINY = 1e-300
_MAX_TERMS = 10_000


def _prefactor(a: float, x: float) -> float:
    """x^a e^-x / Gamma(a)."""
    return math.exp(a * math.log(x) - x - math.lgamma(a))


def _lower_series(a: float, x: float) -> float:
    """P(a, x) = x^a e^-x / Gamma(a) sum_n x^n / (a (a+1) ... (a+n))."""
    term = total = 1.0 / a
    ap = a
    for _ in range(_MAX_TERMS):
        ap += 1.0
        term *= x / ap
        total += term
        if abs(term) < abs(total) * _EPS:
            return total * _prefactor(a, x)
    raise ArithmeticError(f"incomplete gamma series did not converge for a={a}, x={x}")


def _upper_fraction(a: float, x: float) -> float:
    """Q(a, x) = x^a e^-x / Gamma(a) * 1/(x+1-a- 1(1-a)/(x+3-a- 2(2-a)/(x+5-a- ...)))."""
    b = x + 1.0 - a
    c = 1.0 / _TINY
    d = 1.0 / b
    h = d
    for i in range(1, _MAX_TERMS):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        d = d if abs(d) > _TINY else _TINY
        c = b + an / c
        c = c if abs(c) > _TINY else _TINY
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < _EPS:
            return h * _prefactor(a, x)
    raise ArithmeticError(f"incomplete gamma fraction did not converge for a={a}, x={x}")


def gammainc(a: float, x: float) -> float:
    """The regularised lower incomplete gamma P(a, x), a > 0, x >= 0."""
    if not a > 0 or not x >= 0:
        raise ValueError(f"need a > 0 and x >= 0, got a={a}, x={x}")
    if x == 0:
        return 0.0
    return _lower_series(a, x) if x < a + 1 else 1.0 - _upper_fraction(a, x)


def gammaincc(a: float, x: float) -> float:
    """The regularised upper incomplete gamma Q(a, x) = 1 - P(a, x), accurate in the far tail."""
    if not a > 0 or not x >= 0:
        raise ValueError(f"need a > 0 and x >= 0, got a={a}, x={x}")
    if x == 0:
        return 1.0
    return 1.0 - _lower_series(a, x) if x < a + 1 else _upper_fraction(a, x)


def chi2_cdf(x: float, df: float) -> float:
    """P(X <= x) for X ~ chi2(df)."""
    return gammainc(df / 2, max(x, 0.0) / 2)


def chi2_sf(x: float, df: float) -> float:
    """P(X > x) for X ~ chi2(df): the p-value of a chi-squared statistic x."""
    return gammaincc(df / 2, max(x, 0.0) / 2)
