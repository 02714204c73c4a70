"""Benchmark of figures_pipeline: no-op build wall time (target <= 0.3 s) and the rebuild after
touching one stage's code, as subprocesses, on the toy project in a temp dir and on the real
project when it has stages. Prints medians of several runs."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO), str(REPO / "tests")]
from pipeline_toy.harness import edit, make_project  # noqa: E402

RUNS = 7
TARGET = 0.3


def run(root: Path, *args: str) -> tuple[float, str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    start = time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "figures_pipeline", *args], cwd=root, env=env,
                         capture_output=True, text=True)
    wall = time.perf_counter() - start
    if res.returncode != 0:
        raise SystemExit(f"build failed in {root}:\n{res.stderr}")
    return wall, res.stderr


def baseline() -> float:
    """Median start-up of a bare interpreter: the machine's noise floor, printed alongside."""
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def noop(root: Path, label: str) -> float:
    run(root, "build")
    times = [run(root, "build")[0] for _ in range(RUNS)]
    med = statistics.median(times)
    verdict = "ok" if med <= TARGET else f"SLOWER than the {TARGET} s target"
    print(f"{label}: no-op build  median {med:.3f} s over {RUNS} runs "
          f"(min {min(times):.3f}, max {max(times):.3f}) -- {verdict}")
    return med


def main() -> int:
    print(f"python -c pass: median {baseline():.3f} s (start-up on this machine, now)")
    with tempfile.TemporaryDirectory() as tmp:
        root = make_project(Path(tmp))
        noop(root, "toy project")
        times, ran = [], []
        for i in range(RUNS):
            edit(root, "toy/svg.py", f'r="{i + 1}"', f'r="{i + 2}"')
            wall, err = run(root, "build")
            times.append(wall)
            ran.append(sorted(line.split()[1] for line in err.splitlines()
                              if line.strip().startswith("ran ")))
        print(f"toy project: rebuild after touching scatter's helper  median "
              f"{statistics.median(times):.3f} s; ran {ran[-1]}")
    noop(REPO, "real project")
    return 0


if __name__ == "__main__":
    sys.exit(main())
