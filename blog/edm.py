"""Karras, Aittala, Aila & Laine (2022), "Elucidating the Design Space of Diffusion-Based
Generative Models", on the VP process of blog.ddpm: real noise levels, the preconditioned network
and its training distribution, and Heun's second-order sampler of the probability-flow ODE.

    VP as VE      x = x_t / sqrt(abar_t) = x_0 + sigma_t eps,  sigma_t = sqrt((1 - abar_t) / abar_t)
                  (Table 1, VP column, s(t) = sqrt(abar_t)); log sigma_t is linear in t between
                  the schedule's integer t, so every real t in [0, T - 1] has one sigma and back
    precondition  D(x; sigma) = c_skip x + c_out F(c_in x, t),                              eq. 7
                  c_skip = s_d^2 / (sigma^2 + s_d^2),  c_out = sigma s_d / sqrt(sigma^2 + s_d^2),
                  c_in = 1 / sqrt(sigma^2 + s_d^2)                                      Table 1
    loss          lambda(sigma) || D - x_0 ||^2,  lambda = 1 / c_out^2,
                  ln sigma ~ N(P_mean, P_std^2)                                  eq. 8, Table 1
    ODE           dx/dsigma = (x - D(x; sigma)) / sigma                         eq. 1 and 3
    steps         sigma_i = (hi + i/(N-1) (lo - hi))^rho for i < N,  sigma_N = 0,         eq. 5
                  hi = sigma_max^(1/rho),  lo = sigma_min^(1/rho),  rho = 7
    Heun          d_i = (x_i - D(x_i; sigma_i)) / sigma_i,
                  x_{i+1} = x_i + (sigma_{i+1} - sigma_i) d_i, then, unless sigma_{i+1} = 0,
                  x_{i+1} = x_i + (sigma_{i+1} - sigma_i) (d_i + d'_{i+1}) / 2       Algorithm 1
    start         x_0 = sigma_max z,  z ~ N(0, I)

The DDPM network predicts eps, and eps_theta = (x - D) / sigma: the loss above is
(1 + sigma^2 / s_d^2) || eps - eps_theta ||^2, the ODE's slope is d = eps_theta(x / sqrt(1 +
sigma^2), t(sigma)), and every sampler of blog.ddpm runs on the preconditioned network unchanged.
s_d = 1 is v-prediction (Salimans & Ho 2022). N Heun steps cost 2N - 1 network evaluations: two
per step, one for the last (Euler into sigma = 0). DDIM is the Euler method on the same ODE
(Karras et al. sec. 3): Heun is its second-order twin.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from blog.ddpm import EpsFn, Schedule


# real t <-> sigma_t: log sigma_t linear between the schedule's integer t
def sigma_at(schedule: Schedule, t: torch.Tensor) -> torch.Tensor:
    """sigma_t for real t in [0, T - 1], float64; equal to schedule.sigmas at integer t."""
    log_sigmas = schedule.log_sigmas
    t = t.to(torch.float64).clamp(0, len(log_sigmas) - 1)
    i = t.long().clamp_(max=len(log_sigmas) - 2)  # floor(t), t >= 0
    return torch.lerp(log_sigmas[i], log_sigmas[i + 1], t - i).exp()


def t_at(schedule: Schedule, sigma: torch.Tensor) -> torch.Tensor:
    """The real t with sigma_t = sigma (float64); 0 or T - 1 outside [sigma_0, sigma_{T-1}]."""
    log_sigmas, log_sigma = schedule.log_sigmas, sigma.to(torch.float64).log()
    i = (torch.searchsorted(log_sigmas, log_sigma) - 1).clamp(0, schedule.T - 2)
    t = i + (log_sigma - log_sigmas[i]) / (log_sigmas[i + 1] - log_sigmas[i])
    return t.clamp(0, schedule.T - 1)


# the preconditioned network and its loss
def preconditioning(sigma: torch.Tensor, sigma_data: float
                    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Eq. 7 on x_t = x / sqrt(1 + sigma^2), as eps_theta = a x_t - b F(c x_t, t):
    (c, a, b) = (c_in sqrt(1 + sigma^2), (1 - c_skip) sqrt(1 + sigma^2) / sigma, c_out / sigma)."""
    s2, d2 = sigma**2, sigma_data**2
    return (torch.sqrt((1 + s2) / (s2 + d2)), sigma * torch.sqrt(1 + s2) / (s2 + d2),
            sigma_data / torch.sqrt(s2 + d2))


def loss_weight(sigma: torch.Tensor, sigma_data: float) -> torch.Tensor:
    """lambda(sigma) sigma^2 = sigma^2 / c_out^2 = 1 + sigma^2 / s_d^2: eq. 8's weight on
    || D - x_0 ||^2 = sigma^2 || eps - eps_theta ||^2, i.e. || F - F_target ||^2."""
    return 1 + sigma**2 / sigma_data**2


def lognormal_t(schedule: Schedule, n: int, p_mean: float, p_std: float,
                generator: torch.Generator) -> torch.Tensor:
    """n real t with ln sigma_t ~ N(p_mean, p_std^2), clamped to the schedule's range."""
    log_sigma = p_mean + p_std * torch.randn(n, generator=generator, dtype=torch.float64)
    return t_at(schedule, log_sigma.exp())


# Heun's sampler
def karras_sigmas(sigma_min: float, sigma_max: float, n: int, rho: float = 7.0) -> torch.Tensor:
    """Eq. 5: sigma_0 = sigma_max > ... > sigma_{n-1} = sigma_min, float64 (n,); append the final
    sigma_N = 0 yourself to end on the data."""
    if n < 2 or not 0 < sigma_min < sigma_max:
        raise ValueError(f"need n >= 2 and 0 < sigma_min < sigma_max, got {n}, {sigma_min}, "
                         f"{sigma_max}")
    i = torch.arange(n, dtype=torch.float64)
    lo, hi = sigma_min ** (1 / rho), sigma_max ** (1 / rho)
    return (hi + i / (n - 1) * (lo - hi)) ** rho


def n_evaluations(n_steps: int) -> int:
    """Network evaluations of Algorithm 1 with n_steps noise levels before sigma_N = 0."""
    return 2 * n_steps - 1


@torch.inference_mode()
def heun_ode(eps_fn: EpsFn, x: torch.Tensor, sigmas: torch.Tensor, schedule: Schedule
             ) -> Iterator[torch.Tensor]:
    """Algorithm 1 along `sigmas` (decreasing, float64; may end in 0) from x at sigmas[0], in the
    variable x = x_t / sqrt(abar): yield x at each noise level, starting with the given x."""
    ts = t_at(schedule, sigmas.clamp(min=schedule.sigmas[0].item()))  # real t of each level
    levels = sigmas.tolist()

    def slope(x: torch.Tensor, i: int) -> torch.Tensor:  # d = (x - D(x; sigma_i)) / sigma_i
        return eps_fn(x / math.sqrt(1.0 + levels[i] ** 2), ts[i].expand(x.shape[0]))

    yield x
    for i in range(len(levels) - 1):
        h = levels[i + 1] - levels[i]  # < 0
        d = slope(x, i)
        euler = x + h * d
        # second order: average the slopes at both ends, except into sigma = 0
        x = euler if levels[i + 1] == 0 else x + 0.5 * h * (d + slope(euler, i + 1))
        yield x


def heun_sample_progressive(eps_fn: EpsFn, z: torch.Tensor, schedule: Schedule, n_steps: int,
                            rho: float = 7.0) -> Iterator[torch.Tensor]:
    """From z ~ N(0, I) (N, d), sample with n_steps levels from sigma_{T-1} to sigma_0 of the
    schedule and a last step into 0: yield x_t = x / sqrt(1 + sigma^2) at each (n_steps + 1
    tensors, the first at sigma_max), the variable of the DDPM and DDIM samplers."""
    sigmas = karras_sigmas(schedule.sigmas[0].item(), schedule.sigmas[-1].item(), n_steps, rho)
    sigmas = torch.cat([sigmas, sigmas.new_zeros(1)])
    scale = [1.0 / math.sqrt(1.0 + s**2) for s in sigmas.tolist()]
    for x, c in zip(heun_ode(eps_fn, sigmas[0].item() * z, sigmas, schedule), scale,
                    strict=True):
        yield c * x
