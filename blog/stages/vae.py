"""The VAE section's figures: its 2-D latent space, its samples, its training curve."""

from blog.stages.common import load_model, post_config, save_figure, seed_for
from figures_pipeline import Figure, stage

N_LATENT = 4000  # data points encoded for the latent-space figure


@stage(config=["seed", "mixture", "vae"], after=["vae_model", "vae_samples"], outputs={
    "vae_latent.png": Figure(
        alt="Data points coloured by mode and their encoder means in the 2-D latent space: the "
            "eight modes occupy eight wedges of a disc that fills the standard normal prior.",
        caption="The VAE's encoder sorts the eight modes into eight regions of the latent space "
                "(right; circles: one and two standard deviations of the prior)."),
    "vae_samples.png": Figure(
        alt="VAE samples beside data samples: the VAE's points spread around and between the "
            "eight modes.",
        caption="Data (left) against VAE samples (right): every mode is reached, but the "
                "samples are blurred and leak between the modes."),
    "vae_training.png": Figure(
        alt="The VAE's negative ELBO falling over training steps.",
        caption="The VAE's training curve: the negative ELBO per minibatch (smoothed).")})
def vae_figures(ctx):
    """Encode labelled data, draw the latent space, the samples and the training curve."""
    import numpy as np
    import torch

    from blog import vae
    from blog.mixture import from_config
    from blog.plots.vae import training_curve, vae_latent
    from blog.plots.vae import vae_samples as draw_samples

    cfg = post_config(ctx)
    model, meta = load_model(ctx, "vae", vae.VAE(cfg.vae))
    mixture = from_config(cfg.mixture)
    x, labels = mixture.sample_with_labels(N_LATENT, np.random.default_rng(seed_for(ctx, "x")))
    with torch.no_grad():
        z_mean, _ = model.encode(torch.tensor(x, dtype=torch.float32))
    save_figure(ctx, "vae_latent.png", vae_latent(z_mean.double().numpy(), labels, x=x))
    samples = np.load(ctx.upstream["vae_samples"].artifact("vae.npz"))
    save_figure(ctx, "vae_samples.png", draw_samples(samples["data"], samples["vae"]))
    history = {"negative ELBO": np.asarray(meta["history"])}
    save_figure(ctx, "vae_training.png", training_curve(history, "loss (nats)"))
    return {"n_latent": N_LATENT}
