"""Views of the 2-D data plane: samples, noised marginals, score fields, sampler trajectories.

Every panel is `plane(ax)`: the common square window, with the exact density of the relevant
distribution as a pale backdrop (log-spaced contour levels of p), so learned and exact objects
are always read against the truth.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from blog.mixture import GaussianMixture
from blog.plots.density import FINE_LEVELS, draw_backdrop, grid
from blog.plots.style import (
    FIG_WIDTH,
    LIMITS,
    TICK_ROOM,
    TITLE_ROOM,
    columns,
    fig_width,
    figure,
    finish,
    grid_shape,
    look,
    plane,
    point_size,
    styled,
    theme,
)


def _scatter(ax: Axes, pts: np.ndarray, color: str, max_points: int = 4000,
             size: float = 1.0, alpha: float = 0.75) -> None:
    pts = np.asarray(pts)[:max_points]
    ax.scatter(pts[:, 0], pts[:, 1], s=size * point_size(len(pts)), color=color, linewidths=0,
               alpha=alpha, rasterized=True, zorder=2)


def _panels(n: int, *, max_cols: int = 4, width: float | None = None, ticks: bool = True,
            extra: float = 0.0) -> tuple[Figure, list[Axes]]:
    """A figure of n square plane panels on a grid; its height follows from the width (default:
    the look's full column; a narrow look also caps the columns).

    `extra` is height per row beyond the title (e.g. an x label)."""
    width = fig_width() if width is None else width
    rows, cols = grid_shape(n, columns(max_cols))
    side = (width - 0.1 - cols * (TICK_ROOM if ticks else 0.05)) / cols
    fig = figure(width, rows * (side + TITLE_ROOM + extra + (0.3 if ticks else 0.05)))
    with styled():
        axes = [fig.add_subplot(rows, cols, i + 1) for i in range(n)]
    return fig, axes


def _heatmap(ax: Axes, mixture: GaussianMixture, limits: tuple[float, float],
             gamma: float = 0.4) -> None:
    """p(x)^gamma as a heat map (the colour scale of the post's GIF and diagram)."""
    _, _, XY = grid(limits)
    p = mixture.prob(XY)
    lo, hi = limits
    ax.imshow((p / p.max()) ** gamma, origin="lower", extent=(lo, hi, lo, hi),
              cmap=theme().density_cmap, vmin=0, vmax=1, interpolation="bilinear")


def mixture_samples(mixture: GaussianMixture, samples: np.ndarray, *,
                    limits: tuple[float, float] = LIMITS) -> Figure:
    """The data: p(x) = sum_k pi_k N(x; mu_k, s^2 I) as a heat map (left, colour ~ p^0.4) and
    samples x ~ p over log-spaced contours of p (right)."""
    fig, (ax_p, ax_x) = _panels(2)
    with styled():
        _heatmap(ax_p, mixture, limits)
        ax_p.set_title(r"density $p(x)$")
        draw_backdrop(ax_x, mixture, limits)
        _scatter(ax_x, samples, theme().data)
        # a phone's panel is too narrow for the title on one line
        ax_x.set_title(rf"{len(samples):,} samples{chr(10) if look().narrow else ' '}$x \sim p(x)$")
        for ax in (ax_p, ax_x):
            plane(ax, limits)
    return finish(fig)


def forward_snapshots(samples_by_t: Sequence[np.ndarray],
                      mixtures_by_t: Sequence[GaussianMixture], titles: Sequence[str], *,
                      limits: tuple[float, float] = LIMITS) -> Figure:
    """Forward process x_t ~ q(x_t) at a few t, over the exact marginal q(x_t) (a mixture too)."""
    if not len(samples_by_t) == len(mixtures_by_t) == len(titles):
        raise ValueError("samples_by_t, mixtures_by_t and titles must have the same length")
    fig, axes = _panels(len(titles), max_cols=5, ticks=False)
    with styled():
        for ax, x_t, q_t, title in zip(axes, samples_by_t, mixtures_by_t, titles, strict=True):
            draw_backdrop(ax, q_t, limits, line_zorder=3)
            _scatter(ax, x_t, theme().data, max_points=1500, size=0.5, alpha=0.6)
            ax.set_title(title)
            plane(ax, limits, ticks=False)
    return finish(fig)


def _arrows(ax: Axes, xy: np.ndarray, field: np.ndarray, color: str, cap: float) -> None:
    """Quiver of a (G, G, 2) field on the (G, G, 2) grid, thinned to ~20 arrows per side.

    Arrow length is the field scaled so that `cap` maps to ~0.9 grid cell and capped there:
    directions everywhere, magnitudes where they are moderate.
    """
    stride = max(1, int(np.ceil(xy.shape[0] / 20)))
    pts, vec = xy[::stride, ::stride], field[::stride, ::stride]
    cell = abs(pts[0, 1, 0] - pts[0, 0, 0]) if pts.shape[1] > 1 else 1.0
    norm = np.linalg.norm(vec, axis=-1, keepdims=True)
    vec = vec * (0.9 * cell / cap) * np.minimum(1.0, cap / np.maximum(norm, 1e-12))
    ax.quiver(pts[..., 0], pts[..., 1], vec[..., 0], vec[..., 1], color=color, angles="xy",
              scale_units="xy", scale=1.0, width=0.006, headwidth=3.5, headlength=4,
              headaxislength=3.5, zorder=3)


def sigma_label(sigma: float) -> str:
    """'0.99' for 0.985248: a noise level to two significant digits, as the text prints it."""
    return f"{float(sigma):.2g}"


def score_fields(grid_xy: np.ndarray, learned: Sequence[np.ndarray],
                 exact: Sequence[np.ndarray], sigmas: Sequence[float], *,
                 mixture: GaussianMixture | None = None,
                 limits: tuple[float, float] = LIMITS) -> Figure:
    """Learned s_theta(x, sigma) (top) vs exact grad_x log q_sigma(x) (bottom), a column per sigma.

    Arrows show sigma * s (the noise-scaled score, ~ -eps, order one at every level), capped at
    length 2 so directions stay visible near the modes where |s| blows up as sigma -> 0. With
    `mixture`, the backdrop is the exact q_sigma = p * N(0, sigma^2 I), on levels fine enough near
    its maximum that a shallow ring still shows as a ring.
    """
    if not len(learned) == len(exact) == len(sigmas):
        raise ValueError("learned, exact and sigmas must have the same length")
    n = len(sigmas)
    th = theme()
    rows = (r"learned $\sigma\, s_\theta(x, \sigma)$",
            r"exact $\sigma \nabla_x \log q_\sigma(x)$")
    narrow = look().narrow  # transposed: one row per sigma, learned | exact
    width = fig_width()
    side = (width - 0.45) / (2 if narrow else max(n, 2))
    fig = figure(width, (n * (side + TITLE_ROOM) if narrow else 2 * side + TITLE_ROOM) + 0.15)
    with styled():
        axes = fig.subplots(n, 2, squeeze=False).T if narrow else fig.subplots(2, n, squeeze=False)
        for j, sigma in enumerate(sigmas):
            for i, (field, color) in enumerate(((learned[j], th.model), (exact[j], th.data))):
                ax = axes[i, j]
                if mixture is not None:
                    draw_backdrop(ax, mixture.ve(float(sigma)), limits, lines=False,
                                  levels=FINE_LEVELS)
                _arrows(ax, np.asarray(grid_xy), float(sigma) * np.asarray(field), color, 2.0)
                plane(ax, limits, ticks=False)
            label = rf"$\sigma = {sigma_label(sigma)}$"
            if narrow:
                axes[0, j].set_ylabel(label)
            else:
                axes[0, j].set_title(label)
        for i, label in enumerate(rows):
            if narrow:
                axes[i, 0].set_title(label.replace(" $", "\n$", 1), fontsize=11)
            else:
                axes[i, 0].set_ylabel(label, fontsize=11 if n > 3 else None)
    return finish(fig)


def _trajectories(ax: Axes, trajs: np.ndarray, mixture: GaussianMixture, n_show: int,
                  lw: float = 0.9) -> None:
    """n_show paths x_T -> x_0 as lines, coloured by the mode they end in; o start, * end."""
    trajs = np.asarray(trajs)[:, :n_show]
    mode = mixture.responsibilities(trajs[-1]).argmax(-1)
    th = theme()
    colors = th.mode_colors
    for i in range(trajs.shape[1]):
        c = colors[mode[i] % len(colors)]
        ax.plot(trajs[:, i, 0], trajs[:, i, 1], color=c, lw=lw, alpha=0.85, zorder=2)
    ax.scatter(trajs[0, :, 0], trajs[0, :, 1], s=18, facecolors=th.background,
               edgecolors=th.ink, linewidths=0.8, zorder=3, label="start")
    ax.scatter(trajs[-1, :, 0], trajs[-1, :, 1], s=22, c=[colors[m % len(colors)] for m in mode],
               edgecolors=th.ink, linewidths=0.6, marker="o", zorder=4, label="end")


def langevin_trajectories(trajs: np.ndarray, mixture: GaussianMixture, *, n_show: int = 12,
                          title: str | None = None,
                          limits: tuple[float, float] = LIMITS) -> Figure:
    """Langevin paths x_{i+1} = x_i + (eta/2) s(x_i) + sqrt(eta) z_i over p(x), trajs (T+1, N, 2).
    """
    fig = figure(FIG_WIDTH * 0.62, FIG_WIDTH * 0.62 + 0.35)
    with styled():
        ax = fig.add_subplot()
        draw_backdrop(ax, mixture, limits)
        _trajectories(ax, trajs, mixture, n_show)
        ax.set_title(title or f"{min(n_show, np.shape(trajs)[1])} Langevin trajectories")
        ax.legend(loc="upper right", handletextpad=0.2, borderaxespad=0.2)
        plane(ax, limits)
    return finish(fig)


def reverse_trajectories(stochastic: np.ndarray, deterministic: np.ndarray,
                         mixture: GaussianMixture, *, n_show: tuple[int, int] = (4, 12),
                         titles: tuple[str, str] = ("DDPM (stochastic)",
                                                    "DDIM / probability flow"),
                         limits: tuple[float, float] = LIMITS) -> Figure:
    """Reverse paths x_T -> x_0: ancestral DDPM (T+1, N, 2) vs deterministic DDIM (S+1, N, 2),
    the first n_show[0] and n_show[1] paths of each (a few long jittery paths stay readable,
    a tangle of many does not); the titles are drawn as given."""
    fig, axes = _panels(2, extra=0.25)
    with styled():
        for ax, trajs, title, n, lw in zip(axes, (stochastic, deterministic), titles, n_show,
                                           (0.7, 0.9), strict=True):
            draw_backdrop(ax, mixture, limits)
            _trajectories(ax, trajs, mixture, n, lw=lw)
            ax.set_title(title)
            plane(ax, limits)
        axes[0].legend(loc="upper right", handletextpad=0.2, borderaxespad=0.2)
    return finish(fig)


def samples_comparison(panels: Mapping[str, np.ndarray], mixture: GaussianMixture, *,
                       annotations: Mapping[str, str] | None = None,
                       ncols: int | None = None,
                       colors: Mapping[str, str] | None = None,
                       max_points: int | None = 2000,
                       limits: tuple[float, float] = LIMITS) -> Figure:
    """Side-by-side samples over p(x), one panel per title; optional text (a metric) under each;
    the first `max_points` samples of each panel (None: all of them).

    The grid is one row up to four panels, else near-square; pass ncols to force it (e.g. one
    row per sampler family with an exact-score reference row). A narrow look transposes a grid
    of several rows (each wide row becomes a column, so twins stay side by side) and wraps a
    single row at NARROW_COLUMNS.
    """
    titles = list(panels)
    n = len(titles)
    rows, cols = (int(np.ceil(n / ncols)), ncols) if ncols else grid_shape(n)
    transpose = look().narrow and rows > 1
    if transpose:
        rows, cols = cols, rows
    elif look().narrow:
        rows, cols = grid_shape(n, columns(cols))
    extra = 0.3 if annotations else 0.0
    wrap = 10 if cols >= 6 else 14 if cols >= 4 else 22 if cols == 3 else \
        40 if not look().narrow else 20
    lines = max(len(textwrap.wrap(t, wrap)) for t in titles)
    full = fig_width()
    side = (full - 0.1 - 0.05 * cols) / max(cols, 2)
    width = full if cols >= 2 else side + 0.3
    fig = figure(width, rows * (side + lines * 0.26 + 0.12 + extra))
    th = theme()
    with styled():
        grid_axes = fig.subplots(rows, cols, squeeze=False)
        axes = (grid_axes.T if transpose else grid_axes).ravel()
        for ax, title in zip(axes, titles, strict=False):
            draw_backdrop(ax, mixture, limits, lines=False)
            pts = np.asarray(panels[title])
            _scatter(ax, pts, (colors or {}).get(title, th.model),
                     max_points=len(pts) if max_points is None else max_points)
            ax.set_title("\n".join(textwrap.wrap(title, wrap)), fontsize=11 if cols >= 3 else 12,
                         linespacing=1.1)
            if annotations and title in annotations:
                ax.set_xlabel(annotations[title], fontsize=10, color=th.ink, labelpad=3)
            plane(ax, limits, ticks=False)
        for ax in axes[n:]:
            ax.set_axis_off()
    return finish(fig)


def score_error_maps(grid_xy: np.ndarray, errors: Sequence[np.ndarray],
                     densities: Sequence[GaussianMixture], sigmas: Sequence[float], *,
                     limits: tuple[float, float] = LIMITS,
                     span: tuple[float, float] = (1e-2, 3.0)) -> Figure:
    """Where the learned score can be trusted: the relative error |s_theta - s| / |s| of the
    learned score against the exact score of q_sigma, as a heat map over the plane (log colour
    scale, clipped to `span`), one panel per sigma, with contours of q_sigma itself on top, so
    the error reads against where the noised data is. errors[j] is (G, G) on grid_xy (G, G, 2)."""
    from matplotlib.colors import LogNorm

    if not len(errors) == len(densities) == len(sigmas):
        raise ValueError("errors, densities and sigmas must have the same length")
    n = len(sigmas)
    cols = columns(n)
    side = (fig_width() - 0.1 - cols * 0.05) / cols
    rows = int(np.ceil(n / cols))
    fig = figure(fig_width(), rows * (side + TITLE_ROOM + 0.1) + 0.75)  # + the colour bar
    with styled():
        axes = [fig.add_subplot(rows, cols, i + 1) for i in range(n)]
    lo, hi = limits
    xy = np.asarray(grid_xy)
    with styled():
        image = None
        for ax, err, q, sigma in zip(axes, errors, densities, sigmas, strict=True):
            image = ax.imshow(np.clip(err, *span), origin="lower", extent=(lo, hi, lo, hi),
                              cmap="cividis", norm=LogNorm(*span), interpolation="nearest",
                              zorder=0)
            p = q.prob(xy)
            ax.contour(xy[..., 0], xy[..., 1], p, levels=p.max() * np.array([0.01, 0.1, 0.5]),
                       colors="white", linewidths=0.8, zorder=2)
            ax.set_title(rf"$\sigma = {sigma_label(sigma)}$")
            plane(ax, limits, ticks=False)
        bar = fig.colorbar(image, ax=axes, orientation="horizontal", fraction=0.06, pad=0.04,
                           aspect=30)
        bar.set_label(r"$|s_\theta - \nabla_x \log q_\sigma| \,/\, |\nabla_x \log q_\sigma|$"
                      "  (contours: $q_\\sigma$)")
    return finish(fig)
