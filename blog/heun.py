"""Heun's second-order sampler of the probability-flow ODE (Karras, Aittala, Aila & Laine 2022,
"Elucidating the Design Space of Diffusion-Based Generative Models").

    ODE        dx/dsigma = (x - D(x; sigma)) / sigma                       eq. 1 and 3, sigma(t) = t
    steps      sigma_i = (sigma_max^(1/rho) + i/(N-1) (sigma_min^(1/rho) - sigma_max^(1/rho)))^rho
               for i < N, sigma_N = 0, rho = 7                                          eq. 5
    Heun       d_i = (x_i - D(x_i; sigma_i)) / sigma_i,
               x_{i+1} = x_i + (sigma_{i+1} - sigma_i) d_i, then, unless sigma_{i+1} = 0,
               the trapezoidal correction
               x_{i+1} = x_i + (sigma_{i+1} - sigma_i) (d_i + d'_{i+1}) / 2              Algorithm 1
    start      x_0 = sigma_max z,  z ~ N(0, I)

The DDPM network is a VP model (Table 1, VP column): x = x_t / sqrt(abar_t) is x_0 plus noise of
std sigma_t = sqrt((1 - abar_t) / abar_t), and its denoiser is D(x; sigma) = x - sigma eps(x_t, t),
so the ODE's slope is just d = eps_theta(x / sqrt(1 + sigma^2), t(sigma)). Between the integer t
of the schedule, t(sigma) is real (blog.ddpm.t_at); the exact twin evaluates the true noise there.
N steps cost 2N - 1 network evaluations: two per step, one for the last (Euler into sigma = 0).
DDIM is the Euler method on the same ODE (Karras et al. sec. 3): Heun is its second-order twin.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch

from blog.ddpm import EpsFn, Schedule, t_at


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
        x_t = x / math.sqrt(1.0 + levels[i] ** 2)
        return eps_fn(x_t, ts[i].expand(x.shape[0]))

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
    tensors after z's own x_T), the same variable as the DDPM and DDIM samplers."""
    sigmas = karras_sigmas(schedule.sigmas[0].item(), schedule.sigmas[-1].item(), n_steps, rho)
    sigmas = torch.cat([sigmas, sigmas.new_zeros(1)])
    scale = [1.0 / math.sqrt(1.0 + s**2) for s in sigmas.tolist()]
    for x, c in zip(heun_ode(eps_fn, sigmas[0].item() * z, sigmas, schedule), scale,
                    strict=True):
        yield c * x
