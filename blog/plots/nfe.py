"""Error against the number of network evaluations: one line per sampler, learned (solid) and
driven by the exact score (dashed), each point with its 95 % interval."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from blog.plots.style import figure, finish, look, styled, theme

Curve = Sequence[Mapping]  # points {"nfe": int, <metric>: {"value", "lo", "hi"}}


def error_vs_nfe(curves: Mapping[str, Mapping[str, Curve]], metric: str, ylabel: str, *,
                 floor: float | None = None, floor_label: str = "") -> Figure:
    """curves[sampler]["learned" | "exact"] is a list of points; `metric` names the estimate
    drawn (a fraction, on a log y axis); `floor` draws the value exact samples have."""
    th = theme()
    fig = figure(height=5.6 if look().narrow else 4.4)
    with styled():
        ax = fig.add_subplot()
        handles = []
        for k, (sampler, pair) in enumerate(curves.items()):
            color = th.series[k % len(th.series)]
            for kind, style in (("learned", "-"), ("exact", "--")):
                pts = pair.get(kind, ())
                if not pts:
                    continue
                x = np.array([p["nfe"] for p in pts], dtype=np.float64)
                y = np.array([p[metric]["value"] for p in pts])
                lo = np.array([p[metric]["lo"] for p in pts])
                hi = np.array([p[metric]["hi"] for p in pts])
                ax.plot(x, y, style, color=color, lw=1.6, marker="o", ms=3.5)
                ax.fill_between(x, lo, hi, color=color, alpha=0.15, lw=0)
            handles.append(Line2D([], [], color=color, lw=1.8, label=sampler))
        if floor is not None:
            ax.axhline(floor, color=th.muted, lw=1.0, ls=":")
            handles.append(Line2D([], [], color=th.muted, lw=1.0, ls=":", label=floor_label))
        handles += [Line2D([], [], color=th.ink, lw=1.4, ls="-", label="learned network"),
                    Line2D([], [], color=th.ink, lw=1.4, ls="--", label="exact score")]
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("network evaluations per sample")
        ax.set_ylabel(ylabel)
        ax.grid(True, which="major", color=th.grid, lw=0.6)
        narrow = look().narrow
        ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.2),
                  ncols=2 if narrow else 4, frameon=False)
        ax.spines["left"].set_color(th.muted)
        ax.spines["bottom"].set_color(th.muted)
    return finish(fig)
