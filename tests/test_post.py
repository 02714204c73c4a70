"""The real post, end to end: a fast-profile build of every stage in a copy of the project,
what `check` says afterwards, determinism, and the committed post being up to date.

The site and browser tests (test_site*.py) run on the same fast-profile build: see the
`site_build` fixture in conftest.py.
"""

from __future__ import annotations

import re

import pytest
from post_helpers import POST, copy_project, mask_durations, outputs, pipeline

from figures_pipeline.cache import read_lock

pytestmark = pytest.mark.slow

STAGES_WITH_FIGURES = {"density_evo.gif", "DDPM.png"}  # the draft's own image names


def test_fast_build_ran_every_stage_and_filled_every_region(fast_post):
    assert fast_post.result.returncode == 0, fast_post.result.stderr[-3000:]
    lock = read_lock(fast_post.root / "figures.lock")[POST]
    assert lock and all(r["profile"] == "fast" for r in lock.values())
    md = (fast_post.root / "content/posts/generative-models.md").read_text()
    for name in STAGES_WITH_FIGURES:
        assert f"]({name} " in md
    jinja = re.sub(r"\{\{[<%].*?[>%]\}\}", "", md)  # Hugo's shortcodes are the page's own
    assert "{{" not in jinja and "{%" not in jinja


def test_fast_build_writes_the_draft_image_names_and_a_multi_frame_gif(fast_post):
    from PIL import Image

    files = outputs(fast_post.root)
    assert STAGES_WITH_FIGURES <= set(files)
    with Image.open(fast_post.root / f"static/posts/{POST}/density_evo.gif") as gif:
        assert gif.n_frames >= 40
    assert len(files["density_evo.gif"]) <= 1.5e6


def test_check_after_a_fast_build_flags_every_stage_as_draft_and_nothing_else(fast_post):
    result = pipeline(fast_post.root, "check")
    assert result.returncode == 1
    lines = [ln for ln in (result.stdout + result.stderr).splitlines() if "draft" in ln]
    lock = read_lock(fast_post.root / "figures.lock")[POST]
    assert len(lines) >= len(lock)
    stage_lines = [ln for ln in result.stdout.splitlines() if ln.startswith("stale:")
                   and "/sections" not in ln]
    assert stage_lines and all("built with draft profile 'fast'" in ln for ln in stage_lines)
    assert "missing" not in result.stdout and "edited" not in result.stdout


def test_no_op_build_skips_everything_without_importing_torch(fast_post):
    result = pipeline(fast_post.root, "-X", "importtime", "build", "--profile", "fast",
                      python_flags=True)
    assert result.returncode == 0, result.stderr[-2000:]
    imported = {line.split("|")[-1].strip() for line in result.stderr.splitlines()
                if line.startswith("import time:")}
    assert "figures_pipeline.engine" in imported  # the probe works
    assert not imported & {"torch", "matplotlib", "numpy"}
    assert "ran" not in [word for line in result.stderr.splitlines() for word in line.split()]


def test_a_forced_rebuild_is_byte_identical_but_for_measured_times(fast_post, tmp_path):
    before_files = outputs(fast_post.root)
    md_path = fast_post.root / "content/posts/generative-models.md"
    before_md = md_path.read_text()
    result = pipeline(fast_post.root, "build", "--profile", "fast", "--force")
    assert result.returncode == 0, result.stderr[-3000:]
    after_files = outputs(fast_post.root)
    assert after_files.keys() == before_files.keys()
    changed = [name for name in after_files if after_files[name] != before_files[name]]
    assert changed == []
    assert mask_durations(md_path.read_text()) == mask_durations(before_md)


def test_the_committed_post_is_up_to_date_with_its_code(tmp_path):
    """What CI's `make check` asserts: the committed figures, sections and lock match the code,
    the config and the packages, and were built with the published profile."""
    root = copy_project(tmp_path / "repo")
    result = pipeline(root, "check")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]


def test_an_undertrained_ddpm_fails_the_published_build_on_a_claim(tmp_path):
    """The post's claims protect its prose: with the published profile and a DDPM trained for
    30 steps (`--set ddpm.steps=30`), the build exits 1 and names a false claim by file:line,
    the expression and the values it read; the claims hold on the committed post (see the test
    above: `check` judges them over figures.lock)."""
    root = copy_project(tmp_path / "repo")
    result = pipeline(root, "build", "--set", "ddpm.steps=30", "--only", "ddpm_samples",
                      "--jobs", "1")
    assert result.returncode == 1, result.stderr[-3000:]
    false = [ln for ln in result.stderr.splitlines() if "claim false: ddpm_samples." in ln]
    assert false, result.stderr[-3000:]
    assert all(re.match(r"error: [\w/.-]+\.(md|py):\d+: claim false: ", ln) for ln in false)
    assert "(ddpm_samples.ddpm." in "".join(false)  # the values it read
