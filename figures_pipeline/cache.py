"""Content-addressed storage of what stages made, the lock file, and atomic writes.

    .cache/figures/objects/ab/<sha256><suffix>   file contents (outputs and artifacts)
    .cache/figures/entries/<key>.json            per stage key: hashes of its files, values, time
    .cache/figures/tmp/                          staging folders of running stages
    .cache/figures/build.lock                    held (fcntl) by the one running build

A corrupt, truncated or missing entry or object is a warning and a miss, never a crash.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

LOCK_VERSION = 1


class BuildLockedError(RuntimeError):
    """Another build holds the build lock (and we were asked not to wait)."""


def warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr, flush=True)


def file_sha(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def atomic_write(path: Path, data: bytes) -> bool:
    """Write `data` to `path` via a temp file and os.replace, only if the bytes differ."""
    path = Path(path)
    try:
        if path.read_bytes() == data:
            return False
    except OSError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return True


def atomic_copy(src: Path, dst: Path) -> bool:
    """Copy `src` over `dst` atomically, only if the bytes differ."""
    return atomic_write(dst, Path(src).read_bytes())


def dumps_canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


class Cache:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.objects = self.root / "objects"
        self.entries = self.root / "entries"
        self.tmp = self.root / "tmp"

    def object_path(self, sha: str, name: str) -> Path:
        suffix = "".join(Path(name).suffixes)[-16:]
        return self.objects / sha[:2] / f"{sha}{suffix}"

    def put_file(self, path: Path, name: str) -> str:
        sha = file_sha(path)
        dst = self.object_path(sha, name)
        if not (dst.is_file() and dst.stat().st_size == path.stat().st_size):
            dst.parent.mkdir(parents=True, exist_ok=True)
            tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
            shutil.copyfile(path, tmp)
            os.replace(tmp, dst)
        return sha

    def put_entry(self, key: str, entry: dict[str, Any]) -> None:
        atomic_write(self.entries / f"{key}.json", (json.dumps(entry, sort_keys=True, indent=1)
                                                    + "\n").encode())

    def get_entry(self, key: str, verify: bool = True) -> dict[str, Any] | None:
        """The entry for `key` with every file present (and intact if `verify`), else None."""
        path = self.entries / f"{key}.json"
        if not path.exists():
            return None
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
            files = {**entry["outputs"], **entry["artifacts"]}
            entry["values"], entry["seconds"]  # noqa: B018 - required fields
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
            warn(f"cache entry {path.relative_to(self.root)} is corrupt ({type(e).__name__}); "
                 "ignoring it")
            return None
        for name, sha in files.items():
            obj = self.object_path(sha, name)
            try:
                ok = obj.is_file() and (not verify or file_sha(obj) == sha)
            except OSError:
                ok = False
            if not ok:
                warn(f"cache object for '{name}' ({entry.get('stage', '?')}) is missing or "
                     "corrupt; ignoring the cache entry")
                return None
        return entry

    def staging(self, stage: str) -> Path:
        self.tmp.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=f"{stage}.", dir=self.tmp))

    def clean_tmp(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)

    def referenced(self, keys: set[str]) -> set[Path]:
        keep: set[Path] = set()
        for key in keys:
            entry = self.get_entry(key, verify=False)
            if entry:
                keep.add(self.entries / f"{key}.json")
                for name, sha in {**entry["outputs"], **entry["artifacts"]}.items():
                    keep.add(self.object_path(sha, name))
        return keep

    def gc(self, keep_keys: set[str]) -> int:
        """Delete entries and objects not reachable from `keep_keys`; return files removed."""
        keep = self.referenced(keep_keys)
        removed = 0
        for folder in (self.entries, self.objects):
            if folder.exists():
                for p in folder.rglob("*"):
                    if p.is_file() and p not in keep:
                        p.unlink()
                        removed += 1
        return removed


@contextlib.contextmanager
def build_lock(cache_root: Path, wait: bool = True) -> Iterator[None]:
    """Hold the build lock; wait for another build (saying so) or raise BuildLockedError."""
    cache_root.mkdir(parents=True, exist_ok=True)
    path = cache_root / "build.lock"
    with open(path, "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "?"
            if not wait:
                raise BuildLockedError(f"another build is running (pid {holder}); "
                                       "wait for it or run without --no-wait") from None
            print(f"another build is running (pid {holder}); waiting for it to finish...",
                  file=sys.stderr, flush=True)
            fcntl.flock(f, fcntl.LOCK_EX)
        f.seek(0)
        f.truncate()
        f.write(str(os.getpid()))
        f.flush()
        try:
            yield
        finally:
            f.seek(0)
            f.truncate()
            fcntl.flock(f, fcntl.LOCK_UN)


# ---- the lock file (committed): per stage key, profile, output hashes, values ----

def read_lock(path: Path) -> dict[str, Any]:
    """{post: {stage: record}}; a missing lock is empty; a corrupt one warns and is empty."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
        if raw.get("version") != LOCK_VERSION or not isinstance(raw.get("posts"), dict):
            raise ValueError("unknown version or layout")
        return raw["posts"]
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, AttributeError) as e:
        warn(f"{Path(path).name} is unreadable ({e}); treating every stage as never built")
        return {}


def format_lock(posts: dict[str, Any]) -> bytes:
    return (json.dumps({"version": LOCK_VERSION, "posts": posts}, sort_keys=True, indent=1,
                       ensure_ascii=False) + "\n").encode()


def write_lock(path: Path, posts: dict[str, Any]) -> bool:
    return atomic_write(path, format_lock(posts))
