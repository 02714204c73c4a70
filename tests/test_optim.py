"""blog.optim: Adam (Kingma & Ba 2015, Algorithm 1) on one flat parameter vector."""

import math

import torch
from torch import nn

from blog.optim import Adam, flatten_, unflatten_


def _net(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 5), nn.SiLU(), nn.Linear(5, 2))


def test_flatten_makes_views_with_the_same_values_and_unflatten_gives_own_storage():
    net = _net()
    before = [p.detach().clone() for p in net.parameters()]
    flat = flatten_(net.parameters())
    assert flat.numel() == sum(p.numel() for p in before)
    for p, b in zip(net.parameters(), before, strict=True):
        assert torch.equal(p, b)
        assert p.untyped_storage().data_ptr() == flat.untyped_storage().data_ptr()
    flat.add_(1.0)  # writes through to every parameter
    assert all(torch.equal(p, b + 1) for p, b in zip(net.parameters(), before, strict=True))
    unflatten_(net.parameters())
    flat.add_(1.0)  # no longer shared
    assert all(torch.equal(p, b + 1) for p, b in zip(net.parameters(), before, strict=True))


def test_two_steps_by_hand_on_one_scalar():
    """Algorithm 1 written out: g = 2 theta for f = theta^2."""
    theta = nn.Parameter(torch.tensor([1.5]))
    opt = Adam([theta], betas=(0.9, 0.999), eps=1e-8)
    th, m, v = 1.5, 0.0, 0.0
    for t, alpha in ((1, 0.1), (2, 0.05)):
        opt.zero_grad()
        (theta**2).sum().backward()
        opt.step(alpha)
        g = 2 * th
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        mhat, vhat = m / (1 - 0.9**t), v / (1 - 0.999**t)
        th = th - alpha * mhat / (math.sqrt(vhat) + 1e-8)
        assert math.isclose(theta.item(), th, rel_tol=1e-6)
    assert opt.t == 2


def test_gradients_accumulate_into_the_flat_vector_and_zero_grad_clears_them():
    net = _net()
    opt = Adam(net.parameters())
    x = torch.randn(7, 3)
    (net(x) ** 2).sum().backward()
    assert opt.grad.abs().sum() > 0
    expected = torch.cat([p.grad.reshape(-1) for p in net.parameters()])
    assert torch.equal(opt.grad, expected)
    opt.zero_grad()
    assert not opt.grad.any()


def test_it_follows_torch_adam_on_a_small_network():
    ours, ref = _net(1), _net(1)
    opt, ref_opt = Adam(ours.parameters()), torch.optim.Adam(ref.parameters(), lr=1e-2)
    gen = torch.Generator().manual_seed(0)
    for _ in range(30):
        x = torch.randn(16, 3, generator=gen)
        opt.zero_grad()
        (ours(x) ** 2).mean().backward()
        opt.step(1e-2)
        ref_opt.zero_grad()
        (ref(x) ** 2).mean().backward()
        ref_opt.step()
    for a, b in zip(ours.parameters(), ref.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
