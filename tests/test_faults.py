"""Fault injection (issue 9): the engine under what a hostile but realistic user does.

Real subprocesses and signals, on temporary copies of the toy project (tests/pipeline_toy). Where
they apply, every test asserts the same four things: no partial or corrupt file is published
(every output is its old or a complete new version, no temp file where Hugo looks), the lock
parses, the next build recovers (and `check` and `verify` then pass), and no process is left.
"""

from __future__ import annotations

import errno
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from pipeline_toy.harness import REPO, build, cli, edit, make_files, make_project, popen, snapshot

from figures_pipeline import engine
from figures_pipeline.cache import LockError, file_sha, read_lock, write_lock
from figures_pipeline.project import load_project
from figures_pipeline.verify import stray_temps, verify

OUT = "static/posts/toy"
ALL = {"points", "scatter", "summary", "independent"}
# a second slow stage, so that two workers are busy at once
SECOND = '''

@stage(config=["slow"], outputs=["second.txt"])
def second(ctx):
    for _ in ctx.progress(range(10), desc="pausing"):
        time.sleep(ctx.config["slow"] / 10)
    ctx.output("second.txt").write_text("second\\n")
'''


@pytest.fixture
def root(tmp_path):
    """A toy project, built."""
    root = make_project(tmp_path)
    build(root)
    return root


# ---------------------------------------------------------------- helpers

class Running:
    """A build in a subprocess (its own process group), its stderr read by a thread."""

    def __init__(self, root: Path, *args: str):
        self.proc = popen(root, "build", *args)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stderr:
            self.lines.append(line)

    @property
    def err(self) -> str:
        return "".join(self.lines)

    def wait_for(self, *texts: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not all(t in self.err for t in texts):
            if time.monotonic() > deadline or self.proc.poll() is not None and \
                    not self._reader.is_alive():
                raise AssertionError(f"{texts} not all seen in:\n{self.err}")
            time.sleep(0.02)

    def finish(self, timeout: float = 60) -> int:
        rc = self.proc.wait(timeout=timeout)
        self._reader.join(timeout=10)
        return rc


def group(pgid: int) -> set[int]:
    """The live (not zombie) processes of process group `pgid`."""
    pids = set()
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                stat = Path(f"/proc/{d}/stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2:].split()  # state, ppid, pgrp, ...
            if int(fields[2]) == pgid and fields[0] != "Z":
                pids.add(int(d))
    return pids


def assert_no_process_left(pgid: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while group(pgid):
        if time.monotonic() > deadline:
            left = {p: Path(f"/proc/{p}/cmdline").read_bytes()[:80] for p in group(pgid)}
            os.killpg(pgid, signal.SIGKILL)
            raise AssertionError(f"processes left behind: {left}")
        time.sleep(0.05)


def workers(pid: int, count: int, timeout: float = 30) -> set[int]:
    """The `count` worker processes of build `pid` (its children running a stage)."""
    deadline = time.monotonic() + timeout
    while True:
        found = {p for p in group(pid) if p != pid and b"spawn_main" in
                 Path(f"/proc/{p}/cmdline").read_bytes()}
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def intact(root: Path, allowed: dict[str, set[bytes]]) -> None:
    """Nothing partial or corrupt is published: no stray temp file; each output is one of its
    `allowed` versions or a complete file of the cache (bytes that hash to an object's name);
    the lock parses."""
    project = load_project(root)
    assert stray_temps(project) == []
    objects = {p.name.split(".")[0] for p in (root / ".cache/figures/objects").rglob("*.*")
               if not p.name.startswith(".") and file_sha(p) == p.name.split(".")[0]}
    for p in sorted((root / OUT).iterdir()):
        data = p.read_bytes()
        assert data in allowed.get(p.name, set()) or file_sha(p) in objects, p.name
    md = (root / "content/posts/toy.md").read_bytes()
    assert md in allowed["toy.md"] or re.search(rb"We drew \d+ points; their mean abscissa", md)
    read_lock(root / "figures.lock", strict=True)


def versions(root: Path) -> dict[str, set[bytes]]:
    snap = snapshot(root)
    out = {Path(k).name: {v} for k, v in snap.items()}
    return out


def recovers(root: Path, n: int | None = None) -> None:
    """The next build completes; check and verify then pass."""
    build(root)
    assert engine.check(root) == []
    assert verify(root).findings == []
    if n is not None:
        assert f"We drew {n} points" in (root / "content/posts/toy.md").read_text()


def set_n(root: Path, n: int) -> None:
    path = root / "toy/post.toml"
    path.write_text(re.sub(r"(?m)^n = \d+", f"n = {n}", path.read_text(), count=1))


def corrupt(path: Path) -> None:
    """Overwrite 8 bytes inside `path`, keeping its size."""
    data = bytearray(path.read_bytes())
    data[20:28] = b"XXXXXXXX"
    path.write_bytes(bytes(data))


def obj(root: Path, suffix: str) -> Path:
    (path,) = (root / ".cache/figures/objects").rglob(f"*{suffix}")
    return path


# ---------------------------------------------------------------- 1. cache integrity

def test_a_corrupt_object_of_the_same_size_is_never_published_and_is_healed(root, capsys):
    recorded = read_lock(root / "figures.lock")["toy"]["scatter"]["outputs"]["scatter.svg"]
    corrupt(obj(root, ".svg"))
    (root / OUT / "scatter.svg").unlink()
    assert build(root)["scatter"] == "ran"
    assert "was corrupt" in capsys.readouterr().err
    assert file_sha(root / OUT / "scatter.svg") == recorded
    assert file_sha(obj(root, ".svg")) == recorded  # the object is healed, not kept
    recovers(root)


def test_a_stage_storing_over_a_corrupt_object_replaces_it_and_places_its_own_output(root,
                                                                                     capsys):
    recorded = read_lock(root / "figures.lock")["toy"]["scatter"]["outputs"]["scatter.svg"]
    corrupt(obj(root, ".svg"))
    build(root, only=("scatter",), force=True)
    assert "replaced it with the stage's fresh output" in capsys.readouterr().err
    assert file_sha(root / OUT / "scatter.svg") == recorded == file_sha(obj(root, ".svg"))


def test_a_corrupt_artifact_reruns_its_stage_instead_of_failing_downstream_forever(root):
    corrupt(obj(root, ".json"))  # points.json, which scatter reads
    edit(root, "toy/svg.py", 'r="1"', 'r="2"')
    assert {n for n, s in build(root).items() if s == "ran"} == {"points", "scatter"}
    recovers(root)


def test_an_object_corrupted_between_planning_and_restoring_is_run_instead(root, monkeypatch):
    sha = read_lock(root / "figures.lock")["toy"]["scatter"]["outputs"]["scatter.svg"]
    build(root, overrides=("points.n=7",))
    plan = engine.plan_post

    def plan_then_corrupt(*args, **kwargs):
        planned = plan(*args, **kwargs)
        corrupt(obj(root, f"{sha}.svg"))
        return planned

    monkeypatch.setattr(engine, "plan_post", plan_then_corrupt)
    statuses = build(root)  # back to n=20: planned as restores
    assert statuses["scatter"] == "ran" and statuses["points"] == "restored"
    monkeypatch.undo()
    recovers(root, 20)


def test_verify_and_check_deep_hash_every_committed_output_and_cache_object(root):
    corrupt(obj(root, ".svg"))
    (root / OUT / "summary.txt").write_text("edited\n")
    (sorted((root / ".cache/figures/entries").glob("*.json"))[0]).write_text("{")
    (root / OUT / ".scatter.svg.k2j3h4g5.tmp").write_bytes(b"<svg")
    res = cli(root, "verify")
    assert res.returncode == 1, res.stderr
    found = res.stdout
    assert "objects/" in found and "not to its name" in found
    assert f"{OUT}/summary.txt: its bytes differ from the hash in figures.lock" in found
    assert "a corrupt cache entry" in found and ".scatter.svg.k2j3h4g5.tmp" in found
    assert cli(root, "check").returncode == 1
    deep = cli(root, "check", "--deep")
    assert deep.returncode == 1 and "not to its name" in deep.stdout
    res = cli(root, "verify", "--repair")
    assert res.returncode == 1  # the edited output is the build's to restore, not verify's
    assert res.stdout.count("(deleted)") == 3
    recovers(root, 20)
    assert cli(root, "verify").stdout.startswith("ok: 3 committed output(s)")


# ---------------------------------------------------------------- 2. import-time errors

@pytest.mark.parametrize("line, where, message", [
    ("x = 1/0", "toy/stages.py:LAST", "ZeroDivisionError: division by zero"),
    ("def (", "toy/stages.py:LAST", "SyntaxError: invalid syntax"),
    ("import toy.missing_module", "", "No module named 'toy.missing_module'"),
])
@pytest.mark.parametrize("command", ["build", "check", "list"])
def test_an_import_time_error_in_a_stage_module_is_one_line_exit_2(root, line, where, message,
                                                                   command):
    stages = root / "toy/stages.py"
    stages.write_text(stages.read_text() + line + "\n")
    before = snapshot(root)
    res = cli(root, command)
    assert res.returncode == 2
    last = len(stages.read_text().splitlines())
    assert res.stderr.count("\n") == 1 and "Traceback" not in res.stderr
    assert res.stderr.startswith("error: figures.toml [posts.toy] stages: importing 'toy.stages'")
    assert where.replace("LAST", str(last)) in res.stderr and message in res.stderr
    assert snapshot(root) == before


def test_an_import_time_error_in_a_module_a_stage_module_imports_names_that_module(root):
    edit(root, "toy/helpers.py", "import random\n", "import random\n\nSCALE = 1 / 0\n")
    res = cli(root, "check")
    assert res.returncode == 2 and "at toy/helpers.py:5: ZeroDivisionError" in res.stderr


# ---------------------------------------------------------------- 3. non-finite values

@pytest.mark.parametrize("value, key", [('float("nan")', "mean_x"),
                                        ('{"ci": [0.1, float("inf")]}', "mean_x.ci[1]")])
def test_a_stage_returning_a_non_finite_value_fails_naming_the_key(root, capsys, value, key):
    before, lock = snapshot(root), read_lock(root / "figures.lock")
    edit(root, "toy/stages.py", '"mean_x": round(mean, DIGITS)', f'"mean_x": {value}')
    with pytest.raises(engine.StageFailedError):
        build(root)
    err = capsys.readouterr().err
    assert f"FAILED toy/points: returned a non-finite value for '{key}'" in err
    assert "blocked toy/scatter: upstream failed: points" in err
    assert snapshot(root) == before and read_lock(root / "figures.lock") == lock


# ---------------------------------------------------------------- 4. signals and workers

def _slow_project(tmp_path: Path, slow: float = 10.0) -> tuple[Path, dict[str, set[bytes]]]:
    root = make_project(tmp_path)
    stages = root / "toy/stages.py"
    stages.write_text(stages.read_text() + SECOND)
    build(root)
    allowed = versions(root)
    edit(root, "toy/post.toml", "slow = 0.0", f"slow = {slow}")
    return root, allowed


@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_sigterm_or_sighup_to_the_build_alone_stops_it_and_its_workers(tmp_path, sig, code):
    root, allowed = _slow_project(tmp_path)
    before, lock = snapshot(root), (root / "figures.lock").read_bytes()
    run = Running(root, "--jobs", "2")
    run.wait_for("[independent] waiting  10%", "[second] pausing  10%")
    assert len(workers(run.proc.pid, 2)) == 2
    os.kill(run.proc.pid, sig)  # the main process only, as `kill` or a service manager does
    assert run.finish() == code
    name = signal.Signals(sig).name
    assert f"interrupted ({name}): outputs, lock and cache are unchanged" in run.err
    assert "Traceback" not in run.err
    assert_no_process_left(run.proc.pid)
    assert snapshot(root) == before and (root / "figures.lock").read_bytes() == lock
    intact(root, allowed)
    edit(root, "toy/post.toml", "slow = 10.0", "slow = 0.0")
    recovers(root)


def test_ctrl_c_with_two_workers_stops_everything_in_one_line(tmp_path):
    root, allowed = _slow_project(tmp_path)
    before = snapshot(root)
    run = Running(root, "--jobs", "2")
    run.wait_for("[independent] waiting  10%", "[second] pausing  10%")
    os.killpg(run.proc.pid, signal.SIGINT)  # a terminal sends ^C to the whole group
    assert run.finish() == 130
    assert "interrupted (SIGINT): outputs, lock and cache are unchanged" in run.err
    assert "Traceback" not in run.err and "KeyboardInterrupt" not in run.err
    assert_no_process_left(run.proc.pid)
    assert snapshot(root) == before
    intact(root, allowed)


def test_kill_9_of_the_build_alone_stops_its_workers(tmp_path):
    """The OOM killer's way: only the main process dies; its workers must not train on."""
    root, allowed = _slow_project(tmp_path)
    run = Running(root, "--jobs", "2")
    run.wait_for("[independent] waiting  10%", "[second] pausing  10%")
    pids = workers(run.proc.pid, 2)
    assert len(pids) == 2
    os.kill(run.proc.pid, signal.SIGKILL)
    run.finish()
    assert_no_process_left(run.proc.pid, timeout=5)
    intact(root, allowed)
    edit(root, "toy/post.toml", "slow = 10.0", "slow = 0.0")
    recovers(root)


def test_sigterm_during_a_serial_build_names_what_it_committed(root):
    lock = read_lock(root / "figures.lock")
    lock["toy"]["points"]["seconds"] = 60.0  # the longest chain starts first: points, then...
    write_lock(root / "figures.lock", lock)
    old = lock["toy"]
    edit(root, "toy/post.toml", "slow = 0.0", "slow = 10.0")
    set_n(root, 21)
    run = Running(root, "--jobs", "1")
    run.wait_for("[independent] waiting  10%", "ran toy/points")
    os.kill(run.proc.pid, signal.SIGTERM)
    assert run.finish() == 143
    said = re.search(r"interrupted \(SIGTERM\): committed (.+) \(outputs, lock and cache\); "
                     "everything else is unchanged", run.err)
    committed = {s.removeprefix("toy/") for s in said.group(1).split(", ")}
    assert "points" in committed and "independent" not in committed
    new = read_lock(root / "figures.lock", strict=True)["toy"]
    assert {n for n in ALL if new[n] != old[n]} == committed
    assert_no_process_left(run.proc.pid)
    edit(root, "toy/post.toml", "slow = 10.0", "slow = 0.0")
    recovers(root, 21)


def test_a_stop_signal_inside_a_commit_waits_for_the_commit_to_end():
    from figures_pipeline import signals

    with signals.handled():
        with pytest.raises(signals.Interrupted) as e:
            with signals.deferred():
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(0.05)  # the handler runs here, and must not raise yet
                finished = True
        assert finished and e.value.signum == signal.SIGTERM
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL


STAGE_EVENT = re.compile(r"^ *(start|restore|ran|restored) toy/", re.M)


def test_kill_9_at_twenty_points_of_a_build(root):
    """kill -9 of the whole group, 20 times: during start-up and planning, then just after the
    k-th stage event (a stage starting, or ending with its commit) plus a few ms; serial and
    parallel; half the builds running stages (a new n), half restoring them (n back to 20).
    Each time nothing is published half written, the lock parses, no process is left, and the
    next build completes."""
    seen = versions(root)
    for i in range(20):
        n = 20 if i % 2 else 100 + i
        set_n(root, n)
        run = Running(root, "--jobs", str(1 + i % 2))
        if i < 4:
            time.sleep(0.15 * i)
        else:
            deadline = time.monotonic() + 30
            while len(STAGE_EVENT.findall(run.err)) < i % 4 + 1 and run.proc.poll() is None \
                    and time.monotonic() < deadline:
                time.sleep(0.001)
            time.sleep(0.004 * (i // 4))
        os.killpg(run.proc.pid, signal.SIGKILL)
        run.finish()
        assert_no_process_left(run.proc.pid)
        intact(root, seen)
        recovers(root, n)
        for name, data in versions(root).items():
            seen.setdefault(name, set()).update(data)


def test_two_builds_at_once_one_waits_and_both_succeed(root):
    set_n(root, 33)
    edit(root, "toy/post.toml", "slow = 0.0", "slow = 1.0")  # whichever starts first, lasts
    first, second = Running(root, "--jobs", "2"), Running(root, "--jobs", "1")
    assert (first.finish(), second.finish()) == (0, 0)
    assert "another build is running" in first.err + second.err
    assert_no_process_left(first.proc.pid)
    assert_no_process_left(second.proc.pid)
    assert engine.check(root) == [] and verify(root).findings == []
    assert "We drew 33 points" in (root / "content/posts/toy.md").read_text()
    assert "4 skipped" in (second.err if "another build" in second.err else first.err)


# ---------------------------------------------------------------- 5. OS errors

def test_an_output_folder_that_cannot_be_written_fails_its_stages_in_one_line_each(root):
    shutil.rmtree(root / OUT)
    (root / OUT).write_text("a file where the output folder should be\n")
    edit(root, "toy/post.toml", "n = 20", "n = 21")
    res = cli(root, "build", "--jobs", "1")
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert f"FAILED toy/scatter: cannot write {OUT}/scatter.svg: " in res.stderr
    assert f"FAILED toy/summary: cannot write {OUT}/summary.txt: " in res.stderr
    assert re.search(r"ran +\S+ s +config points", res.stderr)  # points has no output: it ran
    read_lock(root / "figures.lock", strict=True)
    (root / OUT).unlink()
    recovers(root, 21)


def test_a_restore_that_cannot_write_its_output_fails_the_build(root, capsys):
    build(root, overrides=("points.n=7",))
    shutil.rmtree(root / OUT)
    (root / OUT).write_text("a file where the output folder should be\n")
    with pytest.raises(engine.StageFailedError, match="3 stage"):
        build(root)  # back to n=20: every stage with an output is a restore, and cannot place it
    assert f"FAILED toy/scatter: cannot write {OUT}/scatter.svg" in capsys.readouterr().err
    (root / OUT).unlink()
    recovers(root, 20)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_output_folder_fails_its_stages_in_one_line_each(root):
    (root / OUT).chmod(0o555)
    try:
        edit(root, "toy/svg.py", 'r="1"', 'r="2"')
        res = cli(root, "build", "--jobs", "1")
        assert res.returncode == 1 and "Traceback" not in res.stderr
        assert f"cannot write {OUT}/scatter.svg: Permission denied" in res.stderr
    finally:
        (root / OUT).chmod(0o755)
    recovers(root)


def test_permission_denied_on_an_output_fails_that_stage_and_the_others_finish(root, capsys,
                                                                            monkeypatch):
    """In-process, so that it also runs as root: os.replace refuses the output folder."""
    real = os.replace

    def refuse(src, dst, *a, **k):
        if str(root / OUT) in str(dst):
            raise PermissionError(errno.EACCES, "Permission denied", str(src))
        return real(src, dst, *a, **k)

    before = snapshot(root)
    edit(root, "toy/svg.py", 'r="1"', 'r="2"')
    edit(root, "toy/post.toml", "fail = false", "fail = true")
    edit(root, "toy/post.toml", "title = \"Toy", "title = \"A toy")
    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(engine.StageFailedError, match="3 stage"):
        build(root)
    monkeypatch.undo()
    err = capsys.readouterr().err
    assert f"FAILED toy/scatter: cannot write {OUT}/scatter.svg: Permission denied" in err
    assert "FAILED toy/independent: toy/stages.py:" in err
    assert snapshot(root)[f"{OUT}/scatter.svg"] == before[f"{OUT}/scatter.svg"]
    assert list((root / ".cache/figures/tmp").glob("*")) == []
    edit(root, "toy/post.toml", "fail = true", "fail = false")
    recovers(root)


def test_a_full_disk_while_storing_in_the_cache_fails_the_stage_and_leaves_no_temp(root, capsys,
                                                                                 monkeypatch):
    from figures_pipeline import cache as cache_module

    def half_then_full(src, dst, *a, **k):
        Path(dst).write_bytes(Path(src).read_bytes()[:10])
        raise OSError(errno.ENOSPC, "No space left on device", str(dst))

    before = snapshot(root)
    edit(root, "toy/svg.py", 'r="1"', 'r="2"')
    monkeypatch.setattr(cache_module.shutil, "copyfile", half_then_full)
    with pytest.raises(engine.StageFailedError, match="1 stage"):
        build(root)
    monkeypatch.undo()
    err = capsys.readouterr().err
    assert "FAILED toy/scatter: cannot store 'scatter.svg' in the cache: .cache/figures/objects/" \
        in err and "No space left on device" in err
    assert snapshot(root) == before
    assert not [p for p in (root / ".cache/figures").rglob(".*.tmp")]
    recovers(root)


def test_a_full_disk_during_a_write_leaves_the_target_and_no_temp(tmp_path, monkeypatch):
    from figures_pipeline.cache import atomic_write

    target, tmp = tmp_path / "out.txt", tmp_path / "tmp"
    target.write_text("old")

    def full(_fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError, match="No space left"):
        atomic_write(target, b"new bytes", tmp)
    assert target.read_text() == "old" and list(tmp.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt", "tmp"]


def _file_size_limit(limit: int):
    def limit_writes():  # writes past `limit` bytes fail with EFBIG instead of killing
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return limit_writes


def test_a_file_size_limit_fails_the_stage_writing_too_much_and_nothing_else(root):
    """A full disk, really: `ulimit -f` on the build, which writes an artifact too big for it."""
    before = snapshot(root)
    set_n(root, 4000)  # points.json: about 100 kB
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONDONTWRITEBYTECODE": "1"}
    res = subprocess.run([sys.executable, "-m", "figures_pipeline", "build", "--jobs", "1"],
                         cwd=root, env=env, capture_output=True, text=True, timeout=120,
                         preexec_fn=_file_size_limit(32_000))
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert re.search(r"FAILED toy/points: .*File too large", res.stderr)
    assert "blocked toy/scatter: upstream failed: points" in res.stderr
    assert snapshot(root) == before
    intact(root, versions(root))
    recovers(root, 4000)


# ---------------------------------------------------------------- 6. temp files

def test_a_stray_temp_file_in_the_output_folder_is_reported_then_removed(root):
    stray = root / OUT / ".density_evo.gif.x8f3k2l1.tmp"
    stray.write_bytes(b"GIF89a" + bytes(1000))
    res = cli(root, "check")
    assert res.returncode == 1
    assert f"problem: {OUT}/.density_evo.gif.x8f3k2l1.tmp: a temp file left by a killed write" \
        in res.stdout
    res = cli(root, "build")
    assert res.returncode == 0 and f"removed {OUT}/.density_evo.gif.x8f3k2l1.tmp" in res.stderr
    assert not stray.exists()
    assert cli(root, "check").returncode == 0


def test_atomic_writes_of_a_build_keep_their_temp_files_out_of_published_folders(root,
                                                                               monkeypatch):
    """Every temp file a build makes lives under .cache/figures/tmp/ (which each build empties
    at its start): never in static/, content/ or beside the lock."""
    import tempfile

    made, real = [], tempfile.mkstemp

    def spy(*args, **kwargs):
        fd, path = real(*args, **kwargs)
        made.append(Path(path))
        return fd, path

    monkeypatch.setattr(tempfile, "mkstemp", spy)
    edit(root, "toy/post.toml", "n = 20", "n = 21")
    build(root)
    assert made and all((root / ".cache/figures/tmp") in p.parents for p in made), made


# ---------------------------------------------------------------- 7. bad encodings and types

@pytest.mark.parametrize("rel", ["content/posts/toy.md", "toy/templates/results.md.j2"])
def test_a_non_utf8_byte_in_the_post_or_a_template_is_one_line_exit_2(root, rel):
    path = root / rel
    path.write_bytes(path.read_bytes() + b"caf\xe9\n")
    md = (root / "content/posts/toy.md").read_bytes()
    line = path.read_bytes().count(b"\n")
    for command in ("build", "check"):
        res = cli(root, command)
        assert res.returncode == 2, res.stderr
        assert res.stderr == f"error: {rel}:{line}:4: not UTF-8 text (byte 0xe9); save the " \
                             "file as UTF-8\n"
    assert (root / "content/posts/toy.md").read_bytes() == md


def test_a_wrong_type_in_the_config_file_is_one_line_exit_2(root):
    edit(root, "toy/post.toml", "n = 20", 'n = "twenty"')
    res = cli(root, "build")
    assert res.returncode == 2 and res.stderr.count("\n") == 1 and "Traceback" not in res.stderr


# ---------------------------------------------------------------- 8. the lock

@pytest.mark.parametrize("damage", ["<<<<<<< HEAD\n", "\xff"])
def test_an_unreadable_lock_is_said_so_by_check_and_rebuilt_by_build(root, damage):
    lock = root / "figures.lock"
    lines = lock.read_bytes().splitlines(keepends=True)
    lock.write_bytes(b"".join(lines[:3]) + damage.encode("latin-1") + b"".join(lines[3:]))
    for command in ("check", "list", "verify"):
        res = cli(root, command)
        assert res.returncode == 1 and "the lock is unreadable" in res.stderr, command
        assert "template" not in res.stderr and res.stderr.count("\n") == 1
    with pytest.raises(LockError):
        engine.check(root)
    res = cli(root, "build")
    assert res.returncode == 0 and "the lock is unreadable" in res.stderr
    assert "4 restored" in res.stderr
    assert cli(root, "check").returncode == 0


def test_clean_refuses_to_collect_the_cache_against_an_unreadable_lock(root):
    (root / "figures.lock").write_text("<<<<<<< HEAD\n")
    objects = sorted((root / ".cache/figures/objects").rglob("*"))
    assert cli(root, "clean").returncode == 1
    assert sorted((root / ".cache/figures/objects").rglob("*")) == objects


# ---------------------------------------------------------------- 9. failure locations

def test_a_failure_inside_a_package_in_a_venv_under_the_root_points_at_the_stage_line(root):
    site = root / ".venv/lib/python3.11/site-packages"
    make_files(site, {"badpkg/__init__.py": "def explode():\n    raise ValueError('deep')\n"})
    edit(root, "toy/stages.py", "    rows = ctx.data_path",
         f"    import sys\n    sys.path.insert(0, {str(site)!r})\n    import badpkg\n"
         "    badpkg.explode()\n    rows = ctx.data_path")
    line = next(i for i, t in enumerate((root / "toy/stages.py").read_text().splitlines(), 1)
                if "badpkg.explode()" in t)
    res = cli(root, "build", "--jobs", "1")
    assert res.returncode == 1
    assert f"FAILED toy/points: toy/stages.py:{line}: ValueError: deep" in res.stderr


# ---------------------------------------------------------------- 11. --force, --root

def test_force_runs_a_stale_stage_that_the_cache_could_restore(root):
    build(root, overrides=("points.n=7",))
    build(root)  # n back to 20: both keys are in the cache now
    statuses = build(root, overrides=("points.n=7",), force=True)
    assert statuses == dict.fromkeys(ALL, "ran")


def test_force_only_runs_that_stage_and_restores_its_upstream(root):
    build(root, overrides=("points.n=7",))
    statuses = build(root, only=("scatter",), force=True)  # points: stale, in the cache
    assert statuses == {"points": "restored", "scatter": "ran", "summary": "skipped",
                        "independent": "skipped"}
    assert build(root, only=("scatter",), force=True)["points"] == "skipped"


def test_force_only_runs_an_upstream_whose_artifacts_the_cache_lacks(root):
    shutil.rmtree(root / ".cache")
    statuses = build(root, only=("scatter",), force=True)
    assert (statuses["points"], statuses["scatter"]) == ("ran", "ran")


def test_root_works_from_any_folder_with_the_installed_engine(root, tmp_path):
    """`make setup` installs the engine (editable): no PYTHONPATH, another working folder."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    res = subprocess.run([sys.executable, "-m", "figures_pipeline", "check", "--root", str(root)],
                         cwd=elsewhere, env=env, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr


def test_a_project_in_a_path_with_spaces_builds_in_parallel(tmp_path):
    root = make_project(tmp_path, "my blog (draft)")
    res = cli(root, "build", "--jobs", "2")
    assert res.returncode == 0, res.stderr
    assert cli(root, "check").returncode == 0
