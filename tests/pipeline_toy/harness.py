"""Helpers for the figures_pipeline tests: a fresh copy of the toy project, file edits, runs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from figures_pipeline import engine

TOY = Path(__file__).parent
REPO = TOY.parent.parent


def make_project(tmp_path: Path, name: str = "proj") -> Path:
    """A copy of the toy project under `tmp_path`."""
    root = tmp_path / name
    shutil.copytree(TOY, root, ignore=shutil.ignore_patterns("harness.py", "__pycache__"))
    return root


def make_files(root: Path, files: dict[str, str]) -> None:
    """Write each {relative path: text} under `root`."""
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def edit(root: Path, rel: str, old: str, new: str) -> None:
    path = root / rel
    text = path.read_text()
    assert old in text, f"{old!r} not in {rel}"
    path.write_text(text.replace(old, new, 1))


def build(root: Path, **options) -> dict[str, str]:
    """Build in-process (serially unless jobs= is given); {stage: status}."""
    options.setdefault("jobs", 1)
    plans = engine.build(root, engine.BuildOptions(**options))
    if not plans:  # no file changed since the last build: it stopped before planning
        from figures_pipeline.cache import read_lock

        return {n: "skipped" for recs in read_lock(root / "figures.lock").values() for n in recs}
    return {sp.name: sp.status for pp in plans for sp in pp.stages.values()}


def ran(statuses: dict[str, str]) -> set[str]:
    return {n for n, s in statuses.items() if s in ("ran", "restored")}


def cli(root: Path, *args: str, **kwargs) -> subprocess.CompletedProcess:
    """`python -m figures_pipeline ARGS` in `root`, as a subprocess."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "figures_pipeline", *args], cwd=root, env=env,
                          capture_output=True, text=True, timeout=120, **kwargs)


def popen(root: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-m", "figures_pipeline", *args], cwd=root, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def snapshot(root: Path) -> dict[str, bytes]:
    """Every generated file: outputs and the post."""
    files = {p.relative_to(root).as_posix(): p.read_bytes()
             for p in sorted((root / "static").rglob("*")) if p.is_file()}
    files["content/posts/toy.md"] = (root / "content/posts/toy.md").read_bytes()
    return files
