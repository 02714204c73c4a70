"""blog.score: denoising score matching and (annealed) Langevin dynamics against closed forms."""

from __future__ import annotations

import numpy as np
import torch

from blog import metrics, score
from blog.mixture import ring

MIX = ring(8, 2.0, 0.1)


def test_sigma_ladder_is_geometric_from_max_to_min():
    s = score.sigma_ladder(3.0, 0.01, 10)
    assert s.dtype == torch.float64 and s[0] == 3.0 and abs(s[-1] - 0.01) < 1e-12
    ratios = s[:-1] / s[1:]
    torch.testing.assert_close(ratios, torch.full_like(ratios, ratios[0].item()))


def test_exact_score_is_the_ve_mixture_score():
    x = torch.randn(6, 2, dtype=torch.float64)
    want = torch.from_numpy(MIX.ve(0.3).score(x.numpy()))
    torch.testing.assert_close(score.exact_score(MIX)(x, 0.3), want)


class _Exact(torch.nn.Module):
    """The exact score in the network's signature (x, sigma (N,)), scaled by `gain`."""

    def __init__(self, gain: float = 1.0):
        super().__init__()
        self.gain = gain

    def forward(self, x, sigma):
        out = torch.empty_like(x)
        for s in torch.unique(sigma).tolist():
            m = sigma == s
            out[m] = MIX.ve(s).score_torch(x[m])
        return self.gain * out


def test_the_exact_score_minimises_denoising_score_matching():
    sigmas = score.sigma_ladder(3.0, 0.01, 10)
    x = torch.from_numpy(MIX.sample(20_000, np.random.default_rng(0))).float()

    def loss_of(model):
        return score.dsm_loss(model, x, sigmas, torch.Generator().manual_seed(1)).item()

    assert loss_of(_Exact()) < loss_of(_Exact(1.1))
    assert loss_of(_Exact()) < loss_of(_Exact(0.9))


def test_annealed_langevin_with_the_exact_score_reproduces_the_mixture():
    g = torch.Generator().manual_seed(0)
    sigmas = score.sigma_ladder(3.0, 0.01, 10)
    steps = list(score.annealed_langevin(score.exact_score(MIX), score.initial_noise(2000, 3.0, g),
                                         sigmas, 5e-5, 100, g))
    assert len(steps) == 1 + 10 * 100 + 1  # x_0, every step, the denoised x
    r = metrics.evaluate(steps[-1].numpy(), MIX)
    assert metrics.modes_covered(steps[-1].numpy(), MIX) == 8 and r.within_3sd.value > 0.97
    assert r.mmd2.value < 5e-4 + 2 * r.mmd2_null_sd


def test_plain_langevin_gets_mode_weights_wrong_even_with_the_exact_score():
    """Song & Ermon sec. 3.2.2: two modes weighted 0.8 / 0.2. Plain Langevin at a small noise level
    cannot move mass between separated modes, so the shares follow the basins of the starting
    noise (about 1/2 each); annealing recovers the weights."""
    two = ring(2, 2.0, 0.1, weights=[0.8, 0.2])
    g = torch.Generator().manual_seed(0)
    x = score.initial_noise(4000, 3.0, g)
    plain = list(score.langevin(score.exact_score(two), x, 0.01, 1e-3, 1000, g))[-1]
    annealed = list(score.annealed_langevin(score.exact_score(two), x,
                                            score.sigma_ladder(3.0, 0.01, 10), 5e-5, 100, g))[-1]
    share_plain = metrics.mode_shares(plain.numpy(), two)[0]
    share_annealed = metrics.mode_shares(annealed.numpy(), two)[0]
    assert abs(share_plain - 0.5) < 0.05
    assert abs(share_annealed - 0.8) < 0.03


def test_score_net_divides_by_sigma():
    from blog.config import load

    net = score.ScoreNet(load("fast").score)
    x = torch.randn(5, 2)
    s1 = net(x, torch.full((5,), 0.1))
    assert s1.shape == (5, 2)
    torch.testing.assert_close(net.score_fn(x, 0.1), s1)
