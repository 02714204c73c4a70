"""Training stages: one per model family. Each trains on fresh exact mixture samples and leaves
its weights (with config, seed, steps and final loss) as a cache artifact for later stages.
Each stage reaches only its own family's module (blog.vae, blog.score, blog.ddpm)."""

from typing import Any

from blog.stages.common import machine, post_config
from figures_pipeline import stage

# Values measured on this run (not computed from code, config and seed): the post prints them,
# the stages after training do not depend on them, so a retraining that gives the same weights
# re-runs nothing after it (early cutoff).
MEASURED = ("train_seconds", "machine")


@stage(config=["seed", "mixture", "vae"], artifacts=["vae.pt"], volatile=MEASURED)
def vae_model(ctx):
    """The VAE: Gaussian encoder and decoder, 2-D latent, trained on the ELBO."""
    from blog import vae

    return train_and_save(ctx, vae.FAMILY)


@stage(config=["seed", "mixture", "score"], artifacts=["score.pt"], volatile=MEASURED)
def score_model(ctx):
    """The noise-conditional score network, trained by denoising score matching."""
    from blog import score

    return train_and_save(ctx, score.FAMILY)


@stage(config=["seed", "mixture", "ddpm"], artifacts=["ddpm.pt"], volatile=MEASURED)
def ddpm_model(ctx):
    """The DDPM noise predictor eps_theta(x_t, t), trained on L_simple."""
    from blog import ddpm

    return train_and_save(ctx, ddpm.FAMILY)


def train_and_save(ctx, family) -> dict[str, Any]:
    """Train `family` (a blog.train.Family), save it as the artifact '<name>.pt', and return the
    numbers the post reports about its training."""
    from blog import weights
    from blog.train import train_family

    model, meta = train_family(family, post_config(ctx), progress=True)
    stable = {k: v for k, v in meta.items() if k not in MEASURED}  # same seed, same bytes
    weights.save(ctx.artifact(f"{family.name}.pt"), model.state_dict(), stable)
    return {"params": meta["params"], "steps": meta["steps"],
            "batch_size": meta["config"]["batch_size"], "final_loss": meta["final_loss"],
            "train_seconds": meta["train_seconds"], "machine": machine()}
