"""figures_pipeline.cli: exit codes, help, and real subprocesses (no torch on check, parallel,
kill -9 mid-build, a second build while one runs)."""

import os
import signal
import time

import pytest
from click.testing import CliRunner
from pipeline_toy.harness import cli, edit, make_project, popen, snapshot

from figures_pipeline.cli import cli as group
from figures_pipeline.cli import main


@pytest.fixture
def root(tmp_path):
    root = make_project(tmp_path)
    assert main(["build", "--root", str(root), "--jobs", "1"]) == 0
    return root


@pytest.mark.parametrize("command", [None, *sorted(group.commands)])
def test_every_command_has_help(command):
    args = ([command] if command else []) + ["--help"]
    result = CliRunner().invoke(group, args)
    assert result.exit_code == 0
    text = (group.commands[command].help if command else group.help) or ""
    first_words = " ".join(text.split()[:5])
    assert first_words and first_words in " ".join(result.output.split())


def test_exit_codes(root, capsys):
    assert main(["check", "--root", str(root)]) == 0
    assert main(["build", "--root", str(root), "--set", "points.m=1"]) == 2
    assert "error: --set points.m=1: unknown key 'points.m' (did you mean " \
           "'points.n'?)" in capsys.readouterr().err
    assert main(["build", "--root", str(root), "--bogus"]) == 2
    assert main(["build", "--root", str(root / "nowhere")]) == 2
    edit(root, "toy/post.toml", "fail = false", "fail = true")
    assert main(["build", "--root", str(root), "--jobs", "1"]) == 1
    assert main(["check", "--root", str(root)]) == 1
    out = capsys.readouterr()
    assert "stale: toy/independent: config fail: false -> true" in out.out


def test_check_diff_and_list(root, capsys):
    edit(root, "toy/templates/results.md.j2", "We drew", "We sampled")
    assert main(["check", "--root", str(root), "--diff"]) == 1
    out = capsys.readouterr().out
    assert "stale: toy/sections" in out and "+We sampled 20 points" in out
    edit(root, "toy/svg.py", 'r="1"', 'r="2"')
    assert main(["list", "--root", str(root)]) == 0
    out = capsys.readouterr().out
    assert "toy/points  fresh" in out and "toy/scatter  stale: code changed: toy/svg.py" in out
    assert main(["graph", "--root", str(root), "--dot"]) == 0
    assert '"points" -> "scatter";' in capsys.readouterr().out


def test_clean(root, capsys):
    main(["build", "--root", str(root), "--jobs", "1", "--set", "points.n=3"])
    main(["build", "--root", str(root), "--jobs", "1"])
    assert main(["clean", "--root", str(root)]) == 0
    assert "removed" in capsys.readouterr().out
    assert main(["check", "--root", str(root)]) == 0


def test_check_and_noop_build_import_no_heavy_package(root):
    (root / "toy/helpers.py").touch()  # a touched file: the no-op build plans every stage
    for args in (["check"], ["build"], ["list"]):
        res = _importtime(root, *args)
        assert res.returncode == 0, res.stderr
        imported = {line.split("|")[-1].strip() for line in res.stderr.splitlines()
                    if line.startswith("import time:")}
        assert "toy.helpers" in imported  # the stage module was imported
        assert not imported & {"numpy", "torch", "matplotlib"}, args
        assert " ran " not in res.stderr


def test_noop_build_with_no_file_changed_stops_before_importing_the_stages(root):
    res = _importtime(root, "build")
    assert res.returncode == 0 and "no file changed since the last build" in res.stderr
    imported = {line.split("|")[-1].strip() for line in res.stderr.splitlines()
                if line.startswith("import time:")}
    assert "toy.helpers" not in imported and "jinja2" not in imported
    # any touched file (here a data file) falls back to the full plan, which rebuilds nothing
    (root / "data/offsets.csv").touch()
    res = _importtime(root, "build")
    assert "no file changed" not in res.stderr and " ran " not in res.stderr
    assert "4 skipped" in res.stderr


def _importtime(root, *args):
    import subprocess
    import sys

    from pipeline_toy.harness import REPO

    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-X", "importtime", "-m", "figures_pipeline", *args],
                          cwd=root, env=env, capture_output=True, text=True, timeout=60)


def test_parallel_build_in_subprocess_matches_serial(tmp_path, root):
    other = make_project(tmp_path, "parallel")
    res = cli(other, "build", "--jobs", "2")
    assert res.returncode == 0, res.stderr
    assert "   start toy/points" in res.stderr and "4 ran in" in res.stderr
    assert snapshot(other) == snapshot(root)


def _wait_for(proc, text, timeout=30):
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        seen.append(line)
        if text in line:
            return "".join(seen)
        if not line and proc.poll() is not None:
            break
    raise AssertionError(f"{text!r} not seen in: {''.join(seen)}")


def test_kill_9_mid_build_keeps_previous_outputs_and_next_build_completes(root):
    before = snapshot(root)
    lock = (root / "figures.lock").read_bytes()
    edit(root, "toy/post.toml", "slow = 0.0", "slow = 20.0")
    edit(root, "toy/post.toml", "n = 20", "n = 21")
    proc = popen(root, "build", "--jobs", "2")
    _wait_for(proc, "[independent] waiting  10%")
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    after = snapshot(root)
    for name, data in after.items():  # every file is either the old or a complete new version
        assert name in before
        if name.endswith("independent.txt"):
            assert data == before[name]
    assert (root / "figures.lock").read_bytes() != b""
    assert lock  # the lock is valid JSON (possibly with the stages that finished)
    edit(root, "toy/post.toml", "slow = 20.0", "slow = 0.0")
    res = cli(root, "build")
    assert res.returncode == 0, res.stderr
    assert cli(root, "check").returncode == 0
    edit(root, "toy/post.toml", "n = 21", "n = 20")
    assert cli(root, "build").returncode == 0
    assert cli(root, "check").returncode == 0
    assert snapshot(root) == before


def test_second_build_waits_or_stops(root):
    edit(root, "toy/post.toml", "slow = 0.0", "slow = 2.0")
    first = popen(root, "build", "--jobs", "1")
    _wait_for(first, "start toy/independent")
    res = cli(root, "build", "--no-wait")
    assert res.returncode == 1
    assert "another build is running (pid" in res.stderr
    res = cli(root, "build")
    assert first.wait(timeout=60) == 0
    assert res.returncode == 0 and "waiting for it to finish" in res.stderr
    assert "4 skipped" in res.stderr
