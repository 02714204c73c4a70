"""blog.bounds: the least value of each training loss, with the exact posterior-mean predictor,
checked against closed forms (one Gaussian), the mixture's own scores, and perturbed predictors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from blog import ddpm, score
from blog.bounds import ExactEps, ExactScore, loss_floor
from blog.config import DDPMConfig
from blog.mixture import GaussianMixture, ring

W = 0.3  # width of the one-Gaussian oracle N(0, W^2 I)


@pytest.fixture(scope="module")
def mix():
    return ring(8, 2.0, 0.1)


def one_gaussian() -> GaussianMixture:
    return GaussianMixture(np.zeros((1, 2)), np.array([W]), np.ones(1))


def test_exact_score_is_the_mixture_score_at_each_rows_sigma(mix):
    x = torch.tensor(mix.sample(6, np.random.default_rng(0)) + 0.05)
    sigma = torch.tensor([0.02, 0.02, 0.3, 0.3, 1.0, 3.0])
    got = ExactScore(mix)(x, sigma).numpy()
    for i, s in enumerate(sigma.tolist()):
        np.testing.assert_allclose(got[i], mix.ve(s).score(x[i].numpy()), rtol=1e-9)


def test_exact_eps_is_tweedies_posterior_mean_at_each_rows_abar(mix):
    schedule = ddpm.schedule_from(DDPMConfig(timesteps=200))
    t = torch.tensor([0, 10, 100, 199])
    abar = ddpm.alphas_at(schedule, t)
    x = torch.tensor(np.random.default_rng(1).standard_normal((4, 2)))
    got = ExactEps(mix, lambda tt: ddpm.alphas_at(schedule, tt))(x, t).numpy()
    for i, a in enumerate(abar.tolist()):
        want = -np.sqrt(1 - a) * mix.vp(a).score(x[i].numpy())
        np.testing.assert_allclose(got[i], want, rtol=1e-9)


def test_dsm_floor_matches_the_closed_form_for_one_gaussian():
    """p = N(0, W^2 I): s* = -x~ / (W^2 + sigma^2), and 1/2 E||sigma s* + eps||^2 =
    (d / 2) W^2 / (W^2 + sigma^2), averaged over the ladder the loss draws from."""
    sigmas = score.sigma_ladder(3.0, 0.02, 10)
    p = one_gaussian()
    floor = loss_floor(lambda m, x, g: score.dsm_loss(m, x, sigmas, g), ExactScore(p), p,
                       512, 60, seed=3)
    s2 = sigmas.double().numpy() ** 2
    truth = float(np.mean(0.5 * 2 * W**2 / (W**2 + s2)))
    assert abs(floor["value"] - truth) < 4 * floor["se"]
    assert floor["lo"] < floor["value"] < floor["hi"] and floor["n"] == 60


@pytest.mark.parametrize("prediction", ["eps", "edm"])
def test_l_simple_floor_matches_the_closed_form_for_one_gaussian(prediction):
    """x_t = sqrt(a) x_0 + sqrt(1 - a) eps with x_0 ~ N(0, W^2 I): E[eps | x_t] =
    sqrt(1 - a) x_t / v, v = a W^2 + 1 - a, leaving d a W^2 / v per t, times the loss weight."""
    cfg = DDPMConfig(timesteps=100, prediction=prediction, t_sampling="uniform", t_draws=0)
    schedule = ddpm.schedule_from(cfg)
    p = one_gaussian()
    exact = ExactEps(p, lambda t: ddpm.alphas_at(schedule, t))
    floor = loss_floor(lambda m, x, g: ddpm.loss(m, x, schedule, g, cfg), exact, p, 512, 60, 4)
    a = schedule.alphas_cumprod.double().numpy()
    per_t = 2 * a * W**2 / (a * W**2 + 1 - a)
    if prediction == "edm":
        from blog import edm

        per_t = per_t * edm.loss_weight(schedule.sigmas.double(), cfg.sigma_data).numpy()
    truth = float(per_t.mean())
    assert abs(floor["value"] - truth) < 4 * floor["se"]


def test_the_exact_predictors_are_minima_on_the_ring(mix):
    """Brute force: with the same data and noise (common random numbers), nudging the exact
    score or noise prediction in any of a few ways only raises the loss."""
    sigmas = score.sigma_ladder(3.0, 0.02, 10)
    cfg = DDPMConfig(timesteps=200)
    schedule = ddpm.schedule_from(cfg)
    s_star = ExactScore(mix)
    e_star = ExactEps(mix, lambda t: ddpm.alphas_at(schedule, t))
    cases = [
        (lambda m, x, g: score.dsm_loss(m, x, sigmas, g), s_star),
        (lambda m, x, g: ddpm.loss(m, x, schedule, g, cfg), e_star),
    ]
    nudges = [lambda f, x: 1.05 * f, lambda f, x: 0.95 * f, lambda f, x: f + 0.05,
              lambda f, x: f + 0.05 * torch.tanh(x)]
    for loss, exact in cases:
        floor = loss_floor(loss, exact, mix, 512, 4, seed=5)["value"]
        for nudge in nudges:
            def nudged(x, c, exact=exact, nudge=nudge):
                return nudge(exact(x, c), x)
            assert loss_floor(loss, nudged, mix, 512, 4, seed=5)["value"] > floor


def test_one_minibatch_gives_no_interval(mix):
    with pytest.raises(ValueError, match="at least 2"):
        loss_floor(lambda m, x, g: x.sum(), None, mix, 8, 1, 0)
