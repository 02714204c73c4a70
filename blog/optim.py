"""Adam (Kingma & Ba 2015, "Adam: A Method for Stochastic Optimization", Algorithm 1) on one flat
parameter vector, and the flat views it needs.

    g_t      = grad_theta f_t(theta_{t-1})
    m_t      = beta_1 m_{t-1} + (1 - beta_1) g_t                 (biased first moment)
    v_t      = beta_2 v_{t-1} + (1 - beta_2) g_t^2               (biased second raw moment)
    mhat_t   = m_t / (1 - beta_1^t),  vhat_t = v_t / (1 - beta_2^t)    (bias correction)
    theta_t  = theta_{t-1} - alpha mhat_t / (sqrt(vhat_t) + epsilon)

with m_0 = v_0 = 0 and t counted from 1; epsilon is added to sqrt(vhat_t), as in the paper (and
torch.optim.Adam). alpha may change between steps (the learning-rate schedule).

Why not torch.optim.Adam: building one imports torch._dynamo, over a second of CPU in every
process that trains, and its step walks a list of tensors. Here every parameter (and its gradient)
is a view into one flat vector, so a step is five element-wise operations on that vector, zeroing
the gradients is one, and an EMA of the weights is one `lerp_`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import nn


def flatten_(params: Iterable[nn.Parameter]) -> torch.Tensor:
    """Copy `params` into one flat float32 vector and make each parameter a view into it (in
    place, values unchanged); return the vector. Parameters must not share storage."""
    params = list(params)
    flat = torch.cat([p.detach().reshape(-1) for p in params]) if params else torch.zeros(0)
    offset = 0
    for p in params:
        n = p.numel()
        p.data = flat[offset:offset + n].view_as(p)
        offset += n
    return flat


def unflatten_(params: Iterable[nn.Parameter]) -> None:
    """Give each parameter its own storage again (values unchanged): what a caller saves then
    holds only its own tensors, not views into a shared vector."""
    for p in params:
        p.data = p.data.clone()


class Adam:
    """Algorithm 1 on the parameters of a model, flattened into one vector theta (flatten_).
    `step(alpha)` applies one update from the gradients the last backward() left in `grad`;
    `zero_grad()` clears them before the next backward()."""

    def __init__(self, params: Iterable[nn.Parameter], betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8):
        self.params = list(params)
        self.theta = flatten_(self.params)  # theta, shared with the model's parameters
        # the gradients, views into one vector too: backward() accumulates into them in place
        self.grad = torch.zeros_like(self.theta)
        offset = 0
        for p in self.params:
            p.grad = self.grad[offset:offset + p.numel()].view_as(p)
            offset += p.numel()
        self.m = torch.zeros_like(self.theta)  # m_t
        self.v = torch.zeros_like(self.theta)  # v_t
        self.beta1, self.beta2, self.eps = betas[0], betas[1], eps
        self.t = 0

    def zero_grad(self) -> None:
        self.grad.zero_()

    @torch.no_grad()
    def step(self, alpha: float) -> None:
        self.t += 1
        b1, b2, g = self.beta1, self.beta2, self.grad
        self.m.lerp_(g, 1 - b1)  # m_t = beta_1 m_{t-1} + (1 - beta_1) g_t
        self.v.mul_(b2).addcmul_(g, g, value=1 - b2)  # v_t = beta_2 v_{t-1} + (1 - beta_2) g_t^2
        # sqrt(vhat_t) + epsilon, then theta -= alpha / (1 - beta_1^t) * m_t / that
        denom = self.v.sqrt().div_(math.sqrt(1 - b2**self.t)).add_(self.eps)
        self.theta.addcdiv_(self.m, denom, value=-alpha / (1 - b1**self.t))
