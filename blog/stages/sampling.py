"""Sampling stages: every sampler of the post, learned and exact-score, with its metrics.

Each draws post.samples points (blog/post.toml) and measures them against the exact mixture in
closed form (blog.metrics: every number with its 95 % interval). A learned sampler and its
exact-score twin run the same algorithm with the same number of steps from the same seed, so they
start from the same noise and draw the same noise at every step: their difference is paired, and
what is left of it is the network's error. The samples are drawn in BATCHES batches, each timed:
the sampling time is the median over the batches.
"""

from __future__ import annotations

from blog.stages.common import load_model, post_config, seed_for
from figures_pipeline import stage

BATCHES = 5  # the samples are drawn in this many timed batches; the table reports the median


def sample_and_measure(ctx, family: str | None, names: list[str], artifact: str,
                       snapshots: tuple[str, list[int], str] | None = None) -> dict:
    """Sample each model in `names`, save every sample array to `artifact` (.npz), and return
    {name_with_underscores: metrics, network evaluations, sampling time, and for a learned
    sampler whose exact twin is in `names`, the paired differences learned - exact}.
    `snapshots` = (name, steps, file) also keeps that sampler's x after each of the given steps
    (0 = its starting point)."""
    import statistics

    import numpy as np

    from blog import metrics, models
    from blog.mixture import from_config

    cfg = post_config(ctx)
    n = ctx.config["post"]["samples"]
    model = load_model(ctx, family, models.FAMILIES[family].build(cfg))[0] if family else None
    mixture = from_config(cfg.mixture)
    seed = seed_for(ctx, "sample")  # one seed: a twin pair draws the same noise
    arrays, values = {}, {}
    for name in names:
        spec = models.REGISTRY[models.ModelName(name)]
        keep = snapshots[1] if snapshots and snapshots[0] == name else []
        x, kept, seconds = sample_timed(name, cfg, n, seed, model, keep)
        if kept:
            with open(ctx.artifact(snapshots[2]), "wb") as f:
                np.savez(f, **kept)
        key = name.replace("-", "_")
        arrays[key] = x
        report = metrics.evaluate(x, mixture).as_dict()
        values[key] = {**report, "log_density_deficit": deficit(report),
                       "nfe": spec.nfe(cfg), "exact": spec.family is None,
                       "seconds_per_1000": statistics.median(seconds) * 1000 * BATCHES / n,
                       "timing_repeats": BATCHES}
        if name == "data":
            values[key]["off_mode_expected"] = exact_off_mode_fraction(mixture.dim)
    for key in values:
        twin = f"{key}_exact"
        if twin in arrays:
            values[key]["paired"] = {k: e.as_dict() for k, e in
                                     metrics.paired(arrays[key], arrays[twin], mixture).items()}
    with open(ctx.artifact(artifact), "wb") as f:
        np.savez(f, **arrays)
    return values


def deficit(report: dict) -> dict:
    """-H(p) minus the mean log-density of the samples, as an estimate: 0 for exact samples,
    positive when the samples sit where p is small."""
    e, h = report["log_density"], report["neg_entropy"]
    return {"value": h - e["value"], "lo": h - e["hi"], "hi": h - e["lo"], "n": e["n"]}


def sample_timed(name: str, cfg, n: int, seed: int, model, keep: list[int]):
    """The sampler's n final points (float64), drawn in BATCHES equal batches (batch b from the
    seed derived from (seed, b), so a twin pair still shares every draw); the points after each
    step in `keep`, {"step_i": (n, d) float32}; and each batch's wall time."""
    import time

    import numpy as np

    from blog import models
    from blog.config import derive_seed

    if n % BATCHES:
        raise ValueError(f"post.samples = {n} must be a multiple of {BATCHES} (the timed batches)")
    finals, kept, seconds = [], {i: [] for i in keep}, []
    for b in range(BATCHES):
        start = time.perf_counter()
        for i, x in enumerate(models.sample_progressive(name, cfg, n // BATCHES,
                                                        derive_seed(seed, f"batch {b}"),
                                                        progress=b == 0,
                                                        model=model)):
            if i in kept:
                kept[i].append(x.float().numpy())
        seconds.append(time.perf_counter() - start)
        finals.append(x.double().numpy())
    return (np.concatenate(finals), {f"step_{i}": np.concatenate(v) for i, v in kept.items()},
            seconds)


def exact_off_mode_fraction(dim: int, n_sd: float = 3.0) -> float:
    """P(|z| > n_sd) for z ~ N(0, I_dim), dim = 2: exp(-n_sd^2 / 2). The modes are far apart,
    so this is the off-mode fraction of exact samples (to within the mass of the overlaps)."""
    import math

    if dim != 2:
        raise ValueError(f"exact_off_mode_fraction: only the 2-D case is closed form, got {dim}")
    return math.exp(-n_sd**2 / 2)


# the sampling time is measured on this run: the page prints it, no later stage depends on it
TIMED = ("*.seconds_per_1000",)


@stage(config=["seed", "mixture", "ddpm", "post"], after=["ddpm_model"],
       artifacts=["ddpm.npz", "ddpm_frames.npz"], volatile=TIMED)
def ddpm_samples(ctx):
    """DDPM (ancestral, T steps), DDIM (S steps) and Heun (second order), each beside its
    exact-noise twin; the ancestral sampler's particles at the animation's frame times are kept
    for density_evo.gif."""
    from blog.plots.frames import frame_times

    T = ctx.config["ddpm"]["timesteps"]
    times = frame_times(T, ctx.config["post"]["gif_frames"])
    frames = ("ddpm", [T - s for s in times], "ddpm_frames.npz")
    return sample_and_measure(ctx, "ddpm", ["ddpm", "ddpm-exact", "ddim", "ddim-exact", "heun",
                                            "heun-exact"], "ddpm.npz", snapshots=frames)


@stage(config=["seed", "mixture", "score", "post"], after=["score_model"],
       artifacts=["score.npz"], volatile=TIMED)
def score_samples(ctx):
    """Plain Langevin at the smallest noise level and annealed Langevin, learned and exact."""
    names = ["langevin", "langevin-exact", "annealed-langevin", "annealed-langevin-exact"]
    return sample_and_measure(ctx, "score", names, "score.npz")


@stage(config=["seed", "mixture", "vae", "post"], after=["vae_model"], artifacts=["vae.npz"],
       volatile=TIMED)
def vae_samples(ctx):
    """The VAE's samples, and exact data samples: the floor every metric is read against."""
    return sample_and_measure(ctx, "vae", ["vae", "data"], "vae.npz")
