"""Progress lines (stderr) as stages start and end, the final table, the dry-run plan."""

from __future__ import annotations

import sys
from typing import Any


def _err(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _why(sp: Any) -> str:
    return "; ".join(sp.reasons) if sp.reasons else "up to date"


def stage_start(post: str, sp: Any) -> None:
    verb = "restore" if sp.action == "restore" else "start"
    _err(f"{verb:>8} {post}/{sp.name}  ({_why(sp)})")


def stage_end(post: str, sp: Any) -> None:
    if sp.status == "cutoff":
        _err(f"{'cut off':>8} {post}/{sp.name}  ({_why(sp)})")
    elif sp.status in ("failed", "blocked"):
        _err(f"{'FAILED' if sp.status == 'failed' else 'blocked':>8} {post}/{sp.name}: {sp.error}")
    else:
        _err(f"{sp.status:>8} {post}/{sp.name}  {sp.seconds:.2f} s")


def table(plans: list[Any], total: float) -> None:
    rows = [("post/stage", "result", "time", "why")]
    counts: dict[str, int] = {}
    for pp in plans:
        for sp in pp.stages.values():
            counts[sp.status] = counts.get(sp.status, 0) + 1
            why = sp.error if sp.status in ("failed", "blocked") else (
                _why(sp) if sp.status != "skipped" else "up to date")
            if sp.status == "cutoff":
                why = "upstream re-ran, its outputs and values came out the same"
            t = f"{sp.seconds:.2f} s" if sp.status in ("ran", "failed") else (
                "cached" if sp.status == "restored" else "-")
            rows.append((f"{pp.post.name}/{sp.name}", sp.status, t, why))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for r in rows:
        _err("  ".join(c.ljust(w) for c, w in zip(r[:3], widths, strict=True)) + "  " + r[3])
    summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    _err(f"{summary} in {total:.2f} s")


def unchanged(stages: dict[str, list[str]]) -> None:
    """The table of a build that found no file changed since the last one."""
    rows = [("post/stage", "result")] + [(f"{post}/{name}", "skipped")
                                         for post, names in stages.items() for name in names]
    width = max(len(r[0]) for r in rows)
    for r in rows:
        _err(f"{r[0].ljust(width)}  {r[1]}" + ("  up to date" if r[1] == "skipped" else "  why"))
    _err(f"{len(rows) - 1} skipped: no file changed since the last build")


def dry_run(plans: list[Any]) -> None:
    n = 0
    for pp in plans:
        for sp in pp.stages.values():
            if sp.action != "skip":
                n += 1
                print(f"would {sp.action} {pp.post.name}/{sp.name}: {_why(sp)}")
    if not n:
        print("nothing to do: every stage is up to date")
