"""Sampling stages: every sampler of the post, learned and exact-score, with its metrics.

Each draws post.samples points (blog/post.toml), times the sampler, and measures the points
against fresh exact samples from the mixture (blog.metrics). The exact-score references run the
same algorithm with the same number of steps on the closed-form score of the noised mixture: the
gap between a model and its reference is the network's error, the reference's own error is the
sampler's.
"""

from __future__ import annotations

from blog.stages.common import load_model, post_config, seed_for
from figures_pipeline import stage


def sample_and_measure(ctx, family: str | None, names: list[str], artifact: str,
                       snapshots: tuple[str, list[int], str] | None = None) -> dict:
    """Sample each model in `names`, save every sample array to `artifact` (.npz), and return
    {name_with_underscores: metrics, steps and sampling time}. `snapshots` = (name, steps, file)
    also keeps that sampler's x after each of the given steps (0 = its starting point)."""
    import time

    import numpy as np

    from blog import metrics, models
    from blog.mixture import from_config

    cfg = post_config(ctx)
    n = ctx.config["post"]["samples"]
    model = load_model(ctx, family, models.FAMILIES[family].build(cfg))[0] if family else None
    mixture = from_config(cfg.mixture)
    arrays, values = {}, {}
    for name in names:
        spec = models.REGISTRY[models.ModelName(name)]
        keep = set(snapshots[1]) if snapshots and snapshots[0] == name else set()
        kept = {}
        start = time.perf_counter()
        for i, x in enumerate(models.sample_progressive(name, cfg, n, seed_for(ctx, name),
                                                        progress=True, model=model)):
            if i in keep:
                kept[f"step_{i}"] = x.float().numpy()
        x = x.double().numpy()
        seconds = time.perf_counter() - start
        if kept:
            with open(ctx.artifact(snapshots[2]), "wb") as f:
                np.savez(f, **kept)
        report = metrics.evaluate(x, mixture, np.random.default_rng(seed_for(ctx, name, "eval")))
        key = name.replace("-", "_")
        arrays[key] = x
        values[key] = {**report.as_dict(), "steps": spec.n_steps(cfg),
                       "mmd_n": min(len(x), metrics.MMD_N),
                       "sample_seconds": seconds, "exact": spec.family is None}
    with open(ctx.artifact(artifact), "wb") as f:
        np.savez(f, **arrays)
    return values


@stage(config=["seed", "mixture", "ddpm", "post"], after=["ddpm_model"],
       artifacts=["ddpm.npz", "ddpm_frames.npz"])
def ddpm_samples(ctx):
    """DDPM (ancestral, T steps) and DDIM (S steps), each beside its exact-noise reference; the
    ancestral sampler's particles at the animation's frame times are kept for density_evo.gif."""
    from blog.plots.frames import frame_times

    T = ctx.config["ddpm"]["timesteps"]
    times = frame_times(T, ctx.config["post"]["gif_frames"])
    frames = ("ddpm", [T - s for s in times], "ddpm_frames.npz")
    return sample_and_measure(ctx, "ddpm", ["ddpm", "ddpm-exact", "ddim", "ddim-exact"],
                              "ddpm.npz", snapshots=frames)


@stage(config=["seed", "mixture", "score", "post"], after=["score_model"],
       artifacts=["score.npz"])
def score_samples(ctx):
    """Plain Langevin at the smallest noise level and annealed Langevin, learned and exact."""
    names = ["langevin", "langevin-exact", "annealed-langevin", "annealed-langevin-exact"]
    return sample_and_measure(ctx, "score", names, "score.npz")


@stage(config=["seed", "mixture", "vae", "post"], after=["vae_model"], artifacts=["vae.npz"])
def vae_samples(ctx):
    """The VAE's samples, and exact data samples: the floor every metric is read against."""
    return sample_and_measure(ctx, "vae", ["vae", "data"], "vae.npz")
