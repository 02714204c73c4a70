"""One visual language for the post: palette, axis limits, fonts, and the figure factory.

Every plot function builds its figure through `figure(...)`, which applies `RC` (fonts, line
widths, no randomness), attaches an Agg canvas (no pyplot, no global state), and uses a
constrained layout. Every 2-D view of the data uses `plane(ax)`: the same square window
LIMITS x LIMITS, so panels across the post line up and can be compared by eye.

Sizes: figures are FIG_WIDTH = 6.4 in wide, saved at 200 dpi (1280 px) and shown ~640 CSS px
wide, so one point is ~1.4 CSS px; the smallest text (ticks) is 10 pt.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import matplotlib as mpl
import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import LinearSegmentedColormap
from matplotlib.figure import Figure

mpl.use("Agg")  # never a GUI backend, even if someone reaches for pyplot


# --- geometry ---------------------------------------------------------------------------------
def plane_limits(radius: float = 2.0, margin: float = 1.0) -> tuple[float, float]:
    """Symmetric square window for the ring: mode radius + margin, at least the N(0, I) 3-sigma."""
    half = max(radius + margin, 3.0)
    return (-half, half)


LIMITS = plane_limits()  # (-3, 3): the post's 8 modes at radius 2 with std 0.1, and N(0, I)
GRID_SIZE = 200  # points per side of the density grid behind every 2-D plot

# --- sizes (inches; 1 in = 100 CSS px when shown at half the 200-dpi pixel width) -----------------
FIG_WIDTH = 6.4
PANEL = 3.2  # side of one square panel in a row of two
TITLE_ROOM = 0.35  # height of a one-line panel title
TICK_ROOM = 0.4  # width of a panel's y tick labels
FRAME_DPI = 100  # GIF frames are 1x: the GIF's size budget, not sharpness, is the constraint

# --- colours ----------------------------------------------------------------------------------
# Per-mode colours: Paul Tol's "muted" scheme (colour-blind safe), reordered so that neighbouring
# modes on the ring differ in hue and lightness.
MODE_COLORS = ("#332288", "#DDCC77", "#117733", "#CC6677", "#88CCEE", "#882255", "#44AA99",
               "#AA4499")
# Roles: Okabe-Ito (colour-blind safe).
DATA = "#0072B2"  # samples of the data distribution, exact references
MODEL = "#D55E00"  # samples or curves of a learned model
EXACT = "#009E73"  # closed-form quantities
INK = "#222222"  # text, arrows, outlines
MUTED = "#8C8C8C"  # secondary lines, raw curves under a smoothed one
SERIES = (MODEL, DATA, EXACT, "#CC79A7", "#E69F00", "#56B4E9", INK)  # line plots, in order

DENSITY_CMAP = "magma"  # heat maps of densities (sequential, perceptually uniform)
# Light background for density contours under scattered points: white -> pale blue-grey.
BACKDROP_CMAP = LinearSegmentedColormap.from_list("backdrop", ["#FFFFFF", "#E3E9F1", "#B0BED2"])

# --- matplotlib settings ------------------------------------------------------------------------
RC = {
    "font.family": "DejaVu Sans",  # ships with matplotlib: same glyphs on every machine
    "mathtext.fontset": "dejavusans",
    "font.size": 11,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
    "legend.fontsize": 10,
    "figure.titlesize": 13,
    "axes.edgecolor": "#555555",
    "axes.linewidth": 0.8,
    "axes.titlepad": 5.0,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.prop_cycle": mpl.cycler(color=SERIES),
    "lines.linewidth": 1.8,
    "legend.frameon": False,
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
    "image.interpolation": "nearest",
    "svg.hashsalt": "live-code-blog",
    "path.simplify": True,
}


@contextmanager
def styled() -> Iterator[None]:
    """Apply RC for the duration of a block (artists take their style when created)."""
    with mpl.rc_context(RC):
        yield


def figure(width: float = FIG_WIDTH, height: float = PANEL, *, dpi: float = 100,
           constrained: bool = True) -> Figure:
    """A new Figure on an Agg canvas with the post's style and (by default) a constrained layout.

    Create every artist inside `with styled():` so the RC settings reach them.
    """
    with styled():
        fig = Figure(figsize=(width, height), dpi=dpi,
                     layout="constrained" if constrained else None)
        if constrained:
            fig.get_layout_engine().set(w_pad=0.04, h_pad=0.04, wspace=0.03, hspace=0.03)
    FigureCanvasAgg(fig)
    return fig


def plane(ax: Axes, limits: tuple[float, float] = LIMITS, *, ticks: bool = True) -> Axes:
    """Square data-plane axes with the common limits: every 2-D plot of the post goes through it."""
    ax.set_xlim(*limits)
    ax.set_ylim(*limits)
    ax.set_aspect("equal", adjustable="box")
    if ticks:
        lo, hi = limits
        at = np.arange(np.ceil(lo), np.floor(hi) + 1)
        step = 1
        while len(at) > 5:  # integers, thinned to multiples of 2, 4, ...: -3..3 -> -2, 0, 2
            step *= 2
            at = at[at % step == 0]
        ax.set_xticks(at)
        ax.set_yticks(at)
    else:
        ax.set_xticks([])
        ax.set_yticks([])
    for side in ("top", "right"):
        ax.spines[side].set_visible(True)
    return ax


def grid_shape(n: int, max_cols: int = 4) -> tuple[int, int]:
    """(rows, cols) for n panels: the fewest rows of at most max_cols, filled evenly (7 -> 2x4)."""
    rows = int(np.ceil(n / max_cols))
    return rows, int(np.ceil(n / rows))


def point_size(n: int) -> float:
    """Marker area for a scatter of n points: dense clouds get smaller dots."""
    return float(np.clip(6000.0 / max(n, 1), 0.6, 12.0))


def finish(fig: Figure) -> Figure:
    """Fix the style of artists matplotlib creates lazily (ticks) and lay the figure out once."""
    with styled():
        for ax in fig.axes:
            ax.tick_params(labelsize=RC["xtick.labelsize"], color="#555555", width=0.8)
        fig.draw_without_rendering()
    return fig
