"""How close a set of samples is to the mixture p, each number with its 95 % interval. NumPy (and
torch's vectorised exp for the MMD's kernel tiles, see mmd.py).

    evaluate(x, mixture, bandwidth=None) -> Report      every metric of one sample
    paired(x_a, x_b, mixture, bandwidth=None)           differences a - b of two paired samples
    format_table({name: Report})                        the plain-text table of the CLI

One job per module:
    estimate.py  the Estimate value type (value, lo, hi, n) and its intervals (Wilson, normal)
    chi2.py      the chi2 survival function via the regularised incomplete gamma
    modes.py     off-mode fraction, mode weights (chi2 p, largest share deviation), mode width
    mmd.py       MMD^2 against the exact mixture in closed form, its interval and null SD
    density.py   mean log p(x_i) and -H(p)
    report.py    Report, evaluate, paired, format_table
"""

from blog.metrics.chi2 import chi2_cdf, chi2_sf
from blog.metrics.density import expected_log_density, neg_entropy
from blog.metrics.estimate import Estimate, wilson
from blog.metrics.mmd import mmd2_between
from blog.metrics.modes import mode_shares, modes_covered, nearest_mode, within
from blog.metrics.report import Report, evaluate, format_table, paired

__all__ = ["Estimate", "Report", "chi2_cdf", "chi2_sf", "evaluate", "expected_log_density",
           "format_table",
           "mmd2_between", "mode_shares", "modes_covered", "nearest_mode", "neg_entropy",
           "paired", "wilson", "within"]
