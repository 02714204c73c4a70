"""Variational autoencoder with Gaussian encoder and decoder (Kingma & Welling 2014).

    encoder   q_phi(z | x) = N(mu_phi(x), diag sigma_phi^2(x))                      sec. 3, app. C.2
    decoder   p_theta(x | z) = N(mu_theta(z), diag sigma_theta^2(z)),  prior p(z) = N(0, I)
    reparam.  z = mu_phi(x) + sigma_phi(x) * eps,  eps ~ N(0, I)             eq. 10 (sec. 2.4)
    ELBO      E_q[log p_theta(x | z)] - KL(q_phi(z | x) || p(z))                     eq. 3, eq. 10
    KL        -1/2 sum_j (1 + log sigma_j^2 - mu_j^2 - sigma_j^2)                    app. B

The latent is 2-D so the post can draw it. The decoder's variance is fixed (decoder_std) by
default: a learned one lets the decoder explain the data as one wide blob and the posterior
collapse onto the prior (the KL term wins), so the latent would encode nothing.
Sampling the model is z ~ N(0, I), x ~ p_theta(x | z): a Gaussian
decoder puts mass between the modes, the "blur" the post discusses.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from blog.config import VAEConfig
from blog.nets import MLP
from blog.train import Family


class VAE(nn.Module):
    def __init__(self, cfg: VAEConfig, dim: int = 2):
        super().__init__()
        self.latent_dim, self.min_logvar = cfg.latent_dim, cfg.min_logvar
        self.fixed_logvar = 2 * math.log(cfg.decoder_std) if cfg.decoder_std > 0 else None
        self.encoder = MLP(dim, 2 * cfg.latent_dim, cfg.hidden, cfg.depth)
        self.decoder = MLP(cfg.latent_dim, 2 * dim, cfg.hidden, cfg.depth)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """q_phi(z | x): (mu, log sigma^2), each (N, latent_dim)."""
        mu, logvar = self.encoder(x).chunk(2, dim=-1)
        return mu, logvar

    def decode(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """p_theta(x | z): (mu, log sigma^2), each (N, d); the fixed variance, or a learned one
        floored at min_logvar."""
        mu, logvar = self.decoder(z).chunk(2, dim=-1)
        if self.fixed_logvar is not None:
            return mu, torch.full_like(mu, self.fixed_logvar)
        return mu, self.min_logvar + nn.functional.softplus(logvar - self.min_logvar)


def gaussian_log_prob(x: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """log N(x; mu, diag exp(logvar)), summed over the last axis: (N,)."""
    return -0.5 * (math.log(2 * math.pi) + logvar + (x - mu) ** 2 / logvar.exp()).sum(-1)


def kl_standard_normal(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, diag exp(logvar)) || N(0, I)) in closed form (app. B): (N,)."""
    return -0.5 * (1 + logvar - mu**2 - logvar.exp()).sum(-1)


# excerpt: elbo
def elbo(model: VAE, x: torch.Tensor, generator: torch.Generator
         ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(ELBO, reconstruction log-likelihood, KL), each (N,), one reparameterised z per x."""
    mu_z, logvar_z = model.encode(x)
    z = mu_z + (0.5 * logvar_z).exp() * torch.randn(mu_z.shape, generator=generator)
    mu_x, logvar_x = model.decode(z)
    rec = gaussian_log_prob(x, mu_x, logvar_x)
    kl = kl_standard_normal(mu_z, logvar_z)
    return rec - kl, rec, kl
# end excerpt


def loss(model: VAE, x: torch.Tensor, generator: torch.Generator, beta: float = 1.0
         ) -> torch.Tensor:
    """-(reconstruction - beta KL), averaged over the batch (beta = 1: the negative ELBO)."""
    _, rec, kl = elbo(model, x, generator)
    return -(rec - beta * kl).mean()


@torch.no_grad()
def sample(model: VAE, n: int, generator: torch.Generator, mean_only: bool = False
           ) -> torch.Tensor:
    """x ~ p_theta(x | z), z ~ N(0, I): (n, d); mean_only gives mu_theta(z) (no decoder noise)."""
    z = torch.randn((n, model.latent_dim), generator=generator)
    mu, logvar = model.decode(z)
    if mean_only:
        return mu
    return mu + (0.5 * logvar).exp() * torch.randn(mu.shape, generator=generator)


# the family, as blog.models and the build stages train it
FAMILY = Family("vae", ("config", "mixture", "nets", "train", "vae"),
                lambda c: c.vae,
                lambda c: VAE(c.vae),
                lambda c: lambda m, x, g: loss(m, x, g, c.vae.beta))
