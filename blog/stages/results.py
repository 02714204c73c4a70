"""The results section: every model's samples side by side, and the machine the numbers were
measured on (the table itself is the template blog/templates/results.md.j2)."""

from blog.stages.common import post_config, save_figure
from figures_pipeline import Figure, stage

PANELS = {  # title -> (sampling stage, sample key)
    "data (exact samples)": ("vae_samples", "data"),
    "VAE": ("vae_samples", "vae"),
    "Langevin": ("score_samples", "langevin"),
    "annealed Langevin": ("score_samples", "annealed_langevin"),
    "DDPM": ("ddpm_samples", "ddpm"),
    "DDIM": ("ddpm_samples", "ddim"),
    "Langevin, exact score": ("score_samples", "langevin_exact"),
    "annealed Langevin, exact": ("score_samples", "annealed_langevin_exact"),
    "DDPM, exact noise": ("ddpm_samples", "ddpm_exact"),
    "DDIM, exact noise": ("ddpm_samples", "ddim_exact"),
}
N_SHOWN = 3000  # points drawn per panel


@stage(config=["mixture"], after=["vae_samples", "score_samples", "ddpm_samples"], outputs={
    "samples_grid.png": Figure(
        alt="A grid of ten scatter plots on the same axes: exact data, the VAE, plain and "
            "annealed Langevin, DDPM and DDIM, and the exact-score versions of the four "
            "samplers.",
        caption="Samples of every model (first row and a half) and of the same samplers driven "
                "by the exact score (last four), on the same axes as the data.")})
def samples_grid(ctx):
    """Every sampler's samples on one grid; under each, its MMD^2 to the data."""
    import numpy as np

    from blog.mixture import from_config
    from blog.plots.plane import samples_comparison

    cfg = post_config(ctx)
    mixture = from_config(cfg.mixture)
    arrays = {s: np.load(ctx.upstream[s].artifact(f"{s.split('_')[0]}.npz"))
              for s in ("vae_samples", "score_samples", "ddpm_samples")}
    panels = {title: arrays[s][key][:N_SHOWN] for title, (s, key) in PANELS.items()}
    notes = {title: f"{ctx.upstream[s].values[key]['modes_covered']}/{mixture.n_components} "
                    f"modes\n{100 * ctx.upstream[s].values[key]['within_3sigma']:.1f} % within 3s"
             for title, (s, key) in PANELS.items()}
    save_figure(ctx, "samples_grid.png", samples_comparison(panels, mixture, annotations=notes))
    return {"panels": len(panels)}
