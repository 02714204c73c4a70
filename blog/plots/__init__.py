"""The post's figures: pure functions from NumPy arrays and mixtures to matplotlib Figures.

No torch, no pyplot, no randomness: the same arrays give the same pixels. Save with
figures_pipeline.writers (save_figure, save_gif).
"""

from blog.plots.density import density_from_samples, draw_backdrop, grid, mixture_density
from blog.plots.diagram import diagram_ddpm
from blog.plots.frames import density_frames
from blog.plots.intro import inverse_cdf, norm_cdf, norm_pdf, norm_ppf
from blog.plots.plane import (
    forward_snapshots,
    langevin_trajectories,
    mixture_samples,
    reverse_trajectories,
    samples_comparison,
    score_fields,
)
from blog.plots.style import LIMITS, figure, plane, styled
from blog.plots.vae import training_curve, vae_latent, vae_samples

__all__ = [
    "LIMITS", "density_frames", "density_from_samples", "diagram_ddpm", "draw_backdrop",
    "figure", "forward_snapshots", "grid", "inverse_cdf", "langevin_trajectories",
    "mixture_density", "mixture_samples", "norm_cdf", "norm_pdf", "norm_ppf", "plane",
    "reverse_trajectories", "samples_comparison", "score_fields", "styled", "training_curve",
    "vae_latent", "vae_samples",
]
