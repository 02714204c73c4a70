"""What a preview watches, and whether it changed: exactly the inputs of the posts.

The watched inputs are figures.toml, each post's config, Markdown and templates, its stages'
data files, and every project module the stage modules (and the post's `validate` hook) reach:
the import closure `codehash.Analyzer` computes statically, recomputed after each plan. Two
folders are watched for new files: the templates folder (`*.md.j2`) and a stage package (`*.py`).

`Watcher.poll()` stats each watched file (cheap: a few dozen `stat` calls every 50 ms, no
dependency, portable) and hashes a file only when its stat changed: a save that writes a temp
file and renames it over the original is one change; a touch that leaves the bytes alone is
none. The bytes the engine writes itself (a post's regions) are recorded with `Watcher.wrote`,
so they never count as the author's edits.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .codehash import Analyzer, CodeError
from .project import PROJECT_FILE, Project
from .sections import TEMPLATE_SUFFIX

POLL_SECONDS = 0.05  # how often the watched files are stat'ed
QUIET_SECONDS = 0.1  # a burst of saves ends after this long without a change
BURST_LIMIT_SECONDS = 1.0  # ... or after this long, whatever keeps changing


@dataclass
class Inputs:
    """The files a preview watches, and the folders whose listing of `suffix` files it watches."""

    files: set[Path] = field(default_factory=set)
    folders: dict[Path, str] = field(default_factory=dict)  # folder -> suffix

    def __or__(self, other: Inputs) -> Inputs:
        return Inputs(self.files | other.files, {**self.folders, **other.folders})


def watched_inputs(project: Project, posts: Iterable, data: Iterable[str] = (),
                   analyzer: Analyzer | None = None) -> Inputs:
    """The inputs of `posts` (project.Post): see the module's docstring. `data` are the stages'
    declared data files (relative to the root). A module that does not parse is skipped here
    (planning reports it); its file stays watched through the previous plan's inputs."""
    root = project.root
    analyzer = analyzer or Analyzer(root)
    out = Inputs({root / PROJECT_FILE} | {root / rel for rel in data})
    for post in posts:
        out.files.add(root / post.config)
        if post.markdown:
            out.files.add(root / post.markdown)
        if post.templates:
            folder = root / post.templates
            out.folders[folder] = TEMPLATE_SUFFIX
            out.files.update(folder.glob(f"*{TEMPLATE_SUFFIX}"))
        modules = [post.stages]
        package = root.joinpath(*post.stages.split("."))
        if package.is_dir():
            out.folders[package] = ".py"
            modules += [f"{post.stages}.{p.stem}" for p in sorted(package.glob("*.py"))
                        if p.stem != "__init__"]
        if post.validate:
            modules.append(post.validate.partition(":")[0])
        for module in modules:
            try:
                units, _ = analyzer.module_closure(module)
            except CodeError:
                continue
            out.files.update(root / unit.partition("::")[0] for unit in units)
        if package.is_dir():
            out.files.add(package / "__init__.py")
    return out


def text_only_files(root: Path, posts: Iterable, data: Iterable[str],
                    site: Iterable[Path] = ()) -> set[Path]:
    """The watched files no stage reads (an edit replans nothing): each post's Markdown and
    templates, and the `site` files, less the stages' `data` files."""
    out: set[Path] = set(site)
    for post in posts:
        if post.markdown:
            out.add(root / post.markdown)
        if post.templates:
            folder = root / post.templates
            out |= {folder} | set(folder.glob(f"*{TEMPLATE_SUFFIX}"))
    return out - {root / rel for rel in data}


def served_files(root: Path, posts: Iterable, site: Iterable[Path] = ()) -> set[Path]:
    """The watched files Hugo reads itself: each post's Markdown, and the `site` files."""
    return {root / post.markdown for post in posts if post.markdown} | set(site)


def _sha(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None  # missing (or mid-rename): a change when it was there before


def _stat(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


class Watcher:
    """The watched files' last known contents; `poll` says which changed since."""

    def __init__(self, inputs: Inputs | None = None):
        self.inputs = Inputs()
        self._stat: dict[Path, tuple[int, int, int] | None] = {}
        self._sha: dict[Path, str | None] = {}
        self._listing: dict[Path, frozenset[str]] = {}
        if inputs is not None:
            self.watch(inputs)

    def watch(self, inputs: Inputs) -> None:
        """Watch exactly `inputs` from now on; a newly watched file's current bytes are its
        baseline (it changes when they do)."""
        for path in inputs.files - self.inputs.files:
            self.refresh(path)
        for path in self.inputs.files - inputs.files:
            self._stat.pop(path, None)
            self._sha.pop(path, None)
        self._listing = {f: self._listing.get(f) or self._list(f, s)
                         for f, s in inputs.folders.items()}
        self.inputs = inputs

    def refresh(self, path: Path) -> None:
        """Take `path`'s current bytes as known."""
        self._stat[path] = _stat(path)
        self._sha[path] = _sha(path)

    def wrote(self, path: Path, data: bytes) -> None:
        """The engine wrote `data` to `path`: those bytes are not an edit (a save by the author
        since, or racing with it, still is)."""
        self._stat[path] = None
        self._sha[path] = hashlib.sha256(data).hexdigest()

    @staticmethod
    def _list(folder: Path, suffix: str) -> frozenset[str]:
        try:
            return frozenset(p.name for p in folder.iterdir() if p.name.endswith(suffix))
        except OSError:
            return frozenset()

    def poll(self) -> set[Path]:
        """The watched files whose bytes changed (or that appeared or vanished) since the last
        poll, and the watched folders that gained or lost a file of their suffix."""
        changed: set[Path] = set()
        for path in self.inputs.files:
            st = _stat(path)
            if st == self._stat.get(path):
                continue
            self._stat[path] = st
            sha = _sha(path)
            if sha != self._sha.get(path):
                self._sha[path] = sha
                changed.add(path)
        for folder, suffix in self.inputs.folders.items():
            listing = self._list(folder, suffix)
            if listing != self._listing.get(folder):
                self._listing[folder] = listing
                changed.add(folder)
        return changed

    def burst(self, first: set[Path], quiet: float = QUIET_SECONDS,
              limit: float = BURST_LIMIT_SECONDS) -> set[Path]:
        """`first` and every change that follows it until the files are quiet for `quiet`
        seconds (or `limit` seconds passed): an editor's save, or several files saved at once,
        is one change (debounce)."""
        changed = set(first)
        start = last = time.monotonic()
        while time.monotonic() - last < quiet and time.monotonic() - start < limit:
            time.sleep(quiet / 3)
            more = self.poll()
            if more:
                changed |= more
                last = time.monotonic()
        return changed


def edited_at(paths: set[Path]) -> float:
    """When the first of `paths` was saved, on the time.monotonic() clock (from its mtime: Hugo
    may react to a save before the loop polls it)."""
    now, wall = time.monotonic(), time.time()
    mtimes = []
    for p in paths:
        try:
            mtimes.append(p.stat().st_mtime)
        except OSError:
            pass
    age = max(0.0, wall - min(mtimes, default=wall))
    return now - age - 0.05  # the file system's clock may lag a little behind time.time()
