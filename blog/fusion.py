"""When the noised ring stops looking like eight modes, and when it stops looking like a ring.

Both forward processes keep the data a ring of K equal Gaussians (blog.mixture): centres at radius
rho, each of width tau,

    VE:  rho = R,             tau^2 = w^2 + sigma^2
    VP:  rho = sqrt(abar) R,  tau^2 = abar w^2 + 1 - abar,

so the shape of q depends only on the ratio c = rho / tau, which falls as the noise grows. Two
values of c mark the changes of shape:

- the modes fuse into a ring at c_ring: the density along the segment between two neighbouring
  centres stops dipping in the middle (its second derivative there, the sum over all K modes,
  changes sign; one equation in c, solved by bisection). Two Gaussians alone fuse at distance
  2 tau (c = 1 / sin(pi / K)); for K = 8 the other modes of the ring make it happen earlier.
  (For K <= 4, c_ring <= c_blob: there is no ring stage.)
- the ring fills into one blob at c_blob = sqrt(2): the origin turns from a minimum of q into its
  maximum. For K >= 3 equally spaced centres sum_k mu_k mu_k^T = K rho^2 I / 2, so the Hessian of
  q at 0 is proportional to (c^2 / 2 - 1) I.

`fusion` turns each c into the noise level where it is reached, in both parametrisations.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

C_BLOB = math.sqrt(2.0)


def chord_curvature(c: float, k: int) -> float:
    """tau^2 / (K N(0)) times the second derivative of q along the segment between two
    neighbouring centres, at its midpoint, for a ring of K equal modes with rho / tau = c (in
    units tau = 1): sum_k exp(-|m - mu_k|^2 / 2) ((u . (m - mu_k))^2 - 1), u the unit chord."""
    half = math.pi / k  # the midpoint m lies at angle pi / K, at radius c cos(pi / K)
    m = (c * math.cos(half) * math.cos(half), c * math.cos(half) * math.sin(half))
    u = (-math.sin(half), math.cos(half))  # the chord from mu_0 to mu_1 is perpendicular to m
    total = 0.0
    for j in range(k):
        a = 2 * math.pi * j / k
        d = (m[0] - c * math.cos(a), m[1] - c * math.sin(a))
        total += math.exp(-(d[0] ** 2 + d[1] ** 2) / 2) * ((u[0] * d[0] + u[1] * d[1]) ** 2 - 1)
    return total


def c_ring(k: int) -> float:
    """The ratio rho / tau below which neighbouring modes of a ring of K are fused: the root of
    chord_curvature (positive, a dip, above it; negative below), by bisection."""
    if k < 3:
        raise ValueError(f"a ring needs K >= 3 modes, got {k}")
    lo, hi = 0.1, 1.0 / math.sin(math.pi / k) + 1.0  # curvature < 0 at lo, > 0 at hi
    if not (chord_curvature(lo, k) < 0 < chord_curvature(hi, k)):
        raise ValueError(f"no fusion threshold bracketed for K = {k}")
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if chord_curvature(mid, k) > 0 else (mid, hi)
    return (lo + hi) / 2


def abar_at(c: float, radius: float, width: float) -> float:
    """The abar where sqrt(abar) R / sqrt(abar w^2 + 1 - abar) = c."""
    return c**2 / (radius**2 + c**2 * (1 - width**2))


def sigma_at(c: float, radius: float, width: float) -> float:
    """The sigma where R / sqrt(w^2 + sigma^2) = c (0 if the data is already past it)."""
    return math.sqrt(max(radius**2 / c**2 - width**2, 0.0))


@dataclass(frozen=True)
class Threshold:
    """One change of shape: the ratio c = rho / tau, and the noise level reaching it."""

    c: float
    abar: float  # VP: the signal fraction abar_t at which q(x_t) reaches it
    sigma: float  # VE: the sigma at which q_sigma reaches it


def fusion(k: int, radius: float, width: float) -> dict[str, Threshold]:
    """{"ring": the modes fuse into a ring, "blob": the ring fills into one blob}; empty for
    K < 3, which is no ring."""
    out: dict[str, Threshold] = {}
    if k < 3:
        return out
    for name, c in (("ring", c_ring(k)), ("blob", C_BLOB)):
        out[name] = Threshold(c, abar_at(c, radius, width), sigma_at(c, radius, width))
    return out
