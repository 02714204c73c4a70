"""Exact lower bounds on the training losses: how low each loss can go on this data.

Each noise-regression loss is a mean squared error, so over all functions it is smallest at the
posterior mean, which on the mixture is closed form at every noise level (Tweedie's formula):

    l_DSM = E 1/2 || sigma s(x + sigma eps, sigma) + eps ||^2     is smallest at
            s*(x~, sigma) = grad log q_sigma(x~) = -E[eps | x~] / sigma;
    l_simple = E w(t) || eps - eps(x_t, t) ||^2 (w = 1, or the EDM weight)   is smallest at
            eps*(x_t, t) = E[eps | x_t] = -sqrt(1 - abar_t) grad log q_t(x_t).

`ExactScore` and `ExactEps` are those minimisers, called like the networks they stand in for, so
the floor is the family's own training loss (blog.train.Family.loss) evaluated with them, on the
same kind of minibatches of fresh data: `loss_floor` averages independent minibatches and gives
a 95 % interval from their spread. For the VAE, -l_ELBO(x) >= -log p_theta(x) for every x, and
E_p[-log p_theta] >= H(p), so H(p) (by quadrature: blog.metrics.neg_entropy) bounds the mean
negative ELBO; it is attained only by a perfect model with a perfect encoder.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from blog.mixture import GaussianMixture


def _score(mixture: GaussianMixture, x: torch.Tensor, scale: torch.Tensor,
           extra: torch.Tensor) -> torch.Tensor:
    """grad log of sum_k pi_k N(x; scale mu_k, (scale^2 s_k^2 + extra) I), with one scale and
    one extra variance per row of x (N, d); float64 (N, d)."""
    means = torch.as_tensor(mixture.means, dtype=torch.float64)  # (K, d)
    var0 = torch.as_tensor(mixture.stds**2, dtype=torch.float64)  # (K,)
    logw = torch.as_tensor(np.log(mixture.weights), dtype=torch.float64)
    x = x.to(torch.float64)
    scale, extra = scale.to(torch.float64)[:, None], extra.to(torch.float64)[:, None]
    centres = scale[..., None] * means  # (N, K, d)
    var = scale**2 * var0 + extra  # (N, K)
    sq = ((x[:, None, :] - centres) ** 2).sum(-1)
    r = torch.softmax(logw - 0.5 * mixture.dim * var.log() - 0.5 * sq / var, dim=-1) / var
    return (r[..., None] * (centres - x[:, None, :])).sum(1)


class ExactScore:
    """s*(x~, sigma) = grad log q_sigma(x~), q_sigma = p * N(0, sigma^2 I), one sigma per row:
    the minimiser of l_DSM, called like blog.score.ScoreNet."""

    def __init__(self, mixture: GaussianMixture):
        self.mixture = mixture

    def __call__(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        sigma = torch.as_tensor(sigma).to(torch.float64).expand(x.shape[0])
        return _score(self.mixture, x, torch.ones_like(sigma), sigma**2).to(x.dtype)


class ExactEps:
    """eps*(x_t, t) = -sqrt(1 - abar_t) grad log q_t(x_t), q_t the VP marginal at abar_t =
    alphas_at(t) (integer or real t, one per row): the minimiser of l_simple and of its EDM
    weighting, called like blog.ddpm.EpsNet."""

    def __init__(self, mixture: GaussianMixture, alphas_at: Callable[[torch.Tensor], torch.Tensor]):
        self.mixture, self.alphas_at = mixture, alphas_at

    def __call__(self, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        abar = self.alphas_at(t).to(torch.float64).expand(x_t.shape[0])
        score = _score(self.mixture, x_t, abar.sqrt(), 1 - abar)
        return (-(1 - abar).sqrt()[:, None] * score).to(x_t.dtype)


def mean_estimate(values) -> dict:
    """The mean of independent values with its normal 95 % interval: {value, lo, hi, n, se}."""
    from blog.metrics.estimate import normal

    v = np.asarray(values, dtype=np.float64)
    if len(v) < 2:
        raise ValueError(f"a mean with an interval needs at least 2 values, got {len(v)}")
    return normal(float(v.mean()), float(v.std(ddof=1) / np.sqrt(len(v))), len(v)).as_dict()


def final_loss(history, fraction: float = 0.05) -> dict:
    """The training loss at the end: the mean of the last `fraction` of the minibatch losses
    (each on fresh data), with its interval (mean_estimate)."""
    h = np.asarray(history, dtype=np.float64)
    return mean_estimate(h[-max(2, int(len(h) * fraction)):])


def loss_floor(loss: Callable, exact: Callable, mixture: GaussianMixture, batch_size: int,
               batches: int, seed: int) -> dict:
    """The mean of `loss(exact, x_0, generator)` over `batches` independent minibatches of
    `batch_size` fresh samples x_0 ~ p (float32, as in training), with its 95 % interval from
    the spread of the minibatch means: {value, lo, hi, n (= batches), se}."""
    if batches < 2:
        raise ValueError(f"loss_floor needs at least 2 minibatches for an interval, got {batches}")
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    values = []
    with torch.no_grad():
        for _ in range(batches):
            x_0 = torch.from_numpy(mixture.sample(batch_size, rng).astype(np.float32))
            values.append(float(loss(exact, x_0, gen)))
    return mean_estimate(values)
