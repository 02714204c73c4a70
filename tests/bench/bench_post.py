"""Benchmark of the post's build, as an author meets it (issue: the complete post).

    cold      `python -m figures_pipeline build --force` (default profile) in a fresh copy of the
              project with no cache: every model trained, every figure rendered (target <= 90 s),
              as the CI rebuild of the published post does it. The committed lock stays, so the
              scheduler knows each stage's last time (longest chain first); --no-lock deletes
              it too, and the scheduler ranks the stages by chain length alone
    no-op     `make figures` on this checkout when nothing changed (target <= 0.3 s)
    edit      rebuild after editing one figure stage's code: only it and its dependents run

Medians over repeated runs; run it on a quiet machine (`make bench`). Beside each cold build's
wall time it prints the CPU time (user + sys) of the build and every process it started: on a
loaded machine the wall time grows, the CPU time hardly (the 2-core target is about CPU / 2).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))

from post_helpers import copy_project, pipeline  # noqa: E402

COLD_TARGET, NOOP_TARGET = 90.0, 0.3
EDIT = ("blog/stages/intro.py", '"""Samples of the mixture over its exact density."""',
        '"""Samples of the mixture over its exact density (edited)."""')


def timed(fn, *args):
    start = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - start, result


def children_cpu() -> float:
    """User + sys seconds of every finished child process (and theirs) so far."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def ran_stages(stderr: str) -> list[str]:
    return sorted(line.split()[1].split("/")[-1] for line in stderr.splitlines()
                  if line.strip().startswith("ran "))


def verdict(value: float, target: float) -> str:
    return "ok" if value <= target else f"MISSED (target {target} s)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="cold builds (each ~1.5 min)")
    parser.add_argument("--noop-runs", type=int, default=7)
    parser.add_argument("--no-lock", action="store_true",
                        help="cold builds without the lock (no recorded stage times)")
    args = parser.parse_args()

    cold, cpus, edits = [], [], []
    for i in range(args.repeats):
        with tempfile.TemporaryDirectory() as tmp:
            root = copy_project(Path(tmp) / "project")
            if args.no_lock:
                (root / "figures.lock").unlink(missing_ok=True)  # no recorded times either
            cpu0 = children_cpu()
            wall, res = timed(pipeline, root, "build", "--force")
            if res.returncode != 0:
                raise SystemExit(f"cold build failed:\n{res.stderr[-3000:]}")
            cold.append(wall)
            cpus.append(children_cpu() - cpu0)
            print(f"cold build {i + 1}/{args.repeats}: {wall:.1f} s wall, {cpus[-1]:.1f} s CPU "
                  f"({len(ran_stages(res.stderr))} stages)", flush=True)
            path = root / EDIT[0]
            path.write_text(path.read_text().replace(EDIT[1], EDIT[2]))
            wall, res = timed(pipeline, root, "build")
            edits.append((wall, ran_stages(res.stderr)))

    subprocess.run(["make", "-s", "figures"], cwd=REPO, check=True, capture_output=True)
    noop = []
    for _ in range(args.noop_runs):
        start = time.perf_counter()
        subprocess.run(["make", "-s", "figures"], cwd=REPO, check=True, capture_output=True)
        noop.append(time.perf_counter() - start)

    med_cold, med_noop = statistics.median(cold), statistics.median(noop)
    med_edit = statistics.median(w for w, _ in edits)
    lock = "no lock" if args.no_lock else "lock kept"
    print(f"cold build (default profile, no cache, {lock}): median {med_cold:.1f} s over "
          f"{len(cold)} runs (min {min(cold):.1f}, max {max(cold):.1f}) -- "
          f"{verdict(med_cold, COLD_TARGET)}; CPU (user + sys) median "
          f"{statistics.median(cpus):.1f} s")
    print(f"no-op `make figures`: median {med_noop:.3f} s over {len(noop)} runs "
          f"(min {min(noop):.3f}, max {max(noop):.3f}) -- {verdict(med_noop, NOOP_TARGET)}")
    print(f"edit one stage ({EDIT[0]}: mixture_figure): median {med_edit:.2f} s; "
          f"ran {edits[-1][1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
