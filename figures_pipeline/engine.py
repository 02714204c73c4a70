"""Plan, build and check a project's posts: the entry points the CLI calls.

`build` plans every stage (planning.py), runs what is stale (restoring from the cache where it
can), in parallel, committing each finished stage as it ends (execution.py), then rewrites the
generated Markdown regions (regions.py) and judges the claims (verdicts.py). `check` does the
planning only, against the published profile: no stage runs, torch is not imported.
"""

from __future__ import annotations

import difflib
import shutil
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import claims, report, signals
from .cache import Cache, atomic_write, build_lock, read_lock, warn
from .codehash import Analyzer
from .config import PUBLISHED_PROFILE
from .errors import PublishError, StageFailedError, StaleError, os_reason
from .execution import execute
from .fingerprint import fingerprint, unchanged_since
from .planning import ENGINE_VERSION, PostPlan, StagePlan, plan_post
from .project import load_project
from .regions import render_post, write_sections
from .values import read_text
from .verdicts import claim_verdicts, judge_claims, report_claims
from .verify import remove_stray_temps, stray_temps


@dataclass
class BuildOptions:
    """The options of `build` (the CLI's flags); the defaults build the published profile."""

    profile: str = PUBLISHED_PROFILE
    overrides: tuple[str, ...] = ()
    jobs: int = 0
    only: tuple[str, ...] = ()
    force: bool = False
    dry_run: bool = False
    wait: bool = True
    posts: tuple[str, ...] = ()


def build(root: str | Path = ".", opts: BuildOptions | None = None) -> list[PostPlan]:
    """Build every selected post; raises StageFailedError if a stage failed, and
    signals.Interrupted (naming what it had committed) if a stop signal ended it."""
    opts = opts or BuildOptions()
    project = load_project(root)
    cache = Cache(project.cache_dir)
    if opts.dry_run:
        lock = read_lock(project.lock_path)
        plans = [plan_post(project, p, lock, opts.profile, opts.overrides, opts.force,
                           opts.only, cache) for p in project.select(opts.posts)]
        report.dry_run(plans)
        return plans
    with build_lock(project.cache_dir, wait=opts.wait):
        remove_stray_temps(project)
        stamp = project.cache_dir / f"build-{opts.profile}.stamp"
        quick = not (opts.force or opts.only)
        if quick and unchanged_since(stamp, project, opts):
            lock = read_lock(project.lock_path)
            report.unchanged({p.name: list(lock.get(p.name, {}))
                              for p in project.select(opts.posts)})
            return []
        cache.clean_tmp()
        lock = read_lock(project.lock_path)
        analyzer = Analyzer(project.root)
        plans = [plan_post(project, p, lock, opts.profile, opts.overrides, opts.force,
                           opts.only, cache, analyzer) for p in project.select(opts.posts)]
        started = time.monotonic()
        try:
            failed = execute(project, cache, lock, plans, opts.jobs)
        except KeyboardInterrupt as e:
            cache.clean_tmp()
            committed = tuple(f"{pp.post.name}/{sp.name}" for pp in plans
                              for sp in pp.stages.values() if sp.status in ("ran", "restored"))
            raise signals.Interrupted(getattr(e, "signum", signal.SIGINT), committed) from None
        verdicts: list[claims.Verdict] = []
        for pp in plans:
            with signals.deferred():
                verdicts += write_sections(project, pp.post, lock.get(pp.post.name, {}),
                                           pp.config, pp.graph, cache.tmp)
        report.table(plans, time.monotonic() - started)
        published = opts.profile == PUBLISHED_PROFILE
        false = report_claims(verdicts, fatal=published)
        cache.clean_tmp()
        if quick and not failed and not false:  # a false claim is judged (and said) again
            atomic_write(stamp, fingerprint(project, opts).encode(), cache.tmp)
    if failed:
        raise StageFailedError(f"{failed} stage(s) failed")
    if false and published:
        raise claims.ClaimFalseError(f"{false} false claim(s); the published profile "
                                     f"'{PUBLISHED_PROFILE}' needs every claim to hold")
    return plans



@dataclass
class Problem:
    post: str
    stage: str  # a stage name, or "section <name>"
    reasons: list[str]
    diff: str = ""


def check(root: str | Path = ".", posts: tuple[str, ...] = (), deep: bool = False
          ) -> list[Problem]:
    """What makes the published posts stale; nothing is run or written. An unreadable lock is a
    LockError. `deep` also hashes every cache object (`verify`)."""
    project = load_project(root)
    lock = read_lock(project.lock_path, strict=True)
    problems: list[Problem] = []
    temps = [p.relative_to(project.root).as_posix() for p in stray_temps(project)]
    if temps:
        problems.append(Problem("-", "temp files", [
            f"{t}: a temp file left by a killed write (the next build removes it)"
            for t in temps]))
    if deep:
        from .verify import cache_findings

        found = cache_findings(project)
        if found:
            problems.append(Problem("-", "cache", [str(f) for f in found]))
    for post in project.select(posts):
        pp = plan_post(project, post, lock, PUBLISHED_PROFILE)
        records = lock.get(post.name, {})
        for name, sp in pp.stages.items():
            reasons = list(sp.reasons)
            built = records.get(name, {}).get("profile")
            if built and built != PUBLISHED_PROFILE:
                reasons = [f"built with draft profile '{built}'"] + \
                    [r for r in reasons if not r.startswith("profile ")]
            if reasons:
                problems.append(Problem(post.name, name, reasons))
        rendered = render_post(project, post, records, pp.config, pp.graph)
        if rendered and rendered[0] != rendered[1]:
            diff = "".join(difflib.unified_diff(
                rendered[0].splitlines(keepends=True), rendered[1].splitlines(keepends=True),
                f"{post.markdown} (now)", f"{post.markdown} (generated)"))
            problems.append(Problem(post.name, "sections", [
                f"generated sections of {post.markdown} are out of date"], diff))
    return problems


def states(root: str | Path = ".", profile: str = PUBLISHED_PROFILE,
           overrides: tuple[str, ...] = (), posts: tuple[str, ...] = ()) -> list[PostPlan]:
    project = load_project(root)
    lock = read_lock(project.lock_path, strict=True)
    return [plan_post(project, p, lock, profile, overrides) for p in project.select(posts)]


def clean(root: str | Path = ".", everything: bool = False,
          say: Callable[[str], Any] = print) -> None:
    project = load_project(root)
    with build_lock(project.cache_dir):
        if everything:
            for sub in ("objects", "entries", "tmp"):
                shutil.rmtree(project.cache_dir / sub, ignore_errors=True)
            say(f"removed the cache {project.cache_dir.relative_to(project.root)}/")
            return
        lock = read_lock(project.lock_path, strict=True)  # never collect against no lock
        keep = {r["key"] for stages in lock.values() for r in stages.values() if "key" in r}
        removed = Cache(project.cache_dir).gc(keep)
        say(f"removed {removed} cache file(s) that the lock does not use")



__all__ = ["build", "check", "states", "clean", "claim_verdicts", "BuildOptions", "Problem",
           "PostPlan", "StagePlan", "ENGINE_VERSION", "PublishError", "StaleError",
           "StageFailedError", "os_reason", "plan_post", "read_text", "render_post",
           "write_sections", "judge_claims", "report_claims", "warn"]
