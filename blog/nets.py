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
        # one bias per layer: b_l + E_l e(c), (hidden,) or one row per distinct c, (U, hidden)
        biases = [layer.bias for layer in self.layers]
        groups = index = None
        if self.emb_dim:
            # each distinct c is embedded once: levels (U,), and how the N samples map to them
            levels, groups, index = _levels(c)
            e = self.embed(sinusoidal_embedding(levels, self.emb_dim, self.max_freq))  # (U, hidden)
            biases = [b + film(e) for b, film in zip(biases, self.film, strict=True)]
            if index is not None:
                biases = [b.index_select(0, index) for b in biases]  # (N, hidden)
        # without autograd (sampling) the activations are overwritten in place: half the time
        inplace = not torch.is_grad_enabled()
        h = x
        if self.fourier_B is not None:
            xb = x @ self.fourier_B  # (N, fourier)
            h = torch.cat([x, torch.sin(xb), torch.cos(xb)], dim=1)
        for layer, bias in zip(self.layers, biases, strict=True):
            if groups is None:
                h = torch.addmm(bias, h, layer.weight.t())
            else:  # U groups of N / U consecutive samples: a broadcast add, not a gather
                h = torch.mm(h, layer.weight.t())  # (N, hidden)
                h = (h.view(-1, groups, h.shape[1]) + bias[:, None]).view(h.shape)
            h = nn.functional.silu(h, inplace=inplace)
        return self.out(h)


def _levels(c: torch.Tensor) -> tuple[torch.Tensor, int | None, torch.Tensor | None]:
    """(levels, groups, index): the distinct values of c (N,) and how each c maps to them.
    (c[:1], None, None) when all are equal (a sampler's step: the caller broadcasts);
    (c[::G], G, None) when c is U runs of G = N / U equal values (a training minibatch whose
    levels were drawn once per G samples: the caller reshapes to (U, G, .)); otherwise the sorted
    distinct values and the index of each c among them (the caller gathers)."""
    c = c.reshape(-1)
    n = c.numel()
    runs = 1 + int((c[1:] != c[:-1]).sum()) if n > 1 else 1
    if runs == 1:
        return c[:1], None, None
    if n % runs == 0:
        g = n // runs
        grid = c.view(runs, g)  # (U, G)
        if bool((grid == grid[:, :1]).all()):
            return grid[:, 0], g, None
    levels, index = torch.unique(c, return_inverse=True)
    return levels, None, index


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def init_seeded(build, seed: int) -> nn.Module:
    """build() under a private torch RNG seeded with `seed`: weights independent of global state."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()
