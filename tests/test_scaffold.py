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


# ---- the guide's complete example: examples/random-walk ----

EXAMPLE = REPO / "examples" / "random-walk"


def with_example(dest: Path) -> Path:
    """A project copy with the example post installed as its README says."""
    root = project_copy(dest)
    shutil.copytree(EXAMPLE / "random_walk", root / "random_walk")
    shutil.copy(EXAMPLE / "content/posts/random-walk.md", root / "content/posts/random-walk.md")
    with (root / "figures.toml").open("a") as f:
        f.write((EXAMPLE / "figures.toml").read_text())
    return root


def generated(root: Path) -> dict[str, bytes]:
    files = {p.name: p.read_bytes() for p in (root / "static/posts" / SLUG).iterdir()}
    files["page"] = (root / f"content/posts/{SLUG}.md").read_bytes()
    return files


def test_the_example_post_builds_byte_stable_checks_and_renders(tmp_path):
    a, b = with_example(tmp_path / "a"), with_example(tmp_path / "b")
    for root in (a, b):
        r = fp(tmp_path, "build", "--root", str(root), "--post", SLUG)
        assert r.returncode == 0, r.stderr
        assert "2 claims checked: all hold" in r.stderr  # the page's claim and the figure's
    assert generated(a) == generated(b)  # same code, config and seed: the same bytes
    page = (a / f"content/posts/{SLUG}.md").read_text()
    assert "![5 random walks of 100 steps spreading out" in page
    assert "5 of the 400 walks" in page
    r = fp(tmp_path, "check", "--root", str(a), "--post", SLUG)
    assert r.returncode == 0, r.stdout + r.stderr
    html = (build(a, tmp_path / "site").public / "posts" / SLUG / "index.html").read_text()
    assert 'alt="5 random walks of 100 steps' in html and "katex" in html


def test_the_example_post_reruns_only_what_an_edit_reaches(tmp_path):
    root = with_example(tmp_path / "p")
    assert fp(tmp_path, "build", "--root", str(root), "--post", SLUG).returncode == 0
    stages = root / "random_walk/stages.py"
    # a refactor of the simulation that changes no byte: it re-runs, its downstream is cut off
    stages.write_text(stages.read_text().replace(
        "    return {\"n\": n, \"steps\": steps}", "    out = {\"n\": n, \"steps\": steps}\n"
        "    return out"))
    r = fp(tmp_path, "build", "--root", str(root), "--post", SLUG)
    assert r.returncode == 0, r.stderr
    assert "ran random-walk/walks" in r.stderr and "cut off random-walk/spread" in r.stderr
    # a plot edit redraws the figure and does not re-simulate
    plots = root / "random_walk/plots.py"
    plots.write_text(plots.read_text().replace("lw=0.9", "lw=1.0"))
    r = fp(tmp_path, "build", "--root", str(root), "--post", SLUG)
    assert "ran random-walk/spread" in r.stderr and "1 ran, 1 skipped" in r.stderr
    assert "code changed: random_walk/plots.py::draw_walks" in r.stderr


@pytest.mark.parametrize("target, expected", [
    ("figures", "build --profile default  --post my-post"),
    ("check", "check --post my-post"),
    ("serve", "build --profile default  --post my-post"),
    ("post", "new my-post"),
])
def test_make_targets_take_one_post(target, expected):
    var = "SLUG" if target == "post" else "POST"
    r = subprocess.run(["make", "-n", "-C", str(REPO), target, f"{var}=my-post"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and expected in r.stdout, r.stdout + r.stderr
    if target != "post":
        assert "--post" not in subprocess.run(["make", "-n", "-C", str(REPO), target],
                                              capture_output=True, text=True).stdout
