"""One visual language for the post: palette, axis limits, fonts, and the figure factory.

Every plot function builds its figure through `figure(...)`, which applies `RC` (fonts, line
widths, no randomness), attaches an Agg canvas (no pyplot, no global state), and uses a
constrained layout. Every 2-D view of the data uses `plane(ax)`: the same square window
LIMITS x LIMITS, so panels across the post line up and can be compared by eye.

Sizes: figures are FIG_WIDTH = 6.4 in wide, saved at 200 dpi (1280 px) and shown ~640 CSS px
wide, so one point is ~1.4 CSS px; the smallest text (ticks) is 10 pt.

Looks: every figure is drawn in each look the page can show (blog.plots.looks), from the same
data by the same code: a `Theme` (LIGHT, or DARK for a page in dark mode: its own palette, never
an inverted image) and a width (FIG_WIDTH, or NARROW_WIDTH for phones, where a 6.4-in figure
shown in a 335-px column would shrink 10-pt text to 7 px). Plot code reads its colours from
`theme()` and its width and columns from `fig_width()` and `columns(n)`; `looking(look)` sets
the look for a block.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import matplotlib as mpl
import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import Colormap, LinearSegmentedColormap
from matplotlib.figure import Figure

from blog.plots.looks import look, looking  # noqa: F401 - re-exported for plot code

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
NARROW_WIDTH = 4.0  # phones: a 335-px column shows 10-pt text at 335 / (72 * 4.0) * 10 = 11.6 px
NARROW_COLUMNS = 2  # panels per row at most in a narrow figure

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

# --- themes: one palette per colour scheme of the page ----------------------------------------
@dataclass(frozen=True)
class Theme:
    """Every colour a figure uses, by role. A plot reads them from `theme()` when it draws."""

    name: str  # "light" or "dark": the file suffix of the variant (mixture.dark.png)
    background: str  # figure and axes face: the page's own background in dark mode
    ink: str  # text, arrows, outlines
    frame: str  # axes spines and ticks
    muted: str  # secondary lines, raw curves under a smoothed one
    grid: str  # grid lines
    track: str  # the empty part of a progress bar
    data: str  # samples of the data distribution, exact references
    model: str  # samples or curves of a learned model
    exact: str  # closed-form quantities
    extra: tuple[str, ...]  # further line colours, after model, data, exact
    mode_colors: tuple[str, ...]  # one per mode of the ring
    density_cmap: str  # heat maps of densities (sequential, perceptually uniform)
    backdrop: Colormap  # filled density contours under scattered points
    contour: str  # the contour lines over the backdrop

    @property
    def series(self) -> tuple[str, ...]:
        """Line plots, in order."""
        return (self.model, self.data, self.exact, *self.extra, self.ink)


LIGHT = Theme(
    name="light", background="#FFFFFF", ink=INK, frame="#555555", muted=MUTED, grid="#E5E5E5",
    track="#E3E3E3", data=DATA, model=MODEL, exact=EXACT, extra=("#CC79A7", "#E69F00", "#56B4E9"),
    mode_colors=MODE_COLORS, density_cmap=DENSITY_CMAP, backdrop=BACKDROP_CMAP,
    contour="#4A5A72")
# Dark: the page's dark background (assets/css/main.css --bg), light ink, and the lighter
# colour-blind-safe hues of the same roles (Okabe-Ito sky blue and orange; Paul Tol's "light"
# scheme for the modes), so each role keeps its meaning and its contrast against the background.
DARK = Theme(
    name="dark", background="#15171A", ink="#E6E7E9", frame="#A7ABB1", muted="#8A9099",
    grid="#33373D", track="#3A3F46", data="#56B4E9", model="#F0A24A", exact="#3CC8A0",
    extra=("#E59CC8", "#F0E442", "#8AB8FF"),
    mode_colors=("#77AADD", "#EEDD88", "#44BB99", "#EE8866", "#99DDFF", "#FFAABB", "#BBCC33",
                 "#C7A6E8"),
    density_cmap=DENSITY_CMAP,  # magma starts black: zero density is dark on both pages
    backdrop=LinearSegmentedColormap.from_list("backdrop_dark", ["#15171A", "#1F2A3A", "#3A4F6E"]),
    contour="#8193AD")


THEMES = {"light": LIGHT, "dark": DARK}


def theme() -> Theme:
    """The colours of the look being drawn (see blog.plots.looks)."""
    return THEMES[look().scheme]


def fig_width() -> float:
    """The width of a full-column figure in the current look, inches."""
    return NARROW_WIDTH if look().narrow else FIG_WIDTH


def columns(wanted: int) -> int:
    """Panels per row: `wanted`, at most NARROW_COLUMNS in a narrow look."""
    return min(wanted, NARROW_COLUMNS) if look().narrow else wanted


# --- matplotlib settings ------------------------------------------------------------------------
def rc(th: Theme) -> dict:
    """matplotlib rcParams of the post's style in theme `th`."""
    return {
        "font.family": "DejaVu Sans",  # ships with matplotlib: same glyphs on every machine
        "mathtext.fontset": "dejavusans",
        "font.size": 11,
        "axes.titlesize": 12,
        "axes.labelsize": 11,
        "xtick.labelsize": 10,
        "ytick.labelsize": 10,
        "legend.fontsize": 10,
        "figure.titlesize": 13,
        "text.color": th.ink,
        "axes.labelcolor": th.ink,
        "axes.titlecolor": th.ink,
        "xtick.color": th.frame,
        "ytick.color": th.frame,
        "xtick.labelcolor": th.ink,
        "ytick.labelcolor": th.ink,
        "axes.edgecolor": th.frame,
        "axes.facecolor": th.background,
        "axes.linewidth": 0.8,
        "axes.titlepad": 5.0,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.prop_cycle": mpl.cycler(color=th.series),
        "lines.linewidth": 1.8,
        "legend.frameon": False,
        "figure.facecolor": th.background,
        "savefig.facecolor": th.background,
        "image.interpolation": "nearest",
        "svg.hashsalt": "live-code-blog",
        "path.simplify": True,
    }


RC = rc(LIGHT)


@contextmanager
def styled() -> Iterator[None]:
    """Apply the current theme's rc for a block (artists take their style when created)."""
    with mpl.rc_context(rc(theme())):
        yield


def figure(width: float | None = None, height: float = PANEL, *, dpi: float = 100,
           constrained: bool = True) -> Figure:
    """A new Figure on an Agg canvas with the post's style and (by default) a constrained layout;
    `width` defaults to the current look's full-column width (fig_width()).

    Create every artist inside `with styled():` so the RC settings reach them.
    """
    width = fig_width() if width is None else width
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
    """Fix the style of the artists matplotlib creates lazily: the ticks, created here in the
    post's style (the ticks a draw adds later copy the first one's). Nothing is drawn: saving
    lays the figure out and draws it once, at the saved resolution."""
    with styled():
        for ax in fig.axes:
            ax.tick_params(labelsize=RC["xtick.labelsize"], color=theme().frame, width=0.8)
            for axis in (ax.xaxis, ax.yaxis):
                axis.get_major_ticks()
                axis.get_minor_ticks()
    return fig
