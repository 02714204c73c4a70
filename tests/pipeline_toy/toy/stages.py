"""The toy post's stages: points -> (scatter, summary); independent stands alone."""

import json
import time

from figures_pipeline import Figure, stage
from toy import helpers

DIGITS = 3


@stage(config=["seed", "points"], data=["data/offsets.csv"], artifacts=["points.json"])
def points(ctx):
    import numpy as np  # lazily, like torch in the real post: check must not import it

    rows = ctx.data_path("data/offsets.csv").read_text().split()
    offsets = [tuple(float(v) for v in r.split(",")) for r in rows]
    pts = helpers.make_points(ctx.config["points"]["n"], ctx.config["seed"],
                              ctx.config["points"]["scale"], offsets)
    ctx.artifact("points.json").write_text(json.dumps(pts))
    mean = float(np.mean([p[0] for p in ctx.progress(pts, desc="summing")]))
    return {"n": len(pts), "mean_x": round(mean, DIGITS)}


@stage(after=["points"],
       outputs={"scatter.svg": Figure(alt="the toy points", caption="Twenty *toy* points",
                                      claims=("scatter.count == points.n",))})
def scatter(ctx):
    from toy.svg import scatter_svg

    pts = json.loads(ctx.upstream["points"].artifact("points.json").read_text())
    ctx.output("scatter.svg").write_text(scatter_svg(pts))
    return {"count": len(pts)}


@stage(after=["points"], config=["title"], outputs=["summary.txt"])
def summary(ctx):
    up = ctx.upstream["points"].values
    ctx.output("summary.txt").write_text(f"{ctx.config['title']}: n={up['n']}\n")
    return {"title": ctx.config["title"]}


@stage(config=["slow", "fail"], outputs=["independent.txt"])
def independent(ctx):
    for _ in ctx.progress(range(10), desc="waiting"):
        time.sleep(ctx.config["slow"] / 10)
    if ctx.config["fail"]:
        raise ValueError("asked to fail")
    ctx.output("independent.txt").write_text("independent\n")
    return {"ok": True}
