"""Benchmark of the post's models: training time from a cold cache, and every sampler's quality
and speed on 10,000 samples beside its exact-score twin, over several training seeds.

    .venv/bin/python tests/bench/bench_models.py [--seeds 0,1,2] [--profile default] [--set k=v]
                                                 [--samplers ddim,heun] [--no-sweep] [--no-variants]

1. Training: for each seed, `python -m blog train vae`, `score`, `ddpm` one after the other,
   each a fresh process on an empty weights cache (as a cold `make figures` trains them); only
   the families the chosen samplers (and the variants) use.
2. Samplers: 10,000 samples per sampler and training seed, drawn with a sampling seed that no
   setting was tuned on; learned samplers are reported as the median and [min, max] over the
   training seeds, exact twins (no training) once. Sampling time is for all 10,000 samples on
   one thread. A sweep over the number of network evaluations (NFE) for DDIM and Heun follows.
   With 3 or more seeds the per-seed numbers, each with its 95 % interval, are written to
   blog/data/seed_spread.json with the command and date (`--spread-file`, `--no-spread-file`):
   the post's seed-spread region (blog/stages/spread.py) prints them.
3. Variants: the DDPM training designs that were compared (seed 0 only), each retrained, with
   what it gives DDIM and Heun at their post settings: the record of why post.toml is what it is.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
SPREAD_FILE = ROOT / "blog" / "data" / "seed_spread.json"
sys.path.insert(0, str(ROOT))

from blog import config, metrics, models  # noqa: E402

N_SAMPLES = 10_000
SAMPLE_SEED = 20_260_101  # the sampling seed of every row; nothing was tuned on it
FAMILIES = ["vae", "score", "ddpm"]  # the order a cold build trains them in
LEARNED = ["vae", "langevin", "annealed-langevin", "ddpm", "ddim", "heun"]
SWEEP = {"ddim": ("ddpm.ddim_steps", [10, 20, 50, 100]),  # NFE = steps
         "heun": ("ddpm.heun_steps", [5, 10, 25, 50])}  # NFE = 2 steps - 1
# (label, overrides): the DDPM designs compared, from the paper's L_simple to post.toml's choice
OLD = ["ddpm.lr=4e-3", "ddpm.t_draws=0", "ddpm.fourier_features=0"]
VARIANTS = [
    ("eps, uniform t (DDPM's L_simple)", [*OLD, "ddpm.prediction=eps", "ddpm.t_sampling=uniform"]),
    ("eps, log-normal sigma", [*OLD, "ddpm.prediction=eps"]),
    ("edm (s_d = 1: v), uniform t", [*OLD, "ddpm.t_sampling=uniform"]),
    ("edm, log-normal sigma", OLD),
    ("  + 32 levels per batch, lr 6e-3", ["ddpm.fourier_features=0"]),
    ("  + 32 Fourier features (post.toml)", []),
    ("    (+ a 4th layer on top)", ["ddpm.depth=4"]),
    ("    (a 4th layer instead of features)", ["ddpm.depth=4", "ddpm.fourier_features=0"]),
]


def measure(x: np.ndarray, mixture, rng: np.random.Generator) -> dict[str, float]:
    """The three numbers of every row, and (key "estimates") each with its 95 % interval; the
    one place that knows blog.metrics' API."""
    r = metrics.evaluate(x, mixture)
    return {"within": r.within_3sd.value, "share_dev": r.max_share_dev.value,
            "mmd2": r.mmd2.value,
            "estimates": {"within_3w": r.within_3sd.as_dict(), "mmd2": r.mmd2.as_dict(),
                          "max_share_dev": r.max_share_dev.as_dict()}}


def train_cold(family: str, profile: str, overrides: list[str], cache: Path
               ) -> tuple[float, float]:
    """`python -m blog train FAMILY` in a fresh process: (training seconds it reports, wall s)."""
    args = [sys.executable, "-m", "blog", "train", family, "--profile", profile]
    for o in overrides:
        args += ["--set", o]
    start = time.perf_counter()
    out = subprocess.run(args, cwd=ROOT, capture_output=True, text=True,
                         env={**os.environ, "BLOG_CACHE_DIR": str(cache)})
    wall = time.perf_counter() - start
    if out.returncode != 0:
        raise SystemExit(f"bench: {' '.join(args[2:])} failed: {out.stderr.strip()[-500:]}")
    return float(re.search(r"([\d.]+) s \((?:trained|cache)\)", out.stdout).group(1)), wall


def network(name: str, cfg):
    """The trained network a sampler needs (from the cache the cold trainings filled), or None:
    passed explicitly, so a sampler setting that reaches the training key (ddpm.ddim_steps)
    does not retrain in the sweep."""
    family = models.REGISTRY[models.ModelName(name)].family
    return models.trained(family, cfg).model if family else None


def sample_and_measure(name: str, cfg, seed: int, model=None) -> tuple[dict[str, float], float]:
    """Quality and sampling seconds of 10,000 samples (the network loaded beforehand)."""
    start = time.perf_counter()
    x = models.sample(name, cfg, N_SAMPLES, SAMPLE_SEED, model=model)
    seconds = time.perf_counter() - start
    rng = np.random.default_rng(config.derive_seed(SAMPLE_SEED, "bench", name, str(seed)))
    return measure(x, models.mixture_of(cfg), rng), seconds


def spread(values: list[float], fmt: str) -> str:
    """'median [min, max]', or the value alone for one run."""
    med = format(statistics.median(values), fmt)
    if len(values) == 1:
        return med
    return f"{med} [{format(min(values), fmt)}, {format(max(values), fmt)}]"


def row(name: str, nfe: int, runs: list[dict[str, float]], secs: list[float]) -> str:
    col = {k: [r[k] for r in runs] for k in runs[0] if k != "estimates"}
    within = spread([100 * v for v in col["within"]], ".1f")
    mmd2 = spread([1e4 * v for v in col["mmd2"]], ".1f")
    return (f"{name:<25}{nfe:>6}  {within:<20}{spread(col['share_dev'], '.3f'):<22}{mmd2:<18}"
            f"{statistics.median(secs):>8.1f}")


HEAD = (f"{'sampler':<25}{'NFE':>6}  {'in 3w %':<20}{'share dev':<22}{'MMD² ×1e4':<18}"
        f"{'sample s':>8}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="0,1,2", help="training seeds (at least 3 for a spread)")
    ap.add_argument("--profile", default="default")
    ap.add_argument("--set", dest="overrides", action="append", default=[])
    ap.add_argument("--samplers", default=",".join(LEARNED))
    ap.add_argument("--no-sweep", action="store_true", help="skip the NFE sweep")
    ap.add_argument("--no-variants", action="store_true", help="skip the DDPM design variants")
    ap.add_argument("--spread-file", type=Path, default=SPREAD_FILE,
                    help="where the per-seed numbers go (3 or more seeds; default: %(default)s)")
    ap.add_argument("--no-spread-file", action="store_true", help="do not write it")
    args = ap.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    names = args.samplers.split(",")
    cache = Path(tempfile.mkdtemp(prefix="blog-bench-"))
    os.environ["BLOG_CACHE_DIR"] = str(cache)
    cfgs = {s: config.load(args.profile, [*args.overrides, f"seed={s}"]) for s in seeds}

    print(f"profile {args.profile}; {N_SAMPLES:,} samples, sampling seed {SAMPLE_SEED}; "
          "MMD² against the exact mixture in closed form, bandwidth σ = "
          f"{cfgs[seeds[0]].mixture.std}\n")
    print("training from a cold cache, one after the other (training s, [process wall s]); "
          "budget: ddpm ≤ 25 s, all three ≤ 60 s")
    print(f"{'family':<8}{'steps':>7}{'batch':>7}" + "".join(f"{'seed ' + str(s):>16}"
                                                        for s in seeds))
    totals = {s: 0.0 for s in seeds}
    needed = {models.REGISTRY[models.ModelName(n)].family for n in names}
    if not args.no_variants:
        needed.add("ddpm")
    for fam in (f for f in FAMILIES if f in needed):  # only what the chosen samplers use
        cells = []
        for s in seeds:
            secs, wall = train_cold(fam, args.profile, [*args.overrides, f"seed={s}"], cache)
            totals[s] += secs
            cells.append(f"{secs:6.1f} [{wall:5.1f}]")
        fc = models.FAMILIES[fam].config(cfgs[seeds[0]])
        print(f"{fam:<8}{fc.steps:>7}{fc.batch_size:>7}" + "".join(f"{c:>16}" for c in cells))
    print(f"{'total':<22}" + "".join(f"{totals[s]:>8.1f}{'':>8}" for s in seeds))

    print(f"\nsamplers: learned as median [min, max] over training seeds {args.seeds}")
    print(HEAD)
    print("-" * len(HEAD))
    data = [sample_and_measure("data", cfgs[seeds[0]], seeds[0])]
    print(row("data (exact samples)", 0, [data[0][0]], [data[0][1]]))
    per_seed = {}
    for name in names:
        spec = models.REGISTRY[models.ModelName(name)]
        runs = [sample_and_measure(name, cfgs[s], s, network(name, cfgs[s])) for s in seeds]
        print(row(name, spec.nfe(cfgs[seeds[0]]), [r for r, _ in runs], [t for _, t in runs]))
        per_seed[name] = {"nfe": spec.nfe(cfgs[seeds[0]]),
                          "seeds": [{"seed": s, **r["estimates"]}
                                    for s, (r, _) in zip(seeds, runs, strict=True)]}
        if len(seeds) >= 3 and not args.no_spread_file:  # after each sampler: a partial run
            write_spread(args.spread_file, args.profile, seeds, per_seed)  # still leaves one
        twin = f"{name}-exact"
        if twin in models.REGISTRY:
            r, t = sample_and_measure(twin, cfgs[seeds[0]], seeds[0])
            print(row(twin, spec.nfe(cfgs[seeds[0]]), [r], [t]))

    if per_seed and len(seeds) >= 3 and not args.no_spread_file:
        print(f"\nper-seed numbers written to {args.spread_file}")

    if not args.no_sweep:
        print(f"\nnetwork evaluations (NFE) sweep, training seed {seeds[0]}")
        print(HEAD)
        for name, (key, values) in SWEEP.items():
            net = network(name, cfgs[seeds[0]])
            for v in values:
                try:
                    cfg = config.load(args.profile, [*args.overrides, f"seed={seeds[0]}",
                                                     f"{key}={v}"])
                except config.ConfigError as e:  # e.g. more DDIM steps than timesteps
                    print(f"{name:<25}  skipped: {e}")
                    continue
                nfe = models.REGISTRY[models.ModelName(name)].nfe(cfg)
                for n, model in ((name, net), (f"{name}-exact", None)):
                    r, t = sample_and_measure(n, cfg, seeds[0], model)
                    print(row(n, nfe, [r], [t]))

    if not args.no_variants:
        print(f"\nDDPM training designs compared (seed {seeds[0]}, each trained from scratch): "
              f"DDIM at {cfgs[seeds[0]].ddpm.ddim_steps} NFE, Heun at "
              f"{2 * cfgs[seeds[0]].ddpm.heun_steps - 1} NFE")
        print(f"{'design':<36}{'train s':>8}   {'DDIM in 3σ, dev, MMD²':<26}"
              f"{'Heun in 3σ, dev, MMD²':<26}")
        for label, overrides in VARIANTS:
            cfg = config.load(args.profile, [*args.overrides, f"seed={seeds[0]}", *overrides])
            t = models.trained("ddpm", cfg)
            cells = []
            for n in ("ddim", "heun"):
                r, _ = sample_and_measure(n, cfg, seeds[0], t.model)
                cells.append(f"{100 * r['within']:5.1f}% {r['share_dev']:.3f} "
                             f"{1e4 * r['mmd2']:5.1f}e-4")
            print(f"{label:<36}{t.meta['train_seconds']:>8.1f}   {cells[0]:<26}{cells[1]:<26}")
    return 0


def write_spread(path: Path, profile: str, seeds: list[int], per_seed: dict) -> None:
    """The seed-spread data file the post reads: per learned sampler and training seed, its
    within-3w share, MMD² and largest share deviation with 95 % intervals, and what produced
    them (the command, the UTC date, the profile, the sampling seed, the sample size)."""
    record = {
        "command": " ".join(["python", "tests/bench/bench_models.py", *sys.argv[1:]]),
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "profile": profile, "seeds": seeds, "samples": N_SAMPLES, "sample_seed": SAMPLE_SEED,
        "samplers": per_seed,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(path)


if __name__ == "__main__":
    sys.exit(main())
