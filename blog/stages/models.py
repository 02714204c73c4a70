"""Training stages: one per model family. Each trains on fresh exact mixture samples and leaves
its weights (with config, seed, steps and final loss) as a cache artifact for later stages."""

from blog.stages.common import train_family
from figures_pipeline import stage


@stage(config=["seed", "mixture", "vae"], artifacts=["vae.pt"])
def vae_model(ctx):
    """The VAE: Gaussian encoder and decoder, 2-D latent, trained on the ELBO."""
    return train_family(ctx, "vae")


@stage(config=["seed", "mixture", "score"], artifacts=["score.pt"])
def score_model(ctx):
    """The noise-conditional score network, trained by denoising score matching."""
    return train_family(ctx, "score")


@stage(config=["seed", "mixture", "ddpm"], artifacts=["ddpm.pt"])
def ddpm_model(ctx):
    """The DDPM noise predictor eps_theta(x_t, t), trained on L_simple."""
    return train_family(ctx, "ddpm")
