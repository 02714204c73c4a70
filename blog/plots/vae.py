"""The VAE's figures: its latent space against the prior, its samples, and training curves.

Notation: encoder q_phi(z | x) = N(mu_phi(x), diag sigma_phi(x)^2), decoder p_theta(x | z),
prior p(z) = N(0, I), and the loss is the negative ELBO

    -ELBO(x) = E_{q_phi(z|x)}[-log p_theta(x | z)] + KL(q_phi(z | x) || p(z)).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Circle
from matplotlib.ticker import FuncFormatter

from blog.plots.plane import _panels, _scatter
from blog.plots.style import (
    LIMITS,
    fig_width,
    figure,
    finish,
    look,
    plane,
    point_size,
    styled,
    theme,
)


def _by_mode(ax, pts: np.ndarray, labels: np.ndarray, max_points: int = 4000) -> None:
    pts, labels = np.asarray(pts)[:max_points], np.asarray(labels)[:max_points]
    palette = theme().mode_colors
    colors = np.array(palette)[labels.astype(int) % len(palette)]
    ax.scatter(pts[:, 0], pts[:, 1], s=point_size(len(pts)) * 1.5, c=colors, linewidths=0,
               alpha=0.8, rasterized=True, zorder=2)


def _prior_circles(ax) -> None:
    """The prior N(0, I)'s one- and two-standard-deviation circles, labelled."""
    th = theme()
    for r, ls in ((1.0, "-"), (2.0, "--")):
        ax.add_patch(Circle((0, 0), r, fill=False, ec=th.ink, lw=1.0, ls=ls, zorder=3))
    for r, text in ((1.0, r"$1\sigma$"), (2.0, r"$2\sigma$")):
        ax.text(r * 0.72, r * 0.72, text, color=th.ink, fontsize=10, zorder=4, ha="left",
                va="bottom", bbox={"boxstyle": "round,pad=0.1", "fc": th.background,
                                   "ec": "none", "alpha": 0.8})


def vae_latent(z: np.ndarray, labels: np.ndarray, *, x: np.ndarray | None = None,
               z_samples: np.ndarray | None = None,
               limits: tuple[float, float] = LIMITS) -> Figure:
    """Latent codes z = m_phi(x), (N, 2), coloured by the mode each x came from, over the
    prior N(0, I) (its 1-sigma and 2-sigma circles). With x, the data coloured alike on the left;
    with z_samples (N, 2), one draw z ~ q_phi(z | x) per data point, in a panel of its own: what
    the decoder is trained on, and how much of the prior's centre it leaves empty.
    """
    n = 1 + (x is not None) + (z_samples is not None)
    fig, axes = _panels(n, max_cols=3, width=fig_width() if n > 1 else 3.6)
    with styled():
        if x is not None:
            _by_mode(axes[0], x, labels)
            axes[0].set_title(r"data $x$, by mode $k$")
            plane(axes[0], limits)
        panels = [(z, r"means $m_\phi(x)$")]
        if z_samples is not None:
            panels.append((z_samples, r"samples $z \sim q_\phi(z \mid x)$"))
        for ax, (codes, title) in zip(axes[n - len(panels):], panels, strict=True):
            _prior_circles(ax)
            _by_mode(ax, codes, labels)
            ax.set_title(title if z_samples is not None
                         else r"latent $z = m_\phi(x)$ vs $\mathcal{N}(0, I)$")
            plane(ax, limits)
    return finish(fig)


def vae_samples(data: np.ndarray, samples: np.ndarray, *,
                limits: tuple[float, float] = LIMITS) -> Figure:
    """Data x ~ p(x) (left) vs VAE samples x ~ p_theta(x | z), z ~ N(0, I) (right)."""
    fig, (ax_d, ax_s) = _panels(2)
    th = theme()
    with styled():
        _scatter(ax_d, data, th.data)
        ax_d.set_title(r"data $x \sim p(x)$")
        _scatter(ax_s, samples, th.model)
        ax_s.set_title(r"VAE $x \sim p_\theta(x \mid z)$")
        for ax in (ax_d, ax_s):
            plane(ax, limits)
            ax.grid(True, color=th.grid, lw=0.6, zorder=0)
    return finish(fig)


LOG_SPAN = 20.0  # a log y axis only for curves spanning more than this factor


def smooth(y: np.ndarray, window) -> np.ndarray:
    """Centred moving average, same length as y; `window` is an int or one width per point.

    Windows shrink at the ends; on a log-x plot pass widths proportional to the step so every
    decade is smoothed alike.
    """
    y = np.asarray(y, dtype=np.float64)
    w = np.broadcast_to(np.maximum(np.asarray(window, dtype=np.int64), 1), y.shape)
    c = np.concatenate([[0.0], np.cumsum(y)])
    i = np.arange(len(y))
    lo = np.maximum(0, i - w // 2)
    hi = np.minimum(len(y), i + (w - w // 2))
    return (c[hi] - c[lo]) / (hi - lo)


def training_curve(histories: Mapping[str, np.ndarray], ylabel: str, *,
                   xlabel: str = "training step", logx: bool = True, logy: bool = False,
                   window: int | None = None, title: str | None = None,
                   floor: tuple[float, str] | None = None) -> Figure:
    """Loss curves, one line per named history (e.g. -ELBO, its reconstruction and KL parts).

    Each curve is drawn raw (faint) and as a moving average: over `window` steps if given, else
    over 10% of the step number on a log x axis (the default: early and late training both
    show) or 2% of the length on a linear one. `floor` = (value, label): the least value the loss
    can reach (a lower bound), drawn as a dashed line. `logy` asks for a log y axis, used when
    the smoothed curves and the floor are positive and span more than LOG_SPAN (a VAE's loss
    falls from hundreds of nats to a few: a linear axis spends the plot on the first steps);
    a narrower range stays linear, where it reads better.
    """
    fig = figure(height=3.0 if look().narrow else 3.4)
    th = theme()
    with styled():
        ax = fig.add_subplot()
        handles, shown = [], [] if floor is None else [floor[0]]
        for k, (name, y) in enumerate(histories.items()):
            y = np.asarray(y, dtype=np.float64)
            steps = np.arange(1, len(y) + 1)
            if window:
                w = np.full(len(y), window)
            else:
                w = np.maximum(1, 0.1 * steps) if logx else np.full(len(y), max(1, len(y) // 50))
            color = th.series[k % len(th.series)]
            if w.max() > 1:
                ax.plot(steps, y, color=color, lw=0.6, alpha=0.25)
            ax.plot(steps, smooth(y, w), color=color, lw=1.8)
            shown.extend([smooth(y, w).min(), smooth(y, w).max()])
            handles.append(Line2D([], [], color=color, lw=1.8, label=name))
        if floor is not None:
            ax.axhline(floor[0], color=th.exact, lw=1.4, ls="--", zorder=3)
            handles.append(Line2D([], [], color=th.exact, lw=1.4, ls="--", label=floor[1]))
        if logx:
            ax.set_xscale("log")
        if logy and min(shown) > 0 and max(shown) > LOG_SPAN * min(shown):
            ax.set_yscale("log")
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        if title:
            ax.set_title(title)
        ax.grid(True, which="major", color=th.grid, lw=0.6)
        ax.legend(handles=handles, loc="best")
        ax.spines["left"].set_color(th.muted)
        ax.spines["bottom"].set_color(th.muted)
    return finish(fig)
