"""The preview's status, as the page's overlay shows it, and the small endpoint it polls.

    {"profile": "fast", "draft": true, "busy": true,
     "stages": [{"post", "stage", "state": "running|queued", "seconds", "expected",
                 "progress": [i, total] | null, "desc"}],
     "errors": [{"where": "toy/scatter", "message": "toy/svg.py:3: ValueError: ...",
                 "frame": "File \"toy/svg.py\", line 3, in scatter_svg\n    raise ..."}],
     "claims": ["content/posts/toy.md:7: claim `...` is false: ..."],
     "reload": 3, "version": 12}

`reload` counts the published batches that Hugo has finished rebuilding: the page reloads when it
changes (Hugo's own live reload is off in the preview: it reloads on a static file before its
rebuild of the pages is done, and a second reload can be lost while the page loads).

`serve(status, origin)` answers GET /status.json on 127.0.0.1 (a free port) in a daemon thread,
for the page served from `origin` only (CORS); the preview passes its URL to Hugo, and the
layouts' partial `preview-status.html` polls it. `GET /status.json?after=V` answers once the
version is not V (a long poll: at most WAIT_SECONDS, or BUSY_WAIT_SECONDS while a stage runs,
so that its clock ticks): the page hears of a reload at once, without polling fast. Nothing here
is in a `make site` build.
"""

from __future__ import annotations

import http.server
import json
import os
import threading
import time
import urllib.parse
from typing import Any

from .config import PUBLISHED_PROFILE

WAIT_SECONDS = 20.0  # the longest a long poll waits for a change
BUSY_WAIT_SECONDS = 1.0  # ... while a stage runs (the overlay shows its seconds)


def last_frame(traceback_text: str, root: str | None = None) -> str:
    """The last 'File "...", line N, in f' frame of a formatted traceback and its source line,
    the path relative to `root`: where the error was raised."""
    lines = traceback_text.rstrip("\n").splitlines()
    for i in range(len(lines) - 1, -1, -1):
        if lines[i].lstrip().startswith('File "'):
            frame = lines[i].strip()
            if root:
                frame = frame.replace(f'"{root.rstrip(os.sep)}{os.sep}', '"')
            source = lines[i + 1].strip() if i + 1 < len(lines) and \
                lines[i + 1].startswith("    ") else ""
            return f"{frame}\n    {source}" if source else frame
    return ""


class Status:
    """What the overlay shows; every method is thread-safe (the endpoint reads from its own
    thread)."""

    def __init__(self, profile: str):
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self.profile = profile
        self._running: dict[str, dict[str, Any]] = {}
        self._queued: list[str] = []
        self._errors: dict[str, dict[str, str]] = {}
        self._claims: list[str] = []
        self._version = 0
        self._reload = 0

    def _bump(self) -> None:
        self._version += 1
        self._changed.notify_all()

    def wait(self, version: int, timeout: float = WAIT_SECONDS) -> None:
        """Return once the status is not at `version` any more, or after `timeout` seconds
        (BUSY_WAIT_SECONDS at most while a stage runs)."""
        with self._changed:
            if self._running:
                timeout = min(timeout, BUSY_WAIT_SECONDS)
            self._changed.wait_for(lambda: self._version != version, timeout)

    def started(self, where: str, expected: float) -> None:
        with self._lock:
            self._running[where] = {"start": time.monotonic(), "expected": expected,
                                    "progress": None, "desc": ""}
            self._bump()

    def progress(self, where: str, desc: str, i: int, total: int | None) -> None:
        with self._lock:
            if where in self._running:
                self._running[where].update(progress=[i, total], desc=desc)
                self._bump()

    def ended(self, where: str) -> None:
        with self._lock:
            self._running.pop(where, None)
            self._bump()

    def queued(self, names: list[str]) -> None:
        with self._lock:
            if names != self._queued:
                self._queued = list(names)
                self._bump()

    def fail(self, where: str, message: str, frame: str = "") -> None:
        with self._lock:
            self._errors[where] = {"where": where, "message": message, "frame": frame}
            self._bump()

    def clear(self, where: str) -> None:
        with self._lock:
            if self._errors.pop(where, None) is not None:
                self._bump()

    def clear_all(self, prefix: str) -> None:
        with self._lock:
            for k in [k for k in self._errors if k.startswith(prefix)]:
                del self._errors[k]
                self._bump()

    def errors(self) -> dict[str, dict[str, str]]:
        with self._lock:
            return dict(self._errors)

    def set_claims(self, messages: list[str]) -> None:
        with self._lock:
            if messages != self._claims:
                self._claims = list(messages)
                self._bump()

    def reload(self) -> None:
        """Tell the page to reload: a batch is published and Hugo has rebuilt the site."""
        with self._lock:
            self._reload += 1
            self._bump()

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            now = time.monotonic()
            stages = [{"stage": w, "state": "running", "seconds": round(now - r["start"], 1),
                       "expected": round(r["expected"], 1), "progress": r["progress"],
                       "desc": r["desc"]} for w, r in self._running.items()]
            stages += [{"stage": w, "state": "queued", "seconds": 0.0, "expected": 0.0,
                        "progress": None, "desc": ""} for w in self._queued
                       if w not in self._running]
            return {"profile": self.profile, "draft": self.profile != PUBLISHED_PROFILE,
                    "busy": bool(stages), "stages": stages,
                    "errors": sorted(self._errors.values(), key=lambda e: e["where"]),
                    "claims": list(self._claims), "reload": self._reload,
                    "version": self._version}


def serve(status: Status, origin: str, port: int = 0) -> http.server.ThreadingHTTPServer:
    """Answer GET /status.json with `status` on 127.0.0.1:`port` (0: a free one), readable by
    the page at `origin` (e.g. http://127.0.0.1:1313); the server runs in a daemon thread."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            path, _, query = self.path.partition("?")
            if path != "/status.json":
                self.send_error(404)
                return
            after = urllib.parse.parse_qs(query).get("after", [""])[0]
            if after.lstrip("-").isdigit():
                status.wait(int(after))
            body = json.dumps(status.snapshot()).encode()
            try:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.send_header("Access-Control-Allow-Origin", origin)
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):  # the page reloaded meanwhile
                self.close_connection = True

        def log_message(self, *args: Any) -> None:  # the terminal shows the build, not polls
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="preview-status", daemon=True).start()
    return server


def url(server: http.server.ThreadingHTTPServer) -> str:
    host, port = server.server_address[:2]
    return f"http://{host}:{port}/status.json"
