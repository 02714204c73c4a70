"""blog.edm: real t and sigma, the log-normal training levels, Karras et al.'s time steps, the
evaluation count, and second-order convergence of Heun's method on the probability-flow ODE of
the mixture (Euler, i.e. DDIM, is first order)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from blog import ddpm, edm, metrics
from blog.mixture import GaussianMixture, ring

SCHEDULE = ddpm.make_schedule(1000)
RING = ring(8, 2.0, 0.1)
LOPSIDED = ring(8, 2.0, 0.1, weights=[3, 1, 1, 1, 2, 1, 1, 1])  # no symmetry to hide errors in
SIGMA_A, SIGMA_B = 2.0, 0.5  # integrate the ODE from q_{sigma_a} to q_{sigma_b}


def test_time_is_real_between_the_schedules_integer_steps():
    t = torch.tensor([0.0, 3.0, 3.25, 998.5, 999.0], dtype=torch.float64)
    sigma = edm.sigma_at(SCHEDULE, t)
    torch.testing.assert_close(sigma[[0, 1, 4]], SCHEDULE.sigmas[[0, 3, 999]])
    assert SCHEDULE.sigmas[3] < sigma[2] < SCHEDULE.sigmas[4]
    torch.testing.assert_close(edm.t_at(SCHEDULE, sigma), t)
    # outside the schedule's range t stops at its ends
    assert edm.t_at(SCHEDULE, torch.tensor([1e-4, 1e4])).tolist() == [0.0, 999.0]
    # abar_t = 1 / (1 + sigma_t^2): the table at integer t, the same relation between
    torch.testing.assert_close(ddpm.alphas_at(SCHEDULE, t), 1 / (1 + sigma**2))
    assert torch.equal(ddpm.alphas_at(SCHEDULE, torch.tensor([3])), SCHEDULE.alphas_cumprod[[3]])


def test_log_normal_t_has_log_normal_sigma():
    t = edm.lognormal_t(SCHEDULE, 200_000, -1.2, 1.2, torch.Generator().manual_seed(0))
    assert t.is_floating_point() and 0 <= t.min() and t.max() <= 999
    log_sigma = edm.sigma_at(SCHEDULE, t).log()
    assert abs(log_sigma.mean() + 1.2) < 0.02 and abs(log_sigma.std() - 1.2) < 0.02


def test_karras_steps_run_from_sigma_max_to_sigma_min_denser_near_the_data():
    s = edm.karras_sigmas(0.01, 80.0, 18)
    assert s.dtype == torch.float64 and s.shape == (18,)
    torch.testing.assert_close(s[[0, -1]], torch.tensor([80.0, 0.01], dtype=torch.float64))
    # eq. 5: sigma^(1/rho) is evenly spaced, so the steps shrink toward sigma_min
    torch.testing.assert_close(torch.diff(s ** (1 / 7)), torch.full((17,), (0.01 ** (1 / 7) - 80 **
                               (1 / 7)) / 17, dtype=torch.float64))
    assert torch.all(torch.diff(s) < 0) and torch.all(torch.diff(torch.diff(s)) > 0)
    with pytest.raises(ValueError, match="sigma_min < sigma_max"):
        edm.karras_sigmas(1.0, 0.5, 10)


@pytest.mark.parametrize("n_steps", [2, 5, 25])
def test_n_steps_cost_two_evaluations_each_but_the_last(n_steps):
    calls = []
    exact = ddpm.exact_eps(RING, SCHEDULE)

    def counting(x_t, t):
        calls.append(t[0].item())
        return exact(x_t, t)

    steps = list(edm.heun_sample_progressive(counting, torch.randn(10, 2), SCHEDULE, n_steps))
    assert len(steps) == n_steps + 1  # x_T, then x at sigma_1, ..., sigma_{N-1} and at 0
    assert len(calls) == edm.n_evaluations(n_steps) == 2 * n_steps - 1
    # the network sees the schedule's whole range of t: T - 1 first, 0 last
    assert calls[0] == pytest.approx(SCHEDULE.T - 1) and calls[-1] == pytest.approx(0.0)


def _euler(eps_fn, x, sigmas):
    """The first-order method on the same ODE (what DDIM is, Karras et al. sec. 3)."""
    ts, levels = edm.t_at(SCHEDULE, sigmas), sigmas.tolist()
    for i in range(len(levels) - 1):
        x = x + (levels[i + 1] - levels[i]) * eps_fn(x / math.sqrt(1 + levels[i] ** 2),
                                                      ts[i].expand(len(x)))
    return x


def _heun(eps_fn, x, sigmas):
    return ddpm.last(edm.heun_ode(eps_fn, x, sigmas, SCHEDULE))


def _orders(errors: list[float]) -> np.ndarray:
    """log2 of the ratio of successive errors as the step halves."""
    e = np.abs(np.asarray(errors))
    return np.log2(e[:-1] / e[1:])


# intervals of the sigma grid: 2, 4, 8, 16, 32 (each halves every step)
LEVELS = [3, 5, 9, 17, 33]


@pytest.mark.parametrize("method, order", [(_heun, 2.0), (_euler, 1.0)])
def test_the_error_falls_at_the_methods_order_where_the_flow_is_closed_form(method, order):
    """One Gaussian N(mu, s^2 I): the ODE moves x to mu + (x - mu) sqrt((s^2 + sigma_b^2) /
    (s^2 + sigma_a^2)), so every trajectory's error is known exactly."""
    mu, s2 = torch.tensor([1.0, -0.5], dtype=torch.float64), 0.1**2
    eps = ddpm.exact_eps(GaussianMixture(mu[None].numpy(), np.array([0.1]), np.array([1.0])),
                         SCHEDULE)
    gen = torch.Generator().manual_seed(0)
    x_a = mu + math.sqrt(s2 + SIGMA_A**2) * torch.randn(500, 2, generator=gen,
                                                        dtype=torch.float64)
    x_b = mu + (x_a - mu) * math.sqrt((s2 + SIGMA_B**2) / (s2 + SIGMA_A**2))
    errors = [(method(eps, x_a, edm.karras_sigmas(SIGMA_B, SIGMA_A, n)) - x_b).abs().max().item()
              for n in LEVELS]
    assert np.all(np.abs(_orders(errors)[1:] - order) < 0.15), _orders(errors)


def _gauss_hermite(mixture: GaussianMixture, sigma: float, m: int = 32):
    """Nodes and weights integrating against q_sigma = mixture * N(0, sigma^2 I) exactly for
    polynomials of degree < 2m in each coordinate: (K m^2, 2) float64, (K m^2,)."""
    z, w = np.polynomial.hermite_e.hermegauss(m)
    zx, zy = (a.ravel() for a in np.meshgrid(z, z))
    wxy = np.outer(w, w).ravel() / w.sum() ** 2
    nodes, weights = [], []
    for mu, s, pi in zip(mixture.means, mixture.stds, mixture.weights, strict=True):
        nodes.append(mu + math.sqrt(s**2 + sigma**2) * np.stack([zx, zy], 1))
        weights.append(pi * wxy)
    return torch.tensor(np.concatenate(nodes)), torch.tensor(np.concatenate(weights))


def test_on_the_mixture_the_second_moment_converges_at_second_order_for_heun_first_for_euler():
    """The ODE carries q_{sigma_a} to q_{sigma_b}, whose second moment is closed form:
    E|x|^2 = sum_k pi_k (|mu_k|^2 + d (s_k^2 + sigma_b^2)). Starting from quadrature nodes of
    q_{sigma_a}, the error of the transported moment is the method's (while it stays above the
    quadrature's own error, ~1e-3); Heun's falls ~4x per halving of the step, Euler's ~2x."""
    nodes, weights = _gauss_hermite(LOPSIDED, SIGMA_A)
    m = LOPSIDED
    want = float((m.weights * ((m.means**2).sum(1) + 2 * (m.stds**2 + SIGMA_B**2))).sum())
    eps = ddpm.exact_eps(LOPSIDED, SCHEDULE)

    def moment_errors(method, levels):
        return [float((weights * (method(eps, nodes, edm.karras_sigmas(SIGMA_B, SIGMA_A, n))
                                  ** 2).sum(1)).sum()) - want for n in levels]

    heun_errors, euler_errors = moment_errors(_heun, LEVELS[:3]), moment_errors(_euler, LEVELS)
    assert np.all(_orders(heun_errors) > 1.8), heun_errors
    assert np.all(np.abs(_orders(euler_errors) - 1) < 0.2), euler_errors
    # at equal cost (8 Heun steps, 16 Euler steps: 16 evaluations each) Heun is far closer
    assert abs(heun_errors[2]) < abs(euler_errors[3]) / 3


def test_heun_with_the_exact_noise_reproduces_the_mixture_in_49_evaluations():
    z = torch.randn(4000, 2, generator=torch.Generator().manual_seed(0))
    x = ddpm.last(edm.heun_sample_progressive(ddpm.exact_eps(RING, SCHEDULE), z, SCHEDULE, 25))
    r = metrics.evaluate(x.double().numpy(), RING)
    assert metrics.modes_covered(x.double().numpy(), RING) == 8
    assert r.within_3sd.value > 0.975 and r.max_share_dev.value < 0.12
    assert r.mmd2.value < 3e-4 + 3 * r.mmd2_null_sd
