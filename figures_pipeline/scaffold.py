"""`new SLUG`: a post that builds, checks and renders at once, for an author to grow.

It writes, and refuses to overwrite anything:

    figures.toml                     + [posts.SLUG] (appended; the rest of the file is kept)
    PKG/__init__.py                  the post's own package (PKG = SLUG with '_' for '-')
    PKG/stages.py                    one example stage: a figure, an artifact, a value
    PKG/plots.py                     its drawing code, apart from the computation (README: layout)
    PKG/post.toml                    the config: seed, [walk], and [profiles.fast]
    PKG/templates/results.md.j2      the generated region `results`
    content/posts/SLUG.md            front matter (draft = false) and the region's markers

The slug rule: the post's key in figures.toml, the Markdown file's name and the page's URL
(/posts/SLUG/) are one name, because a post links its figures relatively and they are published
in static/posts/SLUG/.
"""

from __future__ import annotations

import datetime as _dt
import importlib.util
import keyword
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from .project import PROJECT_FILE, ProjectError

SLUG = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


@dataclass(frozen=True)
class Scaffold:
    """What `new` wrote (paths relative to the root) and the post's package."""

    slug: str
    package: str
    files: tuple[str, ...]


def package_name(slug: str) -> str:
    """'random-walk' -> 'random_walk'; a leading digit gets a 'post_' prefix."""
    name = slug.replace("-", "_")
    return f"post_{name}" if name[0].isdigit() or keyword.iskeyword(name) else name


def new_post(root: str | Path, slug: str, package: str | None = None, title: str | None = None,
             today: _dt.date | None = None) -> Scaffold:
    """Write the files of a new post `slug` under `root` (see the module docstring)."""
    root = Path(root).resolve()
    if not SLUG.match(slug):
        raise ProjectError(f"new {slug!r}: a slug is lower-case letters and digits joined by "
                           "single '-' (e.g. random-walk); it is the page's URL /posts/SLUG/")
    pkg = package or package_name(slug)
    if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", pkg) or keyword.iskeyword(pkg):
        raise ProjectError(f"new {slug}: --package {pkg!r} is not a Python identifier")
    project_file = root / PROJECT_FILE
    try:
        text = project_file.read_text(encoding="utf-8")
        posts = tomllib.loads(text).get("posts", {})
    except FileNotFoundError:
        raise ProjectError(f"{project_file}: not found (run in the project root or pass --root)"
                           ) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ProjectError(f"{project_file}: not valid TOML: {e}") from None
    if slug in posts:
        raise ProjectError(f"{PROJECT_FILE}: post '{slug}' already exists")
    taken = [s for s, t in posts.items() if isinstance(t, dict)
             and str(t.get("stages", "")).split(".")[0] == pkg]
    if taken:
        raise ProjectError(f"new {slug}: package '{pkg}' is already post '{taken[0]}''s; "
                           "choose another with --package NAME")
    spec = _find_spec(pkg)
    if spec is not None and not str(spec).startswith(str(root)):
        raise ProjectError(f"new {slug}: '{pkg}' is already an importable module ({spec}); "
                           "choose another name with --package NAME")
    files = _files(slug, pkg, title or slug.replace("-", " ").capitalize(),
                   today or _dt.datetime.now(_dt.UTC).date())
    existing = [rel for rel in files if (root / rel).exists()]
    if (root / pkg).exists():
        existing.insert(0, f"{pkg}/")
    if existing:
        raise ProjectError(f"new {slug}: {existing[0]} already exists; nothing was written "
                           "(remove it, or choose another slug or --package)")
    for rel, body in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body, encoding="utf-8")
    sep = "" if not text or text.endswith("\n\n") else ("\n" if text.endswith("\n") else "\n\n")
    with project_file.open("a", encoding="utf-8") as f:
        f.write(sep + _entry(slug, pkg))
    return Scaffold(slug, pkg, (PROJECT_FILE, *files))


def _find_spec(name: str) -> str | None:
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    return spec.origin or str(next(iter(spec.submodule_search_locations or []), name))


def _entry(slug: str, pkg: str) -> str:
    return (f"[posts.{slug}]\n"
            f'stages = "{pkg}.stages"\n'
            f'config = "{pkg}/post.toml"\n'
            f'markdown = "content/posts/{slug}.md"\n'
            f'templates = "{pkg}/templates"\n')


def _files(slug: str, pkg: str, title: str, today: _dt.date) -> dict[str, str]:
    t = title.replace("\\", "\\\\").replace('"', '\\"')
    return {
        f"{pkg}/__init__.py": f'"""The code of the post "{title}" (content/posts/{slug}.md)."""\n',
        f"{pkg}/stages.py": STAGES.replace("PKG", pkg).replace("SLUG", slug),
        f"{pkg}/plots.py": PLOTS,
        f"{pkg}/post.toml": CONFIG.replace("TITLE", title),
        f"{pkg}/templates/results.md.j2": TEMPLATE,
        f"content/posts/{slug}.md": MARKDOWN.replace("TITLE", t).replace("DATE", today.isoformat())
                                            .replace("PKG", pkg),
    }


STAGES = '''"""The stages of the post SLUG: each writes the figures and values its sections show.

One stage per figure (or per result): a stage re-runs only when its own code, its config keys or
its upstream's outputs change. Drawing code lives in PKG/plots.py, one function per figure.
"""

from figures_pipeline import Figure, stage


@stage(config=["seed", "walk"],
       outputs={"walks.png": Figure(
           alt="{{ config.walk.n }} random walks of {{ config.walk.steps }} steps",
           caption="{{ config.walk.n }} random walks: each step adds ε ~ N(0, 1).")},
       artifacts=["paths.npy"])
def walks(ctx):
    """n random walks x_n = x_(n-1) + ε_n; returns the mean end point with its 95 % interval."""
    import numpy as np

    from PKG.plots import draw_walks

    n, steps = ctx.config["walk"]["n"], ctx.config["walk"]["steps"]
    rng = np.random.default_rng(ctx.config["seed"])
    paths = np.cumsum(rng.standard_normal((n, steps)), axis=1)
    np.save(ctx.artifact("paths.npy"), paths)  # for a downstream stage: after=["walks"]
    draw_walks(paths, ctx.output("walks.png"))
    end = paths[:, -1]
    half = 1.959963984540054 * float(end.std(ddof=1)) / np.sqrt(n)
    mean = float(end.mean())
    return {"end_mean": {"value": mean, "lo": mean - half, "hi": mean + half, "n": int(n)}}
'''

PLOTS = '''"""The post's drawing code: one function per figure (editing one redraws only it)."""


def draw_walks(paths, path):
    """Each row of `paths` as a line against the step index n; a byte-stable PNG at `path`."""
    from matplotlib.figure import Figure

    from figures_pipeline.writers import save_figure

    fig = Figure(figsize=(6.4, 3.2))
    ax = fig.add_subplot()
    for p in paths:
        ax.plot(range(1, len(p) + 1), p, lw=0.8)
    ax.set_xlabel("step n")
    ax.set_ylabel("position x_n")
    fig.tight_layout()
    save_figure(fig, path)
'''

CONFIG = '''# Every parameter of the post "TITLE". Top-level values and tables are the
# `default` profile (the published post); [profiles.fast] overrides some of them for tests
# and drafts (`--profile fast`). Override any key once with --set key=value.

seed = 0  # the one seed every random draw derives from

[walk]
n = 5         # number of walks
steps = 200   # steps per walk

[profiles.fast.walk]
steps = 50
'''

TEMPLATE = '''{{ figure("walks.png") }}

After {{ config.walk.steps | thousands }} steps the {{ config.walk.n }} walks end on average at
{{ walks.end_mean | est(2) }} (mean and its 95 % interval).
'''

MARKDOWN = '''+++
title = "TITLE"
date = DATE
draft = false
math = true
+++

Write the post here. A random walk adds a standard normal step at each time,
$x_n = x_{n-1} + \\varepsilon_n$. The region below is rewritten by every build from
PKG/templates/results.md.j2; edit the template, not the region.

<!-- generated:begin results -->
<!-- generated:end results -->
'''
