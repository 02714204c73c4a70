"""The drawing code of "A random walk, live": one function per figure."""


def draw_walks(paths, path):
    """Each row of `paths` against the step k, with the ±√k envelope; a byte-stable PNG."""
    import numpy as np
    from matplotlib.figure import Figure

    from figures_pipeline.writers import save_figure

    k = np.arange(1, paths.shape[1] + 1)
    fig = Figure(figsize=(6.4, 3.2))
    ax = fig.add_subplot()
    for p in paths:
        ax.plot(k, p, lw=0.9)
    ax.plot(k, np.sqrt(k), "k--", lw=0.8)
    ax.plot(k, -np.sqrt(k), "k--", lw=0.8)
    ax.set_xlabel("step k")
    ax.set_ylabel("position")
    fig.tight_layout()
    save_figure(fig, path)
