"""The VAE section's figures: its 2-D latent space, its samples, its training curve."""

from blog.stages.common import load_model, post_config, save_looks, seed_for, with_looks
from figures_pipeline import Figure, stage

N_LATENT = 4000  # data points encoded for the latent-space figure


@stage(config=["seed", "mixture", "vae"], after=["vae_model", "vae_samples"], outputs=with_looks({
    "vae_latent.png": Figure(
        alt="Data points coloured by mode, their encoder means and one sample of the encoder "
            "for each in the 2-D latent space: eight separate clusters on a ring around the "
            "centre of the standard normal prior, where no data point is encoded.",
        caption="The VAE's encoder sorts the eight modes into eight regions of the latent space "
                "(middle: the means m_phi(x); right: one sample of q_phi(z | x) per point; "
                "circles: one and two standard deviations of the prior) and leaves the prior's "
                "centre empty. Prior draws from there are what the decoder sends inside the ring.",
        claims=("vae_figures.latent_accuracy.lo > 0.95",
                "vae_figures.latent_unit_disc.hi < vae_figures.prior_unit_disc / 4",
                "vae_figures.posterior_unit_disc.hi < vae_figures.prior_unit_disc / 4")),
    "vae_samples.png": Figure(
        alt="VAE samples beside data samples: the VAE's points form a blurred ring, spread "
            "around and between the eight modes and inside the ring.",
        caption="Data (left) against VAE samples (right): the samples trace the ring, but blur "
                "its modes together and fall between them and inside it.",
        claims=("vae_samples.vae.off_mode.lo > 0.5",
                "vae_figures.samples_in_hole.lo > 0.01")),
    "vae_training.png": Figure(
        alt="The VAE's negative ELBO falling over training steps on logarithmic axes, toward "
            "a dashed line at the entropy of the data, the least value it can reach.",
        caption="The VAE's training curve: the negative ELBO per minibatch (smoothed), on "
                "logarithmic axes, and the entropy H(p) of the data, which bounds its mean from "
                "below: E[-ELBO] >= E[-log p_theta(x)] >= H(p).",
        claims=("vae_figures.final_neg_elbo.lo > vae_figures.entropy",))}))
def vae_figures(ctx):
    """Encode labelled data, draw the latent space, the samples and the training curve."""
    import numpy as np
    import torch

    from blog import vae
    from blog.bounds import mean_estimate
    from blog.metrics import neg_entropy, wilson
    from blog.mixture import from_config
    from blog.plots.vae import training_curve, vae_latent
    from blog.plots.vae import vae_samples as draw_samples

    cfg = post_config(ctx)
    model, meta = load_model(ctx, "vae", vae.VAE(cfg.vae))
    mixture = from_config(cfg.mixture)
    x, labels = mixture.sample_with_labels(N_LATENT, np.random.default_rng(seed_for(ctx, "x")))
    g = torch.Generator().manual_seed(seed_for(ctx, "q(z|x)"))
    with torch.no_grad():
        x_t = torch.tensor(x, dtype=torch.float32)
        z_mean, z_logvar = model.encode(x_t)
        z_drawn = z_mean + (0.5 * z_logvar).exp() * torch.randn(z_mean.shape, generator=g)
        neg_elbo = -vae.elbo(model, x_t, g)[0].double().numpy()  # per point, fresh data
    z, z_drawn = z_mean.double().numpy(), z_drawn.double().numpy()
    save_looks(ctx, "vae_latent.png", lambda: vae_latent(z, labels, x=x, z_samples=z_drawn))
    samples = np.load(ctx.upstream["vae_samples"].artifact("vae.npz"))
    save_looks(ctx, "vae_samples.png", lambda: draw_samples(samples["data"], samples["vae"]))
    history = {"negative ELBO": np.asarray(meta["history"])}
    entropy = -neg_entropy(mixture)  # H(p), by quadrature
    floor = (entropy, "$H(p)$, its least mean") if cfg.vae.beta == 1 else None
    save_looks(ctx, "vae_training.png", lambda: training_curve(
        history, "loss (nats)", floor=floor,
        logy=bool(history["negative ELBO"].min() > 0 and entropy > 0)))
    prior_z = torch.randn((N_LATENT, cfg.vae.latent_dim),
                          generator=torch.Generator().manual_seed(seed_for(ctx, "z")))
    with torch.no_grad():
        decoded = model.decode(prior_z)[0].double().numpy()
    return {"n_latent": N_LATENT, **latent_geometry(z, labels, prior_z.double().numpy(), decoded,
                                                   samples["vae"], mixture),
            "posterior_unit_disc": wilson(int((np.linalg.norm(z_drawn, axis=-1) < 1).sum()),
                                          len(z_drawn)).as_dict(),
            "entropy": entropy, "final_neg_elbo": mean_estimate(neg_elbo)}


def latent_geometry(z, labels, prior_z, decoded, samples, mixture) -> dict:
    """What the latent and samples figures show, as proportions with Wilson intervals: how
    cleanly the encoder means z = mu_phi(x) separate the modes (nearest-centroid accuracy); how
    much of the prior's unit disc they occupy, against the prior's own mass there, 1 - exp(-1/2);
    where the decoder mean mu_theta(z) sends prior draws from inside and from outside that disc
    (the fraction inside the ring: closer to the origin than R - 3w); and the fraction of the
    VAE's samples inside the ring."""
    import numpy as np

    from blog.metrics import wilson

    def share(hits) -> dict:
        return wilson(int(hits.sum()), len(hits)).as_dict()

    k = mixture.n_components
    centroids = np.stack([z[labels == j].mean(0) for j in range(k)])
    nearest = np.linalg.norm(z[:, None] - centroids[None], axis=-1).argmin(1)
    inner = float(np.linalg.norm(mixture.means, axis=-1).mean() - 3 * mixture.stds.max())
    in_disc = np.linalg.norm(prior_z, axis=-1) < 1.0
    to_hole = np.linalg.norm(decoded, axis=-1) < inner
    return {
        "latent_accuracy": share(nearest == labels),
        "latent_unit_disc": share(np.linalg.norm(z, axis=-1) < 1.0),
        "prior_unit_disc": float(1 - np.exp(-0.5)),
        "decoded_hole_from_disc": share(to_hole[in_disc]),
        "decoded_hole_from_rest": share(to_hole[~in_disc]),
        "samples_in_hole": share(np.linalg.norm(samples, axis=-1) < inner),
    }
