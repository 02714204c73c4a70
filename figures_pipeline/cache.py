"""Content-addressed storage of what stages made, the lock file, and atomic writes.

    .cache/figures/objects/ab/<sha256><suffix>   file contents (outputs and artifacts)
    .cache/figures/entries/<key>.json            per stage key: hashes of its files, values, time
    .cache/figures/tmp/                          staging folders of running stages, and the
                                                 temp files of every atomic write of a build
    .cache/figures/build.lock                    held (fcntl) by the one running build

A corrupt, truncated or missing entry or object is a warning and a miss, never a crash. An object
is named by the sha256 of its bytes: one whose bytes no longer hash to its name is deleted when it
is found (on restore, or when a stage stores the same file again) and the stage runs again.
"""

from __future__ import annotations

import contextlib
import errno
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


class LockError(RuntimeError):
    """figures.lock cannot be read (a merge conflict, a hand edit, a bad encoding); one line."""


TEMP_SUFFIX = ".tmp"


def warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr, flush=True)


def file_sha(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def atomic_write(path: Path, data: bytes, tmp_dir: Path | None = None) -> bool:
    """Write `data` to `path` via a temp file and os.replace, only if the bytes differ.

    The temp file lives in `tmp_dir` when given (the build's own folder, so that a killed write
    never leaves a partial file where Hugo publishes), else beside `path`; a `tmp_dir` on another
    file system than `path` falls back to beside it.
    """
    path = Path(path)
    try:
        if path.read_bytes() == data:
            return False
    except OSError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    if tmp_dir is not None:
        Path(tmp_dir).mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX,
                               dir=tmp_dir or path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        try:
            os.replace(tmp, path)
        except OSError as e:
            if e.errno != errno.EXDEV:
                raise
            os.unlink(tmp)
            return atomic_write(path, data)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return True


def atomic_copy(src: Path, dst: Path, tmp_dir: Path | None = None) -> bool:
    """Copy `src` over `dst` atomically, only if the bytes differ."""
    return atomic_write(dst, Path(src).read_bytes(), tmp_dir)


def is_temp_name(name: str) -> bool:
    """Whether `name` is one of the temp files an atomic write makes ('.NAME.XXXX.tmp')."""
    return name.startswith(".") and name.endswith(TEMP_SUFFIX)


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
        """Store `path`'s bytes under their sha256 and return it. An object already there is kept
        only if its bytes still hash to its name; a corrupt one is replaced (with a warning)."""
        sha = file_sha(path)
        dst = self.object_path(sha, name)
        if dst.is_file():
            if _sha_or_none(dst) == sha:
                return sha
            warn(f"cache object {dst.relative_to(self.root)} for '{name}' was corrupt; "
                 "replaced it with the stage's fresh output")
        dst.parent.mkdir(parents=True, exist_ok=True)
        self.tmp.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{dst.name}.", suffix=TEMP_SUFFIX, dir=self.tmp)
        os.close(fd)
        try:
            shutil.copyfile(path, tmp)
            os.replace(tmp, dst)
        except BaseException as e:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            if isinstance(e, OSError):  # name the object, not the temp file
                raise OSError(e.errno, e.strerror, str(dst)) from None
            raise
        return sha

    def put_entry(self, key: str, entry: dict[str, Any]) -> None:
        atomic_write(self.entries / f"{key}.json", (json.dumps(entry, sort_keys=True, indent=1)
                                                    + "\n").encode(), self.tmp)

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
            if not obj.is_file():
                warn(f"cache object for '{name}' ({entry.get('stage', '?')}) is missing; "
                     "ignoring the cache entry")
                return None
            if verify and _sha_or_none(obj) != sha:
                with contextlib.suppress(OSError):
                    obj.unlink()
                warn(f"cache object for '{name}' ({entry.get('stage', '?')}) was corrupt (its "
                     f"bytes do not hash to its name); deleted {obj.relative_to(self.root)}")
                return None
        return entry

    def staging(self, stage: str) -> Path:
        self.tmp.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=f"{stage}.", dir=self.tmp))

    def clean_tmp(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)

    def corrupt_objects(self) -> list[tuple[Path, str]]:
        """(path, problem) for each object whose bytes do not hash to its name, and each temp
        file a killed write left among the objects; reads every object."""
        out: list[tuple[Path, str]] = []
        if not self.objects.is_dir():
            return out
        for p in sorted(self.objects.rglob("*")):
            if not p.is_file():
                continue
            if is_temp_name(p.name):
                out.append((p, "a temp file left by a killed write"))
                continue
            sha = p.name.split(".", 1)[0]
            actual = _sha_or_none(p)
            if actual is None:
                out.append((p, "unreadable"))
            elif actual != sha:
                out.append((p, f"its bytes hash to {actual[:12]}..., not to its name"))
        return out

    def corrupt_entries(self) -> list[Path]:
        """Entries that do not parse as an entry."""
        out = []
        if self.entries.is_dir():
            for p in sorted(self.entries.glob("*.json")):
                try:
                    e = json.loads(p.read_text(encoding="utf-8"))
                    {**e["outputs"], **e["artifacts"]}, e["values"], e["seconds"]  # noqa: B018
                except (OSError, ValueError, KeyError, TypeError, AttributeError):
                    out.append(p)
        return out

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
        with holding(f):
            yield


@contextlib.contextmanager
def holding(f) -> Iterator[None]:
    """With the lock on the open file `f` taken: write our pid into it (for the message of the
    next one who waits), and on exit clear it and release the lock."""
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


def _sha_or_none(path: Path) -> str | None:
    try:
        return file_sha(path)
    except OSError:
        return None


# ---- the lock file (committed): per stage key, profile, output hashes, values ----

CONFLICT_MARKERS = ("<<<<<<<", "=======", ">>>>>>>")


def read_lock(path: Path, strict: bool = False) -> dict[str, Any]:
    """{post: {stage: record}}; a missing lock is empty. An unreadable one raises LockError when
    `strict` (check, verify: they must not judge the post against nothing), else warns and is
    empty (a build rebuilds the lock from the cache and the stages)."""
    try:
        return _parse_lock(Path(path))
    except FileNotFoundError:
        return {}
    except LockError as e:
        if strict:
            raise
        warn(f"{e}; rebuilding it (every stage counts as never built)")
        return {}


def _parse_lock(path: Path) -> dict[str, Any]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise
    except OSError as e:
        raise LockError(f"{path.name} is unreadable: {e.strerror}") from None
    for lineno, line in enumerate(data.splitlines(), start=1):
        if line.startswith(tuple(m.encode() for m in CONFLICT_MARKERS)):
            raise LockError(f"{path.name}:{lineno}: the lock is unreadable: a merge-conflict "
                            f"marker {line[:7].decode()!r} (resolve it, or rebuild the lock with "
                            "`make figures`)")
    try:
        raw = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise LockError(f"{path.name}: the lock is unreadable: not UTF-8 (byte "
                        f"0x{data[e.start]:02x} at offset {e.start})") from None
    except ValueError as e:
        line = getattr(e, "lineno", "?")
        raise LockError(f"{path.name}:{line}: the lock is unreadable: not JSON "
                        f"({getattr(e, 'msg', e)})") from None
    if not isinstance(raw, dict) or raw.get("version") != LOCK_VERSION \
            or not isinstance(raw.get("posts"), dict):
        raise LockError(f"{path.name}: the lock is unreadable: unknown version or layout")
    return raw["posts"]


def format_lock(posts: dict[str, Any]) -> bytes:
    return (json.dumps({"version": LOCK_VERSION, "posts": posts}, sort_keys=True, indent=1,
                       ensure_ascii=False) + "\n").encode()


def write_lock(path: Path, posts: dict[str, Any], tmp_dir: Path | None = None) -> bool:
    return atomic_write(path, format_lock(posts), tmp_dir)
