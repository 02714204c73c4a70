"""Where the samples sit relative to the K modes of p(x) = sum_k pi_k N(x; mu_k, s_k^2 I).

Every sample is assigned to its nearest centre k(x); it is *on-mode* when |x - mu_k| <= 3 s_k
(for equal s_k: within 3s of some centre) and *off-mode* otherwise. Under exact sampling of
well-separated modes, |x - mu_k|^2 / s_k^2 ~ chi2(d), so

    P(off-mode) = P(chi2(d) > 9)          (= exp(-9/2) = 1.11 % in 2-D).

- off_mode: the off-mode fraction, Wilson interval;
- chi2_p: Pearson's chi2 = sum_k (n_k - n pi_k)^2 / (n pi_k) of the counts by nearest centre
  against the true weights (for separated modes each cell holds mass pi_k), df = K - 1;
- max_share_dev: D = max_k |p_k / pi_k - 1| for the shares p_k of the cells. The plug-in value
  D(p_hat) is biased upward at finite n (under exact sampling E D(p_hat) > 0 = D(p)), so its
  interval is not centred on it: every p_k gets a Wilson interval at the Sidak level
  0.95^(1/K), which hold simultaneously with probability >= 95 %, and [lo, hi] is the range of D
  over that box. It covers the true D(p) whenever the box covers p: >= 95 %, about 95 % when D = 0;
- width_ratio: the spread of on-mode samples about their centre in units of s,
      W = sqrt(mean_on(|x - mu_k|^2 / (d s_k^2)) / c_d),   c_d = E[chi2(d)/d | chi2(d) <= 9]
        = P(d/2 + 1, 9/2) / P(d/2, 9/2),
  so that exact samples give W = 1 despite the 3s cut (c_2 = 0.949); off-mode samples are left
  to off_mode. Interval from the delta method (influence values of the ratio of means).
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np

from blog.metrics.chi2 import chi2_sf, gammainc
from blog.metrics.estimate import LEVEL, Estimate, from_influence, wilson
from blog.mixture import GaussianMixture

N_SD = 3.0  # on-mode radius, in standard deviations of the nearest component


def nearest_mode(x: np.ndarray, mixture: GaussianMixture) -> tuple[np.ndarray, np.ndarray]:
    """(index of the nearest centre (N,), distance to it (N,))."""
    d = np.linalg.norm(np.asarray(x, np.float64)[:, None, :] - mixture.means[None], axis=-1)
    k = d.argmin(1)
    return k, d[np.arange(len(k)), k]


def within(x: np.ndarray, mixture: GaussianMixture, n_sd: float = N_SD) -> np.ndarray:
    """Boolean (N,): within n_sd standard deviations of the nearest centre."""
    k, d = nearest_mode(x, mixture)
    return d <= n_sd * mixture.stds[k]


def mode_shares(x: np.ndarray, mixture: GaussianMixture) -> np.ndarray:
    """(K,) fraction of samples whose nearest centre is k."""
    k, _ = nearest_mode(x, mixture)
    return np.bincount(k, minlength=mixture.n_components) / len(k)


def modes_covered(x: np.ndarray, mixture: GaussianMixture, min_share: float = 0.1) -> int:
    """Centres holding >= min_share * pi_k * N samples within 3 s (a coarse sanity check)."""
    k, _ = nearest_mode(x, mixture)
    hits = np.bincount(k[within(x, mixture)], minlength=mixture.n_components)
    return int((hits >= min_share * mixture.weights * len(x)).sum())


def off_mode(x: np.ndarray, mixture: GaussianMixture) -> Estimate:
    """Fraction of samples farther than 3 s_k from their nearest centre, Wilson interval."""
    return wilson(int((~within(x, mixture)).sum()), len(x))


def chi2_p(counts: np.ndarray, weights: np.ndarray) -> float:
    """Pearson chi2 goodness-of-fit p-value of the counts (K,) against the weights (K,)."""
    n = counts.sum()
    expected = n * weights
    stat = float((((counts - expected) ** 2) / expected).sum())
    return chi2_sf(stat, len(weights) - 1)


def max_share_dev(counts: np.ndarray, weights: np.ndarray) -> Estimate:
    """max_k |p_k / pi_k - 1| at p = counts / n, with the interval of D over a 95 %
    simultaneous box for the shares (see the module docstring for what it covers)."""
    n, K = int(counts.sum()), len(weights)
    z = NormalDist().inv_cdf(0.5 + LEVEL ** (1 / K) / 2)  # Sidak: each at level 0.95^(1/K)
    box = [wilson(int(c), n, z) for c in counts]
    lo_r = np.array([b.lo for b in box]) / weights - 1  # the box in units of r_k - 1
    hi_r = np.array([b.hi for b in box]) / weights - 1
    value = float(np.abs(counts / n / weights - 1).max())
    nearest_to_zero = np.where(lo_r > 0, lo_r, np.where(hi_r < 0, -hi_r, 0.0))
    farthest = np.maximum(np.abs(lo_r), np.abs(hi_r))
    return Estimate(value, float(nearest_to_zero.max()), float(farthest.max()), n)


def truncated_mean(d: int, n_sd: float = N_SD) -> float:
    """c_d = E[chi2(d)/d | chi2(d) <= n_sd^2], using E[chi2(d) 1{chi2(d) <= c}] =
    d P(chi2(d+2) <= c)."""
    c = n_sd**2 / 2
    return gammainc(d / 2 + 1, c) / gammainc(d / 2, c)


def width_terms(x: np.ndarray, mixture: GaussianMixture) -> tuple[float, np.ndarray]:
    """(W, psi): the width ratio and its per-sample influence values psi_i (zero off-mode),
    W ~ W_true + mean(psi). NaN when fewer than two samples are on-mode."""
    k, dist = nearest_mode(x, mixture)
    z2 = (dist / mixture.stds[k]) ** 2
    on = z2 <= N_SD**2
    if on.sum() < 2:
        return math.nan, np.full(len(x), math.nan)
    c = truncated_mean(mixture.dim)
    u = z2 / mixture.dim  # per-axis squared deviation in units of s_k^2
    m = float(u[on].mean())
    w = math.sqrt(m / c)
    # W = sqrt(M / c), M = sum(on u) / sum(on):  dM_i = on_i (u_i - M) / P(on),  dW = dM / (2 c W)
    psi = np.where(on, u - m, 0.0) / on.mean() / (2 * c * w)
    return w, psi


def width_ratio(x: np.ndarray, mixture: GaussianMixture) -> Estimate:
    """Spread of the on-mode samples about their centres over s (1 for exact samples)."""
    w, psi = width_terms(x, mixture)
    return from_influence(w, psi)
