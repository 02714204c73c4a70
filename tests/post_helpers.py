"""Helpers for the end-to-end tests of the real post: a copy of the project to build in, and
the engine's CLI run on it. Nothing here writes into the author's tree."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
POST = "generative-models"
SKIP = (".git", ".venv", ".cache", "public", "resources", "test-artifacts", "__pycache__",
        ".pytest_cache", ".ruff_cache", ".hugo_build.lock")
# a duration as the templates write it: "12 s", "0.055 s", "1 min 5 s" (timings are measured,
# so two builds differ there and nowhere else)
DURATION = re.compile(r"\d[\d.,]*(\u00a0(s|min|h))( \d+\u00a0s)?")


def copy_project(dest: Path) -> Path:
    """A copy of the checkout's project files (no venv, caches or build output) at `dest`."""
    shutil.copytree(REPO, dest, ignore=shutil.ignore_patterns(*SKIP))
    return dest


def pipeline(root: Path, *args: str, timeout: float = 900, python_flags: bool = False
             ) -> subprocess.CompletedProcess:
    """`python -m figures_pipeline ARGS` in `root`, as `make figures` / `make check` run it;
    with python_flags, ARGS up to the first command word go to Python itself (e.g. -X ...)."""
    flags: list[str] = []
    if python_flags:
        i = next(i for i, a in enumerate(args) if a in ("build", "check", "list"))
        flags, args = list(args[:i]), args[i:]
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run([sys.executable, *flags, "-m", "figures_pipeline", *args], cwd=root,
                          env=env, capture_output=True, text=True, timeout=timeout)


def outputs(root: Path) -> dict[str, bytes]:
    """Every file the post's stages wrote into static/posts/<post>/, by name."""
    folder = root / "static" / "posts" / POST
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def mask_durations(markdown: str) -> str:
    return DURATION.sub("<duration>", markdown)
