"""Frames of density_evo.gif: the trained reverse process beside the exact q(x_t), t = T -> 0.

Both heat maps of a frame share one colour scale, power-normalised,

    c = (p / max(p_model, p_exact)) ** gamma,   gamma ~ 0.35,

so the broad N(0, I) at t = T and the sharp modes at t = 0 are both visible. One figure is
drawn once and only its data change between frames, so a frame costs one Agg draw.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.patches import Rectangle

from blog.plots.style import (
    DENSITY_CMAP,
    FIG_WIDTH,
    FRAME_DPI,
    INK,
    LIMITS,
    MODEL,
    figure,
    plane,
    styled,
)


def frame_times(T: int, n_frames: int) -> list[int]:
    """The n_frames times t shown by the animation, from T down to 0: quadratic in the frame
    index, so frames are densest near t = 0, where the modes form (repeats merged)."""
    return sorted({round(T * (1 - k / (n_frames - 1)) ** 2) for k in range(n_frames)},
                  reverse=True)


def density_frames(model_density: Sequence[np.ndarray], exact_density: Sequence[np.ndarray],
                   t_values: Sequence[int | float], T: int | float, *,
                   titles: tuple[str, str] = ("trained reverse process",
                                              r"exact $q(x_t)$"),
                   gamma: float = 0.35, levels: int | None = 24, dpi: float = FRAME_DPI,
                   limits: tuple[float, float] = LIMITS) -> list[np.ndarray]:
    """One (H, W, 3) uint8 frame per t: model | exact density heat maps, 't = ... / T' and a
    progress bar that empties as t goes to 0. Densities are (G, G) arrays indexed [y, x] on
    grid(limits, G)."""
    if not len(model_density) == len(exact_density) == len(t_values):
        raise ValueError("model_density, exact_density and t_values must have the same length")
    lo, hi = limits
    fig = figure(FIG_WIDTH, 3.75, dpi=dpi, constrained=False)
    with styled():
        gs = fig.add_gridspec(1, 2, left=0.035, right=0.965, bottom=0.115, top=0.925,
                              wspace=0.08)
        axes = [fig.add_subplot(gs[0, j]) for j in range(2)]
        ax_bar = fig.add_axes((0.30, 0.03, 0.665, 0.045))
        images = []
        for ax, title in zip(axes, titles, strict=True):
            blank = np.zeros_like(np.asarray(model_density[0]), dtype=np.float64)
            images.append(ax.imshow(blank, origin="lower", extent=(lo, hi, lo, hi),
                                    cmap=DENSITY_CMAP, vmin=0.0, vmax=1.0,
                                    interpolation="nearest"))
            ax.set_title(title)
            plane(ax, limits, ticks=False)
        label = fig.text(0.035, 0.0525, "", ha="left", va="center", fontsize=12, color=INK,
                         family="DejaVu Sans Mono")
        ax_bar.set_xlim(0, 1)
        ax_bar.set_ylim(0, 1)
        ax_bar.set_axis_off()
        ax_bar.add_patch(Rectangle((0, 0), 1, 1, fc="#E3E3E3", ec="none"))
        bar = ax_bar.add_patch(Rectangle((0, 0), 1, 1, fc=MODEL, ec="none"))
        frames = []
        for p_model, p_exact, t in zip(model_density, exact_density, t_values, strict=True):
            p_model = np.clip(np.asarray(p_model, dtype=np.float64), 0, None)
            p_exact = np.clip(np.asarray(p_exact, dtype=np.float64), 0, None)
            top = max(float(p_model.max()), float(p_exact.max()), 1e-300)
            images[0].set_data(_levels((p_model / top) ** gamma, levels))
            images[1].set_data(_levels((p_exact / top) ** gamma, levels))
            label.set_text(f"t = {_fmt(t)} / {_fmt(T)}")
            bar.set_width(float(np.clip(t / T, 0.0, 1.0)))
            fig.canvas.draw()
            frames.append(np.asarray(fig.canvas.buffer_rgba())[..., :3].copy())
    fig.clear()
    return frames


def _levels(c: np.ndarray, levels: int | None) -> np.ndarray:
    """Quantise c in [0, 1] to `levels` bands (filled-contour look; keeps the GIF small)."""
    if not levels:
        return c
    return np.minimum(np.floor(c * levels), levels - 1) / (levels - 1)


def _fmt(t: float) -> str:
    t = float(t)
    return f"{int(round(t)):>4d}" if abs(t - round(t)) < 1e-9 else f"{t:.2f}"
