"""blog.metrics: each metric on samples whose answer is known."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from blog import metrics
from blog.mixture import ring

MIX = ring(8, 2.0, 0.1)


def test_exact_samples_score_as_exact():
    rng = np.random.default_rng(0)
    r = metrics.evaluate(MIX.sample(10_000, rng), MIX, rng)
    assert r.within_3sigma == pytest.approx(1 - np.exp(-4.5), abs=0.004)
    assert r.modes_covered == 8 and r.n_modes == 8 and r.n == 10_000
    assert r.max_share_dev < 0.1 and sum(r.shares) == pytest.approx(1.0)
    assert abs(r.mmd2) < 4e-4 and abs(r.mmd2_floor) < 4e-4


def test_a_collapsed_sampler_covers_one_mode():
    x = MIX.means[3] + 0.1 * np.random.default_rng(0).standard_normal((1000, 2))
    r = metrics.evaluate(x, MIX, np.random.default_rng(1))
    assert r.modes_covered == 1 and r.max_share_dev == pytest.approx(7.0)
    assert r.mmd2 > 100 * abs(r.mmd2_floor)


def test_mmd_sees_modes_that_are_too_wide():
    rng = np.random.default_rng(0)
    wide = ring(8, 2.0, 0.13).sample(3000, rng)
    r = metrics.evaluate(wide, MIX, rng)
    assert r.modes_covered == 8
    assert r.mmd2 > 1e-3 > 5 * abs(r.mmd2_floor)


def test_unbiased_mmd_is_zero_in_expectation_and_symmetric():
    rng = np.random.default_rng(0)
    vals = [metrics.mmd2_unbiased(MIX.sample(500, rng), MIX.sample(500, rng), 0.1)
            for _ in range(20)]
    assert abs(np.mean(vals)) < 3 * np.std(vals) / np.sqrt(20)
    x, y = MIX.sample(300, rng), MIX.sample(400, rng) + 0.05
    assert metrics.mmd2_unbiased(x, y, 0.1) == pytest.approx(metrics.mmd2_unbiased(y, x, 0.1))
    assert metrics.mmd2_unbiased(x, y, 0.1) > 0


def test_within_and_nearest_mode():
    x = np.array([[2.0, 0.0], [2.29, 0.0], [2.31, 0.0], [0.0, 0.0]])
    k, d = metrics.nearest_mode(x, MIX)
    assert k[:3].tolist() == [0, 0, 0]
    assert metrics.within(x, MIX).tolist() == [True, True, False, False]


def test_diverged_samples_count_as_misses_not_crashes():
    x = MIX.sample(100, np.random.default_rng(0))
    x[:10] = np.nan
    r = metrics.evaluate(x, MIX, np.random.default_rng(1))
    assert r.within_3sigma <= 0.9


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="shape"):
        metrics.evaluate(np.zeros((10, 3)), MIX, np.random.default_rng(0))


def test_table_has_a_row_per_model():
    r = metrics.evaluate(MIX.sample(500, np.random.default_rng(0)), MIX,
                         np.random.default_rng(1))
    table = metrics.format_table({"data": r, "again": r})
    assert len(table.splitlines()) == 4 and "data" in table


def test_metrics_imports_no_torch():
    code = "import sys, blog.metrics; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
