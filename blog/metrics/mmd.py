"""MMD^2 of a sample against the exact mixture, in closed form on the mixture's side.

Gretton et al. 2012 (JMLR 13, eq. 2-3) with k(x, y) = exp(-|x - y|^2 / (2 h^2)) and Q the sampler:

    MMD^2(Q, P) = E_Q k(x, x') - 2 E_Q g(x) + C,   g(x) = E_{Y~P} k(x, Y),  C = E_{Y,Y'~P} k(Y, Y').

For P = sum_k pi_k N(mu_k, s_k^2 I) both are Gaussian integrals (d dimensions):

    E k(x, Y), Y ~ N(mu, s^2 I):  (h^2 / (h^2 + s^2))^(d/2) exp(-|x - mu|^2 / (2 (h^2 + s^2))),
    E k(Y, Y'), Y' ~ N(mu', s'^2 I) independent:  the same with s^2 -> s^2 + s'^2 and x -> mu',

so no reference sample is drawn and only the sample's own term is estimated. The estimate is the
U-statistic of order 2 with kernel H(x, x') = k(x, x') - g(x) - g(x') + C:

    U = 1/(n(n-1)) sum_{i != j} H(x_i, x_j),       E U = MMD^2(Q, P) exactly.

Its variance (Hoeffding 1948) is 4(n-2)/(n(n-1)) zeta_1 + 2/(n(n-1)) zeta_2, zeta_1 = Var E[H | x],
zeta_2 = Var H. Both are estimated without bias from the row sums of H (the products H_ij H_ik
over distinct indices), so the interval is right also when Q = P, where zeta_1 = 0 and U is
degenerate, and a plug-in of the first-order projections would overstate its SD by sqrt(3).
Under Q = P the SD has a closed form: sqrt(2 zeta_2 / (n(n-1))), zeta_2 = E k^2 - 2 E g^2 + C^2.

A paired difference U_a - U_b of two samples whose i-th points are drawn together is the same
U-statistic over the pairs, with kernel H_a - H_b: its interval comes from the same formulas.
The O(n^2) sums run over tiles of the upper triangle (float64, bounded memory), the points in
angular order so that the tiles between far-apart modes (every kernel value below 1e-26) can be
skipped. The kernel's exp is torch's (vectorised: several times NumPy's scalar float64 exp on a
CPU without AVX-512, equal to within an ulp), on one thread, on the tile NumPy allocated.
"""

from __future__ import annotations

import math

import numpy as np

from blog.metrics.estimate import Z95, Estimate, normal
from blog.mixture import GaussianMixture

BLOCK = 256  # tile side of the O(n^2) pass: 0.5 MiB of float64 per kernel tile
LOG_K_FLOOR = -350.0  # kernel values below e^-350 ~ 1e-152 are raised to it: far below the
#                       resolution of every sum here, and it keeps exp (and k^2) out of the slow
#                       subnormal range
LOG_K_NEGLIGIBLE = -60.0  # a tile whose every kernel value is below e^-60 ~ 1e-26 is skipped:
#                           each sum it would join is >= 1e-26 n smaller than the float64
#                           resolution of that sum (a pair's term is at most 1)


# closed forms on the mixture's side
def _overlap(a: np.ndarray, b: np.ndarray, var: np.ndarray, h: float, d: int) -> np.ndarray:
    """E exp(-|X - Y|^2 / 2h^2) for independent Gaussians X, Y with means a, b (..., d) whose
    variances add up to var (...): (h^2 / (h^2 + var))^(d/2) exp(-|a - b|^2 / 2(h^2 + var))."""
    v = h * h + var
    return (h * h / v) ** (d / 2) * np.exp(-((a - b) ** 2).sum(-1) / (2 * v))


def kernel_mean(x: np.ndarray, p: GaussianMixture, h: float) -> np.ndarray:
    """g(x) = E_{Y~p} k(x, Y), shape (N,)."""
    x = np.asarray(x, np.float64)
    return _overlap(x[:, None, :], p.means, p.stds**2, h, p.dim) @ p.weights


def cross_mean(q: GaussianMixture, p: GaussianMixture, h: float) -> float:
    """E k(X, Y), X ~ q, Y ~ p independent."""
    var = q.stds[:, None] ** 2 + p.stds[None, :] ** 2
    ov = _overlap(q.means[:, None, :], p.means[None], var, h, p.dim)
    return float(q.weights @ ov @ p.weights)


def mmd2_between(q: GaussianMixture, p: GaussianMixture, h: float) -> float:
    """The population MMD^2(q, p) of two mixtures, exactly."""
    return cross_mean(q, q, h) - 2 * cross_mean(q, p, h) + cross_mean(p, p, h)


def _mean_g_squared(p: GaussianMixture, h: float) -> float:
    """E_{X~p} g(X)^2: g^2 is a sum of products of two Gaussian bumps, each product one bump."""
    d, pi, mu = p.dim, p.weights, p.means
    v = h * h + p.stds**2  # (K,) widths of the bumps of g
    c = (h * h / v) ** (d / 2)
    vk, vl = v[:, None], v[None, :]
    scale = np.exp(-((mu[:, None] - mu[None]) ** 2).sum(-1) / (2 * (vk + vl)))  # (K, K)
    w = vk * vl / (vk + vl)  # (K, K) width of the product bump
    m = (vl[..., None] * mu[:, None] + vk[..., None] * mu[None]) / (vk + vl)[..., None]
    # E_{X ~ N(mu_j, s_j^2)} exp(-|X - m|^2 / 2w) = (w / (w + s_j^2))^(d/2) exp(-|m - mu_j|^2 / ...)
    wj = w[..., None] + p.stds**2  # (K, K, K)
    inner = (w[..., None] / wj) ** (d / 2) * np.exp(
        -((m[:, :, None, :] - mu[None, None]) ** 2).sum(-1) / (2 * wj))
    return float(np.einsum("k,l,j,k,l,kl,klj->", pi, pi, pi, c, c, scale, inner))


def null_sd(p: GaussianMixture, n: int, h: float) -> float:
    """SD of U on n exact samples: sqrt(2 (E k^2 - 2 E g^2 + C^2) / (n (n-1)))."""
    mean_k2 = cross_mean(p, p, h / math.sqrt(2))  # k^2 is the kernel of bandwidth h / sqrt 2
    zeta2 = mean_k2 - 2 * _mean_g_squared(p, h) + cross_mean(p, p, h) ** 2
    return math.sqrt(2 * max(zeta2, 0.0) / (n * (n - 1)))


# the O(n^2) pass over the sample(s)
def _row_sums(xs: list[np.ndarray], gs: list[np.ndarray], h: float,
              labels: np.ndarray | None = None):
    """For L samples of n points, with K^a_ij = k(x^a_i, x^a_j) for i != j and 0 on the diagonal:
    kv[a] (n, 1 + L) = K^a @ [1, g^1 .. g^L], kk[a, b] (n,) = sum_j K^a_ij K^b_ij (a <= b).

    The points are visited grouped by `labels` (if given, see _pair_labels) and in the order of
    their angle about the origin within a group (the same order for every sample: pairs stay
    pairs), in tiles that never straddle two groups, so a tile holds neighbours; a tile whose two
    blocks' bounding boxes are so far apart in every sample that each kernel value is below
    e^LOG_K_NEGLIGIBLE is skipped: on the ring the modes never meet, and most tiles are such.
    The sums are those of the full pass to float64 resolution, in another order; the results
    come back in the caller's order."""
    n = len(xs[0])
    order = _neighbour_order(xs[0], labels)
    bounds = _block_bounds(None if labels is None else labels[order], n)
    kv, kk = _row_sums_ordered([x[order] for x in xs], [g[order] for g in gs], h, bounds)
    inverse = np.empty(n, dtype=np.intp)
    inverse[order] = np.arange(n)
    return [k[inverse] for k in kv], {ab: acc[inverse] for ab, acc in kk.items()}


def _neighbour_order(x: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray:
    """The points sorted by their angle about the origin (stable: ties keep their order), within
    each label when labels (n,) are given."""
    angle = np.arctan2(x[:, 1], x[:, 0]) if x.shape[1] >= 2 else x[:, 0]
    if labels is None:
        return np.argsort(angle, kind="stable")
    return np.lexsort((angle, labels))


def _block_bounds(labels: np.ndarray | None, n: int | None = None,
                  block: int | None = None) -> np.ndarray:
    """Tile boundaries [0, ..., n] over points in order: every `block` points, and (labels, in
    order, (n,)) wherever the label changes, so that no tile holds two labels."""
    block = block or BLOCK
    if labels is None:
        return np.append(np.arange(0, n, block), n)
    n = len(labels)
    runs = np.flatnonzero(np.diff(labels)) + 1  # where each later label starts
    starts, stops = np.append(0, runs), np.append(runs, n)
    inner = [np.arange(a, b, block) for a, b in zip(starts, stops, strict=True)]
    return np.append(np.concatenate(inner), n)


def far_tiles(xs: list[np.ndarray], h: float, bounds: np.ndarray | None = None) -> np.ndarray:
    """far[I, J]: in every sample, every point of block I is so far from every point of block J
    that the kernel is negligible, |x - y|^2 / 2h^2 >= -LOG_K_NEGLIGIBLE. Blocks run between
    consecutive `bounds` (default: every BLOCK points)."""
    if bounds is None:
        bounds = _block_bounds(None, len(xs[0]))
    far = None
    for x in xs:
        lo = np.minimum.reduceat(x, bounds[:-1])  # (B, d)
        hi = np.maximum.reduceat(x, bounds[:-1])
        gap = np.maximum(0.0, np.maximum(lo[:, None] - hi[None], lo[None] - hi[:, None]))
        f = (gap**2).sum(-1) / (2 * h * h) >= -LOG_K_NEGLIGIBLE
        far = f if far is None else far & f
    return far


def _row_sums_ordered(xs: list[np.ndarray], gs: list[np.ndarray], h: float,
                      bounds: np.ndarray | None = None):
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the caller's setting never changes a result, nor the CPU it takes
    try:
        return _row_sums_tiles(xs, gs, h, torch,
                               _block_bounds(None, len(xs[0])) if bounds is None else bounds)
    finally:
        torch.set_num_threads(threads)


def _row_sums_tiles(xs: list[np.ndarray], gs: list[np.ndarray], h: float, torch,
                    bounds: np.ndarray):
    n, L = len(xs[0]), len(xs)
    v = np.column_stack([np.ones(n), *gs])  # (n, 1 + L)
    kv = [np.zeros((n, 1 + L)) for _ in xs]
    kk = {(a, b): np.zeros(n) for a in range(L) for b in range(a, L)}
    far = far_tiles(xs, h, bounds)
    # -|x - y|^2 / 2h^2 = [x / h^2, -|x|^2 / 2h^2, -1] . [y, 1, |y|^2 / 2h^2]: one product per tile
    left, right = [], []
    for x in xs:
        half_sq = (x * x).sum(1) / (2 * h * h)
        left.append(np.column_stack([x / (h * h), -half_sq, -np.ones(n)]))
        right.append(np.column_stack([x, np.ones(n), half_sq]))
    blocks = [slice(a, b) for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True)]
    for bi, rows in enumerate(blocks):
        for bj in range(bi, len(blocks)):
            cols = blocks[bj]
            if far[bi, bj]:  # every entry negligible (never on the diagonal)
                continue
            tiles = []
            for lf, rt in zip(left, right, strict=True):
                t = lf[rows] @ rt[cols].T
                torch.from_numpy(t).clamp_(LOG_K_FLOOR, 0.0).exp_()  # in place, on t
                if bi == bj:
                    np.fill_diagonal(t, 0.0)
                tiles.append(t)
            for a, t in enumerate(tiles):
                kv[a][rows] += t @ v[cols]
                if bi != bj:
                    kv[a][cols] += t.T @ v[rows]
            for (a, b), acc in kk.items():
                prod = tiles[a] * tiles[b]
                acc[rows] += prod.sum(1)
                if bi != bj:
                    acc[cols] += prod.sum(0)
    return kv, kk


def _pair_labels(xs: list[np.ndarray], p: GaussianMixture) -> np.ndarray | None:
    """For paired samples (L >= 2), the tuple of the centres nearest x^1_i .. x^L_i as one
    integer per i (N,): the groups the tiles keep apart. A pair whose points sit in two different
    modes would otherwise stretch its tile's bounding box in one sample across the ring, and
    hardly any tile could be skipped. None for one sample (its angular order suffices)."""
    if len(xs) < 2:
        return None
    labels = np.zeros(len(xs[0]), dtype=np.int64)
    for x in xs:
        nearest = (((x[:, None, :] - p.means[None]) ** 2).sum(-1)).argmin(1)
        labels = labels * p.n_components + nearest
    return labels


def _h_row_stats(xs: list[np.ndarray], coef: list[float], p: GaussianMixture, h: float):
    """(R, Q) for H = sum_a coef_a H^a: R_i = sum_{j!=i} H_ij, Q_i = sum_{j!=i} H_ij^2."""
    n = len(xs[0])
    gs = [kernel_mean(x, p, h) for x in xs]
    kv, kk = _row_sums(xs, gs, h, _pair_labels(xs, p))
    c = cross_mean(p, p, h)
    alpha = [g - c for g in gs]  # H^a_ij = K^a_ij - alpha^a_i - g^a_j
    G = [g.sum() for g in gs]
    R = sum(cf * (kv[a][:, 0] - (n - 1) * alpha[a] - (G[a] - gs[a]))
            for a, cf in enumerate(coef))
    Q = np.zeros(n)
    for a, ca in enumerate(coef):
        for b, cb in enumerate(coef):
            r_a, r_b = kv[a][:, 0], kv[b][:, 0]
            cross = (kk[min(a, b), max(a, b)] - alpha[b] * r_a - kv[a][:, 1 + b]
                     - alpha[a] * r_b + (n - 1) * alpha[a] * alpha[b]
                     + alpha[a] * (G[b] - gs[b]) - kv[b][:, 1 + a]
                     + alpha[b] * (G[a] - gs[a]) + (gs[a] @ gs[b] - gs[a] * gs[b]))
            Q += ca * cb * cross  # sum_{j!=i} H^a_ij H^b_ij
    return R, Q


def _u_statistic(R: np.ndarray, Q: np.ndarray) -> tuple[float, float, float]:
    """(U, zeta_1, zeta_2) from the row sums of a symmetric kernel H, the zetas estimated without
    bias (then clipped at 0) from A = E H_12^2, B = E H_12 H_13 and theta^2 = E H_12 H_34, each
    averaged over distinct indices: zeta_2 = A - theta^2, zeta_1 = B - theta^2."""
    n = len(R)
    t1, t2 = R.sum(), Q.sum()  # sum_{i!=j} H_ij, sum_{i!=j} H_ij^2
    t3 = (R * R).sum() - t2  # sum over distinct i, j, k of H_ij H_ik
    t4 = t1 * t1 - 4 * t3 - 2 * t2  # sum over distinct i, j, k, l of H_ij H_kl
    n2, n3, n4 = n * (n - 1), n * (n - 1) * (n - 2), n * (n - 1) * (n - 2) * (n - 3)
    theta2 = t4 / n4
    return float(t1 / n2), float(max(t3 / n3 - theta2, 0.0)), float(max(t2 / n2 - theta2, 0.0))


def _variance_weights(n: int) -> tuple[float, float]:
    """Var U = c1 zeta_1 + c2 zeta_2 (Hoeffding 1948)."""
    return 4 * (n - 2) / (n * (n - 1)), 2 / (n * (n - 1))


def _bisect(f, a: float, b: float) -> float:
    """The crossing of f from f(a) > 0 to f(b) <= 0 on the segment [a, b] (either order)."""
    for _ in range(200):
        m = 0.5 * (a + b)
        if m in (a, b):
            break
        a, b = (m, b) if f(m) > 0 else (a, m)
    return b


def mmd2(x: np.ndarray, p: GaussianMixture, h: float, z: float = Z95) -> Estimate:
    """Unbiased MMD^2 of the sample x (n, d) against p, with its 95 % interval.

    The interval is the set of theta with |U - theta| <= z sqrt(c1 min(zeta_1, theta) + c2 zeta_2),
    using zeta_1 = Var_Q w(X) <= ||w||^2 sup k = theta (w the witness function, k(x, x) = 1).
    The plain U +- z sd would cover 0 in about 98.5 % of exact samples, not 95 %: when U is
    large by chance, the estimated zeta_1 is too (they share the same degenerate noise). With the
    bound, the interval covers theta = 0 at the nominal rate; just above 0 it is conservative, and
    far from 0 it is the plain normal interval."""
    n = len(x)
    u, zeta1, zeta2 = _u_statistic(*_h_row_stats([np.asarray(x, np.float64)], [1.0], p, h))
    c1, c2 = _variance_weights(n)

    def sd(theta: float) -> float:
        return math.sqrt(c1 * min(zeta1, max(theta, 0.0)) + c2 * zeta2)

    reach = 2 * z * sd(math.inf)  # beyond the widest half-width: f > 0 there
    lo = _bisect(lambda t: (u - t) - z * sd(t), u - reach, u)
    hi = _bisect(lambda t: (t - u) - z * sd(t), u + reach, u)
    return Estimate(u, lo, hi, n, sd(u))


def mmd2_paired(xa: np.ndarray, xb: np.ndarray, p: GaussianMixture, h: float) -> Estimate:
    """U_a - U_b for two samples of equal size whose i-th points are drawn together: the
    U-statistic over the pairs with kernel H_a - H_b, interval U +- z sqrt(c1 zeta_1 + c2 zeta_2).
    When both samplers are exact it covers 0 in about 97.5 % of draws (conservative, for the
    reason given in `mmd2`; no bound on zeta_1 in terms of the difference exists)."""
    xs = [np.asarray(xa, np.float64), np.asarray(xb, np.float64)]
    u, zeta1, zeta2 = _u_statistic(*_h_row_stats(xs, [1.0, -1.0], p, h))
    c1, c2 = _variance_weights(len(xa))
    return normal(u, math.sqrt(c1 * zeta1 + c2 * zeta2), len(xa))
