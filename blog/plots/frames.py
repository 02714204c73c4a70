"""Frames of density_evo.gif: the trained reverse process beside the exact q(x_t), t = T -> 0.

Both heat maps of a frame share one colour scale, power-normalised,

    c = (p / max(p_model, p_exact)) ** gamma,   gamma = GAMMA,

so the broad N(0, I) at t = T and the sharp modes at t = 0 are both visible. One figure is
drawn once and only its data change between frames, so a frame costs one Agg draw.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.patches import Rectangle

from blog.plots.style import (
    FRAME_DPI,
    LIMITS,
    fig_width,
    figure,
    look,
    plane,
    styled,
    theme,
)

GAMMA = 0.35  # power of the shared colour scale (the page's interactive figure uses it too)


def frame_times(T: int, n_frames: int) -> list[int]:
    """min(n_frames, T + 1) distinct times t shown by the animation, from T down to 0: quadratic
    in the frame index, t_k ~ T (1 - k / (n - 1))^2, so frames are densest near t = 0, where the
    modes form. Rounding would repeat the last few times (0, 0, 1, 2, ...); each is pushed up to
    one past the next instead, so every frame shows a different step."""
    n = min(n_frames, T + 1)
    if n < 2:
        return [T][:n]
    times = [0] * n
    for k in range(n - 2, -1, -1):  # from t = 0 up: strictly increasing, t_0 = T
        times[k] = max(round(T * (1 - k / (n - 1)) ** 2), times[k + 1] + 1)
    return times


def density_frames(model_density: Sequence[np.ndarray], exact_density: Sequence[np.ndarray],
                   t_values: Sequence[int | float], T: int | float, *,
                   titles: tuple[str, str] = ("trained reverse process",
                                              r"exact $q(x_t)$"),
                   gamma: float = GAMMA, levels: int | None = 24, dpi: float = FRAME_DPI,
                   limits: tuple[float, float] = LIMITS) -> list[np.ndarray]:
    """One (H, W, 3) uint8 frame per t: model | exact density heat maps, 't = ... / T' and a
    progress bar that empties as t goes to 0. Densities are (G, G) arrays indexed [y, x] on
    grid(limits, G)."""
    if not len(model_density) == len(exact_density) == len(t_values):
        raise ValueError("model_density, exact_density and t_values must have the same length")
    lo, hi = limits
    th = theme()
    # geometry in inches: two square panels side by side under their titles, the label and the
    # progress bar below; a narrow look keeps the layout at its smaller width (larger text)
    width = fig_width()
    margin, gap, title_room, bar_room = 0.2, 0.25, 0.35, 0.45
    side = (width - 2 * margin - gap) / 2
    height = side + title_room + bar_room + 0.05
    fig = figure(width, height, dpi=dpi, constrained=False)
    with styled():
        gs = fig.add_gridspec(1, 2, left=margin / width, right=1 - margin / width,
                              bottom=bar_room / height, top=(bar_room + side) / height,
                              wspace=gap / side)
        axes = [fig.add_subplot(gs[0, j]) for j in range(2)]
        bar_left = margin + (1.45 if not look().narrow else 1.55)
        ax_bar = fig.add_axes((bar_left / width, 0.12 / height, 1 - (bar_left + margin) / width,
                               0.17 / height))
        images = []
        for ax, title in zip(axes, titles, strict=True):
            blank = np.zeros_like(np.asarray(model_density[0]), dtype=np.float64)
            images.append(ax.imshow(blank, origin="lower", extent=(lo, hi, lo, hi),
                                    cmap=th.density_cmap, vmin=0.0, vmax=1.0,
                                    interpolation="nearest"))
            ax.set_title(title)
            plane(ax, limits, ticks=False)
        label = fig.text(margin / width, 0.205 / height, "", ha="left", va="center",
                         fontsize=12, color=th.ink, family="DejaVu Sans Mono")
        ax_bar.set_xlim(0, 1)
        ax_bar.set_ylim(0, 1)
        ax_bar.set_axis_off()
        ax_bar.add_patch(Rectangle((0, 0), 1, 1, fc=th.track, ec="none"))
        bar = ax_bar.add_patch(Rectangle((0, 0), 1, 1, fc=th.model, ec="none"))
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
