"""figures_pipeline.engine on the toy project (tests/pipeline_toy): keys, skipping, cache, lock,
check, failures, determinism. In-process and serial unless a test says otherwise."""

import json

import pytest
from pipeline_toy.harness import build, edit, make_files, make_project, ran, snapshot

from figures_pipeline import engine
from figures_pipeline.cache import read_lock
from figures_pipeline.config import ConfigError
from figures_pipeline.execution import critical_path
from figures_pipeline.project import ProjectError

ALL = {"points", "scatter", "summary", "independent"}


@pytest.fixture
def root(tmp_path):
    root = make_project(tmp_path)
    assert ran(build(root)) == ALL
    return root


def test_second_build_skips_everything_and_writes_nothing(root):
    before = {p: p.stat().st_mtime_ns for p in (root / "static").rglob("*")}
    before_md = (root / "content/posts/toy.md").stat().st_mtime_ns
    assert set(build(root).values()) == {"skipped"}
    assert {p: p.stat().st_mtime_ns for p in (root / "static").rglob("*")} == before
    assert (root / "content/posts/toy.md").stat().st_mtime_ns == before_md


def test_outputs_sections_and_lock(root):
    assert (root / "static/posts/toy/scatter.svg").read_text().startswith("<svg")
    md = (root / "content/posts/toy.md").read_text()
    assert "We drew 20 points" in md and 'The title is "Toy \\$results\\$ with \\*stars\\*"' in md
    assert '![the toy points](scatter.svg "Twenty *toy* points")' in md
    assert md.startswith("+++\ntitle") and md.endswith("<!-- generated:end results -->\n\nOutro.\n")
    lock = read_lock(root / "figures.lock")["toy"]
    assert lock["points"]["profile"] == "default" and lock["points"]["values"]["n"] == 20
    assert set(lock["scatter"]["outputs"]) == {"scatter.svg"}
    text = (root / "figures.lock").read_text()
    assert json.dumps(json.loads(text), sort_keys=True, indent=1, ensure_ascii=False) + "\n" == text


@pytest.mark.parametrize("rel, old, new, expected", [
    ("toy/stages.py", "return {\"count\": len(pts)}", "return {\"count\": len(pts) + 0}",
     {"scatter"}),
    ("toy/stages.py", "round(mean, DIGITS)", "round(mean, DIGITS + 1)",
     {"points", "scatter", "summary"}),
    ("toy/stages.py", "DIGITS = 3", "DIGITS = 4", {"points", "scatter", "summary"}),
    # a refactor that changes no byte re-runs its stage, not the ones after it (early cutoff)
    ("toy/helpers.py", "round(scale", "round(1.0 * scale", {"points"}),
    ("toy/svg.py", 'r="1"', 'r="2"', {"scatter"}),
    ("toy/unrelated.py", "ANSWER = 42", "ANSWER = 43", set()),
    ("toy/stages.py", "import time\n", "import time  # a comment does not count\n", set()),
    ("data/offsets.csv", "0.5,0", "0.25,0", {"points", "scatter", "summary"}),
    ("toy/post.toml", 'title = "Toy', 'title = "A toy', {"summary"}),
    ("toy/post.toml", "n = 20", "n = 21", {"points", "scatter", "summary"}),
])
def test_invalidation(root, rel, old, new, expected):
    edit(root, rel, old, new)
    assert ran(build(root)) == expected


def test_stale_stage_says_why(root):
    edit(root, "toy/helpers.py", "round(scale", "round(1.0 * scale")
    edit(root, "toy/post.toml", "n = 20", "n = 21")
    (plan,) = engine.states(root)
    # only the changed key, with its old and new values in full
    assert plan.stages["points"].reasons == ["code changed: toy/helpers.py::make_points",
                                             "config points.n: 20 -> 21"]
    assert plan.stages["scatter"].reasons == [
        "upstream runs: points (if its outputs come out the same, this stage will not run)"]
    assert plan.stages["independent"].reasons == []


def test_override_and_profile_then_back_restores_from_cache(root):
    assert ran(build(root, overrides=("points.n=7",))) == {"points", "scatter", "summary"}
    assert "We drew 7 points" in (root / "content/posts/toy.md").read_text()
    statuses = build(root)
    assert {n for n, s in statuses.items() if s == "restored"} == {"points", "scatter", "summary"}
    assert "We drew 20 points" in (root / "content/posts/toy.md").read_text()
    assert ran(build(root, profile="fast")) == ALL  # the profile is part of every key
    assert read_lock(root / "figures.lock")["toy"]["points"]["profile"] == "fast"


def test_config_errors_before_anything_runs(root):
    with pytest.raises(ConfigError, match="unknown key 'points.m' \\(did you mean 'points.n'"):
        build(root, overrides=("points.m=3",))
    with pytest.raises(ConfigError, match="points.n must be >= 1"):
        build(root, overrides=("points.n=0",))
    with pytest.raises(ConfigError, match="'points.n' must be int"):
        build(root, overrides=("points.n=oops",))


def test_corrupt_or_truncated_cache_is_a_warning_and_a_miss(root, capsys):
    build(root, overrides=("points.n=7",))
    entries = sorted((root / ".cache/figures/entries").glob("*.json"))
    for e in entries:
        e.write_text(e.read_text()[:10])
    statuses = build(root)
    assert ran(statuses) == {"points", "scatter", "summary"}
    assert "restored" not in statuses.values()
    assert "is corrupt" in capsys.readouterr().err
    # a truncated object: the artifact scatter needs is rebuilt by running points again
    for obj in (root / ".cache/figures/objects").rglob("*.json"):
        obj.write_bytes(b"[1,")
    edit(root, "toy/svg.py", 'r="1"', 'r="2"')
    assert ran(build(root)) == {"points", "scatter"}


def test_hand_edited_or_missing_output_is_restored(root):
    (root / "static/posts/toy/scatter.svg").write_text("edited")
    (root / "static/posts/toy/summary.txt").unlink()
    (plan,) = engine.states(root)
    assert plan.stages["scatter"].reasons == ["output edited by hand: scatter.svg"]
    assert plan.stages["summary"].reasons == ["output missing: summary.txt"]
    statuses = build(root)
    assert (statuses["scatter"], statuses["summary"]) == ("restored", "restored")
    assert (root / "static/posts/toy/scatter.svg").read_text().startswith("<svg")


def test_check(root):
    assert engine.check(root) == []
    edit(root, "toy/svg.py", 'r="1"', 'r="2"')
    (problem,) = engine.check(root)
    assert (problem.stage, problem.reasons) == ("scatter",
                                                ["code changed: toy/svg.py::scatter_svg"])
    build(root, profile="fast")
    problems = {p.stage: p.reasons for p in engine.check(root)}
    assert problems["points"][0] == "built with draft profile 'fast'"
    assert set(problems) == ALL


def test_check_sections_and_diff(root):
    edit(root, "toy/templates/results.md.j2", "We drew", "We sampled")
    (problem,) = engine.check(root)
    assert problem.stage == "sections"
    assert "-We drew 20 points" in problem.diff and "+We sampled 20 points" in problem.diff
    assert "We drew" in (root / "content/posts/toy.md").read_text()  # check writes nothing


def test_failing_stage_others_finish_and_lock_keeps_old_record(root):
    old = read_lock(root / "figures.lock")["toy"]["independent"]
    edit(root, "toy/post.toml", "fail = false", "fail = true")
    edit(root, "toy/post.toml", "n = 20", "n = 21")
    with pytest.raises(engine.StageFailedError, match="1 stage"):
        build(root)
    lock = read_lock(root / "figures.lock")["toy"]
    assert lock["independent"] == old
    assert lock["points"]["values"]["n"] == 21


def test_reading_an_undeclared_config_table_names_the_key_and_the_fix(root, capsys):
    edit(root, "toy/stages.py", "    pts = helpers", "    ctx.config['hist']\n    pts = helpers")
    with pytest.raises(engine.StageFailedError):
        build(root, force=True)
    err = capsys.readouterr().err
    assert ("stage 'points' reads config 'hist', which it does not declare (declared: "
            "points.") in err
    assert "add \"hist\" (or its table) to @stage(config=[...])" in err


def test_failing_stage_blocks_its_dependents(root, capsys):
    edit(root, "toy/stages.py", "    pts = helpers",
         "    raise RuntimeError('nope')\n    pts = helpers")
    with pytest.raises(engine.StageFailedError):
        build(root, force=True)
    err = capsys.readouterr().err
    assert "FAILED toy/points: toy/stages.py:" in err and "RuntimeError: nope" in err
    assert "blocked toy/scatter: upstream failed: points" in err


def test_only_builds_what_the_stage_needs(root):
    edit(root, "toy/post.toml", "n = 20", "n = 21")
    assert ran(build(root, only=("scatter",))) == {"points", "scatter"}
    with pytest.raises(ProjectError, match="no stage 'scater' \\(did you mean 'scatter'"):
        build(root, only=("scater",))


def test_dry_run_writes_nothing(root, capsys):
    edit(root, "toy/svg.py", 'r="1"', 'r="2"')
    before = snapshot(root)
    lock = (root / "figures.lock").read_bytes()
    build(root, dry_run=True)
    assert "would run toy/scatter: code changed: toy/svg.py::scatter_svg" in capsys.readouterr().out
    assert snapshot(root) == before and (root / "figures.lock").read_bytes() == lock


def test_missing_artifact_reruns_upstream(root):
    import shutil

    shutil.rmtree(root / ".cache")
    edit(root, "toy/svg.py", 'r="1"', 'r="2"')
    assert ran(build(root)) == {"points", "scatter"}


def test_two_builds_are_byte_identical(tmp_path):
    a, b = make_project(tmp_path, "a"), make_project(tmp_path, "b")
    build(a)
    build(b, jobs=2)
    assert snapshot(a) == snapshot(b)

    def lock(root):
        data = read_lock(root / "figures.lock")
        for stages in data.values():
            for r in stages.values():
                r.pop("seconds")
        return data

    assert lock(a) == lock(b)


def test_section_error_leaves_post_untouched(root):
    md = (root / "content/posts/toy.md").read_bytes()
    make_files(root, {"toy/templates/results.md.j2": "{{ points.nope }}"})
    from figures_pipeline.sections import SectionError

    with pytest.raises(SectionError, match="toy/templates/results.md.j2:1: undefined value"):
        build(root)
    assert (root / "content/posts/toy.md").read_bytes() == md


def test_missing_stage_module_is_a_clear_error(tmp_path):
    root = make_project(tmp_path)
    (root / "toy/stages.py").unlink()
    with pytest.raises(ProjectError, match="module 'toy.stages' not found"):
        build(root)


def test_a_package_of_stage_modules_declares_the_stages_of_every_submodule(tmp_path):
    root = make_project(tmp_path)
    stages = (root / "toy/stages.py").read_text()
    (root / "toy/stages.py").unlink()
    # split the toy stages over a package: points and friends in one file, one more in another
    make_files(root, {"toy/stages/__init__.py": '"""The toy stages, one module per part."""\n',
                      "toy/stages/main.py": stages,
                      "toy/stages/extra.py": (
                          "from figures_pipeline import stage\n\n\n"
                          "@stage(outputs=['extra.txt'])\ndef extra(ctx):\n"
                          "    ctx.output('extra.txt').write_text('extra\\n')\n")})
    assert ran(build(root)) == ALL | {"extra"}
    assert (root / "static/posts/toy/extra.txt").read_text() == "extra\n"
    # a stage's key does not cover its sibling modules: editing one rebuilds only its stages
    edit(root, "toy/stages/extra.py", "'extra\\n'", "'extra, edited\\n'")
    assert ran(build(root)) == {"extra"}


def test_the_longest_chain_of_recorded_times_starts_first(root):
    plans = engine.states(root)
    lock = {"toy": {"points": {"seconds": 2.0}, "scatter": {"seconds": 3.0},
                    "summary": {"seconds": 0.5}, "independent": {"seconds": 4.0}}}
    priority = critical_path(plans, lock)
    # points -> scatter costs 5 s in all, more than independent's 4 s alone
    assert priority[("toy", "points")] == 5.0
    assert priority[("toy", "independent")] == 4.0
    assert max(priority, key=priority.get) == ("toy", "points")
    # a stage never built counts 1 s
    assert critical_path(plans, {})[("toy", "points")] == 2.0


def test_early_cutoff_a_rerun_with_the_same_outputs_reruns_nothing_after_it(root):
    keys = {n: r["key"] for n, r in read_lock(root / "figures.lock")["toy"].items()}
    edit(root, "toy/helpers.py", "round(scale", "round(1.0 * scale")  # same numbers
    (plan,) = engine.states(root)
    assert plan.stages["scatter"].pending  # its key waits for points' outputs
    statuses = build(root)
    assert statuses["points"] == "ran"
    assert statuses["scatter"] == statuses["summary"] == "cutoff"
    after = {n: r["key"] for n, r in read_lock(root / "figures.lock")["toy"].items()}
    assert after["points"] != keys["points"]
    assert {n: after[n] for n in ("scatter", "summary", "independent")} == \
        {n: keys[n] for n in ("scatter", "summary", "independent")}
    assert engine.check(root) == []


def test_a_stage_whose_upstream_outputs_changed_runs_and_check_agrees(root):
    edit(root, "toy/post.toml", "n = 20", "n = 21")
    problems = {p.stage: p.reasons for p in engine.check(root)}
    assert problems["scatter"] == [
        "upstream runs: points (if its outputs come out the same, this stage will not run)"]
    assert build(root)["scatter"] == "ran"
    assert engine.check(root) == []
    edit(root, "toy/post.toml", "n = 21", "n = 20")  # back: the cache has every old key
    statuses = build(root)
    assert statuses["points"] == "restored" and statuses["scatter"] == "restored"
    assert engine.check(root) == []


def test_why_stale_names_each_changed_leaf_with_both_values(root):
    edit(root, "toy/post.toml", "n = 20", "n = 21")
    edit(root, "toy/post.toml", "scale = 1.5", "scale = 2.5")
    (plan,) = engine.states(root)
    assert [r for r in plan.stages["points"].reasons if r.startswith("config")] == [
        "config points.n: 20 -> 21", "config points.scale: 1.5 -> 2.5"]


def test_changed_values_descends_into_tables_and_lists():
    from figures_pipeline.planning import UNSET, changed_values

    assert changed_values("post", {"w": [3.0, 1.0], "n": 5}, {"w": [3.0, 2.0], "n": 5}) == [
        ("post.w[1]", 1.0, 2.0)]
    assert changed_values("a", {"x": 1}, {"x": 1, "y": 2}) == [("a.y", UNSET, 2)]
    assert changed_values("a", [1, 2], [1, 2, 3]) == [("a", [1, 2], [1, 2, 3])]
    assert changed_values("a", 1, 1.0) == [("a", 1, 1.0)]


def test_volatile_values_are_shown_but_neither_cut_off_nor_read_downstream(root):
    from figures_pipeline.planning import without

    assert without({"a": {"s": 1, "m": 2}, "b": {"s": 3}, "t": 4}, ("*.s", "t")) == {
        "a": {"m": 2}, "b": {}}
    edit(root, "toy/stages.py", "@stage(config=[\"seed\", \"points\"],",
         "@stage(volatile=[\"took\"], config=[\"seed\", \"points\"],")
    edit(root, "toy/stages.py", "return {\"n\": len(pts),",
         "import time\n    return {\"took\": time.perf_counter(), \"n\": len(pts),")
    edit(root, "toy/stages.py", "return {\"count\": len(pts)}",
         "return {\"count\": len(pts), \"took\": 'took' in ctx.upstream['points'].values}")
    build(root)
    edit(root, "toy/helpers.py", "round(scale", "round(1.0 * scale")  # points re-runs
    statuses = build(root)
    assert statuses["points"] == "ran" and statuses["scatter"] == "cutoff"
    values = read_lock(root / "figures.lock")["toy"]
    assert values["scatter"]["values"]["took"] is False  # downstream cannot read it
