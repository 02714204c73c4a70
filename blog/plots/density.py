"""Densities on the common grid: closed-form backdrops and a fast histogram KDE.

The KDE of samples x^(1..N) with bandwidth h,

    p_hat(y) = 1/N sum_i N(y; x^(i), h^2 I),

is computed as a histogram on the grid blurred by a separable Gaussian: two (G x G) matrix
products, so 100k samples cost about a millisecond per frame.
"""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import PowerNorm

from blog.mixture import GaussianMixture
from blog.plots.style import GRID_SIZE, LIMITS, theme


def grid(limits: tuple[float, float] = LIMITS, n: int = GRID_SIZE):
    """The square grid over limits^2: X, Y of shape (n, n) and XY = stack(X, Y) of (n, n, 2).

    Row i is y = Y[i, 0] (increasing), column j is x = X[0, j]: arrays index as [y, x], which is
    what imshow(origin="lower") and contour expect.
    """
    lo, hi = limits
    axis = np.linspace(lo, hi, n)
    X, Y = np.meshgrid(axis, axis)
    return X, Y, np.stack([X, Y], axis=-1)


def _axes_of(g) -> tuple[np.ndarray, np.ndarray]:
    """The x and y axis of a grid given as (X, Y, XY) or as XY of shape (n, n, 2)."""
    XY = g[2] if isinstance(g, tuple) else np.asarray(g)
    return XY[0, :, 0], XY[:, 0, 1]


def _blur_matrix(axis: np.ndarray, bandwidth: float) -> np.ndarray:
    """K[i, j] = h_grid N(axis_i; axis_j, bandwidth^2): discrete Gaussian that keeps mass."""
    step = axis[1] - axis[0]
    d = axis[:, None] - axis[None, :]
    return step * np.exp(-0.5 * (d / bandwidth) ** 2) / (np.sqrt(2 * np.pi) * bandwidth)


def density_from_samples(samples: np.ndarray, g, bandwidth: float = 0.08) -> np.ndarray:
    """Gaussian KDE of (N, 2) samples on the grid g ((X, Y, XY) or XY); (n, n), indexed [y, x].

    Samples are binned to the nearest grid point (outside the grid they are dropped, so the
    integral is the fraction inside), then blurred along x and along y.
    """
    xs, ys = _axes_of(g)
    samples = np.asarray(samples, dtype=np.float64).reshape(-1, 2)
    nx, ny = len(xs), len(ys)
    dx, dy = xs[1] - xs[0], ys[1] - ys[0]
    ix = np.rint((samples[:, 0] - xs[0]) / dx).astype(np.int64)
    iy = np.rint((samples[:, 1] - ys[0]) / dy).astype(np.int64)
    inside = (ix >= 0) & (ix < nx) & (iy >= 0) & (iy < ny)
    counts = np.bincount(iy[inside] * nx + ix[inside], minlength=nx * ny).reshape(ny, nx)
    hist = counts / (max(len(samples), 1) * dx * dy)  # a density: sum * dx * dy = fraction in
    bandwidth = max(float(bandwidth), 0.5 * min(dx, dy))
    return _blur_matrix(ys, bandwidth) @ hist @ _blur_matrix(xs, bandwidth).T


def mixture_density(mixture: GaussianMixture, g) -> np.ndarray:
    """p(x) of the mixture on the grid g, (n, n) indexed [y, x]."""
    XY = g[2] if isinstance(g, tuple) else np.asarray(g)
    return mixture.prob(XY)


_BACKDROPS: dict[tuple, np.ndarray] = {}  # the last few backdrop densities, by their inputs


def backdrop_density(mixture: GaussianMixture, limits: tuple[float, float], n: int
                     ) -> np.ndarray:
    """p(x) of the mixture on grid(limits, n), read-only, computed once for a figure drawn in
    several looks or with the same backdrop in several panels (kept for the last 32 inputs)."""
    key = (mixture.means.tobytes(), mixture.means.shape, mixture.stds.tobytes(),
           mixture.weights.tobytes(), tuple(limits), n)
    if key not in _BACKDROPS:
        if len(_BACKDROPS) >= 32:
            del _BACKDROPS[next(iter(_BACKDROPS))]
        p = mixture.prob(grid(limits, n)[2])
        p.setflags(write=False)
        _BACKDROPS[key] = p
    return _BACKDROPS[key]


BACKDROP_LEVELS = (0.0, 0.002, 0.01, 0.04, 0.12, 0.3, 0.6, 1.0001)  # fractions of max p
# Finer near the top: a density whose hole is still 60 % of its ring (q_sigma at sigma ~ 1) shows
# as a ring, not as the flat disc the coarse top band 0.6-1 makes of it.
FINE_LEVELS = (0.0, 0.002, 0.01, 0.04, 0.12, 0.3, 0.45, 0.6, 0.75, 0.9, 1.0001)


def draw_backdrop(ax: Axes, mixture: GaussianMixture, limits: tuple[float, float] = LIMITS,
                  *, n: int = 160, lines: bool = True, line_zorder: float = 0.5,
                  levels: tuple[float, ...] = BACKDROP_LEVELS) -> None:
    """Pale filled contours of p(x) (power-normalised, so tails show) with thin contour lines.

    Levels are fixed fractions of max p (`levels`), so every panel reads the same way.
    """
    X, Y, _ = grid(limits, n)
    p = backdrop_density(mixture, limits, n)
    top = float(p.max())
    levels = top * np.asarray(levels)
    th = theme()
    ax.contourf(X, Y, p, levels=levels, cmap=th.backdrop, norm=PowerNorm(0.5, 0, top),
                zorder=0, antialiased=True)
    if lines:
        ax.contour(X, Y, p, levels=levels[1:-1], colors=th.contour, linewidths=0.5, alpha=0.8,
                   zorder=line_zorder)
