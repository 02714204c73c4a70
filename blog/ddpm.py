"""Denoising diffusion: DDPM (Ho, Jain & Abbeel 2020) and DDIM (Song, Meng & Ermon 2021).

    forward   q(x_t | x_0) = N(sqrt(abar_t) x_0, (1 - abar_t) I)              DDPM eq. 4
    loss      || eps - eps_theta(sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps, t) ||^2   eq. 14, Alg. 1
    ancestral x_{t-1} = (x_t - beta_t / sqrt(1 - abar_t) eps_theta) / sqrt(alpha_t) + sigma_t z
                                                                                Alg. 2, eq. 11
    DDIM      x_{t'} = sqrt(abar_t') x0_hat + sqrt(1 - abar_t' - s^2) eps_theta + s z,
              s = eta sqrt((1 - abar_t') / (1 - abar_t)) sqrt(1 - abar_t / abar_t')  eq. 12, 16

With eta = 0, DDIM is a discretisation of the probability-flow ODE (DDIM sec. 4.3): the
deterministic sampler of the post. The cosine schedule is Nichol & Dhariwal (2021) eq. 17.
Timesteps are 0-based: index t here is the paper's t + 1.

The network can instead be preconditioned and trained as Karras et al. (2022) do, on real t
with log-normal noise levels (blog.edm); it still predicts eps, so every sampler here runs on it.

Every sampler takes an `eps_fn(x_t, t) -> eps`, either the network or `exact_eps(mixture,
schedule)`, the true noise of the noised mixture:
    eps*(x_t, t) = -sqrt(1 - abar_t) grad log q_t(x_t).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import get_args

import numpy as np
import torch
from torch import nn

from blog import edm
from blog.config import DDPMConfig, Prediction, Spacing, TSampling
from blog.mixture import GaussianMixture
from blog.nets import MLP
from blog.train import Family
from figures_pipeline.config import ConfigError

EpsFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (x_t (N, d), t (N,)) -> (N, d)


@dataclass(frozen=True)
class Schedule:
    """Every per-timestep coefficient, float64, shape (T,)."""

    betas: torch.Tensor
    alphas_cumprod: torch.Tensor  # \bar\alpha_t
    alphas_cumprod_prev: torch.Tensor  # \bar\alpha_{t-1}, with \bar\alpha_0 = 1
    # q(x_t | x_0)
    sqrt_alphas_cumprod: torch.Tensor
    sqrt_one_minus_alphas_cumprod: torch.Tensor
    # x_0 from (x_t, eps)
    sqrt_recip_alphas_cumprod: torch.Tensor
    sqrt_recipm1_alphas_cumprod: torch.Tensor
    # posterior q(x_{t-1} | x_t, x_0)
    posterior_variance: torch.Tensor  # \tilde\beta_t
    posterior_mean_coef1: torch.Tensor  # multiplies x_0
    posterior_mean_coef2: torch.Tensor  # multiplies x_t
    # the same process as x_t / sqrt(abar_t) = x_0 + sigma_t eps (Karras et al. 2022, Table 1, VP)
    sigmas: torch.Tensor  # \sigma_t = sqrt((1 - abar_t) / abar_t), increasing in t
    log_sigmas: torch.Tensor  # \log\sigma_t, the table blog.edm interpolates in real t

    @property
    def T(self) -> int:
        return len(self.betas)


def make_schedule(T: int, kind: str = "linear", beta_start: float = 1e-4,
                  beta_end: float = 0.02) -> Schedule:
    """beta_t linear (scaled by 1000 / T so any T spans the same noise) or cosine."""
    if kind == "linear":
        scale = 1000.0 / T
        betas = np.linspace(beta_start * scale, min(beta_end * scale, 0.999), T)
    elif kind == "cosine":
        f = np.cos((np.arange(T + 1) / T + 0.008) / 1.008 * math.pi / 2) ** 2
        betas = np.clip(1 - f[1:] / f[:-1], 0, 0.999)
    else:
        raise ValueError(f"unknown schedule {kind!r} (choose from: linear, cosine)")
    alphas_cumprod = np.cumprod(1.0 - betas)
    prev = np.append(1.0, alphas_cumprod[:-1])
    a = {
        "betas": betas,
        "alphas_cumprod": alphas_cumprod,
        "alphas_cumprod_prev": prev,
        "sqrt_alphas_cumprod": np.sqrt(alphas_cumprod),
        "sqrt_one_minus_alphas_cumprod": np.sqrt(1 - alphas_cumprod),
        "sqrt_recip_alphas_cumprod": np.sqrt(1 / alphas_cumprod),
        "sqrt_recipm1_alphas_cumprod": np.sqrt(1 / alphas_cumprod - 1),
        "posterior_variance": betas * (1 - prev) / (1 - alphas_cumprod),
        "posterior_mean_coef1": betas * np.sqrt(prev) / (1 - alphas_cumprod),
        "posterior_mean_coef2": (1 - prev) * np.sqrt(1 - betas) / (1 - alphas_cumprod),
        "sigmas": np.sqrt((1 - alphas_cumprod) / alphas_cumprod),
    }
    tables = {k: torch.tensor(v, dtype=torch.float64) for k, v in a.items()}
    return Schedule(**tables, log_sigmas=tables["sigmas"].log())


def schedule_from(cfg: DDPMConfig) -> Schedule:
    """The config's schedule; every DDPM-family path starts here, so it also refuses the choices
    that would otherwise misbehave silently (a one-line ConfigError naming the key)."""
    for key, choices in (("prediction", get_args(Prediction)), ("t_sampling", get_args(TSampling))):
        if getattr(cfg, key) not in choices:
            raise ConfigError(f"ddpm.{key} must be one of {choices}, got {getattr(cfg, key)!r}")
    if cfg.heun_steps < 2:
        raise ConfigError(f"ddpm.heun_steps must be >= 2, got {cfg.heun_steps}")
    return make_schedule(cfg.timesteps, cfg.schedule, cfg.beta_start, cfg.beta_end)


def extract(a: torch.Tensor, t: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """a[t] as float32, shaped (N, 1, ..., 1) to broadcast against `shape`."""
    return a[t].to(torch.float32).reshape(-1, *([1] * (len(shape) - 1)))


class EpsNet(nn.Module):
    """eps_theta(x_t, t) from the MLP F of blog.nets, conditioned on t / T (t may be real):
    F is eps itself ('eps'), or the F of Karras et al.'s preconditioned denoiser ('edm')."""

    def __init__(self, cfg: DDPMConfig, dim: int = 2):
        super().__init__()
        self.T, self.prediction, self.sigma_data = cfg.timesteps, cfg.prediction, cfg.sigma_data
        self.schedule = schedule_from(cfg)  # for sigma_t (derived from the config, not saved)
        self.mlp = MLP(dim, dim, cfg.hidden, cfg.depth, cfg.emb_dim, max_freq=cfg.timesteps,
                       fourier=cfg.fourier_features, fourier_scale=cfg.fourier_scale)

    def forward(self, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        c = t.to(torch.float32) / self.T
        if self.prediction == "eps":
            return self.mlp(x_t, c)
        sigma = edm.sigma_at(self.schedule, t)[:, None]  # (N, 1) float64
        c_in, a, b = (k.to(torch.float32) for k in edm.preconditioning(sigma, self.sigma_data))
        return a * x_t - b * self.mlp(c_in * x_t, c)


def draw_t(schedule: Schedule, sampling: TSampling, n: int, generator: torch.Generator,
           p_mean: float = -1.2, p_std: float = 1.2, draws: int = 0) -> torch.Tensor:
    """n timesteps for the loss: integer t ~ U{0..T-1} (DDPM), or real t with log-normal sigma_t
    (blog.edm). With draws > 0 only that many are drawn, each shared by consecutive samples: the
    network embeds each t once (a cheaper step), the minibatch still covers `draws` levels."""
    k = draws if 0 < draws < n else n
    if sampling == "uniform":
        t = torch.randint(0, schedule.T, (k,), generator=generator)
    else:
        t = edm.lognormal_t(schedule, k, p_mean, p_std, generator)
    return t.repeat_interleave(-(-n // k))[:n]


def alphas_at(schedule: Schedule, t: torch.Tensor) -> torch.Tensor:
    """abar_t (N,) float64: the table at integer t, 1 / (1 + sigma_t^2) at real t."""
    if not t.is_floating_point():
        return schedule.alphas_cumprod[t]
    return 1 / (1 + edm.sigma_at(schedule, t) ** 2)


# q(x_t | x_0)
def q_sample(x_0: torch.Tensor, t: torch.Tensor, schedule: Schedule,
             noise: torch.Tensor) -> torch.Tensor:
    """x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps  (eq. 4); t integer or real."""
    abar = alphas_at(schedule, t).to(torch.float32)[:, None]  # (N, 1)
    return abar.sqrt() * x_0 + (1 - abar).sqrt() * noise


# excerpt: ddpm-loss
def loss(model: EpsFn, x_0: torch.Tensor, schedule: Schedule, generator: torch.Generator,
         cfg: DDPMConfig | None = None) -> torch.Tensor:
    """Mean of w || eps - eps_theta(x_t, t) ||^2 with t from draw_t: with cfg None (or its
    defaults) L_simple (eq. 14), t ~ U{0..T-1}, eps ~ N(0, I), w = 1; for the 'edm' network
    w = edm.loss_weight, Karras et al.'s eq. 8."""
    cfg = cfg or DDPMConfig(timesteps=schedule.T)
    t = draw_t(schedule, cfg.t_sampling, x_0.shape[0], generator, cfg.p_mean, cfg.p_std,
               cfg.t_draws)
    eps = torch.randn(x_0.shape, generator=generator)
    err = ((eps - model(q_sample(x_0, t, schedule, eps), t)) ** 2).sum(-1)
    if cfg.prediction == "edm":
        err = edm.loss_weight(edm.sigma_at(schedule, t), cfg.sigma_data).to(torch.float32) * err
    return err.mean()
# end excerpt


def predict_x0(x_t: torch.Tensor, t: torch.Tensor, eps: torch.Tensor, s: Schedule) -> torch.Tensor:
    """x0_hat = (x_t - sqrt(1 - abar_t) eps) / sqrt(abar_t)."""
    return (extract(s.sqrt_recip_alphas_cumprod, t, x_t.shape) * x_t
            - extract(s.sqrt_recipm1_alphas_cumprod, t, x_t.shape) * eps)


# ancestral sampling, p(x_{t-1} | x_t)
# excerpt: p-sample
def p_sample(eps_fn: EpsFn, x_t: torch.Tensor, t: int, schedule: Schedule,
             noise: torch.Tensor) -> torch.Tensor:
    """One step of Alg. 2 with sigma_t^2 = tilde beta_t; no noise at the last step (t = 0)."""
    s = schedule  # one t for the whole batch: its coefficients are plain floats
    eps = eps_fn(x_t, torch.full((x_t.shape[0],), t, dtype=torch.long))
    x0_hat = (s.sqrt_recip_alphas_cumprod[t].item() * x_t
              - s.sqrt_recipm1_alphas_cumprod[t].item() * eps)
    mean = s.posterior_mean_coef1[t].item() * x0_hat + s.posterior_mean_coef2[t].item() * x_t
    if t == 0:
        return mean
    return mean + math.sqrt(s.posterior_variance[t].item()) * noise
# end excerpt


@torch.inference_mode()
def p_sample_loop_progressive(eps_fn: EpsFn, x_T: torch.Tensor, schedule: Schedule,
                              generator: torch.Generator) -> Iterator[torch.Tensor]:
    """Yield x_T, x_{T-1}, ..., x_0 (T + 1 tensors of shape (N, d))."""
    x = x_T
    yield x
    for t in reversed(range(schedule.T)):
        x = p_sample(eps_fn, x, t, schedule, torch.randn(x.shape, generator=generator))
        yield x


def ddim_timesteps(T: int, n_steps: int, spacing: Spacing = "quadratic") -> list[int]:
    """tau: n_steps indices from T - 1 down to 0, evenly or quadratically spaced (DDIM app. D.2).

    Quadratic spacing puts more steps near t = 0, where the modes (std 0.1) form: with the exact
    eps and 50 steps it is ~40x closer to the data in MMD than uniform spacing.
    """
    if n_steps > T:
        raise ValueError(f"DDIM needs n_steps <= T, got {n_steps} > {T}")
    u = np.linspace(0.0, 1.0, n_steps)
    u = u**2 if spacing == "quadratic" else u
    taus = np.round(u * (T - 1)).astype(int)
    for i in range(1, n_steps):  # exactly n_steps distinct indices: nudge rounding collisions up
        taus[i] = max(taus[i], taus[i - 1] + 1)
    for i in range(n_steps - 2, -1, -1):  # ... without passing T - 1
        taus[i] = min(taus[i], taus[i + 1] - 1)
    return [int(t) for t in taus[::-1]]


@torch.inference_mode()
def ddim_sample_progressive(eps_fn: EpsFn, x_T: torch.Tensor, schedule: Schedule,
                            n_steps: int, eta: float = 0.0,
                            generator: torch.Generator | None = None,
                            spacing: Spacing = "quadratic") -> Iterator[torch.Tensor]:
    """Yield x_T and then x at each of the DDIM steps (eq. 12); deterministic when eta = 0."""
    taus = ddim_timesteps(schedule.T, n_steps, spacing)
    x = x_T
    yield x
    # excerpt: ddim-step
    for i, t in enumerate(taus):
        tt = torch.full((x.shape[0],), t, dtype=torch.long)
        eps = eps_fn(x, tt)
        x0_hat = predict_x0(x, tt, eps, schedule)
        abar = schedule.alphas_cumprod[t].item()
        abar_prev = schedule.alphas_cumprod[taus[i + 1]].item() if i + 1 < len(taus) else 1.0
        s = eta * math.sqrt((1 - abar_prev) / (1 - abar) * (1 - abar / abar_prev))
        x = math.sqrt(abar_prev) * x0_hat + math.sqrt(max(1 - abar_prev - s**2, 0.0)) * eps
        if s > 0:
            x = x + s * torch.randn(x.shape, generator=generator)
        yield x
    # end excerpt


def exact_eps(mixture: GaussianMixture, schedule: Schedule) -> EpsFn:
    """eps*(x_t, t) = -sqrt(1 - abar_t) grad log q_t(x_t), with q_t = mixture.vp(abar_t); t may
    be real (alphas_at)."""
    mixture_key = (mixture.means.tobytes(), mixture.stds.tobytes(), mixture.weights.tobytes())

    def eps_at(x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:  # t: one level, 0-dim
        abar = alphas_at(schedule, t).item()
        q_t = _vp_memo(mixture_key, mixture, abar)
        return -math.sqrt(1.0 - abar) * q_t.score_torch(x_t)

    def eps_fn(x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        if bool((t == t[0]).all()):  # a sampler's step: one t for the whole batch
            return eps_at(x_t, t[0])
        levels = torch.unique(t)
        out = torch.empty_like(x_t)
        for level in levels:
            m = t == level
            out[m] = eps_at(x_t[m], level)
        return out

    return eps_fn


_VP_MEMO: dict[tuple, GaussianMixture] = {}
_VP_MEMO_SIZE = 8192  # noised mixtures kept: every t of a few schedules


def _vp_memo(key: tuple, mixture: GaussianMixture, abar: float) -> GaussianMixture:
    """mixture.vp(abar), memoised across samplers and batches: a sampler's T steps build their T
    noised mixtures (and their score constants) once per process, not once per batch."""
    q_t = _VP_MEMO.get((key, abar))
    if q_t is None:
        if len(_VP_MEMO) >= _VP_MEMO_SIZE:
            _VP_MEMO.clear()
        q_t = _VP_MEMO[(key, abar)] = mixture.vp(abar)
    return q_t


def last(steps: Iterator[torch.Tensor]) -> torch.Tensor:
    """The final x of a progressive sampler."""
    x = None
    for x in steps:  # noqa: B007 (the last one is the point)
        pass
    return x


def trajectory(steps: Iterator[torch.Tensor]) -> torch.Tensor:
    """Every step of a progressive sampler stacked: (steps + 1, N, d)."""
    return torch.stack(list(steps))


# the family, as blog.models and the build stages train it
def _eps_loss(cfg):
    schedule = schedule_from(cfg.ddpm)
    return lambda m, x, g: loss(m, x, schedule, g, cfg.ddpm)


FAMILY = Family("ddpm", ("config", "mixture", "nets", "train", "ddpm", "edm"),
                lambda c: c.ddpm,
                lambda c: EpsNet(c.ddpm), _eps_loss)
