"""Learning an inverse CDF from samples: the post's first generative model, in one dimension.

Inverse transform sampling draws u ~ U[0, 1] and returns x = F^{-1}(u). Without F we can still
learn f_theta ~ F^{-1} from samples x_1..x_n: sorted, x_(i) is the empirical quantile at
u_i = (i - 1/2) / n, so a network fitted to the pairs (u_i, x_(i)) by least squares recovers the
quantile function (in one dimension, sorting is the optimal transport map from U[0, 1]).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from blog.optim import Adam


def quantile_pairs(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(u_i, x_(i)): the empirical quantile function of the samples x (n,)."""
    n = len(x)
    return (np.arange(n) + 0.5) / n, np.sort(x)


def fit_quantile_net(x: np.ndarray, seed: int, steps: int = 600, hidden: int = 64
                     ) -> nn.Module:
    """f_theta: u -> x, an MLP fitted to the quantile pairs of x by least squares (Adam, its
    learning rate 3e-3 decayed to 0 on a cosine over the steps)."""
    u, q = quantile_pairs(x)
    # logit(u) as the input keeps the tails (u near 0 or 1) from being squeezed into a corner
    inp = torch.tensor(np.log(u / (1 - u)), dtype=torch.float32)[:, None]
    target = torch.tensor(q, dtype=torch.float32)[:, None]
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(1, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(),
                        nn.Linear(hidden, 1))
    opt = Adam(net.parameters())
    for step in range(steps):
        loss = ((net(inp) - target) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step(3e-3 * 0.5 * (1 + math.cos(math.pi * step / steps)))
    for p in net.parameters():
        p.grad = None
    return net.eval().requires_grad_(False)


def evaluate_quantile_net(net: nn.Module, u: np.ndarray) -> np.ndarray:
    """f_theta(u) for u in (0, 1)."""
    logit = torch.tensor(np.log(u / (1 - u)), dtype=torch.float32)[:, None]
    return net(logit)[:, 0].double().numpy()
