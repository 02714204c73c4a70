"""DDPM.png drawn by code: a VAE is one encoder/decoder step, diffusion is a chain of them.

    VAE:        x  --q_phi(z | x)-->  z ~ N(0, I)  --p_theta(x | z)-->  x_hat
    diffusion:  x_0 -> x_1 -> ... -> x_T ~ N(0, I)   forward q(x_t | x_{t-1}) (fixed),
                x_T -> ... -> x_0                   reverse p_theta(x_{t-1} | x_t) (learned)

Each node shows the density of its variable: the data p(x), the prior N(0, I), and the noised
marginals q(x_t) = VP(alpha_bar_t) of the mixture (Ho et al. 2020, eq. 4).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.colors import PowerNorm
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch

from blog.mixture import GaussianMixture, ring
from blog.plots.density import grid
from blog.plots.style import LIMITS, fig_width, figure, look, styled, theme

THUMB = 0.78  # thumbnail side, inches (0.56 in a narrow look)
DIAGRAM_HEIGHT = 4.3  # inches (3.9 in a narrow look)


def _thumb(fig: Figure, cx: float, cy: float, density: np.ndarray, label: str) -> tuple:
    """A density thumbnail centred at figure fraction (cx, cy); returns its (l, b, r, t)."""
    fw, fh = fig.get_size_inches()
    side = 0.56 if look().narrow else THUMB
    w, h = side / fw, side / fh
    th = theme()
    ax = fig.add_axes((cx - w / 2, cy - h / 2, w, h))
    lo, hi = LIMITS
    ax.imshow(density, origin="lower", extent=(lo, hi, lo, hi), cmap=th.density_cmap,
              norm=PowerNorm(0.4, 0.0, float(density.max())), interpolation="bilinear")
    ax.set_xticks([])
    ax.set_yticks([])
    for s in ax.spines.values():
        s.set_visible(True)
        s.set_color(th.ink)
    fig.text(cx, cy - h / 2 - 0.012, label, ha="center", va="top",
             fontsize=12 if look().narrow else 14, color=th.ink)
    return cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2


def _arrow(fig: Figure, a: tuple, b: tuple, color: str, rad: float = 0.0, ls: str = "-"):
    fig.add_artist(FancyArrowPatch(a, b, transform=fig.transFigure, arrowstyle="-|>",
                                   mutation_scale=13, lw=1.6, color=color, ls=ls,
                                   connectionstyle=f"arc3,rad={rad}", shrinkA=3, shrinkB=3))


def diagram_ddpm(mixture: GaussianMixture | None = None,
                 alpha_bars: Sequence[float] = (1.0, 0.95, 0.45, 0.3, 1e-3)) -> Figure:
    """The VAE (top) and the diffusion chain x_0 -> ... -> x_T (bottom), with density thumbnails.

    `alpha_bars` are abar for the five chain nodes x_0, x_1, x_{t-1}, x_t, x_T (decreasing).
    """
    if len(alpha_bars) != 5:
        raise ValueError("alpha_bars: one value for each of x_0, x_1, x_{t-1}, x_t, x_T")
    mixture = mixture if mixture is not None else ring()
    _, _, XY = grid(LIMITS, 90)
    prior = GaussianMixture(np.zeros((1, 2)), np.ones(1), np.ones(1))
    p_data, p_prior = mixture.prob(XY), prior.prob(XY)
    narrow = look().narrow
    fig = figure(fig_width(), 3.9 if narrow else DIAGRAM_HEIGHT, constrained=False)
    th = theme()
    small = 10 if narrow else 11  # the arrows' labels
    with styled():
        # --- VAE row
        y_vae = 0.74
        fig.text(0.015, 0.975, "VAE", ha="left", va="top", fontsize=13, weight="bold",
                 color=th.ink)
        nodes = [_thumb(fig, cx, y_vae, d, lab) for cx, d, lab in
                 ((0.14, p_data, r"$x$"), (0.5, p_prior, r"$z$"),
                  (0.86, p_data, r"$\hat{x}$"))]
        for (a, b, text, color) in (
                (nodes[0], nodes[1], "encoder\n" r"$q_\phi(z \mid x)$", th.data),
                (nodes[1], nodes[2], "decoder\n" r"$p_\theta(x \mid z)$", th.model)):
            _arrow(fig, (a[2], y_vae), (b[0], y_vae), color)
            fig.text((a[2] + b[0]) / 2, y_vae + 0.025, text, ha="center", va="bottom",
                     fontsize=small, color=color, linespacing=1.3)
        fig.text(0.5, nodes[1][3] + 0.012, r"$\mathcal{N}(0, I)$", ha="center", va="bottom",
                 fontsize=small, color=th.ink)

        # --- diffusion row
        y_dm = 0.3
        fig.text(0.015, 0.53, "Diffusion", ha="left", va="top", fontsize=13, weight="bold",
                 color=th.ink)
        xs = np.linspace(0.09, 0.91, 5)
        labels = (r"$x_0$", r"$x_1$", r"$x_{t-1}$", r"$x_t$", r"$x_T$")
        boxes = [_thumb(fig, cx, y_dm, mixture.vp(float(ab)).prob(XY), lab)
                 for cx, ab, lab in zip(xs, alpha_bars, labels, strict=True)]
        for i in range(4):
            a, b = boxes[i], boxes[i + 1]
            dotted = i in (1, 3)
            ls = (0, (1.5, 2.5)) if dotted else "-"
            _arrow(fig, (a[2], y_dm + 0.03), (b[0], y_dm + 0.03), th.data, rad=-0.35, ls=ls)
            _arrow(fig, (b[0], y_dm - 0.03), (a[2], y_dm - 0.03), th.model, rad=-0.35, ls=ls)
            if dotted:
                fig.text((a[2] + b[0]) / 2, y_dm, r"$\cdots$", ha="center", va="center",
                         fontsize=13, color=th.ink)
        mid = (boxes[2][2] + boxes[3][0]) / 2
        fig.text(mid, boxes[2][3] + 0.045, r"$q(x_t \mid x_{t-1})$", ha="center",
                 va="bottom", fontsize=small, color=th.data)
        fig.text(mid, boxes[2][1] - 0.075, r"$p_\theta(x_{t-1} \mid x_t)$", ha="center",
                 va="top", fontsize=small, color=th.model)
        gap = "\n" if narrow else "      "  # one line, or two in a narrow look
        fig.text(0.5, 0.025, r"forward: fixed noising $\rightarrow$" + gap +
                 r"$\leftarrow$ reverse: learned denoising", ha="center", va="bottom",
                 fontsize=small if narrow else 10.5, color=th.ink)
    return fig
