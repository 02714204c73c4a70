"""The no-op shortcut: a fingerprint of every file's (path, size, mtime) in the project, so a
build that changed nothing can stop before importing or hashing anything."""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from .cache import dumps_canonical
from .planning import ENGINE_VERSION
from .project import Project

if TYPE_CHECKING:
    from .engine import BuildOptions

# Directories whose files never shape a build (the fingerprint does not stat them).
UNTRACKED_DIRS = frozenset({".git", ".venv", ".cache", "public", "resources", "node_modules",
                            "test-artifacts", "__pycache__", ".pytest_cache", ".ruff_cache"})


def fingerprint(project: Project, opts: BuildOptions) -> str:
    """(path, size, mtime) of every file in the project, the installed packages' folder, the
    build options and the engine version: equal to the last successful build's, nothing that
    could change a key has changed, so the build can stop before importing or hashing anything.
    Any difference (an edit, a touched file, a package installed) falls back to the full plan."""
    import sysconfig

    h = hashlib.sha256(dumps_canonical([ENGINE_VERSION, opts.profile, list(opts.overrides),
                                        sorted(opts.posts), sys.version]).encode())
    site = Path(sysconfig.get_paths()["purelib"])
    for path in [site, *project_files(project.root)]:
        try:
            st = path.stat()
        except OSError:
            continue
        h.update(f"{path}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def project_files(root: Path) -> list[Path]:
    out: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in UNTRACKED_DIRS)
        out.extend(Path(dirpath) / f for f in sorted(filenames) if not f.endswith(".pyc"))
    return out


def unchanged_since(stamp: Path, project: Project, opts: BuildOptions) -> bool:
    try:
        return stamp.read_text() == fingerprint(project, opts)
    except OSError:
        return False
