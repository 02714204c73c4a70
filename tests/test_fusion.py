"""blog.fusion: the noise levels where the ring's modes fuse and where the ring fills, checked
against the closed-form density of the noised mixture itself (blog.mixture), point by point."""

from __future__ import annotations

import math

import numpy as np
import pytest

from blog.fusion import C_BLOB, abar_at, c_ring, fusion, sigma_at
from blog.mixture import GaussianMixture, ring


def maxima(p: np.ndarray) -> int:
    """Strict interior local maxima of a 1-D profile, plus a maximum at either end."""
    inner = int(((p[1:-1] > p[:-2]) & (p[1:-1] > p[2:])).sum())
    return inner + int(p[0] > p[1]) + int(p[-1] > p[-2])


def chord_profile(q: GaussianMixture) -> np.ndarray:
    """q along the segment between the first two centres."""
    s = np.linspace(0.0, 1.0, 4001)[:, None]
    return q.prob(q.means[0] + s * (q.means[1] - q.means[0]))


def ray_profile(q: GaussianMixture) -> np.ndarray:
    """q along the ray from the origin through the first centre, out to twice its radius."""
    r = np.linspace(0.0, 2.0, 4001)[:, None] * q.means[0]
    return q.prob(r)


@pytest.mark.parametrize("k", [4, 8, 12])
def test_neighbouring_modes_fuse_exactly_at_c_ring(k):
    c = c_ring(k)
    # ring of K modes of width 1 at radius c * (1 +- 1 %): a dip in the middle of the chord
    # just above the threshold, one maximum just below
    above, below = ring(k, c * 1.01, 1.0), ring(k, c * 0.99, 1.0)
    assert maxima(chord_profile(above)) == 2
    assert maxima(chord_profile(below)) == 1


def test_two_modes_alone_would_fuse_later_than_the_ring_does():
    """The pair criterion (distance 2 tau) is the classical one; the ring's other modes fill the
    gap sooner, so the ring fuses at a smaller noise level (a larger c)."""
    pair = 1 / math.sin(math.pi / 8)
    assert c_ring(8) < pair
    two = GaussianMixture(ring(8, pair * 1.01, 1.0).means[:2], np.ones(2), np.full(2, 0.5))
    assert maxima(chord_profile(two)) == 2


@pytest.mark.parametrize("k", [3, 8, 12])
def test_the_origin_turns_from_a_minimum_into_the_maximum_exactly_at_c_blob(k):
    h = 1e-3  # q at the origin against q on a small circle around it
    circle = h * np.stack([np.cos(np.linspace(0, 2 * np.pi, 64)),
                           np.sin(np.linspace(0, 2 * np.pi, 64))], axis=-1)
    above, below = ring(k, C_BLOB * 1.01, 1.0), ring(k, C_BLOB * 0.99, 1.0)
    assert (above.prob(circle) > above.prob(np.zeros(2))).all()  # a hole in the middle
    assert (below.prob(circle) < below.prob(np.zeros(2))).all()


def test_the_ring_of_eight_has_no_ring_of_maxima_left_past_c_blob():
    above, below = ring(8, C_BLOB * 1.01, 1.0), ring(8, C_BLOB * 0.99, 1.0)
    assert maxima(ray_profile(above)) == 1 and ray_profile(above).argmax() > 0  # a ring
    assert ray_profile(below).argmax() == 0 and maxima(ray_profile(below)) == 1  # a blob


def test_thresholds_in_both_parametrisations_reach_the_ratio():
    k, radius, width = 8, 2.0, 0.1
    t = fusion(k, radius, width)
    assert t["ring"].c > t["blob"].c
    for th in t.values():
        q_vp = ring(k, radius, width).vp(th.abar)
        q_ve = ring(k, radius, width).ve(th.sigma)
        for q in (q_vp, q_ve):
            rho = np.linalg.norm(q.means[0])
            assert rho / q.stds[0] == pytest.approx(th.c, rel=1e-9)
    # more noise is needed to fill the ring than to fuse its modes
    assert t["blob"].abar < t["ring"].abar and t["blob"].sigma > t["ring"].sigma


def test_forward_process_noise_levels_match_a_brute_force_scan():
    """Scan abar on a fine grid with the mixture's own density: the first abar (from 1 down)
    where the chord stops dipping, and where the origin becomes the maximum."""
    mix = ring(8, 2.0, 0.1)
    t = fusion(8, 2.0, 0.1)
    grid = np.linspace(0.99, 0.2, 791)
    fused = next(a for a in grid if maxima(chord_profile(mix.vp(a))) == 1)
    blob = next(a for a in grid if ray_profile(mix.vp(a)).argmax() == 0)
    assert fused == pytest.approx(t["ring"].abar, abs=2e-3)
    assert blob == pytest.approx(t["blob"].abar, abs=2e-3)


def test_no_ring_below_three_modes_and_data_already_past_a_threshold():
    with pytest.raises(ValueError, match="K >= 3"):
        c_ring(2)
    assert fusion(2, 2.0, 0.1) == {}
    assert sigma_at(10.0, 1.0, 0.5) == 0.0
    assert abar_at(C_BLOB, 2.0, 0.1) == pytest.approx(2 / (4 + 2 - 2 * 0.01))
