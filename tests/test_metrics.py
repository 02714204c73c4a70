"""blog.metrics: the closed forms against their definitions, the API's shapes and errors.

Coverage of the intervals and power against known defects are in test_metrics_coverage.py."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest

from blog import metrics
from blog.metrics import chi2, density, estimate, mmd, modes
from blog.mixture import GaussianMixture, ring

MIX = ring(8, 2.0, 0.1)
H = 0.1  # the post's bandwidth: h = s


# chi2 survival function
def _sf_closed_form(x: float, df: int) -> float:
    """Closed forms: even df = 2m, Q(m, x/2) = e^(-x/2) sum_{j<m} (x/2)^j / j!; odd df via erfc."""
    if df % 2 == 0:
        return math.exp(-x / 2) * sum((x / 2) ** j / math.factorial(j) for j in range(df // 2))
    total, term = math.erfc(math.sqrt(x / 2)), math.sqrt(2 * x / math.pi) * math.exp(-x / 2)
    for k in range(3, df + 1, 2):  # Q((k)/2) = Q((k-2)/2) + x^((k-2)/2) e^(-x/2) / Gamma(k/2)
        total += term
        term *= x / k
    return total


@pytest.mark.parametrize("df", [1, 2, 3, 7, 8, 21])
@pytest.mark.parametrize("x", [1e-3, 0.5, 3.0, 9.0, 14.07, 40.0, 150.0])
def test_chi2_survival_matches_its_closed_forms_on_both_branches(x, df):
    want = _sf_closed_form(x, df)
    assert metrics.chi2_sf(x, df) == pytest.approx(want, rel=1e-11, abs=1e-300)
    assert metrics.chi2_cdf(x, df) + metrics.chi2_sf(x, df) == pytest.approx(1.0, abs=1e-14)


def test_chi2_at_the_textbook_critical_values_and_edges():
    # the 5 % points: chi2_1 at 1.96^2, chi2_2 at -2 log 0.05
    assert metrics.chi2_sf(estimate.Z95**2, 1) == pytest.approx(0.05, rel=1e-12)
    assert metrics.chi2_sf(-2 * math.log(0.05), 2) == pytest.approx(0.05, rel=1e-12)
    assert metrics.chi2_sf(0.0, 7) == 1.0 and metrics.chi2_cdf(0.0, 7) == 0.0
    assert 0 < metrics.chi2_sf(2000.0, 7) < 1e-300 or metrics.chi2_sf(2000.0, 7) == 0.0
    with pytest.raises(ValueError, match="a > 0"):
        chi2.gammainc(0.0, 1.0)


# Estimate and its intervals
def test_wilson_ends_solve_the_score_equation():
    """|k/n - p| = z sqrt(p (1 - p) / n) at both ends of the Wilson interval."""
    for k, n in [(11, 1000), (3, 40), (500, 1000), (990, 1000)]:
        e = metrics.wilson(k, n)
        for p in (e.lo, e.hi):
            assert abs(k / n - p) == pytest.approx(estimate.Z95 * math.sqrt(p * (1 - p) / n))
        assert e.lo < e.value < e.hi and e.n == n
    assert metrics.wilson(0, 50).lo == 0.0 and metrics.wilson(50, 50).hi == 1.0
    with pytest.raises(ValueError, match="0 <= k <= n"):
        metrics.wilson(5, 4)


def test_estimate_as_dict_is_plain_json():
    e = metrics.Estimate(np.float64(0.5), 0.25, math.inf, np.int64(7), math.nan)
    d = e.as_dict()
    assert d == {"value": 0.5, "lo": 0.25, "hi": None, "n": 7, "se": None}
    assert type(d["value"]) is float and type(d["n"]) is int


# MMD^2 closed forms against Monte Carlo
def _mc_mean(values: np.ndarray) -> tuple[float, float]:
    return float(values.mean()), float(values.std() / math.sqrt(len(values)))


def _k(a: np.ndarray, b: np.ndarray, h: float = H) -> np.ndarray:
    return np.exp(-((a - b) ** 2).sum(-1) / (2 * h * h))


def test_kernel_mean_of_the_mixture_matches_monte_carlo():
    rng = np.random.default_rng(0)
    y = MIX.sample(400_000, rng)
    for x in [MIX.means[2], MIX.means[2] + 0.07, np.array([0.3, -0.1])]:
        mean, se = _mc_mean(_k(x[None], y))
        assert mmd.kernel_mean(x[None], MIX, H)[0] == pytest.approx(mean, abs=4 * se + 1e-12)


@pytest.mark.parametrize("q", [ring(8, 2.0, 0.13), ring(5, 1.0, 0.4, weights=[3, 1, 1, 1, 2])])
def test_cross_means_and_the_population_mmd2_match_monte_carlo(q):
    rng = np.random.default_rng(1)
    a, b = q.sample(300_000, rng), MIX.sample(300_000, rng)
    a2, b2 = q.sample(300_000, rng), MIX.sample(300_000, rng)
    for (u, v), want in [((a, b), mmd.cross_mean(q, MIX, H)),
                         ((b, b2), mmd.cross_mean(MIX, MIX, H)),
                         ((a, a2), mmd.cross_mean(q, q, H))]:
        mean, se = _mc_mean(_k(u, v))
        assert want == pytest.approx(mean, abs=4 * se)
    terms = _k(a, a2) - _k(a, b) - _k(a2, b2) + _k(b, b2)  # an unbiased draw of MMD^2 per row
    mean, se = _mc_mean(terms)
    assert metrics.mmd2_between(q, MIX, H) == pytest.approx(mean, abs=4 * se)
    assert metrics.mmd2_between(MIX, MIX, H) == pytest.approx(0.0, abs=1e-15)


def test_the_null_sd_is_the_spread_of_the_estimate_over_exact_samples():
    n, draws = 300, 400
    vals = [mmd.mmd2(MIX.sample(n, np.random.default_rng([3, i])), MIX, H).value
            for i in range(draws)]
    # the SD of a sample SD of 400 draws is about 1/sqrt(2 * 400) = 3.5 % of it: allow 4 of those
    assert np.std(vals) == pytest.approx(mmd.null_sd(MIX, n, H), rel=0.14)
    assert abs(np.mean(vals)) < 4 * mmd.null_sd(MIX, n, H) / math.sqrt(draws)  # unbiased


def _brute_row_stats(xs, coef, h=H):
    """R_i = sum_{j!=i} H_ij and Q_i = sum_{j!=i} H_ij^2 from full n x n matrices."""
    c = mmd.cross_mean(MIX, MIX, h)
    total = 0
    for x, cf in zip(xs, coef, strict=True):
        g = mmd.kernel_mean(x, MIX, h)
        hx = _k(x[:, None], x[None], h) - g[:, None] - g[None] + c
        np.fill_diagonal(hx, 0.0)
        total = total + cf * hx
    return total.sum(1), (total**2).sum(1), total


def test_the_tiled_pass_equals_the_full_matrices(monkeypatch):
    monkeypatch.setattr(mmd, "BLOCK", 64)  # 300 points: 5 tiles a side, the last one partial
    rng = np.random.default_rng(4)
    xa, xb = MIX.sample(300, rng) * 1.02, MIX.sample(300, rng)
    for xs, coef in [([xa], [1.0]), ([xa, xb], [1.0, -1.0])]:
        r, q = mmd._h_row_stats(xs, coef, MIX, H)
        r_want, q_want, hmat = _brute_row_stats(xs, coef)
        np.testing.assert_allclose(r, r_want, rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(q, q_want, rtol=1e-10, atol=1e-10)
        n = len(xa)
        assert mmd._u_statistic(r, q)[0] == pytest.approx(hmat.sum() / (n * (n - 1)))


def test_skipping_the_far_tiles_keeps_the_full_sums(monkeypatch):
    """With small tiles most of them lie between far-apart modes and are skipped; the row sums
    still equal the full matrices', in the caller's order, for one sample and for pairs, also
    with points between the modes and a diverged point."""
    monkeypatch.setattr(mmd, "BLOCK", 32)
    rng = np.random.default_rng(7)
    xa = MIX.sample(600, rng)
    xa[:20] = rng.uniform(-2.5, 2.5, (20, 2))  # off the modes
    xa[20] = 1e6  # where evaluate puts a diverged sample
    xb = xa + 0.05 * rng.standard_normal(xa.shape)  # a paired twin: nearby, not equal
    order = mmd._neighbour_order(xa)
    assert mmd.far_tiles([xa[order], xb[order]], H).mean() > 0.5  # the skip is real
    for xs, coef in [([xa], [1.0]), ([xa, xb], [1.0, -1.0])]:
        r, q = mmd._h_row_stats(xs, coef, MIX, H)
        r_want, q_want, _ = _brute_row_stats(xs, coef)
        np.testing.assert_allclose(r, r_want, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(q, q_want, rtol=1e-10, atol=1e-12)


def test_the_variance_estimate_is_unbiased_away_from_the_null():
    """Modes 30 % too wide at n = 200: the mean of the estimated Var U over draws is the
    observed variance of U (both within their Monte Carlo error)."""
    wide, n, draws = ring(8, 2.0, 0.13), 200, 400
    c1, c2 = mmd._variance_weights(n)
    us, vs = [], []
    for i in range(draws):
        x = wide.sample(n, np.random.default_rng([5, i]))
        u, z1, z2 = mmd._u_statistic(*mmd._h_row_stats([x], [1.0], MIX, H))
        us.append(u)
        vs.append(c1 * z1 + c2 * z2)
    assert np.mean(us) == pytest.approx(metrics.mmd2_between(wide, MIX, H),
                                        abs=4 * np.std(us) / math.sqrt(draws))
    assert np.mean(vs) == pytest.approx(np.var(us), rel=0.2)  # SD of a variance: 7 % here


# log-density and -H(p)
def test_neg_entropy_of_separated_modes_and_of_one_gaussian_is_closed_form():
    # modes 15 s apart: -H = sum_k pi_k log pi_k - (d/2) log(2 pi e s^2) up to e^-28
    for weights in (None, [3, 1, 1, 1, 1, 1, 1, 1]):
        p = ring(8, 2.0, 0.1, weights)
        want = p.weights @ np.log(p.weights) - np.log(2 * np.pi * np.e * 0.01)
        assert metrics.neg_entropy(p) == pytest.approx(want, abs=1e-9)
    one = GaussianMixture(np.zeros((1, 3)), [0.7], [1.0])
    assert metrics.neg_entropy(one) == pytest.approx(-1.5 * np.log(2 * np.pi * np.e * 0.49))


def test_neg_entropy_of_overlapping_modes_matches_monte_carlo():
    p = ring(5, 1.0, 0.4, weights=[3, 1, 1, 1, 2])
    mean, se = _mc_mean(p.log_prob(p.sample(400_000, np.random.default_rng(6))))
    assert metrics.neg_entropy(p) == pytest.approx(mean, abs=4 * se)


def test_log_density_is_the_mean_log_prob_with_a_normal_interval():
    x = MIX.sample(2000, np.random.default_rng(7))
    e = density.log_density(x, MIX)
    lp = MIX.log_prob(x)
    assert e.value == pytest.approx(lp.mean()) and e.n == 2000
    assert e.hi - e.value == pytest.approx(estimate.Z95 * lp.std(ddof=1) / math.sqrt(2000))


# modes: off-mode, weights, width
def test_within_and_nearest_mode():
    x = np.array([[2.0, 0.0], [2.29, 0.0], [2.31, 0.0], [0.0, 0.0]])
    k, _ = metrics.nearest_mode(x, MIX)
    assert k[:3].tolist() == [0, 0, 0]
    assert metrics.within(x, MIX).tolist() == [True, True, False, False]


def test_truncated_width_constant_is_the_mean_of_a_cut_chi2():
    c = modes.truncated_mean(2)
    assert c == pytest.approx((1 - 5.5 * math.exp(-4.5)) / (1 - math.exp(-4.5)))
    r2 = np.random.default_rng(8).chisquare(3, 1_000_000)
    cut = r2[r2 <= 9] / 3
    assert modes.truncated_mean(3) == pytest.approx(cut.mean(), abs=4 * cut.std() / 1000)


def test_width_ratio_scales_with_the_modes_and_ignores_off_mode_points():
    x = MIX.sample(20_000, np.random.default_rng(9))
    base = modes.width_ratio(x, MIX).value
    assert base == pytest.approx(1.0, abs=0.02)
    centres = MIX.means[metrics.nearest_mode(x, MIX)[0]]
    on = metrics.within(x, MIX)[:, None]
    squeezed = np.where(on, centres + 0.8 * (x - centres), x)  # on-mode points 20 % closer
    assert modes.width_ratio(squeezed, MIX).value == pytest.approx(0.8 * base, rel=1e-12)
    far = np.concatenate([x, np.full((500, 2), 0.0)])  # the ring's centre is 20 s from any mode
    assert modes.width_ratio(far, MIX).value == pytest.approx(base)


def test_share_deviation_interval_brackets_its_value_and_sees_a_missing_mode():
    counts = np.array([0, 143, 143, 143, 143, 143, 143, 142])
    e = modes.max_share_dev(counts, MIX.weights)
    assert e.value == pytest.approx(1.0) and e.lo > 0.9 and e.hi >= 1.0
    even = np.full(8, 125)
    e = modes.max_share_dev(even, MIX.weights)
    assert e.value == 0.0 and e.lo == 0.0 and 0 < e.hi < 1
    assert modes.chi2_p(even, MIX.weights) == 1.0 and modes.chi2_p(counts, MIX.weights) < 1e-20


# evaluate, paired, the table
def test_report_fields_and_json():
    x = MIX.sample(2000, np.random.default_rng(10))
    r = metrics.evaluate(x, MIX)
    assert r.n == 2000 and len(r.shares) == 8 and sum(r.shares) == pytest.approx(1.0)
    assert r.within_3sd.value == pytest.approx(1 - r.off_mode.value)
    assert r.within_3sd.lo == pytest.approx(1 - r.off_mode.hi)
    assert r.bandwidth == 0.1 and r.mmd2_null_sd == pytest.approx(mmd.null_sd(MIX, 2000, 0.1))
    d = json.loads(json.dumps(r.as_dict(), allow_nan=False))
    assert set(d["mmd2"]) == {"value", "lo", "hi", "n", "se"} and d["mmd2"]["n"] == 2000
    assert d == r.as_dict()
    assert metrics.evaluate(x, MIX, bandwidth=0.3).bandwidth == 0.3


def test_evaluate_is_deterministic():
    x = MIX.sample(1500, np.random.default_rng(11))
    assert metrics.evaluate(x, MIX).as_dict() == metrics.evaluate(x.copy(), MIX).as_dict()


def test_diverged_samples_count_as_off_mode_not_crashes():
    x = MIX.sample(100, np.random.default_rng(12))
    x[:10] = np.nan
    r = metrics.evaluate(x, MIX)
    assert r.off_mode.value >= 0.1 and r.mmd2.value > 0
    json.dumps(r.as_dict(), allow_nan=False)


def test_bad_input_is_refused_in_one_line():
    for bad in (np.zeros((10, 3)), np.zeros(10), np.zeros((3, 2))):
        with pytest.raises(ValueError, match=r"shape \(N >= 4, 2\)"):
            metrics.evaluate(bad, MIX)
    with pytest.raises(ValueError, match="same shape"):
        metrics.paired(np.zeros((10, 2)), np.zeros((11, 2)), MIX)
    with pytest.raises(ValueError, match="bandwidth"):
        metrics.evaluate(np.zeros((10, 2)), MIX, bandwidth=0.0)


def test_a_sample_paired_with_itself_differs_by_exactly_zero():
    x = MIX.sample(500, np.random.default_rng(13))
    for name, e in metrics.paired(x, x, MIX).items():
        assert (e.value, e.lo, e.hi) == (0.0, 0.0, 0.0), name


def test_paired_values_are_the_differences_of_the_single_values():
    rng = np.random.default_rng(14)
    xa = MIX.sample(1000, rng)
    xb = xa + 0.02 * rng.standard_normal(xa.shape)
    ra, rb, d = metrics.evaluate(xa, MIX), metrics.evaluate(xb, MIX), metrics.paired(xa, xb, MIX)
    assert set(d) == {"off_mode", "width_ratio", "mmd2", "log_density"}
    for name, e in d.items():
        assert e.value == pytest.approx(getattr(ra, name).value - getattr(rb, name).value,
                                        abs=1e-12), name


def test_table_has_a_row_per_model_intervals_and_true_minus_signs():
    r = metrics.evaluate(MIX.sample(500, np.random.default_rng(15)), MIX)
    table = metrics.format_table({"data": r, "again": r})
    lines = table.splitlines()
    assert len(lines) == 5 and lines[2].startswith("data") and lines[3].startswith("again")
    assert lines[2].count("[") == 5 and "-" not in lines[2]  # minus signs are U+2212
    assert "\u2212" in lines[2]  # the mean log-density is negative


def test_metrics_imports_no_torch_and_no_scipy():
    code = "import sys, blog.metrics; print('torch' in sys.modules, 'scipy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"


def test_tiles_never_straddle_two_labels_and_pair_labels_keep_more_tiles_apart(monkeypatch):
    """Paired samples whose twins sometimes land in another mode: grouped by the pair of nearest
    centres, the blocks stay tight in both samples, so far more tiles are skipped than in the
    plain angular order (the sums themselves are checked against the full matrices above)."""
    monkeypatch.setattr(mmd, "BLOCK", 32)
    labels = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, 2])
    bounds = mmd._block_bounds(labels, block=3)
    assert bounds.tolist() == [0, 3, 5, 8, 10]
    rng = np.random.default_rng(3)
    xa = MIX.sample(800, rng)
    xb = xa + 0.05 * rng.standard_normal(xa.shape)
    moved = rng.random(800) < 0.05
    xb[moved] = MIX.sample(int(moved.sum()), rng)  # these twins sit in another mode
    plain = mmd._neighbour_order(xa)
    lab = mmd._pair_labels([xa, xb], MIX)
    grouped = mmd._neighbour_order(xa, lab)
    b = mmd._block_bounds(lab[grouped])
    assert all(len(set(lab[grouped][i:j])) == 1 for i, j in zip(b[:-1], b[1:], strict=True))
    far_plain = mmd.far_tiles([xa[plain], xb[plain]], H)
    far_grouped = mmd.far_tiles([xa[grouped], xb[grouped]], H, b)
    sizes_plain = np.diff(mmd._block_bounds(None, 800))
    computed = [(np.outer(sz, sz) * ~far).sum()
                for sz, far in ((sizes_plain, far_plain), (np.diff(b), far_grouped))]
    assert computed[1] < 0.6 * computed[0]
    assert mmd._pair_labels([xa], MIX) is None
