"""Generative modelling in one dimension: push uniform noise through an inverse CDF.

    u ~ U[0, 1],   x = f(u) = Phi^{-1}(u)   =>   x ~ N(0, 1),

where Phi(x) = (1 + erf(x / sqrt 2)) / 2 is the standard normal CDF. A generative model learns
f_theta ~ Phi^{-1} when the target's CDF is unknown. Phi^{-1} is computed without SciPy: Acklam's
rational approximation (relative error < 1.2e-9) refined by one Halley step on math.erfc.
"""

from __future__ import annotations

import math

import numpy as np
from matplotlib.figure import Figure

from blog.plots.style import figure, finish, styled, theme

# Acklam's coefficients: central region |u - 1/2| <= 1/2 - U_LOW, and the two tails.
_A = (-3.969683028665376e01, 2.209460984245205e02, -2.759285104469687e02, 1.383577518672690e02,
      -3.066479806614716e01, 2.506628277459239e00)
_B = (-5.447609879822406e01, 1.615858368580409e02, -1.556989798598866e02, 6.680131188771972e01,
      -1.328068155288572e01, 1.0)
_C = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e00, -2.549732539343734e00,
      4.374664141464968e00, 2.938163982698783e00)
_D = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00, 3.754408661907416e00,
      1.0)
U_LOW = 0.02425

_erfc = np.vectorize(math.erfc, otypes=[np.float64])


def norm_cdf(x: np.ndarray) -> np.ndarray:
    """Phi(x) = erfc(-x / sqrt 2) / 2 (accurate in both tails)."""
    return 0.5 * _erfc(-np.asarray(x, dtype=np.float64) / math.sqrt(2.0))


def norm_pdf(x: np.ndarray) -> np.ndarray:
    """phi(x) = exp(-x^2 / 2) / sqrt(2 pi)."""
    x = np.asarray(x, dtype=np.float64)
    return np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)


def norm_ppf(u: np.ndarray) -> np.ndarray:
    """Phi^{-1}(u), elementwise; -inf at 0, +inf at 1, nan outside [0, 1]."""
    u = np.asarray(u, dtype=np.float64)
    x = np.full(u.shape, np.nan)
    mid = (u >= U_LOW) & (u <= 1 - U_LOW)
    lo = (u > 0) & (u < U_LOW)
    hi = (u > 1 - U_LOW) & (u < 1)
    q = u[mid] - 0.5
    r = q * q
    x[mid] = q * np.polyval(_A, r) / np.polyval(_B, r)
    t = np.sqrt(-2 * np.log(u[lo]))
    x[lo] = np.polyval(_C, t) / np.polyval(_D, t)
    t = np.sqrt(-2 * np.log1p(-u[hi]))
    x[hi] = -np.polyval(_C, t) / np.polyval(_D, t)
    ok = mid | lo | hi
    # one Halley step on Phi(x) - u = 0
    e = norm_cdf(x[ok]) - u[ok]
    g = e * math.sqrt(2 * math.pi) * np.exp(0.5 * x[ok] ** 2)
    x[ok] = x[ok] - g / (1 + 0.5 * x[ok] * g)
    x[u == 0] = -np.inf
    x[u == 1] = np.inf
    return x


def inverse_cdf(u_samples: np.ndarray, *, learned: tuple[np.ndarray, np.ndarray] | None = None,
                x_samples: np.ndarray | None = None, n_traced: int = 5, bins: int = 30,
                x_limit: float = 3.5) -> Figure:
    """u ~ U[0, 1] (bottom), x = f(u) with n_traced samples (those nearest
    the quantiles (i + 1/2) / n_traced) followed through the curve
    (centre), and the histogram of x over the N(0, 1) density (right).

    `learned` = (u_grid, f_theta(u_grid)) overlays a learned inverse CDF on the curve, and the
    bottom-right panel then shows its error f_theta(u) - Phi^{-1}(u). `x_samples` = f_theta(u)
    at the u_samples: what the learned sampler outputs, traced and histogrammed in place of
    Phi^{-1}(u) (which is used when it is None).
    """
    u = np.asarray(u_samples, dtype=np.float64).ravel()
    x = norm_ppf(u) if x_samples is None else np.asarray(x_samples, dtype=np.float64).ravel()
    if x.shape != u.shape:
        raise ValueError(f"x_samples must match u_samples, got {x.shape} and {u.shape}")
    learned_x = x_samples is not None
    th = theme()
    fig = figure(height=5.0)
    with styled():
        gs = fig.add_gridspec(2, 2, width_ratios=(2.1, 1), height_ratios=(2.1, 1))
        ax_f = fig.add_subplot(gs[0, 0])
        ax_x = fig.add_subplot(gs[0, 1], sharey=ax_f)
        ax_u = fig.add_subplot(gs[1, 0], sharex=ax_f)
        ax_e = fig.add_subplot(gs[1, 1])

        ug = np.linspace(1e-4, 1 - 1e-4, 400)
        ax_f.plot(ug, norm_ppf(ug), color=th.exact, lw=2.2, label=r"$\Phi^{-1}(u)$", zorder=2)
        if learned is not None:
            ax_f.plot(learned[0], learned[1], color=th.model, lw=1.6, ls="--",
                      label=r"$f_\theta(u)$", zorder=3)
        ax_f.set_ylim(-x_limit, x_limit)
        ax_f.set_xlim(0, 1)
        ax_f.set_ylabel(r"$x = f(u)$")
        ax_f.set_title(r"$x = \Phi^{-1}(u)$")
        ax_f.legend(loc="upper left")
        ax_f.tick_params(labelbottom=False)

        # trace the samples nearest to evenly spaced quantiles: spread out, still real draws
        targets = (np.arange(n_traced) + 0.5) / max(n_traced, 1)
        traced = np.unique(np.abs(u[None, :] - targets[:, None]).argmin(axis=1))
        for ui, xi in zip(u[traced], x[traced], strict=True):
            ax_f.plot([ui, ui, 1], [-x_limit, xi, xi], color=th.ink, lw=0.8, ls=":", zorder=1)
            ax_f.plot([ui], [xi], "o", color=th.ink, ms=4, zorder=4)
            ax_u.axvline(ui, color=th.ink, lw=0.8, ls=":", zorder=3)
            ax_x.axhline(xi, color=th.ink, lw=0.8, ls=":", zorder=3)

        ax_u.hist(u, bins=np.linspace(0, 1, bins + 1), density=True, color=th.data, alpha=0.8)
        ax_u.axhline(1.0, color=th.exact, lw=1.6)
        ax_u.set_xlabel(r"$u \sim U[0, 1]$")
        ax_u.set_ylabel("density")
        ax_u.set_ylim(0, 1.6)

        xb = np.linspace(-x_limit, x_limit, bins + 1)
        ax_x.hist(x[np.isfinite(x)], bins=xb, density=True, orientation="horizontal",
                  color=th.data, alpha=0.8)
        xg = np.linspace(-x_limit, x_limit, 300)
        ax_x.plot(norm_pdf(xg), xg, color=th.exact, lw=1.8)
        ax_x.set_xlim(0, 0.55)
        ax_x.set_xlabel("density")
        ax_x.set_title(r"$f_\theta(u)$ vs $\mathcal{N}(0, 1)$" if learned_x
                       else r"$x \sim \mathcal{N}(0, 1)$", fontsize=11 if learned_x else None)
        ax_x.tick_params(labelleft=False)

        if learned is None:
            ax_e.set_axis_off()
            ax_e.text(0.05, 0.5, "$u \\sim U[0,1]$\n$\\Downarrow$  $x = \\Phi^{-1}(u)$\n"
                      "$x \\sim \\mathcal{N}(0,1)$", transform=ax_e.transAxes, ha="left",
                      va="center", fontsize=12, color=th.ink, linespacing=1.6)
        else:
            ug_l = np.asarray(learned[0], dtype=np.float64)
            err = np.asarray(learned[1], dtype=np.float64) - norm_ppf(ug_l)
            ax_e.axhline(0, color=th.muted, lw=0.8)
            ax_e.plot(ug_l, err, color=th.model, lw=1.4)
            ax_e.set_xlim(0, 1)
            ax_e.set_xlabel(r"$u$")
            ax_e.set_title(r"$f_\theta - \Phi^{-1}$", fontsize=11)
    return finish(fig)
