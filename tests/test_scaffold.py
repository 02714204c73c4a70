"""`python -m figures_pipeline new SLUG`: a second post that builds, checks and renders at once,
run as an author would, from another folder (`--root`), in a copy of the project."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from post_helpers import SKIP
from site_helpers import REPO, build

SLUG = "random-walk"


def project_copy(dest: Path) -> Path:
    """The project without the real post's page and figures (the site then builds in seconds;
    figures.toml still declares it, as a second author's checkout would)."""
    shutil.copytree(REPO, dest, ignore=shutil.ignore_patterns(*SKIP, "generative-models*"))
    return dest


def fp(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    """The installed engine's CLI, run in `cwd` (not the project: the engine comes from the
    venv's editable install, the post's code from --root)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([sys.executable, "-m", "figures_pipeline", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def scaffolded(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("scaffold")
    root = project_copy(base / "project")
    elsewhere = base / "elsewhere"
    elsewhere.mkdir()
    r = fp(elsewhere, "new", SLUG, "--root", str(root))
    assert r.returncode == 0, r.stderr
    return root


def test_new_writes_the_entry_package_config_template_and_page(scaffolded):
    posts = tomllib.loads((scaffolded / "figures.toml").read_text())["posts"]
    assert posts[SLUG] == {"stages": "random_walk.stages", "config": "random_walk/post.toml",
                           "markdown": f"content/posts/{SLUG}.md",
                           "templates": "random_walk/templates"}
    assert "generative-models" in posts  # the other post's entry is kept, byte for byte
    original = (REPO / "figures.toml").read_text()
    assert (scaffolded / "figures.toml").read_text().startswith(original)
    config = tomllib.loads((scaffolded / "random_walk/post.toml").read_text())
    assert "fast" in config["profiles"]
    page = (scaffolded / f"content/posts/{SLUG}.md").read_text()
    assert page.startswith("+++\n") and "draft = false" in page
    assert "<!-- generated:begin results -->" in page
    for rel in ("random_walk/__init__.py", "random_walk/stages.py", "random_walk/plots.py",
                "random_walk/templates/results.md.j2"):
        assert (scaffolded / rel).is_file(), rel


def test_the_new_post_builds_checks_and_renders_in_hugo(scaffolded, tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    built = fp(outside, "build", "--root", str(scaffolded), "--post", SLUG)
    assert built.returncode == 0, built.stderr
    assert "ran random-walk/walks" in built.stderr
    assert (scaffolded / "static/posts" / SLUG / "walks.png").stat().st_size > 1000
    page = (scaffolded / f"content/posts/{SLUG}.md").read_text()
    # the alt text and caption follow the config: 5 walks in the default profile
    assert "![5 random walks of 200 steps](walks.png" in page
    checked = fp(outside, "check", "--root", str(scaffolded), "--post", SLUG)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "warning" not in checked.stderr and "error" not in checked.stderr
    again = fp(outside, "build", "--root", str(scaffolded), "--post", SLUG)
    assert again.returncode == 0 and (scaffolded / f"content/posts/{SLUG}.md").read_text() == page

    site = build(scaffolded, tmp_path / "site")
    html = (site.public / "posts" / SLUG / "index.html").read_text()
    assert 'alt="5 random walks of 200 steps"' in html
    assert "katex" in html  # the formula in the page's text is typeset


@pytest.mark.parametrize("args, message", [
    (["new", "Random Walk"], "a slug is lower-case letters and digits joined by single '-'"),
    (["new", "generative-models"], "post 'generative-models' already exists"),
    (["new", "json"], "'json' is already an importable module"),
    (["new", "blog"], "package 'blog' is already post 'generative-models''s"),
])
def test_new_refuses_and_writes_nothing(tmp_path, args, message):
    root = project_copy(tmp_path / "p")
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    r = fp(root, *args, "--root", str(root))
    assert r.returncode == 2 and message in r.stderr, r.stderr
    assert {p: p.read_bytes() for p in root.rglob("*") if p.is_file()} == before


def test_new_refuses_to_overwrite_an_existing_page(tmp_path):
    root = project_copy(tmp_path / "p")
    (root / "content/posts/my-post.md").write_text("mine\n")
    r = fp(root, "new", "my-post", "--root", str(root))
    assert r.returncode == 2 and "content/posts/my-post.md already exists" in r.stderr
    assert (root / "content/posts/my-post.md").read_text() == "mine\n"
    assert not (root / "my_post").exists()
