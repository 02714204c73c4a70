"""Noise-conditional score network and Langevin dynamics (Song & Ermon 2019, "NCSN").

    noised data     x~ = x + sigma z,  sigma in a geometric ladder sigma_1 > ... > sigma_L sec. 4.1
    DSM loss        l(theta; sigma) = 1/2 E || s_theta(x~, sigma) + (x~ - x) / sigma^2 ||^2    eq. 5
                    L = mean_i lambda(sigma_i) l(theta; sigma_i),  lambda(sigma) = sigma^2    eq. 6
    Langevin        x_t = x_{t-1} + alpha/2 grad log p(x_{t-1}) + sqrt(alpha) z_t              eq. 4
    annealed        run Langevin at each sigma_i with alpha_i = eps sigma_i^2 / sigma_L^2    Alg. 1

The network outputs s_theta(x, sigma) = f_theta(x, sigma) / sigma (Song & Ermon 2020, technique 3),
so sigma^2 l = 1/2 || f_theta(x~, sigma) + z ||^2 has the same scale at every level. The optional
last step x + sigma_L^2 s(x, sigma_L) is Tweedie's denoising (Song & Ermon 2020, appendix C.2).

Every sampler takes a `score_fn(x, sigma) -> grad log q_sigma(x)`: the network, or
`exact_score(mixture)`, the closed-form score of the mixture convolved with N(0, sigma^2 I).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import numpy as np
import torch
from torch import nn

from blog.config import ScoreConfig
from blog.mixture import GaussianMixture
from blog.nets import MLP
from blog.train import Family

ScoreFn = Callable[[torch.Tensor, float], torch.Tensor]  # (x (N, d), sigma) -> (N, d)


def sigma_ladder(sigma_max: float, sigma_min: float, n: int) -> torch.Tensor:
    """sigma_1 > ... > sigma_L, geometric, float64 (L,)."""
    return torch.tensor(np.geomspace(sigma_max, sigma_min, n), dtype=torch.float64)


class ScoreNet(nn.Module):
    """s_theta(x, sigma) = MLP(x, c(sigma)) / sigma, c = position of log sigma in the ladder."""

    def __init__(self, cfg: ScoreConfig, dim: int = 2):
        super().__init__()
        self.log_max, self.log_min = math.log(cfg.sigma_max), math.log(cfg.sigma_min)
        # c spans [0, 1] over the ladder; resolve neighbouring levels and a little beyond
        self.mlp = MLP(dim, dim, cfg.hidden, cfg.depth, cfg.emb_dim, max_freq=10.0 * cfg.n_sigmas)

    def forward(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        """sigma: (N,) noise levels."""
        sigma = sigma.to(torch.float32)
        c = (self.log_max - torch.log(sigma)) / (self.log_max - self.log_min)
        return self.mlp(x, c) / sigma[:, None]

    def score_fn(self, x: torch.Tensor, sigma: float) -> torch.Tensor:
        return self(x, torch.full((x.shape[0],), sigma))


# excerpt: dsm-loss
def dsm_loss(model: ScoreNet, x: torch.Tensor, sigmas: torch.Tensor,
             generator: torch.Generator) -> torch.Tensor:
    """Eq. 6, lambda = sigma^2: mean of 1/2 || sigma s_theta(x + sigma eps, sigma) + eps ||^2."""
    i = torch.randint(0, len(sigmas), (x.shape[0],), generator=generator)
    sigma = sigmas[i].to(torch.float32)
    eps = torch.randn(x.shape, generator=generator)
    x_tilde = x + sigma[:, None] * eps
    return 0.5 * ((sigma[:, None] * model(x_tilde, sigma) + eps) ** 2).sum(-1).mean()
# end excerpt


def exact_score(mixture: GaussianMixture) -> ScoreFn:
    """grad log q_sigma(x), q_sigma = mixture.ve(sigma): mixture * N(0, sigma^2 I)."""
    cache: dict[float, GaussianMixture] = {}

    def score_fn(x: torch.Tensor, sigma: float) -> torch.Tensor:
        if sigma not in cache:
            cache[sigma] = mixture.ve(sigma)
        return cache[sigma].score_torch(x)

    return score_fn


@torch.inference_mode()
def langevin(score_fn: ScoreFn, x: torch.Tensor, sigma: float, step_size: float, n_steps: int,
             generator: torch.Generator) -> Iterator[torch.Tensor]:
    """Eq. 4 at one noise level: yield x_0 and each of the n_steps updates."""
    yield x
    for _ in range(n_steps):
        z = torch.randn(x.shape, generator=generator)
        x = x + 0.5 * step_size * score_fn(x, sigma) + math.sqrt(step_size) * z
        yield x


@torch.inference_mode()
# excerpt: annealed-langevin
def annealed_langevin(score_fn: ScoreFn, x: torch.Tensor, sigmas: torch.Tensor, step_lr: float,
                      n_steps_each: int, generator: torch.Generator,
                      denoise: bool = True) -> Iterator[torch.Tensor]:
    """Alg. 1: yield x_0, x after each of the L T steps, then (denoise) the Tweedie-denoised x."""
    yield x
    sigma_L = sigmas[-1].item()
    for sigma in sigmas.tolist():
        alpha = step_lr * sigma**2 / sigma_L**2
        steps = langevin(score_fn, x, sigma, alpha, n_steps_each, generator)
        next(steps)  # the starting point was already yielded
        for x in steps:
            yield x
    if denoise:
        yield x + sigma_L**2 * score_fn(x, sigma_L)
# end excerpt


def initial_noise(n: int, sigma_max: float, generator: torch.Generator, dim: int = 2
                  ) -> torch.Tensor:
    """x_0 ~ N(0, sigma_1^2 I): roughly q_{sigma_1} for data near the origin."""
    return sigma_max * torch.randn((n, dim), generator=generator)


# the family, as blog.models and the build stages train it
def _dsm_loss(cfg):
    sigmas = sigma_ladder(cfg.score.sigma_max, cfg.score.sigma_min, cfg.score.n_sigmas)
    return lambda m, x, g: dsm_loss(m, x, sigmas, g)


FAMILY = Family("score", ("config", "mixture", "nets", "train", "score"),
                lambda c: c.score,
                lambda c: ScoreNet(c.score), _dsm_loss)
