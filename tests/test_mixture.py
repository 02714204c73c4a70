"""blog.mixture: the closed forms every test and every exact sampler rests on."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from blog.mixture import GaussianMixture, ring


def test_ring_places_k_centres_on_the_circle():
    m = ring(8, 2.0, 0.1)
    assert m.means.shape == (8, 2)
    np.testing.assert_allclose(np.linalg.norm(m.means, axis=1), 2.0)
    np.testing.assert_allclose(m.means[2], [0.0, 2.0], atol=1e-12)
    np.testing.assert_allclose(m.weights, 1 / 8)


@pytest.mark.parametrize("bad", [dict(k=0), dict(std=0.0), dict(radius=-1.0),
                                 dict(weights=[1.0, 2.0])])
def test_ring_rejects_bad_arguments(bad):
    with pytest.raises(ValueError):
        ring(**{"k": 8, **bad})


def test_samples_have_the_mixture_moments():
    m = ring(8, 2.0, 0.1, weights=np.arange(1, 9))
    x, k = m.sample_with_labels(200_000, np.random.default_rng(0))
    np.testing.assert_allclose(np.bincount(k) / len(k), m.weights, atol=4e-3)
    mean = m.weights @ m.means
    np.testing.assert_allclose(x.mean(0), mean, atol=0.01)
    resid = x - m.means[k]
    np.testing.assert_allclose(resid.std(0), 0.1, rtol=0.01)


def test_density_integrates_to_one():
    m = ring(8, 2.0, 0.1)
    g = np.linspace(-3, 3, 601)
    xx, yy = np.meshgrid(g, g)
    p = m.prob(np.stack([xx, yy], -1))
    assert p.sum() * (g[1] - g[0]) ** 2 == pytest.approx(1.0, abs=1e-6)


def test_log_prob_matches_a_monte_carlo_density_estimate():
    """Fraction of samples in a small box around a point ~ p(point) * box area."""
    m = ring(4, 1.0, 0.3)
    x = m.sample(400_000, np.random.default_rng(1))
    point, h = np.array([1.0, 0.2]), 0.1
    inside = np.all(np.abs(x - point) < h / 2, axis=1).mean()
    assert inside / h**2 == pytest.approx(m.prob(point), rel=0.05)


@settings(max_examples=25, deadline=None)
@given(k=st.integers(1, 6), radius=st.floats(0, 3), std=st.floats(0.05, 1.0),
       seed=st.integers(0, 1000))
def test_score_is_the_gradient_of_log_prob(k, radius, std, seed):
    m = ring(k, radius, std)
    x = torch.tensor(np.random.default_rng(seed).normal(0, 2, (16, 2)), requires_grad=True)
    # log p by autograd, in torch, from the same parameters
    means, var = torch.tensor(m.means), torch.tensor(m.stds**2)
    lc = (torch.log(torch.tensor(m.weights)) - torch.log(2 * np.pi * var)
          - 0.5 * ((x[:, None] - means) ** 2).sum(-1) / var)
    (grad,) = torch.autograd.grad(torch.logsumexp(lc, -1).sum(), x)
    np.testing.assert_allclose(m.score(x.detach().numpy()), grad.numpy(), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(m.score_torch(x.detach()).numpy(), grad.numpy(), rtol=1e-6,
                               atol=1e-8)
    np.testing.assert_allclose(m.log_prob(x.detach().numpy()),
                               torch.logsumexp(lc, -1).detach().numpy(), rtol=1e-10)


def test_responsibilities_are_a_posterior():
    m = ring(8, 2.0, 0.1)
    r = m.responsibilities(m.means)
    np.testing.assert_allclose(r.sum(-1), 1.0)
    np.testing.assert_allclose(np.diag(r), 1.0, atol=1e-12)


@pytest.mark.parametrize("alpha_bar", [0.999, 0.5, 0.01])
def test_vp_is_the_law_of_the_noised_samples(alpha_bar):
    """x_t = sqrt(abar) x_0 + sqrt(1 - abar) eps has the density mixture.vp(abar)."""
    m, rng = ring(8, 2.0, 0.1), np.random.default_rng(2)
    x0 = m.sample(200_000, rng)
    x_t = np.sqrt(alpha_bar) * x0 + np.sqrt(1 - alpha_bar) * rng.standard_normal(x0.shape)
    q = m.vp(alpha_bar)
    # moments: mean, second moment, and the mean log density (cross-entropy) of the samples
    np.testing.assert_allclose(x_t.mean(0), 0.0, atol=0.02)
    expected_m2 = alpha_bar * (4 / 2 + 0.01) + (1 - alpha_bar)  # per axis
    assert (x_t**2).sum(1).mean() / 2 == pytest.approx(expected_m2, rel=0.01)
    fresh = q.sample(200_000, rng)
    assert q.log_prob(x_t).mean() == pytest.approx(q.log_prob(fresh).mean(), abs=0.02)


def test_ve_adds_the_noise_variance():
    m = ring(8, 2.0, 0.1)
    q = m.ve(0.5)
    np.testing.assert_allclose(q.stds, np.sqrt(0.01 + 0.25))
    np.testing.assert_allclose(q.means, m.means)
    assert m.ve(0.0).stds == pytest.approx(m.stds)
    with pytest.raises(ValueError):
        m.vp(0.0)
    with pytest.raises(ValueError):
        m.ve(-1.0)


def test_constructor_validates():
    with pytest.raises(ValueError):
        GaussianMixture(np.zeros((2, 2)), np.ones(2), np.array([0.5, 0.6]))
    with pytest.raises(ValueError):
        GaussianMixture(np.zeros((2, 2)), np.array([1.0, 0.0]), np.array([0.5, 0.5]))


@settings(max_examples=25, deadline=None)
@given(k=st.integers(1, 8), seed=st.integers(0, 1000), scale=st.sampled_from([0.5, 3.0, 30.0]))
def test_fast_score_equals_the_reference_on_any_mixture(k, seed, scale):
    """score_torch (expanded square, one matmul) = the (N, K, d) reference, to float64 rounding,
    for unequal widths and weights, in float64 and float32, near and far from the modes."""
    rng = np.random.default_rng(seed)
    m = GaussianMixture(rng.normal(0, 2, (k, 2)), rng.uniform(0.05, 1.0, k),
                        rng.dirichlet(np.ones(k)))
    x = torch.tensor(rng.normal(0, scale, (64, 2)))
    ref = m.score_torch_reference(x).numpy()
    np.testing.assert_allclose(m.score_torch(x).numpy(), ref, rtol=1e-9,
                               atol=1e-9 * np.abs(ref).max())
    np.testing.assert_allclose(m.score_torch(x).numpy(), m.score(x.numpy()), rtol=1e-9,
                               atol=1e-9 * np.abs(ref).max())
    x32 = x.float()
    assert m.score_torch(x32).dtype == torch.float32
    np.testing.assert_allclose(m.score_torch(x32).numpy(), m.score_torch_reference(x32).numpy(),
                               rtol=1e-6, atol=1e-6 * np.abs(ref).max())


def test_fast_score_keeps_the_batch_shape():
    m = ring(8, 2.0, 0.1).vp(0.3)
    x = torch.randn(3, 5, 2, dtype=torch.float64)
    np.testing.assert_allclose(m.score_torch(x).numpy(), m.score(x.numpy()), rtol=1e-9, atol=1e-9)
