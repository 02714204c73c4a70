"""blog.vae: the ELBO's closed-form pieces and the model's shapes."""

from __future__ import annotations

import math

import pytest
import torch

from blog import vae
from blog.config import load


def test_gaussian_log_prob_matches_torch_distributions():
    x, mu, logvar = torch.randn(10, 2), torch.randn(10, 2), torch.randn(10, 2)
    want = torch.distributions.Normal(mu, (0.5 * logvar).exp()).log_prob(x).sum(-1)
    torch.testing.assert_close(vae.gaussian_log_prob(x, mu, logvar), want)


def test_kl_matches_a_monte_carlo_estimate():
    mu, logvar = torch.tensor([[0.5, -1.0]]), torch.tensor([[-1.0, 0.4]])
    g = torch.Generator().manual_seed(0)
    z = mu + (0.5 * logvar).exp() * torch.randn(400_000, 2, generator=g)
    mc = (vae.gaussian_log_prob(z, mu, logvar)
          - vae.gaussian_log_prob(z, torch.zeros(2), torch.zeros(2))).mean()
    assert vae.kl_standard_normal(mu, logvar).item() == pytest.approx(mc.item(), abs=0.01)
    assert vae.kl_standard_normal(torch.zeros(1, 2), torch.zeros(1, 2)).item() == 0


def test_elbo_is_reconstruction_minus_kl_and_shapes_hold():
    model = vae.VAE(load().vae)
    x = torch.randn(16, 2)
    e, rec, kl = vae.elbo(model, x, torch.Generator().manual_seed(0))
    assert e.shape == rec.shape == kl.shape == (16,)
    torch.testing.assert_close(e, rec - kl)
    assert torch.all(kl >= 0)
    mu, logvar = model.encode(x)
    assert mu.shape == logvar.shape == (16, 2)
    loss = vae.loss(model, x, torch.Generator().manual_seed(0))
    torch.testing.assert_close(loss, -e.mean())


def test_decoder_variance_is_fixed_or_floored():
    cfg = load().vae
    fixed = vae.VAE(cfg)
    _, logvar = fixed.decode(torch.randn(4, 2))
    torch.testing.assert_close(logvar, torch.full((4, 2), 2 * math.log(cfg.decoder_std)))
    learned = vae.VAE(load(overrides=["vae.decoder_std=0.0"]).vae)
    _, logvar = learned.decode(100 * torch.randn(64, 2))
    assert torch.all(logvar >= cfg.min_logvar)


def test_sampling_is_repeatable_and_mean_only_has_no_decoder_noise():
    model = vae.VAE(load().vae)
    a = vae.sample(model, 8, torch.Generator().manual_seed(1))
    b = vae.sample(model, 8, torch.Generator().manual_seed(1))
    m = vae.sample(model, 8, torch.Generator().manual_seed(1), mean_only=True)
    assert torch.equal(a, b) and a.shape == (8, 2) and not torch.equal(a, m)
