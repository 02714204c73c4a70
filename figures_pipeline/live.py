"""The engine in watch mode: re-run only what is stale, publish each finished batch at once.

    live = Live(root, LiveOptions(profile="fast"), status)
    live.run(stop=lambda: False)      # until a stop signal (the preview), or
    live.run(until_idle=True)         # until nothing is stale or running (the tests)

The loop polls the watched inputs (watch.py). A burst of saves is one change; it is replanned
(planning.py: every stage's key, statically) unless only the Markdown or the templates changed,
which no stage reads. Stale stages run in worker processes of their own (warm ones, workers.py),
the longest chain first, at most `jobs` at once; a stage whose upstream ran with the same outputs
is not run (early cutoff); each finished stage is stored in the cache at once (keyed by its
inputs), and a stage whose key changes while it runs is cancelled (its process killed) and
started again; the others keep running. A failed stage is not retried until its inputs change.

When nothing is left to run, the batch is published in one go: the stages' outputs placed from
the cache and recorded in the lock, then the generated regions rewritten and the claims judged,
under the build lock, each file replaced atomically. Hugo sees one burst of finished files, so it
reloads once, never on a half-written file; the lock and cache are as valid as after `build`. A
failed stage leaves its last good outputs in place; its error (file:line and the traceback's last
frame) goes to the status (status.py), and leaves it when the stage succeeds.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import shutil
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import report, signals, watch
from .cache import Cache, build_lock, read_lock
from .claims import ClaimError
from .codehash import Analyzer, CodeError
from .config import PUBLISHED_PROFILE, ConfigError
from .context import Upstream
from .errors import PublishError
from .execution import critical_path, make_job, place, record, store
from .planning import PostPlan, StagePlan, plan_post, resolve
from .project import ProjectError, load_project
from .regions import write_sections
from .sections import SectionError
from .stages import DeclarationError
from .status import Status, last_frame
from .verify import remove_stray_temps
from .watch import POLL_SECONDS, Watcher, edited_at, watched_inputs
from .workers import Running, WarmPool, preloads, stage_modules, wait

PLAN_ERRORS = (ProjectError, ConfigError, DeclarationError, CodeError, OSError,
               UnicodeDecodeError)
REGION_ERRORS = (SectionError, ClaimError, ProjectError, PublishError, OSError)


@dataclass
class LiveOptions:
    profile: str = PUBLISHED_PROFILE
    overrides: tuple[str, ...] = ()
    jobs: int = 0  # stages at once (0: one per CPU)
    posts: tuple[str, ...] = ()
    warm: int | None = None  # workers kept started, imports done (None: `jobs`; 0: none)


@dataclass
class Published:
    """What a publish did, for the preview (which reloads the page once Hugo rebuilt it)."""

    since: float  # the first edit it answers (time.monotonic)
    placed: list[Path]  # the output files it placed (bytes changed or not)
    wrote: float | None  # when it had rewritten the files it rewrote (None: it wrote none)
    served: bool  # it answers an edit of a file Hugo reads itself (a post, a site file)...
    told: bool  # ... of which `on_edit` told the preview already



def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class Live:
    """The watch loop's state: the plans, the running stages, the stages that failed."""

    def __init__(self, root: str | Path, opts: LiveOptions, status: Status | None = None,
                 say: Callable[[str], None] = _say, site_files: frozenset[Path] = frozenset(),
                 on_publish: Callable[[Published], None] | None = None,
                 on_edit: Callable[[float], None] | None = None):
        """`site_files`: more files to watch that no stage reads (the site's layouts and
        styles): an edit publishes (and so reloads the page) without planning. `on_publish`
        is called after each publish (Published); `on_edit` at once when the author saved only
        files Hugo reads (a post's Markdown, the site's), with the save's time: the preview
        reloads the page once Hugo rebuilt it, not waiting for the publish (which rewrites
        nothing unless the author edited a generated region)."""
        self.opts = opts
        self.site_files = site_files
        self.on_publish = on_publish
        self.on_edit = on_edit
        self.served = self.told = False  # this batch's edits (Published)
        self.project = load_project(root)
        self.cache = Cache(self.project.cache_dir)
        self.status = status or Status(opts.profile)
        self.say = say
        self.plans: list[PostPlan] = []
        self.watcher = Watcher()
        self.running: dict[tuple[str, str], Running] = {}
        self.failed: dict[tuple[str, str], str] = {}  # stage -> the key it failed with
        self.jobs = opts.jobs or os.cpu_count() or 1
        self.counts: Counter[str] = Counter()  # ran, failed, cancelled, published (for tests)
        self.sections_due = True
        self.since = time.monotonic()  # the first edit not yet published
        self.analyzer: Analyzer | None = None  # the last plan's
        self.pool = WarmPool(self.jobs if opts.warm is None else opts.warm, os.getpid(),
                             self._preloads)
        with build_lock(self.project.cache_dir):
            remove_stray_temps(self.project)
            self.cache.clean_tmp()
            self.lock = read_lock(self.project.lock_path)

    # ------------------------------------------------------------ the loop

    def run(self, stop: Callable[[], bool] = lambda: False, until_idle: bool = False) -> None:
        """Plan, run, publish and watch until `stop()` (or, with `until_idle`, until nothing is
        stale, running or unpublished). Running stages are stopped on the way out, and the
        waiting workers too unless `until_idle` (a later `run` reuses them; `close` stops
        them)."""
        try:
            if not self.plans:
                self.plan()
            while not stop():
                self.schedule()
                self.refill()
                self.collect(POLL_SECONDS)
                if not self.running and not self._runnable():
                    if self.sections_due or self._pending():
                        self.publish()
                    elif until_idle:
                        return
                changed = self.watcher.poll()
                if changed:
                    if not self.sections_due and not self._pending():
                        self.since = edited_at(changed)
                    self.changed(self.watcher.burst(changed))
        finally:
            for ident in list(self.running):
                self.cancel(ident, quiet=True)
            if not until_idle:
                self.close()

    def close(self) -> None:
        """Stop the workers that wait for a job."""
        self.pool.close()

    def refill(self, now: float | None = None) -> None:
        """Start warm workers when the CPUs are free (workers.WarmPool.refill)."""
        if self.running or self._runnable() or self.sections_due or self._pending():
            self.pool.busy(now)
        else:
            self.pool.refill(max(1, self.jobs - 1), now)

    def _preloads(self) -> tuple[str, ...]:
        modules = stage_modules(self.project.root, self.project.select(self.opts.posts))
        return preloads(self.analyzer, modules) if self.analyzer else ()

    def changed(self, paths: set[Path]) -> None:
        """React to edited inputs: replan, unless only the Markdown or templates changed."""
        shown = ", ".join(sorted(os.path.relpath(p, self.project.root) for p in paths))
        self.say(f" changed {shown}")
        self.sections_due = True
        self.pool.busy()  # (planning needs a CPU too)
        root, posts = self.project.root, [pp.post for pp in self.plans]
        served = watch.served_files(root, posts, self.site_files)
        if paths & served:
            self.served = True
            if paths <= served and self.on_edit is not None:
                self.on_edit(self.since)
                self.told = True
        data = {rel for pp in self.plans for st in pp.graph.stages.values() for rel in st.data}
        if paths - watch.text_only_files(root, posts, data, self.site_files):
            self.plan()

    # ------------------------------------------------------------ planning

    def plan(self) -> bool:
        """Replan every post; cancel the running stages whose key changed. A planning error
        (a syntax error, a bad config value) goes to the status; nothing new starts."""
        analyzer = Analyzer(self.project.root)
        try:
            project = load_project(self.project.root)
            posts = project.select(self.opts.posts)
            plans = [plan_post(project, p, self.lock, self.opts.profile, self.opts.overrides,
                               cache=self.cache, analyzer=analyzer) for p in posts]
            data = {rel for pp in plans for st in pp.graph.stages.values() for rel in st.data}
            inputs = watched_inputs(project, posts, data, analyzer)
        except PLAN_ERRORS as e:
            self.say(f"   error {e}")
            self.status.fail("plan", str(e))
            if not self.watcher.inputs.files:  # the first plan: watch what can be found
                posts = self.project.select(self.opts.posts)
                inputs = watched_inputs(self.project, posts)
                inputs.files |= self.site_files
                self.watcher.watch(inputs)
            self.plans = [dataclasses.replace(pp, stages={
                n: dataclasses.replace(sp, action="skip") for n, sp in pp.stages.items()})
                for pp in self.plans]  # run nothing new until it plans again
            return False
        self.status.clear("plan")
        self.project, self.plans = project, plans
        self.analyzer = analyzer
        self.pool.changed()
        inputs.files |= self.site_files
        self.watcher.watch(inputs)
        for pp in plans:
            for name, sp in pp.stages.items():
                ident = (pp.post.name, name)
                running = self.running.get(ident)
                if running is not None and running.key != sp.key:
                    self.cancel(ident)
                if self.failed.get(ident) not in (None, sp.key):
                    del self.failed[ident]  # its inputs changed: it runs again
                if sp.action != "run":  # back to a state that built: its error is gone
                    self.failed.pop(ident, None)
                    self.status.clear(f"{pp.post.name}/{name}")
        return True

    def _stages(self) -> list[tuple[PostPlan, StagePlan]]:
        return [(pp, sp) for pp in self.plans for sp in pp.stages.values()]

    def _blocked(self, pp: PostPlan, sp: StagePlan) -> bool:
        """Whether an upstream stage is still to run (or failed, with its current key)."""
        return any(pp.stages[u].action == "run" for u in sp.stage.after)

    def _runnable(self) -> list[tuple[PostPlan, StagePlan]]:
        return [(pp, sp) for pp, sp in self._stages()
                if sp.action == "run" and (pp.post.name, sp.name) not in self.running
                and self.failed.get((pp.post.name, sp.name)) != sp.key
                and not self._blocked(pp, sp)]

    def _pending(self) -> bool:
        return any(sp.action == "restore" for _, sp in self._stages())

    # ------------------------------------------------------------ running

    def schedule(self) -> None:
        """Start the runnable stages, the longest chain first, up to `jobs` at once."""
        self.cut_off()
        priority = critical_path(self.plans, self.lock)
        ready = sorted(self._runnable(), key=lambda x: -priority[(x[0].post.name, x[1].name)])
        for pp, sp in ready:
            if len(self.running) >= self.jobs:
                break
            self.start(pp, sp)
        waiting = [f"{pp.post.name}/{sp.name}" for pp, sp in self._stages()
                   if sp.action == "run" and (pp.post.name, sp.name) not in self.running
                   and self.failed.get((pp.post.name, sp.name)) != sp.key]
        self.status.queued(waiting)

    def cut_off(self) -> None:
        """Key each pending stage whose upstream stages are done and decide again, as a build
        does (planning.resolve): fresh if they produced what its recorded key was computed
        from (early cutoff), placed with the batch if the cache holds its key, else run."""
        for pp, sp in self._stages():
            ident = (pp.post.name, sp.name)
            if sp.action != "run" or not sp.pending or ident in self.running \
                    or self._blocked(pp, sp):
                continue
            resolve(self.project, pp, sp, self.lock, self.cache)
            if sp.action == "skip":
                sp.status = "cutoff"
                self.counts["cutoff"] += 1
                self.failed.pop(ident, None)
                self.status.clear("/".join(ident))
                report.stage_end(pp.post.name, sp)

    def start(self, pp: PostPlan, sp: StagePlan) -> None:
        """Run one stage in a worker process of its own (so that it can be cancelled): a warm
        one (workers.py) when one waits."""
        job = make_job(self.project, self.cache, self.lock, pp, sp, parallel=True)
        # an upstream stage of this batch is in the cache, not yet in the lock: its values
        # come from its cache entry
        upstream = {}
        for u, up in job.upstream.items():
            entry = self.cache.get_entry(pp.stages[u].key, verify=False) or {}
            upstream[u] = Upstream(u, entry.get("values", up.values), up.files)
        job = dataclasses.replace(job, upstream=upstream)
        report.stage_start(pp.post.name, sp)
        worker = self.pool.take()
        with contextlib.suppress(OSError):  # (if it died, collect() reports the stage failed)
            worker.conn.send(job)
        where = f"{pp.post.name}/{sp.name}"
        self.running[(pp.post.name, sp.name)] = Running(sp.key, job, worker)
        self.status.started(where, self.lock.get(pp.post.name, {}).get(sp.name, {})
                            .get("seconds", 0.0))

    def collect(self, timeout: float) -> None:
        """Wait up to `timeout` seconds for the workers; take their progress and results."""
        wait(self.running.values(), timeout)
        for ident, r in list(self.running.items()):
            if r.receive(functools.partial(self.status.progress, "/".join(ident))):
                self.finish(ident)

    def finish(self, ident: tuple[str, str]) -> None:
        """Store a finished stage in the cache (published with its batch), or record its
        failure for the status."""
        r = self.running.pop(ident)
        self.pool.release(r.worker, 0.05 if r.result is not None else 5)
        where = "/".join(ident)
        self.status.ended(where)
        pp = next(pp for pp in self.plans if pp.post.name == ident[0])
        sp = pp.stages[ident[1]]
        result = r.result or {"ok": False, "seconds": 0.0,
                              "error": f"worker died (exit code {r.worker.process.exitcode})"}
        try:
            with signals.deferred():
                stored = store(self.project, self.cache, sp, r.job, result)
        finally:
            shutil.rmtree(r.job.staging, ignore_errors=True)
        if stored is None:
            self.counts["failed"] += 1
            self.failed[ident] = r.key
            frame = last_frame(result.get("traceback", ""), str(self.project.root))
            self.status.fail(where, sp.error, frame)
        else:
            self.counts["ran"] += 1
            self.failed.pop(ident, None)
            self.status.clear(where)
            sp.action, sp.status = "restore", "ran"
        report.stage_end(ident[0], sp)

    def cancel(self, ident: tuple[str, str], quiet: bool = False) -> None:
        """Stop a running stage (SIGTERM, then SIGKILL); nothing of it is kept."""
        r = self.running.pop(ident)
        r.worker.stop()
        shutil.rmtree(r.job.staging, ignore_errors=True)
        self.status.ended("/".join(ident))
        self.counts["cancelled"] += 1
        if not quiet:
            self.say(f"cancelled {'/'.join(ident)} (its inputs changed): it starts again")

    # ------------------------------------------------------------ publishing

    def publish(self) -> None:
        """Rewrite the regions, place the batch's outputs and record them in the lock, judge
        the claims: under the build lock, the slow part (rendering) first, then the files
        replaced one after the other within milliseconds, so that Hugo rebuilds once."""
        verdicts = []
        placed: list[Path] = []
        wrote: float | None = None
        with signals.deferred(), build_lock(self.project.cache_dir):
            batch = []
            for pp, sp in self._stages():
                if sp.action == "restore":
                    entry = self.cache.get_entry(sp.key)  # verified: placing it cannot fail
                    if entry is None:
                        sp.action = "run"  # its cache entry went bad: run it
                    else:
                        batch.append((pp, sp, entry))
            for pp in self.plans:
                # what the lock will hold once the batch is placed
                records = {**self.lock.get(pp.post.name, {}),
                           **{sp.name: record(pp, sp, entry) for p, sp, entry in batch
                              if p is pp}}
                where = f"{pp.post.name}/regions"
                written: list[tuple[Path, bytes]] = []
                try:
                    verdicts += write_sections(self.project, pp.post, records, pp.config,
                                               pp.graph, self.cache.tmp, written)
                    self.status.clear(where)
                except REGION_ERRORS as e:
                    self.say(f"   error {e}")
                    self.status.fail(where, str(e))
                for path, data in written:
                    self.watcher.wrote(path, data)
                if written:
                    wrote = time.monotonic()
            for pp, sp, entry in batch:
                try:
                    place(self.project, self.cache, self.lock, pp, sp, entry,
                          {n: self.cache.object_path(sha, n)
                           for n, sha in entry["outputs"].items()})
                except PublishError as e:
                    self.status.fail(f"{pp.post.name}/{sp.name}", str(e))
                    continue
                sp.action, sp.reasons, sp.status = "skip", [], "restored"
                placed += [self.project.static_dir(pp.post.name) / n for n in entry["outputs"]]
                wrote = time.monotonic() if entry["outputs"] else wrote
        self.status.set_claims([v.message() for v in verdicts if not v.holds])
        for v in verdicts:
            if not v.holds:
                self.say(f" warning {v.message()}")
        self.counts["published"] += 1
        self.sections_due = False
        if self.on_publish is not None:
            self.on_publish(Published(self.since, placed, wrote, self.served, self.told))
        self.served = self.told = False


