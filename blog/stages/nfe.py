"""Error against the number of network evaluations: each sampler with a budget of EVALUATIONS
network calls per sample, learned and with the exact score, measured like the results table.

The exact curves show the discretisation error alone; the gap between a learned curve and its
exact twin (same seed, hence the same noise) is the network's error. The samplers are the
registry's (blog.models) with the step count set from the budget: the ancestral sampler on a
subsequence of the T steps is DDIM with eta = 1 (Song et al. 2021, sec. 4.1).
"""

from __future__ import annotations

from blog.stages.common import load_model, post_config, save_looks, seed_for, with_looks
from figures_pipeline import Figure, stage

EVALUATIONS = (10, 20, 50, 100, 200, 500)  # budgets: network evaluations per sample
N_SWEEP = 1000  # samples per point of a curve
SAMPLERS = ("DDPM", "DDIM", "Heun", "annealed Langevin")


def sampler_at(sampler: str, budget: int, cfg):
    """(registry name, config) of `sampler` spending about `budget` evaluations per sample."""
    from dataclasses import replace

    d, s = cfg.ddpm, cfg.score
    if sampler == "DDPM":
        return "ddim", replace(cfg, ddpm=replace(d, ddim_steps=min(budget, d.timesteps),
                                                 ddim_eta=1.0))
    if sampler == "DDIM":
        return "ddim", replace(cfg, ddpm=replace(d, ddim_steps=min(budget, d.timesteps),
                                                 ddim_eta=0.0))
    if sampler == "Heun":  # N levels cost 2N - 1 evaluations
        return "heun", replace(cfg, ddpm=replace(d, heun_steps=max(2, (budget + 1) // 2)))
    if sampler == "annealed Langevin":  # L levels of k steps, plus the final denoising step
        return "annealed-langevin", replace(cfg, score=replace(
            s, n_steps_each=max(1, round(budget / s.n_sigmas))))
    raise ValueError(f"unknown sampler {sampler!r}; expected one of {SAMPLERS}")


@stage(config=["seed", "mixture", "ddpm", "score"], after=["ddpm_model", "score_model"],
       outputs=with_looks({"error_vs_nfe.png": Figure(
           alt="Log-log plot of the off-mode fraction against the number of network evaluations "
               "per sample for ancestral DDPM, DDIM, Heun and annealed Langevin, each with the "
               "learned network (solid) and the exact score (dashed).",
           caption="Off-mode fraction against network evaluations per sample, learned (solid) "
                   "and exact score (dashed), with 95 % intervals; dotted: exact samples.",
           claims=("error_vs_nfe.curves.DDIM.exact[-1].off_mode.hi"
                   " < error_vs_nfe.curves.DDIM.exact[0].off_mode.lo",
                   "error_vs_nfe.curves.Heun.exact[-1].off_mode.hi"
                   " < error_vs_nfe.curves.Heun.exact[0].off_mode.lo"))}))
def error_vs_nfe(ctx):
    """Every sampler at every budget, learned and exact, on N_SWEEP samples each."""

    from blog import ddpm, metrics, models, score
    from blog.mixture import from_config
    from blog.plots.nfe import error_vs_nfe as draw
    from blog.stages.sampling import exact_off_mode_fraction

    cfg = post_config(ctx)
    nets = {"ddpm": load_model(ctx, "ddpm", ddpm.EpsNet(cfg.ddpm))[0],
            "score": load_model(ctx, "score", score.ScoreNet(cfg.score))[0]}
    mixture = from_config(cfg.mixture)
    seed = seed_for(ctx, "sweep")
    curves: dict[str, dict[str, list]] = {}
    for sampler in SAMPLERS:
        curves[sampler] = {"learned": [], "exact": []}
        for budget in EVALUATIONS:
            name, c = sampler_at(sampler, budget, cfg)
            spec = models.REGISTRY[models.ModelName(name)]
            for kind, run in (("learned", name), ("exact", f"{name}-exact")):
                x = models.sample(run, c, N_SWEEP, seed, model=nets[spec.family])
                r = metrics.evaluate(x, mixture)
                curves[sampler][kind].append({"budget": budget, "nfe": spec.nfe(c),
                                              "off_mode": r.off_mode.as_dict(),
                                              "mmd2": r.mmd2.as_dict()})
    floor = exact_off_mode_fraction(mixture.dim)
    save_looks(ctx, "error_vs_nfe.png", lambda: draw(curves, "off_mode", "off-mode fraction",
                                                     floor=floor, floor_label="exact samples"))
    return {"curves": curves, "n": N_SWEEP, "budgets": list(EVALUATIONS),
            "off_mode_floor": floor}
