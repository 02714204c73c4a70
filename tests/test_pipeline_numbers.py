"""figures_pipeline.numbers: number filters, estimates and comparison words, string in and out."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from figures_pipeline.numbers import (
    HIGHER,
    LOWER,
    MINUS,
    SAME,
    Z95,
    FormatError,
    compare,
    difference,
    est,
    est_pct,
    fixed,
    percent,
    pow10,
    seconds,
    sig,
    thousands,
)
from figures_pipeline.sections import SectionError, render_sections


def e(value, lo, hi, n=1000):
    return {"value": value, "lo": lo, "hi": hi, "n": n}


def normal(value, se, n=1000):
    """An estimate with a symmetric 95 % interval value ± 1.96·se."""
    return e(value, value - Z95 * se, value + Z95 * se, n)


# ---- bare numbers

@pytest.mark.parametrize("x, n, expected", [
    (0.000123456, 2, "0.00012"), (3.14159, 3, "3.14"), (12345, 2, "12000"),
    (1.234e-7, 2, "1.2×10⁻⁷"), (9.99, 2, "10"), (0, 3, "0"), (-0.5, 1, "−0.5"),
    (-1.2e-6, 2, "−1.2×10⁻⁶"), (-12345678, 2, "−1.2×10⁷"),
])
def test_sig(x, n, expected):
    assert sig(x, n) == expected


def test_units_and_seconds():
    assert sig(12.3, 2, "ms") == "12\u00a0ms"
    assert seconds(0.423) == "0.42\u00a0s"
    assert seconds(75) == "1\u00a0min 15\u00a0s"
    assert seconds(3720) == "1\u00a0h 2\u00a0min"


def test_a_true_minus_sign_and_no_negative_zero():
    assert fixed(-2.5, 1) == "−2.5" and fixed(-0.04, 1) == "0.0"
    assert percent(-0.123) == "−12.3\u00a0%" and thousands(-40000) == "−40,000"
    assert pow10(-4) == "×10⁻⁴" and pow10(3) == "×10³" and pow10(0) == ""


finite = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e12, max_value=1e12)


@given(x=finite, digits=st.integers(1, 4))
def test_no_number_is_printed_with_a_hyphen(x, digits):
    for text in (sig(x, digits), fixed(x, digits), percent(x, digits), thousands(x)):
        assert "-" not in text
        assert text.startswith(MINUS) == (x < 0 and any(c in "123456789" for c in text))


# ---- estimates

def test_est_in_a_fixed_unit():
    assert est(e(3.7e-4, 2.3e-4, 5.1e-4), 1, exp=-4) == "3.7 [2.3, 5.1]"
    assert est(e(-1.2e-4, -2.54e-4, 0.06e-4), 1, exp=-4) == "−1.2 [−2.5, 0.1]"
    assert est(e(-1e-7, -2e-5, 2e-5), 1, exp=-4) == "0.0 [−0.2, 0.2]"
    assert est(e(12.25, 11, 13.5), 2, unit="s") == "12.25 [11.00, 13.50]\u00a0s"
    assert est(e(0.5, 0.2, math.inf), 1) == "0.5 [0.2, ∞]"


def test_est_pct_in_percent():
    assert est_pct(e(0.0234, 0.0191, 0.0281)) == "2.3 [1.9, 2.8]"
    assert est_pct(e(0.0234, 0.0191, 0.0281), 0, unit="%") == "2 [2, 3]\u00a0%"


@pytest.mark.parametrize("x, message", [
    (0.5, "| est: expected an estimate {value, lo, hi, n}, got 0.5"),
    ({"value": 1, "lo": 0, "n": 3}, "| est: not an estimate: no 'hi' in {value, lo, n}"),
    (e(1, 2, 0), "| est: estimate's interval [2, 0] is reversed"),
    (e(3, 0, 2), "| est: estimate's value 3 lies outside its interval [0, 2]"),
    (e(1, 0, 2, n=0), "| est: estimate's n is 0, not a positive integer"),
    (e(1, 0, 2, n=2.5), "| est: estimate's n is 2.5, not a positive integer"),
    (e(math.nan, 0, 2), "| est: estimate's value is nan, not a number"),
    (e("1", 0, 2), "| est: estimate's value is '1', not a number"),
    (e(True, 0, 2), "| est: estimate's value is True, not a number"),
])
def test_est_refuses_what_is_not_an_estimate(x, message):
    with pytest.raises(FormatError) as err:
        est(x)
    assert str(err.value) == message


def test_est_tolerates_a_rounding_error_outside_the_interval():
    assert est(e(0.0, 1e-18, 0.002), 1, exp=-3) == "0.0 [0.0, 2.0]"


def test_filters_inside_a_template_and_their_errors_name_file_and_line():
    text = "<!-- generated:begin r -->\n<!-- generated:end r -->\n"
    tpl = "| MMD² ({{ -4 | pow10 }}) |\n| {{ m | est(1, exp=-4) }} |\n{{ compare(m, z) }}"
    out = render_sections(text, {"m": e(3.7e-4, 2.3e-4, 5.1e-4), "z": e(0, -1e-4, 1e-4)},
                          {"r": tpl})
    assert "| MMD² (×10⁻⁴) |\n| 3.7 [2.3, 5.1] |\nhigher than\n" in out
    with pytest.raises(SectionError) as err:
        render_sections(text, {"m": 0.5}, {"r": "ok\n{{ m | est }}"})
    assert str(err.value) == ("templates/r.md.j2:2: | est: expected an estimate "
                              "{value, lo, hi, n}, got 0.5")
    with pytest.raises(SectionError, match=r"templates/r.md.j2:1: difference\(a, b\): b: "):
        render_sections(text, {"m": e(1, 0, 2)}, {"r": "{{ compare(m, 3) }}"})


# ---- comparison words

@pytest.mark.parametrize("d, words", [
    (e(-0.3, -0.5, -0.1), LOWER),
    (e(0.3, 0.1, 0.5), HIGHER),
    (e(0.3, -0.1, 0.5), SAME),
    (e(0.3, 0.0, 0.5), SAME),  # an interval that touches 0 does not exclude it
    (e(-0.3, -0.5, 0.0), SAME),
])
def test_compare_a_paired_difference(d, words):
    assert compare(d) == words


def test_compare_two_independent_estimates_by_the_interval_of_their_difference():
    # SE 1 each: the difference has SE √2, so it is distinguishable beyond 1.96·√2 ≈ 2.77
    assert compare(normal(3.0, 1), normal(0.0, 1)) == HIGHER  # although the intervals overlap
    assert compare(normal(0.0, 1), normal(3.0, 1)) == LOWER
    assert compare(normal(2.5, 1), normal(0.0, 1)) == SAME
    assert compare(e(1.0, 0.4, 1.6), e(0.0, -0.6, 0.6)) == HIGHER  # the README's example
    d = difference(normal(3.0, 1), normal(0.0, 1))
    assert d["value"] == 3.0 and d["n"] == 1000
    assert d["lo"] == pytest.approx(3 - Z95 * math.sqrt(2))
    assert d["hi"] == pytest.approx(3 + Z95 * math.sqrt(2))


def test_compare_reads_each_asymmetric_interval_on_the_side_facing_the_other():
    a = e(0.020, 0.019, 0.030)  # a's upper half is short ...
    b = e(0.040, 0.035, 0.200)  # ... and so is b's lower half: b's long upper tail is irrelevant
    d = difference(a, b)
    assert d["hi"] == pytest.approx(-0.02 + math.hypot(0.010, 0.005))
    assert d["lo"] == pytest.approx(-0.02 - math.hypot(0.001, 0.160))
    assert compare(a, b) == LOWER and compare(b, a) == HIGHER


estimates = st.builds(lambda v, lo, hi, n: e(v, v - lo, v + hi, n), finite,
                      st.floats(0, 1e6), st.floats(0, 1e6), st.integers(1, 10**6))
MIRROR = {LOWER: HIGHER, HIGHER: LOWER, SAME: SAME}


@given(a=estimates, b=estimates)
def test_compare_is_antisymmetric_and_an_estimate_equals_itself(a, b):
    assert compare(b, a) == MIRROR[compare(a, b)]
    assert compare(a, a) == SAME


@settings(deadline=None, max_examples=5)
@given(seed=st.integers(0, 2**32 - 1))
def test_compare_says_indistinguishable_about_95_percent_of_the_time_when_a_equals_b(seed):
    """Two independent proportions with Wilson intervals, the same true p: the rule calls them
    different in about 5 % of 2,000 draws (binomial SD 0.5 %: 3 % to 7 % is ±4 SD)."""
    rng = np.random.default_rng(seed)
    n, p = 2000, 0.1
    hits = rng.binomial(n, p, size=(2000, 2))
    different = sum(compare(wilson(x, n), wilson(y, n)) != SAME for x, y in hits)
    assert 0.03 < different / len(hits) < 0.07


def test_compare_detects_a_difference_of_four_standard_errors_almost_always():
    rng = np.random.default_rng(0)
    n, se = 2000, math.sqrt(0.1 * 0.9 / 2000)
    shift = 4 * math.sqrt(2) * se
    x = rng.binomial(n, 0.1, size=500)
    y = rng.binomial(n, 0.1 + shift, size=500)
    lower = sum(compare(wilson(a, n), wilson(b, n)) == LOWER for a, b in zip(x, y, strict=True))
    assert lower / 500 > 0.9  # power of a two-sided 5 % test at 4 SE: 0.98


def wilson(k, n):
    p, z2 = k / n, Z95**2
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = Z95 * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return e(p, centre - half, centre + half, n)
