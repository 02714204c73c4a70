"""Is what is on disk what the lock says? Reads files and hashes them; imports no stage.

    verify(root)        every committed output against its hash in the lock, every cache object
                        against the hash that names it, every cache entry parses, no temp file of
                        a killed write where Hugo or git would see it
    verify(root, repair=True)   also deletes the corrupt cache objects and entries and the
                        stray temp files (a build then runs or restores what they held)

A build heals the cache as it goes (a corrupt object is deleted when a restore or a store finds
it); `verify` finds corruption that no build has touched yet, for CI (`check --deep`) or after a
crash.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .cache import Cache, file_sha, is_temp_name, read_lock, warn
from .project import LOCK_FILE, Project, load_project


@dataclass(frozen=True)
class Finding:
    path: str  # relative to the project root
    problem: str
    repairable: bool = False  # a cache file or a temp file: deleting it loses nothing

    def __str__(self) -> str:
        return f"{self.path}: {self.problem}"


def stray_temps(project: Project) -> list[Path]:
    """Temp files of atomic writes ('.NAME.XXXX.tmp') where Hugo or git would see them: in the
    posts' output folders, beside the posts' Markdown and beside the lock. A build killed mid-write
    by an older engine left them; this one writes its temp files under .cache/figures/tmp/."""
    places = [(project.root, f".{LOCK_FILE}.")]
    for post in project.posts.values():
        places.append((project.static_dir(post.name), "."))
        if post.markdown:
            md = project.root / post.markdown
            places.append((md.parent, f".{md.name}."))
    out = []
    for folder, prefix in places:
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        out.extend(folder / n for n in sorted(names) if n.startswith(prefix) and is_temp_name(n))
    return out


def remove_stray_temps(project: Project) -> None:
    """Delete the stray temp files (a build does this first), warning for each."""
    for path in stray_temps(project):
        rel = path.relative_to(project.root)
        try:
            path.unlink()
            warn(f"removed {rel}, the temp file of a killed write")
        except OSError as e:
            warn(f"cannot remove the stray temp file {rel}: {e.strerror}")


def output_findings(project: Project, lock: dict, posts: list[str]) -> list[Finding]:
    """Each committed output that is missing or whose bytes differ from its hash in the lock."""
    out = []
    for post in posts:
        for stage, record in sorted(lock.get(post, {}).items()):
            for name, sha in sorted(record.get("outputs", {}).items()):
                path = project.static_dir(post) / name
                rel = path.relative_to(project.root).as_posix()
                try:
                    actual = file_sha(path)
                except FileNotFoundError:
                    out.append(Finding(rel, f"missing (an output of {stage})"))
                    continue
                except OSError as e:
                    out.append(Finding(rel, f"unreadable: {e.strerror}"))
                    continue
                if actual != sha:
                    out.append(Finding(rel, f"its bytes differ from the hash in {LOCK_FILE} "
                                            f"(an output of {stage})"))
    return out


def cache_findings(project: Project) -> list[Finding]:
    """Each cache object whose bytes do not hash to its name, each corrupt entry, each temp file
    a killed write left among the objects."""
    cache = Cache(project.cache_dir)
    out = [Finding(p.relative_to(project.root).as_posix(), why, True)
           for p, why in cache.corrupt_objects()]
    out += [Finding(p.relative_to(project.root).as_posix(), "a corrupt cache entry", True)
            for p in cache.corrupt_entries()]
    return out


@dataclass
class Verification:
    findings: list[Finding]
    outputs: int  # committed outputs hashed
    objects: int  # cache objects hashed


def verify(root: str | Path = ".", posts: tuple[str, ...] = (),
           repair: bool = False) -> Verification:
    """Everything on disk that does not match its recorded hash; raises LockError if the lock
    itself is unreadable. With `repair`, delete what is repairable (and say so)."""
    project = load_project(root)
    lock = read_lock(project.lock_path, strict=True)
    names = [p.name for p in project.select(posts)]
    findings = [Finding(p.relative_to(project.root).as_posix(),
                        "a temp file left by a killed write", True)
                for p in stray_temps(project)]
    findings += output_findings(project, lock, names)
    findings += cache_findings(project)
    if repair:
        for f in findings:
            if f.repairable:
                try:
                    (project.root / f.path).unlink()
                    warn(f"deleted {f.path} ({f.problem})")
                except OSError as e:
                    warn(f"cannot delete {f.path}: {e.strerror}")
    outputs = sum(len(r.get("outputs", {})) for n in names for r in lock.get(n, {}).values())
    objects = Cache(project.cache_dir).objects
    n_objects = sum(1 for p in objects.rglob("*") if p.is_file()) if objects.is_dir() else 0
    return Verification(findings, outputs, n_objects)
