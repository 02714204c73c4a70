"""The seed spread: how much the learned samplers' numbers move when the networks are retrained
from another seed, read from the committed record `make bench` writes (training every model
three times takes minutes, longer than a build should; the record says which command and date
produced it).

    blog/data/seed_spread.json   tests/bench/bench_models.py, per learned sampler and training
                                 seed: within-3w share, MMD^2 and largest share deviation, each
                                 an estimate with its 95 % interval, on `samples` samples

For each sampler and metric the stage returns the range of the per-seed values (the seed
spread), the median half-width of one seed's 95 % interval (the sampling noise of one row), and
the estimates of the highest and the lowest seed, which the template compares (`compare`): the
spread exceeds what sampling alone explains when the two are distinguishable.
"""

from __future__ import annotations

from figures_pipeline import stage

SPREAD_FILE = "blog/data/seed_spread.json"
TITLES = {  # registry name -> the results table's row name, in the table's order
    "vae": "VAE",
    "langevin": "Langevin",
    "annealed-langevin": "annealed Langevin",
    "ddpm": "DDPM",
    "ddim": "DDIM",
    "heun": "Heun",
}
METRICS = ("within_3w", "mmd2", "max_share_dev")
MIN_SEEDS = 3  # fewer is not a spread


class SpreadFileError(ValueError):
    """The seed-spread record is missing or malformed: one line naming the file and the key."""


@stage(data=[SPREAD_FILE])
def seed_spread(ctx):
    """The per-seed numbers of every learned sampler, with the range across seeds and the
    highest and lowest seed's estimates."""
    import json

    path = ctx.data_path(SPREAD_FILE)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SpreadFileError(f"{SPREAD_FILE}: cannot read it: {e} (write it with `python "
                              "tests/bench/bench_models.py --no-sweep --no-variants`)") from None
    return summarise(record)


def summarise(record: dict) -> dict:
    """The stage's values from the bench's record (validated: SpreadFileError names the key)."""
    for key in ("command", "date", "seeds", "samples", "samplers"):
        if key not in record:
            raise SpreadFileError(f"{SPREAD_FILE}: missing key {key!r}")
    seeds = record["seeds"]
    if not isinstance(seeds, list) or len(seeds) < MIN_SEEDS:
        raise SpreadFileError(f"{SPREAD_FILE}: seeds: need at least {MIN_SEEDS} training seeds, "
                              f"got {seeds!r}")
    unknown = sorted(set(record["samplers"]) - set(TITLES))
    if unknown:
        raise SpreadFileError(f"{SPREAD_FILE}: samplers: unknown {', '.join(unknown)} (expected "
                              f"some of {', '.join(TITLES)})")
    rows = []
    for name, title in TITLES.items():
        if name not in record["samplers"]:
            continue
        entry = record["samplers"][name]
        runs = entry.get("seeds")
        if not isinstance(runs, list) or [r.get("seed") for r in runs] != seeds:
            raise SpreadFileError(f"{SPREAD_FILE}: samplers.{name}.seeds: expected one run per "
                                  f"seed {seeds}")
        row = {"name": name, "title": title, "nfe": entry.get("nfe", 0), "runs": runs}
        for m in METRICS:
            row[m] = _spread([_estimate(r, m, f"samplers.{name}.seeds[{i}].{m}")
                              for i, r in enumerate(runs)])
        rows.append(row)
    if not rows:
        raise SpreadFileError(f"{SPREAD_FILE}: samplers: no learned sampler recorded")
    return {"command": record["command"], "date": record["date"], "seeds": seeds,
            "n_seeds": len(seeds), "samples": record["samples"], "rows": rows,
            "largest_within_3w_spread": max(r["within_3w"]["spread"] for r in rows)}


def _estimate(run: dict, metric: str, where: str) -> dict:
    e = run.get(metric)
    keys = ("value", "lo", "hi", "n")
    if (not isinstance(e, dict) or any(not isinstance(e.get(k), int | float) for k in keys)
            or not e["lo"] <= e["value"] <= e["hi"]):
        raise SpreadFileError(f"{SPREAD_FILE}: {where}: expected an estimate "
                              f"{{value, lo, hi, n}} with lo <= value <= hi, got {e!r}")
    return {k: e[k] for k in keys}


def _spread(estimates: list[dict]) -> dict:
    """Across seeds: the lowest and highest value, their difference, the median half-width of
    one seed's interval, and the estimates of the highest (top) and lowest (bottom) seed."""
    import statistics

    values = [e["value"] for e in estimates]
    top = estimates[values.index(max(values))]
    bottom = estimates[values.index(min(values))]
    return {"lo": min(values), "hi": max(values), "spread": max(values) - min(values),
            "half_width": statistics.median((e["hi"] - e["lo"]) / 2 for e in estimates),
            "top": top, "bottom": bottom}
