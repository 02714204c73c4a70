"""Benchmark of the post's models in the default profile: size, training and sampling time, and
every metric, each beside the exact-score reference run with the same sampler and steps.

    .venv/bin/python tests/bench/bench_models.py [--repeats 3] [--profile default] [--set k=v]
                                                 [--models ddpm,ddim]

Training times are medians over `repeats` trainings from scratch (into a private cache, so nothing
is reused); sampling times are medians over `repeats` runs of 10,000 samples. Metrics use the
last run's samples, drawn with a seed different from training's, against fresh exact samples.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from blog import config, metrics, models  # noqa: E402
from blog.nets import n_params  # noqa: E402

N_SAMPLES = 10_000
LEARNED = ["vae", "langevin", "annealed-langevin", "ddpm", "ddim"]
EXACT_OF = {"langevin": "langevin-exact", "annealed-langevin": "annealed-langevin-exact",
            "ddpm": "ddpm-exact", "ddim": "ddim-exact"}
STEPS_OF = {"vae": "vae", "langevin": "score", "annealed-langevin": "score", "ddpm": "ddpm",
            "ddim": "ddpm"}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--profile", default="default")
    ap.add_argument("--set", dest="overrides", action="append", default=[])
    ap.add_argument("--models", default=",".join(LEARNED))
    args = ap.parse_args()
    cfg = config.load(args.profile, args.overrides)
    names = args.models.split(",")
    mix = models.mixture_of(cfg)
    sample_seed = cfg.seed + 1000  # never the training seed
    os.environ["BLOG_CACHE_DIR"] = tempfile.mkdtemp(prefix="blog-bench-")

    train_rows, families = [], sorted({models.FAMILIES[STEPS_OF[n]].name for n in names})
    total = 0.0
    for fam in families:
        secs, t = [], None
        for _ in range(args.repeats):
            t = models.trained(fam, cfg, retrain=True)
            secs.append(t.meta["train_seconds"])
        med = statistics.median(secs)
        total += med
        train_rows.append(f"{fam:<8}{n_params(t.model):>9,}{t.meta['steps']:>8}{med:>10.1f}"
                          f"{t.meta['final_loss']:>12.4f}")
    print(f"profile {cfg.profile}; medians of {args.repeats} runs; {N_SAMPLES} samples; "
          f"MMD² against the exact mixture, bandwidth σ = {cfg.mixture.std}")
    print(f"{'family':<8}{'params':>9}{'steps':>8}{'train s':>10}{'final loss':>12}")
    print("\n".join(train_rows))
    print(f"{'total':<25}{total:>10.1f}\n")

    reports, times = {}, {}
    rows = [n for name in names for n in (name, EXACT_OF.get(name)) if n]
    for name in ["data", *rows]:
        secs = []
        for _ in range(args.repeats if name != "data" else 1):
            start = time.perf_counter()
            x = models.sample(name, cfg, N_SAMPLES, sample_seed)
            secs.append(time.perf_counter() - start)
        times[name] = statistics.median(secs)
        reports[name] = metrics.evaluate(x, mix)
    table = metrics.format_table(reports).splitlines()
    print(table[0] + f"{'steps':>7}{'sample s':>10}")
    print(table[1] + "-" * 17)
    for line, name in zip(table[2:-1], reports, strict=True):
        spec = models.REGISTRY[models.ModelName(name)]
        print(line + f"{spec.n_steps(cfg):>7}{times[name]:>10.2f}")
    print(table[-1])
    print("\nshares (fraction nearest each centre):")
    for name, r in reports.items():
        print(f"  {name:<24}" + " ".join(f"{s:.3f}" for s in r.shares))
    return 0


if __name__ == "__main__":
    sys.exit(main())
