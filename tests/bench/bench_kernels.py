"""Benchmark of the inner kernels a build spends its CPU in, each beside the form it replaced:
what each speed-up gave, in CPU seconds (one thread, medians of repeats).

    .venv/bin/python tests/bench/bench_kernels.py [--repeats 5]

1. The exact score of the noised mixture (the `-exact` samplers' network): the expanded square
   (`GaussianMixture.score_torch`, one (N, d) @ (d, K) product) against the (N, K, d) differences
   (`score_torch_reference`), on 10,000 points; and a whole ddpm-exact run (1,000 steps), whose
   noised mixtures are now memoised across its batches.
2. MMD² of 10,000 samples (`blog.metrics.mmd`): the tiled O(n²) pass with the tiles between
   far-apart modes skipped, against every tile computed; one sample and a paired difference.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from blog import config, ddpm, models  # noqa: E402
from blog.metrics import mmd  # noqa: E402
from blog.mixture import ring  # noqa: E402

N = 10_000


def cpu(fn, repeats: int) -> float:
    """Median CPU seconds of fn() over `repeats` calls (after one warm-up)."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return statistics.median(times)


def line(what: str, before: float, after: float) -> str:
    return f"{what:<52}{before * 1e3:>10.1f} ms{after * 1e3:>10.1f} ms{before / after:>7.1f}x"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    torch.set_num_threads(1)
    mixture = ring()
    rng = np.random.default_rng(0)
    x = torch.randn(N, 2, generator=torch.Generator().manual_seed(0))
    q = mixture.vp(0.3)

    print(f"{'kernel (CPU, one thread, median)':<52}{'before':>13}{'after':>13}{'gain':>8}")
    print(line(f"exact score, {N:,} points", cpu(lambda: q.score_torch_reference(x), 20),
               cpu(lambda: q.score_torch(x), 20)))
    cfg = config.load()

    def ddpm_exact():  # as the build draws it: 5 batches of 2,000, the memo empty at the start
        ddpm._VP_MEMO.clear()
        for b in range(5):
            models.sample("ddpm-exact", cfg, N // 5, b)

    after = cpu(ddpm_exact, 1)
    print(f"{'ddpm-exact, 1,000 steps, ' + format(N, ',') + ' samples':<52}{'6200.0 ms':>13}"
          f"{after * 1e3:>10.1f} ms   (before: the lead's measurement at main@94116d6)")

    sample = mixture.sample(N, rng)
    twin = sample + 0.01 * rng.standard_normal(sample.shape)
    h = float(mixture.stds.min())
    skip = mmd.far_tiles

    def every_tile(xs, h, block=None):
        return np.zeros_like(skip(xs, h, block))

    def timed(fn):
        mmd.far_tiles = every_tile
        try:
            before = cpu(fn, args.repeats)
        finally:
            mmd.far_tiles = skip
        return before, cpu(fn, args.repeats)

    print(line(f"MMD² of {N:,} samples", *timed(lambda: mmd.mmd2(sample, mixture, h))))
    print(line(f"paired MMD² of 2 x {N:,} samples",
               *timed(lambda: mmd.mmd2_paired(sample, twin, mixture, h))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
