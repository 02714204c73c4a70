"""Isotropic Gaussian mixtures in closed form: the post's data and every noised version of it.

    p(x) = sum_k pi_k N(x; mu_k, s_k^2 I)

Both forward processes of the post keep a Gaussian mixture a Gaussian mixture, so the density
and the score of the *noised* data are known exactly at every noise level:

    variance preserving (DDPM, Ho et al. 2020, eq. 4):
        x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps
        =>  q(x_t) = sum_k pi_k N(x_t; sqrt(abar_t) mu_k, (abar_t s_k^2 + 1 - abar_t) I)
    variance exploding (NCSN, Song & Ermon 2019, sec. 4.2):
        x~ = x + sigma eps
        =>  q_sigma(x~) = sum_k pi_k N(x~; mu_k, (s_k^2 + sigma^2) I)

These are the test oracles and the references the learned models are measured against.
Everything is float64 NumPy; `score_torch` evaluates the same score on tensors, for samplers.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np


@dataclass(frozen=True)
class GaussianMixture:
    """sum_k weights[k] N(means[k], stds[k]^2 I) in d dimensions."""

    means: np.ndarray  # (K, d)  mu_k
    stds: np.ndarray  # (K,)    s_k, per-axis standard deviation
    weights: np.ndarray  # (K,)    pi_k, sum to one

    def __post_init__(self) -> None:
        means = np.asarray(self.means, dtype=np.float64)
        stds = np.broadcast_to(np.asarray(self.stds, dtype=np.float64), means.shape[:1]).copy()
        weights = np.asarray(self.weights, dtype=np.float64)
        if means.ndim != 2 or weights.shape != means.shape[:1]:
            raise ValueError(f"means must be (K, d) and weights (K,), got {means.shape}, "
                             f"{weights.shape}")
        if np.any(stds <= 0) or np.any(weights < 0) or not np.isclose(weights.sum(), 1.0):
            raise ValueError("stds must be > 0 and weights a probability vector")
        object.__setattr__(self, "means", means)
        object.__setattr__(self, "stds", stds)
        object.__setattr__(self, "weights", weights / weights.sum())

    @property
    def n_components(self) -> int:
        return self.means.shape[0]

    @property
    def dim(self) -> int:
        return self.means.shape[1]

    # sampling
    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """n draws x ~ p, shape (n, d)."""
        return self.sample_with_labels(n, rng)[0]

    def sample_with_labels(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """n draws and the component k each came from: ((n, d), (n,))."""
        k = rng.choice(self.n_components, size=n, p=self.weights)
        eps = rng.standard_normal((n, self.dim))
        return self.means[k] + self.stds[k, None] * eps, k

    # density
    def _log_components(self, x: np.ndarray) -> np.ndarray:
        """log pi_k + log N(x; mu_k, s_k^2 I), shape (..., K)."""
        x = np.asarray(x, dtype=np.float64)
        var = self.stds**2  # (K,)
        sq = ((x[..., None, :] - self.means) ** 2).sum(-1)  # (..., K)
        log_norm = -0.5 * self.dim * np.log(2 * np.pi * var)
        return np.log(self.weights) + log_norm - 0.5 * sq / var

    def log_prob(self, x: np.ndarray) -> np.ndarray:
        """log p(x), shape (...,) for x of shape (..., d)."""
        return _logsumexp(self._log_components(x))

    def prob(self, x: np.ndarray) -> np.ndarray:
        return np.exp(self.log_prob(x))

    def responsibilities(self, x: np.ndarray) -> np.ndarray:
        """Posterior over components r_k(x) = p(k | x), shape (..., K)."""
        lc = self._log_components(x)
        return np.exp(lc - _logsumexp(lc)[..., None])

    def score(self, x: np.ndarray) -> np.ndarray:
        """grad_x log p(x) = sum_k r_k(x) (mu_k - x) / s_k^2, shape (..., d)."""
        x = np.asarray(x, dtype=np.float64)
        r = self.responsibilities(x) / self.stds**2  # (..., K)
        return r @ self.means - r.sum(-1, keepdims=True) * x

    def score_torch(self, x):
        """The same score on a torch tensor (any float dtype), returned in x's dtype; computed
        in float64 from the expanded square (one (N, d) @ (d, K) product, no (N, K, d) array):

            log pi_k N(x; mu_k, s_k^2 I) = b_k + x . mu_k / s_k^2 - |x|^2 / 2 s_k^2,
            b_k = log pi_k - d/2 log s_k^2 - |mu_k|^2 / 2 s_k^2,

        where the |x|^2 term is dropped when every s_k is equal (it cancels in r_k(x))."""
        import torch

        bias, mu_over_var, half_inv_var, inv_var, means = self._torch_terms
        x64 = x.to(torch.float64).reshape(-1, self.dim)
        logits = torch.addmm(bias, x64, mu_over_var)  # (N, K)
        if half_inv_var is not None:
            logits -= (x64 * x64).sum(-1, keepdim=True) * half_inv_var
        r = torch.softmax(logits, dim=-1).mul_(inv_var)  # r_k(x) / s_k^2
        out = torch.mm(r, means).addcmul_(r.sum(-1, keepdim=True), x64, value=-1.0)
        return out.reshape(x.shape).to(x.dtype)

    @cached_property
    def _torch_terms(self):
        """The constants of score_torch as float64 tensors (computed once per mixture)."""
        import torch

        var = self.stds**2
        bias = (np.log(self.weights) - 0.5 * self.dim * np.log(var)
                - 0.5 * (self.means**2).sum(-1) / var)
        equal = bool(np.all(var == var[0]))

        def f64(a):
            return torch.as_tensor(np.ascontiguousarray(a), dtype=torch.float64)

        return (f64(bias), f64((self.means / var[:, None]).T),
                None if equal else f64(0.5 / var), f64(1.0 / var), f64(self.means))

    def score_torch_reference(self, x):
        """score_torch written out on the (N, K, d) differences: the oracle its tests use."""
        import torch

        means = torch.as_tensor(self.means, dtype=torch.float64)
        var = torch.as_tensor(self.stds**2, dtype=torch.float64)
        logw = torch.as_tensor(np.log(self.weights), dtype=torch.float64)
        x64 = x.to(torch.float64)
        sq = ((x64[..., None, :] - means) ** 2).sum(-1)  # (..., K)
        logits = logw - 0.5 * self.dim * torch.log(var) - 0.5 * sq / var
        r = torch.softmax(logits, dim=-1) / var
        return (r @ means - r.sum(-1, keepdim=True) * x64).to(x.dtype)

    # the two forward processes
    def vp(self, alpha_bar: float) -> GaussianMixture:
        """q(x_t) for x_t = sqrt(abar) x_0 + sqrt(1 - abar) eps (variance preserving)."""
        if not 0.0 < alpha_bar <= 1.0:
            raise ValueError(f"alpha_bar must be in (0, 1], got {alpha_bar}")
        stds = np.sqrt(alpha_bar * self.stds**2 + (1.0 - alpha_bar))
        return GaussianMixture(np.sqrt(alpha_bar) * self.means, stds, self.weights)

    def ve(self, sigma: float) -> GaussianMixture:
        """q_sigma(x~) for x~ = x + sigma eps (variance exploding)."""
        if sigma < 0:
            raise ValueError(f"sigma must be >= 0, got {sigma}")
        return GaussianMixture(self.means, np.sqrt(self.stds**2 + sigma**2), self.weights)


def ring(k: int = 8, radius: float = 2.0, std: float = 0.1, weights=None) -> GaussianMixture:
    """K Gaussians on a circle: mu_k = radius (cos 2 pi k / K, sin 2 pi k / K), s_k = std."""
    if k < 1 or radius < 0 or std <= 0:
        raise ValueError(f"need k >= 1, radius >= 0, std > 0; got {k}, {radius}, {std}")
    angle = 2 * np.pi * np.arange(k) / k
    means = radius * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    w = np.full(k, 1.0 / k) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != (k,):
        raise ValueError(f"weights must have {k} entries, got {w.shape}")
    return GaussianMixture(means, np.full(k, float(std)), w / w.sum())


def from_config(m, weights=None) -> GaussianMixture:
    """The ring a mixture config describes (any object with k, radius and std)."""
    return ring(m.k, m.radius, m.std, weights)


def _logsumexp(a: np.ndarray) -> np.ndarray:
    m = np.max(a, axis=-1, keepdims=True)
    return (m + np.log(np.exp(a - m).sum(-1, keepdims=True)))[..., 0]
