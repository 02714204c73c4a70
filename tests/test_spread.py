"""The seed-spread region: the bench's record -> the stage's values -> the template's text."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from blog.stages.spread import SPREAD_FILE, SpreadFileError, summarise
from figures_pipeline.numbers import HIGHER, SAME
from figures_pipeline.sections import make_environment, render_template

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "blog" / "templates" / "seed-spread.md.j2"


def est(value, half, n=10_000):
    return {"value": value, "lo": value - half, "hi": value + half, "n": n, "se": half / 1.96}


def record(within=((0.975, 0.002), (0.985, 0.002), (0.980, 0.002)),
           mmd2=((3e-4, 1e-4), (3.2e-4, 1e-4), (3.1e-4, 1e-4))):
    runs = [{"seed": s, "within_3w": est(*w), "mmd2": est(*m), "max_share_dev": est(0.05, 0.02)}
            for s, w, m in zip((0, 1, 2), within, mmd2, strict=True)]
    return {"command": "python tests/bench/bench_models.py --no-sweep --no-variants",
            "date": "2026-11-29 01:00 UTC", "profile": "default", "seeds": [0, 1, 2],
            "samples": 10_000, "sample_seed": 1,
            "samplers": {"ddim": {"nfe": 50, "seeds": runs},
                         "ddpm": {"nfe": 1000, "seeds": copy.deepcopy(runs)}}}


def test_the_spread_is_the_range_across_seeds_beside_one_seeds_interval():
    v = summarise(record())
    assert [r["name"] for r in v["rows"]] == ["ddpm", "ddim"]  # the results table's order
    w = v["rows"][1]["within_3w"]
    assert (w["lo"], w["hi"]) == (0.975, 0.985)
    assert w["spread"] == pytest.approx(0.010)
    assert w["half_width"] == pytest.approx(0.002)
    assert w["top"]["value"] == 0.985 and w["bottom"]["value"] == 0.975
    assert v["largest_within_3w_spread"] == pytest.approx(0.010)


def test_the_template_compares_the_extreme_seeds_by_their_intervals():
    env = make_environment({})
    text = render_template(env, TEMPLATE.read_text(encoding="utf-8"),
                           {"seed_spread": summarise(record())}, "seed-spread.md.j2")
    # within 3w: 0.985 +- 0.002 against 0.975 +- 0.002 differ; MMD^2 3.2 +- 1 against 3.0 +- 1
    # do not
    assert f"its best seed is {HIGHER} its worst" in text
    assert f"its highest seed is {SAME} its lowest" in text
    assert "97.5 [97.3, 97.7]" in text  # every per-seed cell carries its interval
    assert "from 97.5\u00a0% to 98.5\u00a0%" in text
    assert "a spread of 1.0 percentage points against ±0.2" in text
    assert "--no-sweep --no-variants" in text and "2026-11-29" in text
    assert text.count("| DDIM |") == 1 and text.count("| DDPM |") == 1  # title on its first row


@pytest.mark.parametrize("breakage, key", [
    (lambda r: r.pop("date"), "'date'"),
    (lambda r: r.update(seeds=[0, 1]), "seeds: need at least 3"),
    (lambda r: r["samplers"].update(gan={}), "unknown gan"),
    (lambda r: r["samplers"]["ddim"]["seeds"].pop(), "samplers.ddim.seeds"),
    (lambda r: r["samplers"]["ddim"]["seeds"][1]["mmd2"].update(lo=1.0),
     "samplers.ddim.seeds[1].mmd2"),
    (lambda r: r["samplers"]["ddim"]["seeds"][2].pop("within_3w"),
     "samplers.ddim.seeds[2].within_3w"),
    (lambda r: r.update(samplers={}), "no learned sampler"),
])
def test_a_malformed_record_is_one_line_naming_the_file_and_key(breakage, key):
    r = record()
    breakage(r)
    with pytest.raises(SpreadFileError) as e:
        summarise(r)
    assert SPREAD_FILE in str(e.value) and key in str(e.value) and "\n" not in str(e.value)


def test_the_committed_record_is_a_real_three_seed_spread():
    r = json.loads((ROOT / SPREAD_FILE).read_text(encoding="utf-8"))
    v = summarise(r)
    assert v["n_seeds"] >= 3 and r["samples"] >= 10_000
    assert {row["name"] for row in v["rows"]} >= {"ddim", "heun"}
    assert "bench_models.py" in r["command"]


def test_the_stage_reads_its_declared_data_file(tmp_path):
    from types import SimpleNamespace

    from blog.stages.spread import seed_spread

    assert tuple(seed_spread.__stage__.data) == (SPREAD_FILE,)
    path = tmp_path / "seed_spread.json"
    ctx = SimpleNamespace(data_path=lambda name: path)
    path.write_text(json.dumps(record()), encoding="utf-8")
    assert seed_spread(ctx)["n_seeds"] == 3
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(SpreadFileError, match="cannot read it"):
        seed_spread(ctx)
