"""blog.nets: the conditional MLP's three bias layouts (one level, equal groups, any levels)."""

import torch

from blog.nets import MLP, _levels, init_seeded


def _mlp(fourier: int = 0) -> MLP:
    return init_seeded(lambda: MLP(2, 2, hidden=16, depth=3, emb_dim=8, fourier=fourier), 0)


def test_levels_recognises_one_level_equal_runs_and_anything_else():
    c = torch.full((6,), 0.3)
    levels, groups, index = _levels(c)
    assert groups is None and index is None and torch.equal(levels, c[:1])
    c = torch.tensor([0.5, 0.5, 0.1, 0.1, 0.9, 0.9])
    levels, groups, index = _levels(c)
    assert groups == 2 and index is None and torch.equal(levels, c[::2])
    # unequal runs, or equal values that are not contiguous: the gather
    for c in (torch.tensor([0.5, 0.5, 0.5, 0.1, 0.9, 0.9]),
              torch.tensor([0.5, 0.1, 0.5, 0.1, 0.9, 0.9])):
        levels, groups, index = _levels(c)
        assert groups is None and torch.equal(levels[index], c)


def test_grouped_levels_give_the_gather_paths_output_and_gradients():
    """U groups of G consecutive samples (a training minibatch with t_draws levels) take the
    reshape path; the same samples shuffled take the gather path: same values, same gradients."""
    for fourier in (0, 4):
        net = _mlp(fourier)
        gen = torch.Generator().manual_seed(1)
        x = torch.randn(24, 2, generator=gen)
        c = torch.rand(6, generator=gen).repeat_interleave(4)
        assert _levels(c)[1] == 4
        perm = torch.randperm(24, generator=gen)
        assert _levels(c[perm])[2] is not None

        weights = torch.linspace(-1, 1, 48).reshape(24, 2)  # a loss that weighs every output

        def run(x, c, w, net=net):
            net.zero_grad()
            out = net(x, c)
            (out * w).sum().backward()
            return out, [p.grad.clone() for p in net.parameters()]

        grouped, g_grouped = run(x, c, weights)
        gathered, g_gathered = run(x[perm], c[perm], weights[perm])
        torch.testing.assert_close(gathered, grouped[perm])
        for a, b in zip(g_grouped, g_gathered, strict=True):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_without_autograd_the_grouped_path_matches_too():
    net = _mlp()
    x = torch.randn(12, 2)
    c = torch.tensor([0.2, 0.7, 0.4]).repeat_interleave(4)
    with torch.no_grad():
        grouped = net(x, c)
        per_level = torch.cat([net(x[4 * i:4 * i + 4], c[4 * i:4 * i + 4]) for i in range(3)])
    torch.testing.assert_close(grouped, per_level)
