"""`preview` (`make preview`): the engine in watch mode beside Hugo's server, on the toy project.

What is watched (watch.py), what a change re-runs and how a batch is published (live.py), the
status the overlay shows (status.py), the preview process (preview.py: one port, one preview,
nothing left behind), and the overlay end to end in Chromium (browser tests)."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from pipeline_toy.harness import REPO, build, edit, make_project
from site_helpers import http_get, wait_for

from figures_pipeline import engine
from figures_pipeline.cache import read_lock
from figures_pipeline.live import Live, LiveOptions
from figures_pipeline.preview import NO_REBUILD_SECONDS, HugoLog
from figures_pipeline.project import load_project
from figures_pipeline.status import Status, last_frame
from figures_pipeline.verify import verify
from figures_pipeline.watch import Watcher, edited_at, watched_inputs
from figures_pipeline.workers import IDLE_SECONDS, WarmPool, preloads

SITE_PARTS = ("hugo.toml", "layouts", "assets", "archetypes")
OVERLAY = "figures-preview-status"


def quiet(_line: str) -> None:
    pass


@pytest.fixture
def root(tmp_path):
    return make_project(tmp_path)


_LIVES: list[Live] = []


@pytest.fixture(autouse=True)
def _close_lives():
    """Stop the warm workers of each Live a test made (a test runs it `until_idle`)."""
    yield
    while _LIVES:
        _LIVES.pop().close()


def live(root: Path, **options) -> Live:
    options.setdefault("jobs", 2)
    lv = Live(root, LiveOptions(**options), say=quiet)
    _LIVES.append(lv)
    return lv


def settle(lv: Live) -> None:
    """Take the edits made since the last poll, then run until nothing is stale."""
    changed = lv.watcher.poll()
    if changed:
        lv.changed(changed)
    lv.run(until_idle=True)


# ---------------------------------------------------------------- what is watched

def test_the_watched_files_are_exactly_the_posts_inputs(root):
    lv = live(root)
    lv.plan()
    watched = {p.relative_to(root).as_posix() for p in lv.watcher.inputs.files}
    assert watched == {"figures.toml", "toy/post.toml", "content/posts/toy.md",
                       "toy/templates/results.md.j2", "data/offsets.csv", "toy/__init__.py",
                       "toy/stages.py", "toy/helpers.py", "toy/svg.py", "toy/checks.py"}
    # not a module no stage reaches, not what the engine writes
    assert "toy/unrelated.py" not in watched
    assert not any(w.startswith(("static/", ".cache/")) or w == "figures.lock" for w in watched)


def test_a_new_import_is_watched_after_the_next_plan(root):
    (root / "toy/extra.py").write_text("FACTOR = 1\n")
    project = load_project(root)
    assert root / "toy/extra.py" not in watched_inputs(project, project.select()).files
    edit(root, "toy/svg.py", '"""A tiny deterministic SVG writer."""\n',
         '"""A tiny deterministic SVG writer."""\nfrom toy.extra import FACTOR  # noqa\n')
    assert root / "toy/extra.py" in watched_inputs(project, project.select()).files


def test_a_save_by_rename_counts_once_and_a_touch_not_at_all(root):
    path = root / "toy/svg.py"
    project = load_project(root)
    w = Watcher(watched_inputs(project, project.select()))
    tmp = path.with_name(".svg.py.swp")  # an editor's temp file, then a rename over the original
    tmp.write_text(path.read_text().replace('r="1"', 'r="2"'))
    os.replace(tmp, path)
    assert w.burst(w.poll()) == {path}
    assert w.poll() == set()
    os.utime(path, ns=(time.time_ns() + 10**9,) * 2)  # touched, bytes unchanged
    assert w.poll() == set()


def test_a_new_template_counts_an_editor_backup_does_not(root):
    project = load_project(root)
    w = Watcher(watched_inputs(project, project.select()))
    folder = root / "toy/templates"
    (folder / "results.md.j2~").write_text("backup")
    assert w.poll() == set()
    (folder / "extra.md.j2").write_text("new")
    assert w.poll() == {folder}


def test_a_file_the_engine_rewrote_is_not_an_edit(root):
    project = load_project(root)
    w = Watcher(watched_inputs(project, project.select()))
    md = root / "content/posts/toy.md"
    data = (md.read_text() + "\nregions\n").encode()
    md.write_bytes(data)
    w.wrote(md, data)
    assert w.poll() == set()
    md.write_text(md.read_text() + "\nthe author's\n")  # a save after it is an edit
    assert w.poll() == {md}


# ---------------------------------------------------------------- what re-runs

def test_an_edit_reruns_only_its_stale_stages_and_leaves_lock_and_cache_valid(root):
    lv = live(root)
    lv.run(until_idle=True)
    assert lv.counts["ran"] == 4 and engine.check(root) == [] and verify(root).findings == []
    svg = (root / "static/posts/toy/scatter.svg").read_text()
    edit(root, "toy/svg.py", 'r="1"', 'r="2"')
    settle(lv)
    assert lv.counts["ran"] == 5  # scatter only
    assert (root / "static/posts/toy/scatter.svg").read_text() == svg.replace('r="1"', 'r="2"')
    assert engine.check(root) == [] and verify(root).findings == []
    # the same result as a build from scratch: nothing is left to do
    assert set(build(root).values()) == {"skipped"}


def test_a_stage_runs_in_a_warm_worker_and_sees_the_code_edited_while_it_waited(root):
    lv = live(root)
    lv.run(until_idle=True)
    lv.refill()
    assert not lv.pool.idle  # not as soon as it is idle: Hugo may be at work
    def warm() -> bool:  # one starts at a time (the other CPU is the author's)
        lv.refill(now=time.monotonic() + IDLE_SECONDS)
        return len(lv.pool.idle) == 2 and all(w.poll_ready() for w in lv.pool.idle)

    wait_for(warm)
    assert "numpy" in lv.pool.preload  # what the toy's stages import, lazily
    assert not [m for m in lv.pool.preload if m.startswith("toy")]  # never the project's code
    waiting = {w.process.pid for w in lv.pool.idle}
    taken = lv.pool.taken["warm"]
    edit(root, "toy/svg.py", 'r="1"', 'r="5"')  # edited after the workers started
    settle(lv)
    assert lv.pool.taken["warm"] == taken + 1 and lv.counts["ran"] == 5
    assert 'r="5"' in (root / "static/posts/toy/scatter.svg").read_text()
    assert len(lv.pool.idle) == 1  # not replaced while busy
    wait_for(warm)
    now = {w.process.pid for w in lv.pool.idle}
    assert len(now) == 2 and len(waiting & now) == 1  # the one it used was replaced
    assert engine.check(root) == [] and verify(root).findings == []


def process_state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_a_warm_worker_imports_only_while_no_stage_runs(tmp_path, monkeypatch):
    (tmp_path / "slow_import.py").write_text("import time\ntime.sleep(1.0)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    pool = WarmPool(2, os.getpid(), lambda: ("slow_import",))
    try:
        pool.refill(2, now=time.monotonic() + IDLE_SECONDS)
        assert len(pool.idle) == 2 and pool.preload == ("slow_import",)
        pool.busy()  # a stage starts: the importing workers stop
        assert all(w.paused for w in pool.idle)
        wait_for(lambda: all(process_state(w.process.pid) == "T" for w in pool.idle))
        time.sleep(1.5)
        assert not any(w.poll_ready() for w in pool.idle)
        worker = pool.take()  # none is ready: a fresh one, the others stay stopped
        assert pool.taken["cold"] == 1 and worker not in pool.idle and len(pool.idle) == 2
        pool.refill(2, now=time.monotonic() + IDLE_SECONDS)  # idle again: they go on
        assert not any(w.paused for w in pool.idle)
        wait_for(lambda: all(w.poll_ready() for w in pool.idle))
        other = pool.take()
        assert pool.taken["warm"] == 1 and other.preloaded == ("slow_import",)
        other.stop()
        worker.stop()
    finally:
        pool.close()
    assert not other.process.is_alive()


def test_preloads_are_the_modules_from_outside_the_project_the_stages_import(root):
    from figures_pipeline.codehash import Analyzer

    (root / "toy/extra.py").write_text("import json\nfrom colorsys import rgb_to_hls\n"
                                        "def f():\n    import numpy.linalg\n"
                                        "    from PIL import Image\n")
    edit(root, "toy/svg.py", '"""A tiny deterministic SVG writer."""\n',
         '"""A tiny deterministic SVG writer."""\nfrom toy import extra  # noqa\n')
    found = preloads(Analyzer(root), ["toy.stages"])
    assert {"numpy", "numpy.linalg", "PIL", "PIL.Image"} <= set(found)
    assert not [m for m in found if m.split(".")[0] in ("toy", "json", "colorsys", "time")]


def test_early_cutoff_a_rerun_with_the_same_outputs_runs_nothing_after_it(root):
    lv = live(root)
    lv.run(until_idle=True)
    keys = {n: r["key"] for n, r in read_lock(root / "figures.lock")["toy"].items()}
    ran = lv.counts["ran"]
    edit(root, "data/offsets.csv", "0.5,0", "0.50,0")  # other bytes, the same numbers
    settle(lv)
    assert lv.counts["ran"] == ran + 1 and lv.counts["cutoff"] == 2  # points only
    after = {n: r["key"] for n, r in read_lock(root / "figures.lock")["toy"].items()}
    assert after["points"] != keys["points"]
    assert {n: after[n] for n in ("scatter", "summary")} == \
        {n: keys[n] for n in ("scatter", "summary")}
    assert engine.check(root) == [] and verify(root).findings == []
    edit(root, "data/offsets.csv", "0.50,0", "0.25,0")  # other numbers: they run
    settle(lv)
    assert lv.counts["ran"] == ran + 4 and lv.counts["cutoff"] == 2
    assert engine.check(root) == []


def test_a_prose_edit_runs_no_stage_and_keeps_the_authors_text(root):
    lv = live(root)
    lv.run(until_idle=True)
    ran, published = lv.counts["ran"], lv.counts["published"]
    edit(root, "content/posts/toy.md", "Outro.", "Outro, edited live.")
    settle(lv)
    assert lv.counts["ran"] == ran and lv.counts["published"] == published + 1
    assert "Outro, edited live." in (root / "content/posts/toy.md").read_text()


def test_a_save_of_what_hugo_reads_is_told_at_once_and_each_publish_says_what_it_wrote(root):
    """The preview reloads the page after a prose edit without waiting for the publish, and
    after a publish only for what it wrote (live.Published)."""
    edits, done = [], []
    lv = Live(root, LiveOptions(jobs=2), say=quiet, on_publish=done.append,
              on_edit=edits.append)
    _LIVES.append(lv)
    lv.run(until_idle=True)
    edit(root, "content/posts/toy.md", "Outro.", "Outro, edited live.")
    changed = lv.watcher.poll()
    lv.changed(changed)
    assert len(edits) == 1 and lv.counts["published"] == 1  # told before it published
    lv.run(until_idle=True)
    last = done[-1]
    assert last.served and last.told and last.wrote is None and last.placed == []
    edit(root, "toy/templates/results.md.j2", "We drew", "We drew exactly")
    settle(lv)
    last = done[-1]
    assert len(edits) == 1 and not last.served and last.wrote is not None and not last.placed
    edit(root, "toy/svg.py", 'r="1"', 'r="6"')
    settle(lv)
    last = done[-1]
    assert len(edits) == 1 and last.placed == [root / "static/posts/toy/scatter.svg"]
    assert last.wrote is not None


def test_a_template_edit_rewrites_the_region_without_running_a_stage(root):
    lv = live(root)
    lv.run(until_idle=True)
    ran = lv.counts["ran"]
    edit(root, "toy/templates/results.md.j2", "We drew", "We drew exactly")
    settle(lv)
    assert lv.counts["ran"] == ran
    assert "We drew exactly 20 points" in (root / "content/posts/toy.md").read_text()


def test_a_failing_stage_shows_file_line_and_frame_keeps_the_last_good_figure_and_clears(root):
    lv = live(root)
    lv.run(until_idle=True)
    good = (root / "static/posts/toy/scatter.svg").read_bytes()
    edit(root, "toy/svg.py", "    return f'<svg", "    raise ValueError('broken plot')\n"
                                                "    return f'<svg")
    settle(lv)
    (error,) = lv.status.snapshot()["errors"]
    line = (root / "toy/svg.py").read_text().splitlines().index(
        "    raise ValueError('broken plot')") + 1
    assert error["where"] == "toy/scatter"
    assert error["message"] == f"toy/svg.py:{line}: ValueError: broken plot"
    assert error["frame"].startswith(f'File "toy/svg.py", line {line}, in scatter_svg')
    assert "raise ValueError('broken plot')" in error["frame"]
    assert (root / "static/posts/toy/scatter.svg").read_bytes() == good
    ran = lv.counts["ran"]
    settle(lv)
    assert lv.counts["ran"] == ran and lv.counts["failed"] == 1  # not retried until edited
    edit(root, "toy/svg.py", "    raise ValueError('broken plot')\n", "")
    edit(root, "toy/svg.py", 'r="1"', 'r="3"')
    settle(lv)
    assert lv.status.snapshot()["errors"] == []
    assert 'r="3"' in (root / "static/posts/toy/scatter.svg").read_text()


def test_a_running_stage_whose_inputs_change_is_cancelled_and_restarted(root):
    edit(root, "toy/post.toml", "slow = 0.0", "slow = 30.0")
    lv = live(root)
    edited = []

    def edit_while_running() -> bool:
        if ("toy", "independent") in lv.running and not edited:
            edit(root, "toy/post.toml", "slow = 30.0", "slow = 0.1")
            edited.append(time.monotonic())
        return False

    start = time.monotonic()
    lv.run(stop=edit_while_running, until_idle=True)
    assert edited and lv.counts["cancelled"] == 1 and time.monotonic() - start < 25
    record = read_lock(root / "figures.lock")["toy"]["independent"]
    assert record["inputs"]["config"]["slow"] == 0.1
    assert lv.counts["ran"] == 4  # the others ran once and kept their results


def test_the_fast_profile_is_a_draft_that_check_refuses(root):
    lv = live(root, profile="fast")
    lv.run(until_idle=True)
    assert lv.status.snapshot()["draft"] is True
    problems = engine.check(root)
    assert problems and all("draft profile 'fast'" in p.reasons[0] for p in problems)


def test_a_false_claim_shows_and_clears(root):
    lv = live(root)
    lv.run(until_idle=True)
    assert lv.status.snapshot()["claims"] == []
    edit(root, "content/posts/toy.md", "points.n == config.points.n",
         "points.n == config.points.n + 1")
    settle(lv)
    (claim,) = lv.status.snapshot()["claims"]
    assert "content/posts/toy.md" in claim and "points.n == config.points.n + 1" in claim
    edit(root, "content/posts/toy.md", "config.points.n + 1", "config.points.n")
    settle(lv)
    assert lv.status.snapshot()["claims"] == []


def test_a_save_while_the_regions_render_is_kept(root, monkeypatch):
    from figures_pipeline import regions

    lv = live(root)
    lv.run(until_idle=True)
    md = root / "content/posts/toy.md"
    render = regions.render_post

    def render_then_author_saves(*args, **kwargs):
        out = render(*args, **kwargs)
        md.write_text(md.read_text().replace("Outro.", "Outro, saved meanwhile."))
        return out

    monkeypatch.setattr(regions, "render_post", render_then_author_saves)
    edit(root, "toy/templates/results.md.j2", "We drew", "We drew exactly")
    settle(lv)
    assert "Outro, saved meanwhile." in md.read_text()  # the author's save is not overwritten
    monkeypatch.undo()
    settle(lv)  # the preview saw the save: it renders again, keeping it
    text = md.read_text()
    assert "Outro, saved meanwhile." in text and "We drew exactly 20 points" in text


def test_last_frame_is_where_the_error_was_raised():
    tb = ('Traceback (most recent call last):\n  File "/p/blog/stages/a.py", line 3, in f\n'
          '    g()\n  File "/p/blog/plots/b.py", line 9, in g\n    raise ValueError("x")\n'
          'ValueError: x\n')
    assert last_frame(tb, "/p") == 'File "blog/plots/b.py", line 9, in g\n    raise ValueError("x")'
    assert last_frame("") == ""


def test_the_status_shows_progress_of_a_running_stage():
    s = Status("default")
    s.started("toy/independent", expected=2.0)
    s.progress("toy/independent", "waiting", 3, 10)
    (stage,) = s.snapshot()["stages"]
    assert stage["progress"] == [3, 10] and stage["expected"] == 2.0 and stage["state"] == "running"
    s.ended("toy/independent")
    assert s.snapshot()["busy"] is False and s.snapshot()["draft"] is False


def test_the_status_endpoint_answers_only_the_previewed_page():
    from figures_pipeline import status

    s = Status("fast")
    server = status.serve(s, origin="http://127.0.0.1:1313")
    try:
        with urllib.request.urlopen(status.url(server), timeout=5) as r:
            assert r.headers["Access-Control-Allow-Origin"] == "http://127.0.0.1:1313"
            assert r.headers["Cache-Control"] == "no-store"
            body = json.loads(r.read())
        assert body["draft"] is True and body["profile"] == "fast" and body["reload"] == 0
        assert http_get(status.url(server).replace("status.json", "other")) is None  # a 404
        assert server.server_address[0] == "127.0.0.1"
    finally:
        server.shutdown()
        server.server_close()


def test_the_status_endpoint_is_a_long_poll_answered_by_the_next_change():
    import threading

    from figures_pipeline import status

    s = Status("fast")
    server = status.serve(s, origin="http://127.0.0.1:1313")
    try:
        version = s.snapshot()["version"]
        answers: list[dict] = []

        def ask() -> None:
            with urllib.request.urlopen(f"{status.url(server)}?after={version}",
                                        timeout=30) as r:
                answers.append(json.loads(r.read()))

        asking = threading.Thread(target=ask)
        asking.start()
        time.sleep(0.3)
        assert not answers  # nothing changed: it waits
        s.reload()
        asking.join(30)
        assert answers[0]["reload"] == 1 and answers[0]["version"] > version
        with urllib.request.urlopen(f"{status.url(server)}?after={version}", timeout=5) as r:
            assert json.loads(r.read())["reload"] == 1  # already changed: at once
    finally:
        server.shutdown()
        server.server_close()


def test_an_edit_dates_from_its_save_not_from_when_it_was_seen(root):
    path = root / "toy/svg.py"
    os.utime(path, (time.time() - 5, time.time() - 5))
    assert abs(edited_at({path}) - (time.monotonic() - 5.05)) < 0.5


class FakeHugo:
    def __init__(self, output: bytes):
        self.stdout = io.BytesIO(output)


def hugo_log(output: bytes) -> HugoLog:
    log = HugoLog(FakeHugo(output))
    wait_for(lambda: log.last_line, timeout=5)
    time.sleep(0.1)  # the reader thread took every line
    return log


def test_the_page_reloads_once_hugo_ended_its_rebuild_and_not_before():
    before = time.monotonic()
    log = hugo_log(b"\nChange detected, rebuilding site (#1).\nSource changed /posts/toy.md\n"
                   b"Total in 7 ms\n")
    assert log.rebuilt(before, before) is True
    building = hugo_log(b"Change detected, rebuilding site (#1).\n")  # no end yet
    assert building.rebuilt(before, before) is None
    later = time.monotonic()  # Hugo has not reacted since: wait, then give up
    assert log.rebuilt(later, later, now=later + 0.5) is None
    assert log.rebuilt(later, later, now=later + 5) is False


def test_after_outputs_are_placed_the_page_waits_for_hugos_rebuild_of_the_pages():
    before = time.monotonic()
    log = hugo_log(b"Change of Static files detected, rebuilding site (#1).\n"
                   b"Syncing /posts/toy/square.png to /\n")
    assert log.rebuilt(before, before, pages=True) is None  # the static sync is not enough
    assert log.rebuilt(before, before) is True  # (it is, for a file no page processes)
    log = hugo_log(b"Change of Static files detected, rebuilding site (#1).\n"
                   b"Syncing /posts/toy/square.png to /\n\n"
                   b"Change detected, rebuilding site (#2).\n"
                   b"Asset changed /posts/toy/square.png\n")
    assert log.rebuilt(before, before, pages=True) is None  # still rebuilding
    log = hugo_log(b"Change detected, rebuilding site (#2).\n"
                   b"Asset changed /posts/toy/square.png\nTotal in 40 ms\n")
    assert log.rebuilt(before, before, pages=True) is True
    assert log.rebuilt(before, time.monotonic(), pages=True) is None  # not a later batch's


# ---------------------------------------------------------------- the preview process

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_site(tmp_path: Path) -> Path:
    """The toy project as a Hugo site: the real layouts, styles and config."""
    root = make_project(tmp_path, "site")
    for part in SITE_PARTS:
        src = REPO / part
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, root / part)
    return root


def start_preview(root: Path, port: int, *args: str) -> subprocess.Popen:
    """The preview as `make preview` runs it, its terminal output in `root`/preview.log."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with open(root / "preview.log", "w") as log:
        return subprocess.Popen([sys.executable, "-m", "figures_pipeline", "preview", "--port",
                                 str(port), "--jobs", "2", *args], cwd=root, env=env,
                                stdout=log, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)


def output(proc: subprocess.Popen, root: Path, timeout: float = 60) -> str:
    """The preview's whole output, once it exited."""
    proc.wait(timeout)
    return (root / "preview.log").read_text()


def descendants(pid: int) -> set[int]:
    """Every live process below `pid` (from /proc)."""
    parents: dict[int, int] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
            except OSError:
                continue
            parents[int(d.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    out, todo = set(), [pid]
    while todo:
        p = todo.pop()
        kids = {c for c, pp in parents.items() if pp == p}
        out |= kids
        todo += list(kids)
    return out


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.fixture
def site(tmp_path):
    root = make_site(tmp_path)
    assert set(build(root).values()) == {"ran"}
    return root


@pytest.fixture
def running_preview(site):
    port = free_port()
    proc = start_preview(site, port)
    url = f"http://127.0.0.1:{port}/posts/toy/"
    try:
        wait_for(lambda: proc.poll() is not None or http_get(url))
        assert proc.poll() is None, (site / "preview.log").read_text()
        yield site, port, url, proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


SQUARE_STAGE = """

@stage(config=["square"], outputs={"square.png": Figure(alt="a square", caption="A square")})
def square(ctx):
    from toy.png import solid_png

    ctx.output("square.png").write_bytes(solid_png(ctx.config["square"]["rgb"]))
    return {}
"""
SOLID_PNG = '''"""A solid colour as a PNG: struct and zlib only."""
import struct
import zlib


def solid_png(rgb, width=700, height=400):
    def chunk(kind, data):
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    rows = b"".join(b"\\x00" + bytes(rgb) * width for _ in range(height))
    head = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\\x89PNG\\r\\n\\x1a\\n" + chunk(b"IHDR", head) + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))
'''


@pytest.fixture
def square_site(tmp_path):
    """The toy site with a raster figure (on the site through WebP renditions)."""
    root = make_site(tmp_path)
    (root / "toy/png.py").write_text(SOLID_PNG)
    with open(root / "toy/stages.py", "a") as f:
        f.write(SQUARE_STAGE)
    with open(root / "toy/post.toml", "a") as f:
        f.write("\n[square]\nrgb = [200, 0, 0]\n")
    with open(root / "toy/templates/results.md.j2", "a") as f:
        f.write('\n{{ figure("square.png") }}\n')
    assert build(root)["square"] == "ran"
    return root


def renditions(html: str) -> set[str]:
    """The URLs of the square's images the page shows: under the preview, the figure at a URL of
    its content (Hugo's renditions, `square_hu...`, or its fingerprint, `square.<md5>.png`)."""
    return set(re.findall(r"/posts/toy/square(?:_hu|\.[0-9a-f]{32}\.)[^\"\s,]*", html))


def shows(url: str, rgb: tuple[int, int, int]) -> bool:
    """Whether the image at `url` is the colour `rgb` (WebP is lossy: within a few levels)."""
    from PIL import Image

    with urllib.request.urlopen(url, timeout=10) as r:
        got = Image.open(io.BytesIO(r.read())).convert("RGB").getpixel((5, 5))
    return max(abs(a - b) for a, b in zip(got, rgb, strict=True)) < 8


@pytest.mark.slow
def test_a_changed_figure_is_never_shown_through_its_old_renditions(square_site):
    """The page reloads once Hugo rebuilt it with the new figure's renditions, and only the
    page (no full rebuild of the site)."""
    port = free_port()
    proc = start_preview(square_site, port)
    base, url = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port}/posts/toy/"
    try:
        html = wait_for(lambda: (lambda h: h if h and renditions(h) else None)(http_get(url)))
        status_url = _status_url(html)
        wait_for(lambda: not json.loads(http_get(status_url))["busy"])
        time.sleep(NO_REBUILD_SECONDS + 0.5)  # the start's own batch has reloaded, if at all
        html = http_get(url)
        old = renditions(html)
        assert len(old) >= 1 and all(shows(base + u, (200, 0, 0)) for u in old)
        for rgb in ((0, 0, 200), (0, 160, 0)):
            reload = json.loads(http_get(status_url))["reload"]
            text = (square_site / "toy/post.toml").read_text()
            (square_site / "toy/post.toml").write_text(re.sub(
                r"rgb = \[.*\]", f"rgb = {list(rgb)}", text))
            wait_for(lambda r=reload: json.loads(http_get(status_url))["reload"] > r,
                     timeout=60)
            new = renditions(http_get(url))  # what the page shows as it reloads
            assert len(new) == len(old) and not new & old
            assert all(shows(base + u, rgb) for u in new)
            old = new
        assert "Change of config file detected" not in (square_site / "preview.log").read_text()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.mark.slow
@pytest.mark.parametrize("how", ["SIGINT to the group (Ctrl-C)", "SIGTERM to the preview"])
def test_one_stop_signal_stops_hugo_and_the_workers_and_leaves_no_process(site, how):
    edit(site, "toy/post.toml", "slow = 0.0", "slow = 60.0")  # a stage is running when stopped
    port = free_port()
    proc = start_preview(site, port)
    try:
        wait_for(lambda: http_get(f"http://127.0.0.1:{port}/posts/toy/"))
        status_url = wait_for(lambda: _status_url(http_get(f"http://127.0.0.1:{port}/posts/toy/")))
        wait_for(lambda: any(s["state"] == "running"
                             for s in json.loads(http_get(status_url))["stages"]))
        below = descendants(proc.pid)
        assert len(below) >= 2  # hugo and the stage's worker (and spawn's tracker)
        if how.startswith("SIGINT"):
            os.killpg(proc.pid, signal.SIGINT)
        else:
            proc.send_signal(signal.SIGTERM)
        out = output(proc, site, timeout=20)
        assert proc.returncode == 128 + (signal.SIGINT if "INT" in how else signal.SIGTERM)
        assert "preview stopped" in out
        wait_for(lambda: not any(alive(p) for p in below), timeout=10)
        assert http_get(f"http://127.0.0.1:{port}/posts/toy/") is None
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _status_url(html: str | None) -> str | None:
    if not html or 'const url = "' not in html:
        return None
    return html.split('const url = "', 1)[1].split('"', 1)[0]


@pytest.mark.slow
def test_two_previews_on_one_port_give_a_clear_error(running_preview, tmp_path):
    _, port, _, _ = running_preview
    other = make_site(tmp_path / "other")
    second = start_preview(other, port)
    out = output(second, other)
    assert second.returncode == 1
    assert f"error: port {port} on 127.0.0.1 is in use (another preview?)" in out


@pytest.mark.slow
def test_a_second_preview_of_one_project_gives_a_clear_error(running_preview):
    site, _, _, proc = running_preview
    (site / "preview.log").rename(site / "first.log")
    second = start_preview(site, free_port())
    out = output(second, site)
    assert second.returncode == 1
    assert f"another preview of this project is running (pid {proc.pid})" in out


@pytest.mark.slow
def test_the_overlay_is_never_in_a_site_build(site, tmp_path):
    """`make site` (hugo, not hugo server), even with the preview's parameter set."""
    from site_helpers import hugo_binary

    env = {**os.environ, "HUGO_PARAMS_PREVIEWSTATUS": "http://127.0.0.1:9/status.json"}
    public = tmp_path / "public"
    subprocess.run([str(hugo_binary()), "--source", str(site), "--destination", str(public),
                    "--minify", "--noBuildLock"], check=True, env=env, capture_output=True)
    pages = list(public.rglob("*.html"))
    assert any("toy" in p.as_posix() for p in pages)
    assert not [p for p in pages if OVERLAY in p.read_text()]


# ---------------------------------------------------------------- in the browser

@pytest.mark.slow
@pytest.mark.browser
def test_the_page_follows_prose_a_broken_stage_and_its_fix(running_preview, browser):
    site, _, url, _ = running_preview
    page = browser.new_page()
    try:
        page.goto(url)
        overlay = page.locator(f"#{OVERLAY}")
        # prose: the page reloads with the new text
        edit(site, "content/posts/toy.md", "Outro.", "Outro, edited live.")
        page.get_by_text("Outro, edited live.").wait_for(timeout=30_000)
        # a config edit changes a figure and the text: one batch, one reload, once Hugo is done
        loads: list[float] = []
        page.on("load", lambda: loads.append(time.monotonic()))
        edit(site, "toy/post.toml", "n = 20", "n = 21")
        page.get_by_text("We drew 21 points").wait_for(timeout=30_000)
        time.sleep(2)
        assert len(loads) == 1
        # a broken plot: the overlay names file:line, the last good figure stays
        edit(site, "toy/svg.py", "    return f'<svg", "    raise ValueError('broken plot')\n"
                                                    "    return f'<svg")
        error = page.locator(f"#{OVERLAY} .preview-error")
        error.wait_for(timeout=30_000)
        assert "toy/svg.py:" in error.inner_text() and "broken plot" in error.inner_text()
        assert page.locator("img[src$='scatter.svg']").count() == 1
        # fixed: the overlay clears and the figure is the new one
        edit(site, "toy/svg.py", "    raise ValueError('broken plot')\n", "")
        edit(site, "toy/svg.py", 'r="1"', 'r="4"')
        overlay.wait_for(state="hidden", timeout=30_000)
        svg = wait_for(lambda: (lambda t: t if t and 'r="4"' in t else None)(
            http_get(url + "scatter.svg")), timeout=30)
        assert 'r="4"' in svg
    finally:
        page.close()
