"""blog.ddpm: schedule, forward process, loss, ancestral sampler and DDIM against closed forms."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from blog import ddpm, edm, metrics
from blog.config import DDPMConfig
from blog.mixture import ring
from blog.nets import init_seeded

MIX = ring(8, 2.0, 0.1)


@pytest.mark.parametrize("kind", ["linear", "cosine"])
def test_schedule_is_float64_and_ends_in_pure_noise(kind):
    s = ddpm.make_schedule(1000, kind)
    assert s.alphas_cumprod.dtype == torch.float64 and s.T == 1000
    assert torch.all(torch.diff(s.alphas_cumprod) < 0)
    assert s.alphas_cumprod[-1] < 1e-4 and s.alphas_cumprod[0] > 0.99
    torch.testing.assert_close(s.alphas_cumprod_prev[1:], s.alphas_cumprod[:-1])
    # the posterior variance lies between 0 and beta_t (Ho et al. sec. 3.2)
    assert torch.all(s.posterior_variance <= s.betas) and s.posterior_variance[0] == 0


def test_linear_schedule_keeps_its_span_for_fewer_steps():
    assert ddpm.make_schedule(200).alphas_cumprod[-1] < 1e-4


def test_extract_broadcasts_per_sample():
    a = torch.arange(5, dtype=torch.float64)
    out = ddpm.extract(a, torch.tensor([4, 1]), torch.Size([2, 3]))
    assert out.shape == (2, 1) and out.dtype == torch.float32
    assert out.flatten().tolist() == [4.0, 1.0]


def test_q_sample_has_the_closed_form_moments():
    s = ddpm.make_schedule(1000)
    g = torch.Generator().manual_seed(0)
    x_0 = torch.full((100_000, 2), 1.5)
    t = torch.full((100_000,), 300)
    x_t = ddpm.q_sample(x_0, t, s, torch.randn(x_0.shape, generator=g))
    abar = s.alphas_cumprod[300].item()
    torch.testing.assert_close(x_t.mean(0), torch.full((2,), 1.5 * abar**0.5), atol=0.01, rtol=0)
    torch.testing.assert_close(x_t.var(0), torch.full((2,), 1 - abar), atol=0.01, rtol=0.01)


def test_exact_eps_is_the_minimiser_of_the_loss():
    """E[eps | x_t] minimises L_simple: scaling it or replacing it costs loss."""
    s = ddpm.make_schedule(1000)
    exact = ddpm.exact_eps(MIX, s)
    x_0 = torch.from_numpy(MIX.sample(20_000, np.random.default_rng(0))).float()

    def loss_of(fn):
        return ddpm.loss(fn, x_0, s, torch.Generator().manual_seed(1)).item()

    best = loss_of(exact)
    assert best < loss_of(lambda x, t: 1.1 * exact(x, t))
    assert best < loss_of(lambda x, t: 0.9 * exact(x, t))
    assert best < 0.5 * loss_of(lambda x, t: torch.zeros_like(x))


def test_exact_eps_is_minus_scaled_score():
    s = ddpm.make_schedule(1000)
    x = torch.randn(5, 2, dtype=torch.float64)
    t = torch.full((5,), 100)
    want = -(1 - s.alphas_cumprod[100]).sqrt() * torch.from_numpy(
        MIX.vp(s.alphas_cumprod[100].item()).score(x.numpy()))
    torch.testing.assert_close(ddpm.exact_eps(MIX, s)(x, t), want)


def _report(x: torch.Tensor) -> metrics.Report:
    return metrics.evaluate(x.numpy(), MIX)


@pytest.mark.parametrize("T", [1000])
def test_ancestral_sampler_with_the_exact_noise_reproduces_the_mixture(T):
    s = ddpm.make_schedule(T)
    g = torch.Generator().manual_seed(0)
    steps = list(ddpm.p_sample_loop_progressive(ddpm.exact_eps(MIX, s), torch.randn(2000, 2,
                                                generator=g), s, g))
    assert len(steps) == T + 1
    r = _report(steps[-1])
    assert metrics.modes_covered(steps[-1].numpy(), MIX) == 8 and r.within_3sd.value > 0.97
    assert r.mmd2.value < 3e-4 + 2 * r.mmd2_null_sd


def test_ddim_with_the_exact_noise_reproduces_the_mixture_in_50_steps():
    s = ddpm.make_schedule(1000)
    x_T = torch.randn(2000, 2, generator=torch.Generator().manual_seed(0))
    traj = ddpm.trajectory(ddpm.ddim_sample_progressive(ddpm.exact_eps(MIX, s), x_T, s, 50))
    assert traj.shape == (51, 2000, 2)
    r = _report(traj[-1])
    assert metrics.modes_covered(traj[-1].numpy(), MIX) == 8
    assert r.within_3sd.value > 0.95 and r.mmd2.value < 1e-3


def test_ddim_timesteps_cover_the_range_and_quadratic_is_denser_near_zero():
    for spacing in ("uniform", "quadratic"):
        taus = ddpm.ddim_timesteps(1000, 50, spacing)
        assert taus[0] == 999 and taus[-1] == 0 and taus == sorted(set(taus), reverse=True)
    assert ddpm.ddim_timesteps(1000, 50, "quadratic")[-2] < ddpm.ddim_timesteps(1000, 50,
                                                                                "uniform")[-2]


def test_samplers_are_repeatable_under_a_generator_and_ddim_eta0_is_deterministic():
    s = ddpm.make_schedule(100)
    eps = ddpm.exact_eps(MIX, s)

    def run(seed):
        g = torch.Generator().manual_seed(seed)
        return ddpm.last(ddpm.p_sample_loop_progressive(eps, torch.randn(50, 2, generator=g),
                                                        s, g))

    assert torch.equal(run(3), run(3)) and not torch.equal(run(3), run(4))
    x_T = torch.randn(50, 2)
    a = ddpm.last(ddpm.ddim_sample_progressive(eps, x_T, s, 10, generator=None))
    b = ddpm.last(ddpm.ddim_sample_progressive(eps, x_T, s, 10,
                                               generator=torch.Generator().manual_seed(9)))
    assert torch.equal(a, b)


def test_eps_net_maps_a_batch_and_its_time():
    from blog.config import load

    net = ddpm.EpsNet(load("fast").ddpm)
    out = net(torch.randn(7, 2), torch.randint(0, 200, (7,)))
    assert out.shape == (7, 2)
    # one shared t (the samplers' case) gives the same as the per-sample path
    x = torch.randn(4, 2)
    same = net(x, torch.full((4,), 17))
    rows = torch.cat([net(x[i:i + 1], torch.tensor([17])) for i in range(4)])
    torch.testing.assert_close(same, rows)


def test_exact_eps_at_a_real_t_is_the_scaled_score_of_the_variance_exploding_mixture():
    """x_t / sqrt(abar) = x_0 + sigma eps: eps* = -sigma grad log (p * N(0, sigma^2 I))."""
    s = ddpm.make_schedule(1000)
    t = torch.full((6,), 412.7, dtype=torch.float64)
    sigma = edm.sigma_at(s, t)[0].item()
    x = torch.randn(6, 2, dtype=torch.float64)
    want = -sigma * torch.from_numpy(MIX.ve(sigma).score((x * (1 + sigma**2) ** 0.5).numpy()))
    torch.testing.assert_close(ddpm.exact_eps(MIX, s)(x, t), want)


def test_q_sample_at_a_real_t_has_the_closed_form_moments():
    s = ddpm.make_schedule(1000)
    g = torch.Generator().manual_seed(0)
    x_0 = torch.full((100_000, 2), 1.5)
    t = torch.full((100_000,), 300.5, dtype=torch.float64)
    x_t = ddpm.q_sample(x_0, t, s, torch.randn(x_0.shape, generator=g))
    abar = ddpm.alphas_at(s, t[:1]).item()
    torch.testing.assert_close(x_t.mean(0), torch.full((2,), 1.5 * abar**0.5), atol=0.01, rtol=0)
    torch.testing.assert_close(x_t.var(0), torch.full((2,), 1 - abar), atol=0.01, rtol=0.01)


def test_edm_net_is_the_preconditioned_denoiser_and_its_loss_is_lambda_weighted():
    """Karras et al. eq. 7: D = c_skip x + c_out F(c_in x), eps_theta = (x - D) / sigma, written
    here from the paper; eq. 8's lambda || D - x_0 ||^2, lambda = 1 / c_out^2, is the weighted
    || eps - eps_theta ||^2 that blog.ddpm.loss minimises."""
    cfg = DDPMConfig(timesteps=1000, prediction="edm", sigma_data=1.4, hidden=16, depth=2,
                     emb_dim=8)
    net, s = ddpm.EpsNet(cfg), ddpm.make_schedule(1000)
    g = torch.Generator().manual_seed(0)
    x_0, eps = torch.randn(64, 2, generator=g), torch.randn(64, 2, generator=g)
    t = torch.linspace(0, 999, 64, dtype=torch.float64)
    sigma, sd = edm.sigma_at(s, t)[:, None], cfg.sigma_data  # float64
    x = x_0 + sigma * eps  # = x_t / sqrt(abar_t)
    c_skip, c_out = sd**2 / (sigma**2 + sd**2), sigma * sd / (sigma**2 + sd**2) ** 0.5
    c_in = 1 / (sigma**2 + sd**2) ** 0.5
    with torch.no_grad():
        D = c_skip * x + c_out * net.mlp((c_in * x).float(), t / 1000)
        eps_theta = net(ddpm.q_sample(x_0, t, s, eps), t).double()
    torch.testing.assert_close(eps_theta, (x - D) / sigma, rtol=1e-4, atol=1e-4)
    lam = 1 / c_out[:, 0] ** 2
    torch.testing.assert_close(lam * ((D - x_0) ** 2).sum(-1), edm.loss_weight(sigma[:, 0], sd)
                               * ((eps - eps_theta) ** 2).sum(-1), rtol=1e-3, atol=1e-4)


def test_t_draws_share_each_level_across_a_run_of_the_batch():
    s, g = ddpm.make_schedule(1000), torch.Generator().manual_seed(0)
    for sampling in ("uniform", "lognormal"):
        t = ddpm.draw_t(s, sampling, 512, g, draws=64)
        assert len(t) == 512 and len(torch.unique(t)) <= 64
        assert torch.equal(t, t[::8].repeat_interleave(8))  # runs of 512 / 64 equal t
    assert len(torch.unique(ddpm.draw_t(s, "lognormal", 512, g))) > 500  # draws = 0: all


def test_the_default_loss_is_l_simple():
    s = ddpm.make_schedule(100)
    x_0 = torch.randn(256, 2)
    exact = ddpm.exact_eps(MIX, s)
    g = torch.Generator().manual_seed(3)
    t = torch.randint(0, 100, (256,), generator=g)
    eps = torch.randn(x_0.shape, generator=g)
    want = ((eps - exact(ddpm.q_sample(x_0, t, s, eps), t)) ** 2).sum(-1).mean()
    torch.testing.assert_close(ddpm.loss(exact, x_0, s, torch.Generator().manual_seed(3)), want)


def test_fourier_features_are_drawn_at_init_saved_with_the_weights_and_never_trained():
    cfg = DDPMConfig(timesteps=100, fourier_features=8, hidden=16, depth=2, emb_dim=8)
    net = init_seeded(lambda: ddpm.EpsNet(cfg), 1)
    B, again = net.mlp.fourier_B, init_seeded(lambda: ddpm.EpsNet(cfg), 1).mlp.fourier_B
    assert B.shape == (2, 8) and torch.equal(B, again)
    assert "mlp.fourier_B" in net.state_dict() and all(p is not B for p in net.parameters())
    other = init_seeded(lambda: ddpm.EpsNet(cfg), 2)  # other frequencies, other weights ...
    x, t = torch.randn(5, 2), torch.arange(5)
    assert not torch.equal(other.mlp.fourier_B, B)
    other.load_state_dict(net.state_dict())  # ... until it loads the saved ones
    torch.testing.assert_close(other(x, t), net(x, t))
