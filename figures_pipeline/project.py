"""The project file `figures.toml`: which posts exist, where their stages, config, Markdown and
templates live; and loading a post's stages and config.

    [posts.generative-models]
    stages = "blog.stages"               # importing it declares the post's stages (cheaply)
    config = "blog/post.toml"
    markdown = "content/posts/generative-models.md"
    templates = "blog/templates"         # <region>.md.j2
    validate = "blog.config:validate"    # optional: range checks on the config values

Outputs go to static/posts/<post>/, the cache to .cache/figures/, the lock to figures.lock.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import Config, ConfigError, load_config
from .stages import DeclarationError, Graph, declared_in, forget

PROJECT_FILE = "figures.toml"
LOCK_FILE = "figures.lock"
CACHE_DIR = ".cache/figures"
STATIC_DIR = "static/posts"
# Import name -> distribution of the packages whose version shapes a stage's output.
TRACKED_PACKAGES = {"torch": "torch", "numpy": "numpy", "matplotlib": "matplotlib",
                    "imageio": "imageio", "imageio_ffmpeg": "imageio-ffmpeg", "PIL": "pillow",
                    "scipy": "scipy"}


class ProjectError(ValueError):
    """figures.toml or a post's files are missing or wrong; one line."""


@dataclass(frozen=True)
class Post:
    name: str
    stages: str
    config: str
    markdown: str | None
    templates: str | None
    validate: str | None


@dataclass(frozen=True)
class Project:
    root: Path
    posts: dict[str, Post]

    @property
    def lock_path(self) -> Path:
        return self.root / LOCK_FILE

    @property
    def cache_dir(self) -> Path:
        return self.root / CACHE_DIR

    def static_dir(self, post: str) -> Path:
        return self.root / STATIC_DIR / post

    def select(self, names: tuple[str, ...] | list[str] = ()) -> list[Post]:
        for n in names:
            if n not in self.posts:
                raise ProjectError(f"{PROJECT_FILE}: no post '{n}' (posts: "
                                   f"{', '.join(sorted(self.posts))})")
        return [p for n, p in sorted(self.posts.items()) if not names or n in names]


def load_project(root: str | Path = ".") -> Project:
    root = Path(root).resolve()
    path = root / PROJECT_FILE
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ProjectError(f"{path}: not found (run in the project root or pass --root)") \
            from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ProjectError(f"{path}: not valid TOML: {e}") from None
    posts: dict[str, Post] = {}
    for name, table in raw.get("posts", {}).items():
        where = f"{PROJECT_FILE} [posts.{name}]"
        if not isinstance(table, dict):
            raise ProjectError(f"{where}: must be a table")
        unknown = set(table) - {"stages", "config", "markdown", "templates", "validate"}
        if unknown:
            raise ProjectError(f"{where}: unknown key '{sorted(unknown)[0]}'")
        for key in ("stages", "config"):
            if not isinstance(table.get(key), str):
                raise ProjectError(f"{where}: '{key}' (a string) is required")
        posts[name] = Post(name, table["stages"], table["config"], table.get("markdown"),
                           table.get("templates"), table.get("validate"))
    if not posts:
        raise ProjectError(f"{path}: declares no [posts.<name>]")
    return Project(root, posts)


def import_project_module(root: Path, name: str, what: str) -> Any:
    """Import `name` from the project under `root`, afresh (a re-import sees edited files); for a
    package, also each of its submodules (a post may keep its stages in several files)."""
    root_s = str(root)
    if root_s not in sys.path:
        sys.path.insert(0, root_s)
    stale = [m for m, mod in list(sys.modules.items())
             if m != "__main__" and not m.startswith("figures_pipeline")
             and _under(getattr(mod, "__file__", None), root)]
    top = name.split(".")[0]
    stale += [m for m in sys.modules if m == top or m.startswith(top + ".")]
    for m in stale:
        sys.modules.pop(m, None)
    forget(stale)
    importlib.invalidate_caches()
    module = _import(root, name, what)
    # a package of stage modules: each submodule declares its own stages
    for info in sorted(pkgutil.iter_modules(getattr(module, "__path__", [])), key=lambda i: i.name):
        _import(root, f"{name}.{info.name}", what)
    return module


def _import(root: Path, name: str, what: str) -> Any:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as e:
        if e.name and (name == e.name or name.startswith(e.name + ".")):
            raise ProjectError(f"{what}: module '{name}' not found under {root} "
                               f"(expected {name.replace('.', '/')}.py)") from None
        raise ProjectError(f"{what}: importing '{name}' failed: {e}") from None
    except (DeclarationError, ProjectError):
        raise
    except Exception as e:  # noqa: BLE001 - report any import-time failure in one line
        raise ProjectError(f"{what}: importing '{name}' failed{_location(e, root)}: "
                           f"{type(e).__name__}: {_first_line(e)}") from None


def _location(e: BaseException, root: Path) -> str:
    """' at a/b.py:12': where in the project's own files an import-time error happened (the
    deepest such frame; a SyntaxError's own file and line), or '' if it is not in them."""
    frames: list[tuple[str, int | None]] = []
    tb = e.__traceback__
    while tb is not None:
        frames.append((tb.tb_frame.f_code.co_filename, tb.tb_lineno))
        tb = tb.tb_next
    if isinstance(e, SyntaxError) and e.filename:
        frames.append((e.filename, e.lineno))
    loc = ""
    for file, line in frames:
        if is_project_code(file, root):
            loc = f" at {os.path.relpath(os.path.abspath(file), root)}:{line}"
    return loc


ENGINE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def is_project_code(file: str | None, root: Path) -> bool:
    """Whether an error in `file` is the project's to fix: under `root`, not in an environment,
    not in this engine."""
    return _under(file, root) and not os.path.abspath(file or "").startswith(ENGINE_DIR)


def _first_line(e: BaseException) -> str:
    if isinstance(e, SyntaxError):
        return e.msg or "invalid syntax"
    lines = str(e).splitlines()
    return lines[0] if lines else ""


def _under(file: str | None, root: Path) -> bool:
    """Whether `file` is project code under `root` (an environment inside it, such as a .venv
    in the checkout, is not: its packages are never re-imported; nor is a frozen or generated
    module such as '<frozen importlib._bootstrap>')."""
    if not file or file.startswith("<"):
        return False
    path = os.path.abspath(file)
    env = os.path.abspath(sys.prefix) + os.sep
    if "site-packages" in path.split(os.sep) or path.startswith(env):
        return False
    return path.startswith(str(root) + os.sep)


def load_graph(project: Project, post: Post) -> Graph:
    """Import the post's stage module and check its stages form a graph."""
    import_project_module(project.root, post.stages, f"{PROJECT_FILE} [posts.{post.name}] stages")
    stages = declared_in(post.stages)
    if not stages:
        raise DeclarationError(f"{post.stages}: declares no @stage functions")
    return Graph(stages)


def load_post_config(project: Project, post: Post, profile: str = "default",
                     overrides: tuple[str, ...] | list[str] = ()) -> Config:
    """The post's config for `profile` with `--set` overrides, validated by the post's hook."""
    validate = None
    if post.validate:
        mod, _, fn = post.validate.partition(":")
        where = f"{PROJECT_FILE} [posts.{post.name}] validate"
        module = import_project_module(project.root, mod, where)
        validate = getattr(module, fn, None)
        if not callable(validate):
            raise ProjectError(f"{where}: '{post.validate}' is not a function")
    try:
        return load_config(project.root / post.config, profile, overrides, validate)
    except ConfigError as e:
        raise ConfigError(str(e).replace(str(project.root) + "/", "")) from None
