"""The results section: every model's samples side by side, and the machine the numbers were
measured on (the table itself is the template blog/templates/results.md.j2)."""

from blog.stages.common import post_config, save_looks, with_looks
from figures_pipeline import Figure, stage

# title -> (sampling stage, sample key); two rows of six: learned samplers above their exact
# twins, with the data above the VAE (the titles are the results table's row names)
PANELS = {
    "exact samples": ("vae_samples", "data"),
    "Langevin": ("score_samples", "langevin"),
    "annealed Langevin": ("score_samples", "annealed_langevin"),
    "DDPM": ("ddpm_samples", "ddpm"),
    "DDIM": ("ddpm_samples", "ddim"),
    "Heun": ("ddpm_samples", "heun"),
    "VAE": ("vae_samples", "vae"),
    "Langevin, exact": ("score_samples", "langevin_exact"),
    "annealed Langevin, exact": ("score_samples", "annealed_langevin_exact"),
    "DDPM, exact": ("ddpm_samples", "ddpm_exact"),
    "DDIM, exact": ("ddpm_samples", "ddim_exact"),
    "Heun, exact": ("ddpm_samples", "heun_exact"),
}
NCOLS = 6


@stage(config=["mixture"], after=["vae_samples", "score_samples", "ddpm_samples"],
       outputs=with_looks({
    "samples_grid.png": Figure(
        alt="Two rows of six scatter plots on the same axes: exact samples and the five "
            "learned samplers (plain and annealed Langevin, DDPM, DDIM, Heun) above the VAE and "
            "the same five samplers driven by the exact score.",
        caption="All the samples of every sampler, each panel named as its row of the table; "
                "under each, its off-mode fraction (the share farther than 3w from every centre) "
                "in percent, with its 95 % interval. Top row: exact samples and the five learned "
                "samplers; bottom row: the VAE, and under each learned sampler its twin driven by "
                "the exact score.")}))
def samples_grid(ctx):
    """Every sampler's samples, all of them, on one grid; under each, its off-mode fraction."""
    import numpy as np

    from blog.mixture import from_config
    from blog.plots.plane import samples_comparison

    cfg = post_config(ctx)
    mixture = from_config(cfg.mixture)
    arrays = {s: np.load(ctx.upstream[s].artifact(f"{s.split('_')[0]}.npz"))
              for s in ("vae_samples", "score_samples", "ddpm_samples")}
    panels = {title: arrays[s][key] for title, (s, key) in PANELS.items()}
    notes = {title: off_mode_note(ctx.upstream[s].values[key]["off_mode"])
             for title, (s, key) in PANELS.items()}
    save_looks(ctx, "samples_grid.png", lambda: samples_comparison(
        panels, mixture, annotations=notes, ncols=NCOLS, max_points=None))
    return {"panels": len(panels), "shown": min(len(x) for x in panels.values())}


def off_mode_note(e: dict) -> str:
    """'1.2 %\n[1.0, 1.4]': an estimate of a fraction as the panel's label (narrow enough for a
    panel of a six-column grid; the caption says what it is)."""
    return f"{100 * e['value']:.1f} %\n[{100 * e['lo']:.1f}, {100 * e['hi']:.1f}]"
