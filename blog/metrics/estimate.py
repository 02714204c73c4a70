"""An estimate and its 95 % interval: the one value type every metric returns.

Three ways to build one:
- `wilson(k, n)`: a proportion k/n with the Wilson score interval (Wilson 1927; Brown, Cai &
  DasGupta 2001 recommend it over the Wald interval p +- z sqrt(p(1-p)/n) at small n p);
- `normal(value, se, n)`: value +- z se;
- `from_influence(value, psi)`: a smooth statistic whose per-sample first-order contributions
  (influence values) psi_i are known: se = sd(psi) / sqrt(n). Paired differences use this with
  psi = psi_a - psi_b, so noise shared by the i-th points of both samples cancels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

LEVEL = 0.95
Z95 = NormalDist().inv_cdf(0.5 + LEVEL / 2)  # 1.95996...


def _plain(v: float) -> float | None:
    """A JSON-ready float: NaN and infinities (a diverged sampler) become None."""
    return float(v) if math.isfinite(v) else None


@dataclass(frozen=True)
class Estimate:
    """A measured value with its 95 % interval [lo, hi], from n samples."""

    value: float  # the point estimate
    lo: float  # lower end of the 95 % interval
    hi: float  # upper end of the 95 % interval
    n: int  # samples it was measured on
    se: float = math.nan  # standard error, where the interval is value +- z se (else NaN)

    def as_dict(self) -> dict:
        """{"value", "lo", "hi", "n", "se"} as plain floats and an int (None for non-finite)."""
        return {"value": _plain(self.value), "lo": _plain(self.lo), "hi": _plain(self.hi),
                "n": int(self.n), "se": _plain(self.se)}

    def covers(self, truth: float) -> bool:
        return self.lo <= truth <= self.hi


def normal(value: float, se: float, n: int, z: float = Z95) -> Estimate:
    """value +- z se."""
    value, se = float(value), float(se)
    return Estimate(value, value - z * se, value + z * se, int(n), se)


def from_influence(value: float, psi: np.ndarray, z: float = Z95) -> Estimate:
    """value +- z sd(psi) / sqrt(n), psi (n,) the per-sample influence values of the statistic."""
    psi = np.asarray(psi, np.float64)
    return normal(value, psi.std(ddof=1) / math.sqrt(len(psi)), len(psi), z)


def wilson(k: int, n: int, z: float = Z95) -> Estimate:
    """The proportion k/n with its Wilson score interval:
        (p + z^2/2n -+ z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n)."""
    if n < 1 or not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n and n >= 1, got k={k}, n={n}")
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return Estimate(p, max(0.0, centre - half), min(1.0, centre + half), n,
                    math.sqrt(p * (1 - p) / n))


def complement(e: Estimate) -> Estimate:
    """1 - e, its interval flipped: [1 - hi, 1 - lo]."""
    return Estimate(1 - e.value, 1 - e.hi, 1 - e.lo, e.n, e.se)
