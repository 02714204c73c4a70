"""Training stages: one per model family. Each trains on fresh exact mixture samples and leaves
its weights (with config, seed, steps and final loss) as a cache artifact for later stages."""

from typing import Any

from blog.stages.common import machine, post_config
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


def train_family(ctx, family: str) -> dict[str, Any]:
    """Train `family` ('vae', 'score', 'ddpm'), save it as the artifact '<family>.pt', and return
    the numbers the post reports about its training."""
    from blog import models, weights

    trained = models.train(family, post_config(ctx), progress=True)
    weights.save(ctx.artifact(f"{family}.pt"), trained.model.state_dict(), trained.meta)
    meta = trained.meta
    return {"params": meta["params"], "steps": meta["steps"],
            "batch_size": meta["config"]["batch_size"], "final_loss": meta["final_loss"],
            "train_seconds": meta["train_seconds"], "machine": machine()}
