"""blog.ddpm: schedule, forward process, loss, ancestral sampler and DDIM against closed forms."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from blog import ddpm, metrics
from blog.mixture import ring

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
