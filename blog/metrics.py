"""How close a set of 2-D samples is to the mixture, against fresh exact samples. NumPy only.

- within_3sigma: fraction of samples within 3 sigma of their nearest centre (for exact samples of
  an isotropic 2-D Gaussian that is 1 - exp(-9/2) = 98.9 %);
- modes covered: centres holding at least `min_share` of their expected count within 3 sigma;
- per-mode balance: shares by nearest centre and max_k |share_k / pi_k - 1|;
- MMD^2 (Gretton et al. 2012, eq. 3, the unbiased estimate) with a Gaussian kernel of bandwidth
  sigma = the mixture's std, at the mode scale, beside its noise floor: the same estimate between
  two independent exact samples of the same sizes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from blog.mixture import GaussianMixture

MMD_N = 3000  # samples per side of the MMD estimate


@dataclass(frozen=True)
class Report:
    n: int  # samples measured
    within_3sigma: float  # fraction within 3 sigma of the nearest centre
    modes_covered: int  # centres with at least min_share of their expected mass
    n_modes: int  # K
    shares: tuple[float, ...]  # fraction of samples nearest each centre
    max_share_dev: float  # max_k |share_k / pi_k - 1|
    mmd2: float  # unbiased MMD^2 against fresh exact samples
    mmd2_floor: float  # the same, exact against exact: the estimate's noise at these sizes

    def as_dict(self) -> dict:
        d = asdict(self)
        d["shares"] = list(self.shares)
        return d


def nearest_mode(x: np.ndarray, mixture: GaussianMixture) -> tuple[np.ndarray, np.ndarray]:
    """(index of the nearest centre (N,), distance to it (N,))."""
    d = np.linalg.norm(np.asarray(x, np.float64)[:, None, :] - mixture.means[None], axis=-1)
    k = d.argmin(1)
    return k, d[np.arange(len(k)), k]


def within(x: np.ndarray, mixture: GaussianMixture, n_sigma: float = 3.0) -> np.ndarray:
    """Boolean (N,): within n_sigma standard deviations of the nearest centre."""
    k, d = nearest_mode(x, mixture)
    return d <= n_sigma * mixture.stds[k]


def mode_shares(x: np.ndarray, mixture: GaussianMixture) -> np.ndarray:
    """(K,) fraction of samples whose nearest centre is k."""
    k, _ = nearest_mode(x, mixture)
    return np.bincount(k, minlength=mixture.n_components) / len(k)


def modes_covered(x: np.ndarray, mixture: GaussianMixture, min_share: float = 0.1) -> int:
    """Centres holding >= min_share * pi_k * N samples within 3 sigma."""
    k, _ = nearest_mode(x, mixture)
    hits = np.bincount(k[within(x, mixture)], minlength=mixture.n_components)
    return int((hits >= min_share * mixture.weights * len(x)).sum())


def _gram(x: np.ndarray, y: np.ndarray, bandwidth: float) -> np.ndarray:
    sq = (x**2).sum(1)[:, None] + (y**2).sum(1)[None, :] - 2 * x @ y.T
    return np.exp(-np.maximum(sq, 0) / (2 * bandwidth**2))


def mmd2_unbiased(x: np.ndarray, y: np.ndarray, bandwidth: float) -> float:
    """Unbiased MMD^2 with k(a, b) = exp(-|a - b|^2 / (2 h^2)); can be slightly negative."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    m, n = len(x), len(y)
    kxx, kyy = _gram(x, x, bandwidth), _gram(y, y, bandwidth)
    return float((kxx.sum() - np.trace(kxx)) / (m * (m - 1))
                 + (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
                 - 2 * _gram(x, y, bandwidth).mean())


def evaluate(x: np.ndarray, mixture: GaussianMixture, rng: np.random.Generator,
             mmd_n: int = MMD_N) -> Report:
    """Every metric of `x` (N, d); MMD^2 on its first min(N, mmd_n) samples vs fresh exact ones."""
    x = np.asarray(x, np.float64)
    if x.ndim != 2 or x.shape[1] != mixture.dim or len(x) < 2:
        raise ValueError(f"expected samples of shape (N >= 2, {mixture.dim}), got {x.shape}")
    if not np.all(np.isfinite(x)):
        x = np.where(np.isfinite(x), x, 1e6)  # diverged samples count as far from every mode
    m = min(len(x), mmd_n)
    bandwidth = float(mixture.stds.min())
    shares = mode_shares(x, mixture)
    return Report(
        n=len(x),
        within_3sigma=float(within(x, mixture).mean()),
        modes_covered=modes_covered(x, mixture),
        n_modes=mixture.n_components,
        shares=tuple(float(s) for s in shares),
        max_share_dev=float(np.abs(shares / mixture.weights - 1).max()),
        mmd2=mmd2_unbiased(x[:m], mixture.sample(m, rng), bandwidth),
        mmd2_floor=mmd2_unbiased(mixture.sample(m, rng), mixture.sample(m, rng), bandwidth),
    )


def format_table(rows: dict[str, Report]) -> str:
    """A plain-text table, one row per named report."""
    head = (f"{'model':<24}{'n':>7}{'in 3σ':>8}{'modes':>7}{'share dev':>11}"
            f"{'MMD²':>11}{'floor':>11}")
    lines = [head, "-" * len(head)]
    for name, r in rows.items():
        lines.append(f"{name:<24}{r.n:>7}{r.within_3sigma:>8.3f}{r.modes_covered:>5}/{r.n_modes}"
                     f"{r.max_share_dev:>11.3f}{r.mmd2:>11.2e}{r.mmd2_floor:>11.2e}")
    return "\n".join(lines)
