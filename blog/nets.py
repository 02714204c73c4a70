"""The one small network every model of the post uses: an MLP conditioned on a scalar.

    h_0 = SiLU(W_0 x + b_0 + E_0 e(c)),  h_l = SiLU(W_l h_{l-1} + b_l + E_l e(c)),
    out = W_out h_L + b_out,  E_l e = Linear_l(SiLU(Linear(emb(c))))

e(c) is the sinusoidal embedding of Vaswani et al. (2017, sec. 3.5), as DDPM uses for t (Ho et al.
2020, appendix B), applied to c in [0, 1] (t / T for DDPM, the position of log sigma in the NCSN
ladder); its frequencies run geometrically from 1 to `max_freq`. Adding the projected embedding to
every layer (rather than only concatenating it to the input) is what makes the conditional MLP
train in seconds. With `emb_dim = 0` the MLP is unconditional (the VAE's encoder and decoder).

With `fourier` > 0 the input is first lifted to random Fourier features (Tancik et al. 2020,
"Fourier Features Let Networks Learn High Frequency Functions in Low Dimensional Domains", eq. 5):
    gamma(x) = [x, sin(2 pi x B), cos(2 pi x B)],  B (d_in, fourier) ~ N(0, fourier_scale^2),
drawn once at initialisation and saved with the weights: a 2-D input becomes one the first layer
can cut into sharp, many-sided regions (the noised mixture's field between its modes).
"""

from __future__ import annotations

import math

import torch
from torch import nn


def sinusoidal_embedding(c: torch.Tensor, dim: int, max_freq: float = 1000.0) -> torch.Tensor:
    """(N,) -> (N, dim): [sin(f_j c), cos(f_j c)], f_j = max_freq^(j / (dim/2 - 1)), j < dim/2."""
    half = dim // 2
    freqs = torch.exp(torch.linspace(0.0, math.log(max_freq), half, dtype=torch.float32))
    arg = c.to(torch.float32)[:, None] * freqs  # (N, half)
    return torch.cat([torch.sin(arg), torch.cos(arg)], dim=1)


class MLP(nn.Module):
    """x (N, d_in) [, c (N,)] -> (N, d_out), `depth` hidden SiLU layers of width `hidden`, on
    x or on its `fourier` random Fourier features."""

    def __init__(self, d_in: int, d_out: int, hidden: int = 128, depth: int = 3,
                 emb_dim: int = 0, max_freq: float = 1000.0, fourier: int = 0,
                 fourier_scale: float = 1.0):
        super().__init__()
        self.emb_dim, self.max_freq = emb_dim, max_freq
        # 2 pi B: a buffer, saved with the weights and never trained (None: no features)
        self.register_buffer("fourier_B", 2 * math.pi * fourier_scale
                             * torch.randn(d_in, fourier) if fourier else None)
        widths = [d_in + 2 * fourier] + [hidden] * depth
        self.layers = nn.ModuleList(nn.Linear(a, b)
                                    for a, b in zip(widths, widths[1:], strict=False))
        if emb_dim:
            self.embed = nn.Sequential(nn.Linear(emb_dim, hidden), nn.SiLU())
            self.film = nn.ModuleList(nn.Linear(hidden, hidden) for _ in range(depth))
        self.out = nn.Linear(hidden, d_out)

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        # one bias per layer: b_l + E_l e(c), (hidden,) or (N, hidden)
        biases = [layer.bias for layer in self.layers]
        if self.emb_dim:
            levels, index = _levels(c)  # each distinct c is embedded once: (U,), (N,) or None
            e = self.embed(sinusoidal_embedding(levels, self.emb_dim, self.max_freq))  # (U, hidden)
            biases = [b + film(e) for b, film in zip(biases, self.film, strict=True)]
            if index is not None:
                biases = [b[index] for b in biases]  # (N, hidden)
        # without autograd (sampling) the activations are overwritten in place: half the time
        inplace = not torch.is_grad_enabled()
        h = x
        if self.fourier_B is not None:
            xb = x @ self.fourier_B  # (N, fourier)
            h = torch.cat([x, torch.sin(xb), torch.cos(xb)], dim=1)
        for layer, bias in zip(self.layers, biases, strict=True):
            h = nn.functional.silu(torch.addmm(bias, h, layer.weight.t()), inplace=inplace)
        return self.out(h)


def _levels(c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The distinct values of c (N,) and the index of each c among them; (c[:1], None) when all
    are equal (a sampler's step), so the caller broadcasts instead of gathering."""
    c = c.reshape(-1)
    if c.numel() == 1 or bool((c == c[0]).all()):
        return c[:1], None
    return torch.unique(c, return_inverse=True)


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def init_seeded(build, seed: int) -> nn.Module:
    """build() under a private torch RNG seeded with `seed`: weights independent of global state."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()
