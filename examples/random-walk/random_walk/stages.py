"""The stages of "A random walk, live": simulate the walks once (an artifact), then draw and
measure them. Drawing code lives in random_walk/plots.py, one function per figure, so editing one
figure redraws only that figure; `walks` does not import it, so no plot edit re-simulates."""

from figures_pipeline import Figure, stage

Z95 = 1.959963984540054  # the 97.5 % quantile of N(0, 1)


@stage(config=["seed", "walk"], artifacts=["paths.npy"])
def walks(ctx):
    """n walks x_k = x_(k-1) + ε_k, x_0 = 0, k = 1..steps; the paths go to the artifact."""
    import numpy as np

    n, steps = ctx.config["walk"]["n"], ctx.config["walk"]["steps"]
    rng = np.random.default_rng(ctx.config["seed"])
    paths = np.cumsum(rng.standard_normal((n, steps)), axis=1)
    np.save(ctx.artifact("paths.npy"), paths)
    return {"n": n, "steps": steps}


@stage(after=["walks"], config=["plot"],
       outputs={"walks.png": Figure(
           alt="{{ config.plot.shown }} random walks of {{ walks.steps }} steps spreading "
               "out like the square root of the step count",
           caption="{{ config.plot.shown }} of the {{ walks.n | thousands }} walks, inside "
                   "±√k (dashed): the spread the theory predicts.",
           claims=("config.plot.shown <= walks.n",))})
def spread(ctx):
    """Draw a few walks; measure the standard deviation of x_steps over all walks, with its
    95 % interval (normal approximation of the sample SD's error), against the exact √steps."""
    import numpy as np

    from random_walk.plots import draw_walks

    paths = np.load(ctx.upstream["walks"].artifact("paths.npy"))
    draw_walks(paths[: ctx.config["plot"]["shown"]], ctx.output("walks.png"))
    end = paths[:, -1]
    sd = float(end.std(ddof=1))
    half = Z95 * sd / np.sqrt(2 * (len(end) - 1))
    return {"sd": {"value": sd, "lo": sd - half, "hi": sd + half, "n": len(end)},
            "theory": float(np.sqrt(paths.shape[1]))}
