"""Every metric of one sample (`evaluate`), the paired differences of two (`paired`), and the
plain-text table the CLI prints. Deterministic: nothing here draws random numbers."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from blog.metrics import density, mmd, modes
from blog.metrics.estimate import Estimate, complement, from_influence
from blog.mixture import GaussianMixture

DIVERGED = 1e6  # where non-finite samples are put: far from every mode, with zero kernel overlap


@dataclass(frozen=True)
class Report:
    """The metrics of n samples against the exact mixture; every Estimate with a 95 % interval."""

    n: int  # samples measured
    off_mode: Estimate  # fraction farther than 3 s from every centre (Wilson)
    within_3sd: Estimate  # 1 - off_mode
    chi2_p: float  # chi2 goodness-of-fit p-value of the counts by nearest centre vs pi
    shares: tuple[float, ...]  # fraction of samples nearest each centre
    max_share_dev: Estimate  # max_k |share_k / pi_k - 1| (value biased upward, see modes.py)
    width_ratio: Estimate  # spread of on-mode samples about their centre over s (exact: 1)
    mmd2: Estimate  # unbiased MMD^2 against the exact mixture
    mmd2_null_sd: float  # SD of mmd2 under exact sampling at this n
    log_density: Estimate  # mean log p(x_i) under the exact p
    neg_entropy: float  # -H(p), the expected log_density under exact sampling
    bandwidth: float  # h of the MMD's Gaussian kernel

    def as_dict(self) -> dict:
        """JSON-ready: Estimates as {"value", "lo", "hi", "n", "se"}, shares as a list."""
        out = {}
        for f in fields(self):
            v = getattr(self, f.name)
            out[f.name] = (v.as_dict() if isinstance(v, Estimate) else
                           [float(s) for s in v] if f.name == "shares" else v)
        return out


def _samples(x: np.ndarray, mixture: GaussianMixture) -> np.ndarray:
    x = np.asarray(x, np.float64)
    if x.ndim != 2 or x.shape[1] != mixture.dim or len(x) < 4:
        raise ValueError(f"expected samples of shape (N >= 4, {mixture.dim}), got {x.shape}")
    return np.where(np.isfinite(x), x, DIVERGED)  # a diverged sample is off every mode


def _bandwidth(mixture: GaussianMixture, bandwidth: float | None) -> float:
    h = float(mixture.stds.min()) if bandwidth is None else float(bandwidth)
    if not h > 0:
        raise ValueError(f"bandwidth must be > 0, got {bandwidth}")
    return h


def evaluate(x: np.ndarray, mixture: GaussianMixture, bandwidth: float | None = None) -> Report:
    """Every metric of the samples x (N, d) against `mixture`; the MMD's kernel bandwidth
    defaults to the smallest component s.d. s (the mode scale)."""
    x, h = _samples(x, mixture), _bandwidth(mixture, bandwidth)
    k, _ = modes.nearest_mode(x, mixture)
    counts = np.bincount(k, minlength=mixture.n_components)
    off = modes.off_mode(x, mixture)
    return Report(
        n=len(x),
        off_mode=off,
        within_3sd=complement(off),
        chi2_p=modes.chi2_p(counts, mixture.weights),
        shares=tuple(float(c) for c in counts / len(x)),
        max_share_dev=modes.max_share_dev(counts, mixture.weights),
        width_ratio=modes.width_ratio(x, mixture),
        mmd2=mmd.mmd2(x, mixture, h),
        mmd2_null_sd=mmd.null_sd(mixture, len(x), h),
        log_density=density.log_density(x, mixture),
        neg_entropy=density.neg_entropy(mixture),
        bandwidth=h,
    )


def paired(x_a: np.ndarray, x_b: np.ndarray, mixture: GaussianMixture,
           bandwidth: float | None = None) -> dict[str, Estimate]:
    """The differences a - b of off_mode, width_ratio, mmd2 and log_density for two samples of
    equal size whose i-th points share their noise; intervals from the per-pair contributions
    (influence values; for the MMD^2 the U-statistic over pairs, see mmd.py)."""
    x_a, x_b = _samples(x_a, mixture), _samples(x_b, mixture)
    if x_a.shape != x_b.shape:
        raise ValueError(f"paired samples must have the same shape, got {x_a.shape} and "
                         f"{x_b.shape}")
    h = _bandwidth(mixture, bandwidth)
    off_a = (~modes.within(x_a, mixture)).astype(np.float64)
    off_b = (~modes.within(x_b, mixture)).astype(np.float64)
    (w_a, psi_a), (w_b, psi_b) = modes.width_terms(x_a, mixture), modes.width_terms(x_b, mixture)
    lp_a, lp_b = mixture.log_prob(x_a), mixture.log_prob(x_b)
    return {
        "off_mode": from_influence(off_a.mean() - off_b.mean(), off_a - off_b),
        "width_ratio": from_influence(w_a - w_b, psi_a - psi_b),
        "mmd2": mmd.mmd2_paired(x_a, x_b, mixture, h),
        "log_density": from_influence(lp_a.mean() - lp_b.mean(), lp_a - lp_b),
    }


def _num(v: float, digits: int) -> str:
    """Fixed-point with a true minus sign."""
    return f"{v:.{digits}f}".replace("-", "\u2212")


def _cell(e: Estimate, scale: float, digits: int) -> str:
    return (f"{_num(scale * e.value, digits)} [{_num(scale * e.lo, digits)}, "
            f"{_num(scale * e.hi, digits)}]")


def format_table(rows: dict[str, Report]) -> str:
    """A plain-text table, one row per named report, every estimate with its 95 % interval."""
    cols = [("off-mode %", 26, lambda r: _cell(r.off_mode, 100, 2)),
            ("χ² p", 7, lambda r: f"{r.chi2_p:.3f}"),
            ("share dev %", 22, lambda r: _cell(r.max_share_dev, 100, 1)),
            ("width/s", 24, lambda r: _cell(r.width_ratio, 1, 3)),
            ("MMD² ×10⁻⁴", 26, lambda r: _cell(r.mmd2, 1e4, 2)),
            ("null sd", 8, lambda r: _num(1e4 * r.mmd2_null_sd, 2)),
            ("mean log p", 28, lambda r: _cell(r.log_density, 1, 3))]
    width = max([5, *map(len, rows)]) + 2
    head = f"{'model':<{width}}{'n':>7}" + "".join(f"{t:>{w}}" for t, w, _ in cols)
    lines = [head, "-" * len(head)]
    for name, r in rows.items():
        lines.append(f"{name:<{width}}{r.n:>7}" + "".join(f"{f(r):>{w}}" for _, w, f in cols))
    if rows:
        r = next(iter(rows.values()))
        lines.append(f"95 % intervals; MMD² bandwidth h = {r.bandwidth:g}, null sd = its SD "
                     f"under exact sampling; exact samples: width/s = 1, mean log p = "
                     f"−H(p) = {_num(r.neg_entropy, 3)}")
    return "\n".join(lines)
