"""Which stages of the generative-models post re-run after one edit: the finer code keys
(functions reached, not whole modules) and early cutoff (a re-run with byte-identical outputs
re-runs nothing after it). Works in a temporary copy of the project; the author's tree is only
read.

    .venv/bin/python tests/bench/bench_keys.py          # static: whose key each edit changes
    .venv/bin/python tests/bench/bench_keys.py --run    # also build (fast profile, 2 jobs):
                                                        # what runs, what is cut off (minutes)

The edits: one drawing function (blog/plots/plane.py forward_snapshots: a marker's alpha), the
DDPM training objective (blog/ddpm.py loss: a refactor that changes no result), the model
registry (blog/models.py register: a refactor that changes no result).
"""

from __future__ import annotations

import argparse
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
POST = "generative-models"
EDITS = [
    ("one drawing function (plots/plane.py forward_snapshots)", "blog/plots/plane.py",
     "size=0.5, alpha=0.6)", "size=0.5, alpha=0.65)"),
    ("the training objective, a refactor (ddpm.py loss)", "blog/ddpm.py",
     "    return err.mean()\n", "    mean = err.mean()\n    return mean\n"),
    ("the model registry, a refactor (models.py register)", "blog/models.py",
     "    REGISTRY[spec.name] = spec\n    return spec\n",
     "    REGISTRY[spec.name] = registered = spec\n    return registered\n"),
]


def copy(dest: Path) -> Path:
    shutil.copytree(REPO, dest, ignore=shutil.ignore_patterns(
        ".git", ".venv", ".cache", "public", "resources", "__pycache__", "node_modules"))
    return dest


def edit(root: Path, rel: str, old: str, new: str) -> None:
    path = root / rel
    text = path.read_text()
    if old not in text:
        sys.exit(f"{rel}: the edit's text is gone ({old.strip()!r}); update {__file__}")
    path.write_text(text.replace(old, new, 1))


def static_keys(root: Path) -> dict[str, dict[str, str]]:
    """Each stage's code units, as the engine computes them (in a fresh process's state)."""
    sys.path.insert(0, str(root))
    from figures_pipeline.codehash import Analyzer
    from figures_pipeline.project import load_graph, load_project

    project = load_project(root)
    graph = load_graph(project, project.posts[POST])
    a = Analyzer(root)
    return {n: a.stage_deps(st.module, st.fn.__name__).units for n, st in graph.stages.items()}


def build(root: Path) -> tuple[str, float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "figures_pipeline", "build", "--profile", "fast",
                        "--jobs", "2", "--root", str(root), "--post", POST],
                       cwd=tempfile.gettempdir(), capture_output=True, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    if r.returncode:
        sys.exit(r.stderr[-3000:])
    return r.stderr, time.monotonic() - start, cpu


def statuses(log: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in log.splitlines():
        m = re.match(rf"^{POST}/(\w+)\s+(ran|restored|cutoff|skipped)\b", line)
        if m:
            out.setdefault(m.group(2), []).append(m.group(1))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", action="store_true", help="also build after each edit (minutes)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = copy(Path(tmp) / "project")
        keys = static_keys(root)
        print(f"{len(keys)} stages")
        if args.run:
            _, wall, cpu = build(root)
            print(f"from scratch (fast profile): wall {wall:.0f} s, CPU {cpu:.0f} s")
        for label, rel, old, new in EDITS:
            edit(root, rel, old, new)
            after = static_keys(root)
            changed = [n for n in keys if keys[n] != after[n]]
            keys = after
            print(f"\n== {label}\n  key changes: {len(changed)}: {', '.join(changed)}")
            if args.run:
                log, wall, cpu = build(root)
                for status, names in sorted(statuses(log).items()):
                    if status != "skipped":
                        print(f"  {status}: {len(names)}: {', '.join(names)}")
                print(f"  wall {wall:.0f} s, CPU {cpu:.0f} s (user+sys)")


if __name__ == "__main__":
    main()
