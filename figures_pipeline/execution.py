"""Run a build's stale stages: in parallel (longest chain first), each finished stage committed
as it ends (its files into the cache, its outputs into the post's folder, its record into the
lock), each restorable stage placed from the cache; a stop signal waits until a commit is whole.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

from . import report, signals
from .cache import Cache, atomic_copy, write_lock
from .context import Job, Upstream, init_worker, run_job
from .errors import PublishError, os_reason
from .planning import PostPlan, StagePlan, nested, resolve, without
from .project import Project


def execute(project: Project, cache: Cache, lock: dict[str, Any], plans: list[PostPlan],
            jobs: int = 0) -> int:
    """Run or restore every planned stage of `plans` (`jobs` worker processes, 0: one per CPU;
    serial and in-process when one is enough); how many failed."""
    todo: dict[tuple[str, str], StagePlan] = {}
    for pp in plans:
        for name, sp in pp.stages.items():
            if sp.action != "skip":
                todo[(pp.post.name, name)] = sp
    if not todo:
        return 0
    jobs = jobs or os.cpu_count() or 1
    runnable = sum(sp.action == "run" for sp in todo.values())
    parallel = jobs > 1 and runnable > 1
    workers = min(jobs, runnable)
    priority = critical_path(plans, lock)
    pool = None
    from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait

    if parallel:
        import multiprocessing

        pool = ProcessPoolExecutor(max_workers=workers, initializer=init_worker,
                                   initargs=(os.getpid(),),
                                   mp_context=multiprocessing.get_context("spawn"))
    by_post = {pp.post.name: pp for pp in plans}
    done: set[tuple[str, str]] = set()
    resolved: set[tuple[str, str]] = set()
    running: dict[Future, tuple[tuple[str, str], Job, float]] = {}
    failed = 0
    try:
        while todo or running:
            # longest remaining chain first, so the slowest path never waits behind short stages
            for ident, sp in sorted(todo.items(), key=lambda kv: -priority[kv[0]]):
                post, name = ident
                pp = by_post[post]
                ups = [(post, u) for u in sp.stage.after]
                if any(by_post[post].stages[u].status in ("failed", "blocked") for u in
                       sp.stage.after):
                    sp.status = "blocked"
                    bad = [u for u in sp.stage.after
                           if pp.stages[u].status in ("failed", "blocked")]
                    sp.error = f"upstream failed: {', '.join(bad)}"
                    report.stage_end(post, sp)
                    del todo[ident]
                    continue
                if any(u in todo or u in {r[0] for r in running.values()} for u in ups):
                    continue
                if ident not in resolved and (sp.pending or any(
                        pp.stages[u].status == "ran" for u in sp.stage.after)):
                    resolved.add(ident)  # its upstream ran: its key is known only now
                    resolve(project, pp, sp, lock, cache)
                    if sp.action == "skip":  # early cutoff: the same inputs as recorded
                        sp.status = "cutoff"
                        del todo[ident]
                        report.stage_end(post, sp)
                        done.add(ident)
                        continue
                if pool is not None and sp.action == "run" and len(running) >= workers:
                    continue
                if sp.action == "restore":
                    report.stage_start(post, sp)
                    if not restore(project, cache, lock, pp, sp):
                        sp.action = "run"  # its cache entry went bad: run it (next round)
                        sp.reasons = sp.reasons + ["its cache entry is missing or corrupt"]
                        continue
                    del todo[ident]
                    failed += sp.status == "failed"  # it could not place its outputs
                    report.stage_end(post, sp)
                    done.add(ident)
                    continue
                del todo[ident]
                try:
                    job = make_job(project, cache, lock, pp, sp, parallel)
                except OSError as e:
                    sp.status = "failed"
                    sp.error = f"cannot stage it: {os_reason(e, None, project.root)}"
                    failed += 1
                    report.stage_end(post, sp)
                    continue
                report.stage_start(post, sp)
                if pool is None:
                    result = run_job(job, sp.stage.fn)
                    failed += commit(project, cache, lock, pp, sp, job, result)
                    report.stage_end(post, sp)
                else:
                    running[pool.submit(run_job, job)] = (ident, job, time.monotonic())
            if running:
                finished, _ = wait(list(running), return_when=FIRST_COMPLETED)
                for fut in finished:
                    (post, name), job, _t = running.pop(fut)
                    pp = by_post[post]
                    sp = pp.stages[name]
                    try:
                        result = fut.result()
                    except Exception as e:  # noqa: BLE001 - a worker died (killed, OOM)
                        result = {"ok": False, "error": f"worker died: {type(e).__name__}: {e}",
                                  "seconds": time.monotonic() - _t}
                    failed += commit(project, cache, lock, pp, sp, job, result)
                    report.stage_end(post, sp)
    except BaseException:
        if pool is not None:
            stop_workers(pool)
        raise
    if pool is not None:
        pool.shutdown()
    return failed


def stop_workers(pool: Any, grace: float = 5.0) -> None:
    """Terminate the pool's worker processes (SIGTERM), wait for them, SIGKILL the stubborn."""
    procs = list(getattr(pool, "_processes", {}).values())
    for p in procs:
        p.terminate()
    deadline = time.monotonic() + grace
    for p in procs:
        p.join(max(0.0, deadline - time.monotonic()))
        if p.is_alive():
            p.kill()
            p.join(1.0)
    pool.shutdown(wait=False, cancel_futures=True)


def critical_path(plans: list[PostPlan], lock: dict[str, Any]) -> dict[tuple[str, str], float]:
    """Each stage's priority: the seconds of the longest chain from it to the end of its post,
    costed by each stage's last recorded time (1 s when it has never run)."""
    out: dict[tuple[str, str], float] = {}
    for pp in plans:
        records = lock.get(pp.post.name, {})
        children: dict[str, list[str]] = {n: [] for n in pp.stages}
        for n, sp in pp.stages.items():
            for u in sp.stage.after:
                children.setdefault(u, []).append(n)
        rank: dict[str, float] = {}
        for n in reversed(pp.graph.order):  # downstream stages come later in the order
            if n in pp.stages:
                rank[n] = (records.get(n, {}).get("seconds", 1.0)
                           + max((rank.get(c, 0.0) for c in children.get(n, [])), default=0.0))
                out[(pp.post.name, n)] = rank[n]
    return out


def upstream_of(project: Project, cache: Cache, lock: dict[str, Any], pp: PostPlan,
              u: str) -> Upstream:
    record = lock.get(pp.post.name, {}).get(u, {})
    entry = cache.get_entry(pp.stages[u].key, verify=False) or {}
    files = {n: str(cache.object_path(sha, n))
             for n, sha in {**entry.get("outputs", {}), **entry.get("artifacts", {})}.items()}
    # its volatile values are not part of what it produced: not to be read downstream
    return Upstream(u, without(record.get("values", {}), pp.graph.stages[u].volatile), files)


def make_job(project: Project, cache: Cache, lock: dict[str, Any], pp: PostPlan, sp: StagePlan,
         parallel: bool) -> Job:
    if sp.pending:  # a caller that did not resolve it (the live preview): key it now, run it
        resolve(project, pp, sp, lock, cache)
        sp.action = "run"
    st = sp.stage
    return Job(str(project.root), pp.post.name, pp.post.stages, st.name, pp.config.profile,
               nested(pp.config.select(st.config)),
               {u: upstream_of(project, cache, lock, pp, u) for u in st.after},
               str(cache.staging(st.name)), st.outputs, st.artifacts, parallel, st.data)


def commit(project: Project, cache: Cache, lock: dict[str, Any], pp: PostPlan, sp: StagePlan,
           job: Job, result: dict[str, Any]) -> int:
    """Store a finished stage's files in the cache, move changed outputs, record it; 1 if failed.
    A stop signal waits until the commit is whole; an OS error (a full disk, a read-only folder)
    fails this stage only, naming the path and the cause."""
    try:
        with signals.deferred():
            stored = store(project, cache, sp, job, result)
            if stored is None:
                return 1
            entry, written = stored
            try:
                # outputs are placed from what the stage wrote, never from a cached copy
                place(project, cache, lock, pp, sp, entry,
                      {n: written[n] for n in entry["outputs"]})
            except PublishError as e:
                sp.status, sp.error = "failed", str(e)
                return 1
            except OSError as e:
                sp.status, sp.error = "failed", f"cannot write {os_reason(e, None, project.root)}"
                return 1
            sp.status = "ran"
            return 0
    finally:
        shutil.rmtree(job.staging, ignore_errors=True)


def store(project: Project, cache: Cache, sp: StagePlan, job: Job, result: dict[str, Any]
          ) -> tuple[dict[str, Any], dict[str, Path]] | None:
    """Put a finished stage's files and entry into the cache (nothing is placed); its entry and
    {name: staged file}, or None with `sp` marked failed (the stage's error, a file it did not
    write, an OS error naming the path)."""
    sp.seconds = result["seconds"]
    staging = Path(job.staging)
    if not result["ok"]:
        sp.status, sp.error = "failed", result["error"]
        return None
    hashes: dict[str, dict[str, str]] = {"outputs": {}, "artifacts": {}}
    written: dict[str, Path] = {}
    for kind, names in (("outputs", sp.stage.outputs), ("artifacts", sp.stage.artifacts)):
        for n in names:
            f = staging / kind / n
            if not f.is_file():
                sp.status, sp.error = "failed", f"did not write its {kind[:-1]} '{n}'"
                return None
            try:
                hashes[kind][n] = cache.put_file(f, n)
            except OSError as e:
                reason = os_reason(e, None, project.root)
                sp.status, sp.error = "failed", f"cannot store '{n}' in the cache: {reason}"
                return None
            written[n] = f
    entry = {"stage": sp.name, "key": sp.key, **hashes, "values": result["values"],
             "seconds": round(sp.seconds, 3)}
    try:
        cache.put_entry(sp.key, entry)
    except OSError as e:
        sp.status, sp.error = "failed", f"cannot write {os_reason(e, None, project.root)}"
        return None
    return entry, written


def restore(project: Project, cache: Cache, lock: dict[str, Any], pp: PostPlan,
             sp: StagePlan) -> bool:
    """Place a stage's cached outputs and record it; False if its entry is gone or corrupt
    (the bad object is deleted: the caller runs the stage instead)."""
    with signals.deferred():
        entry = cache.get_entry(sp.key)
        if entry is None:
            return False
        sp.seconds = entry["seconds"]
        try:
            place(project, cache, lock, pp, sp, entry,
                   {n: cache.object_path(sha, n) for n, sha in entry["outputs"].items()})
        except PublishError as e:
            sp.status, sp.error = "failed", str(e)
            return True
        sp.status = "restored"
        return True


def place(project: Project, cache: Cache, lock: dict[str, Any], pp: PostPlan, sp: StagePlan,
           entry: dict[str, Any], sources: dict[str, Path]) -> None:
    """Copy each output from `sources` into the post's folder, then record the stage in the lock;
    an OS error is a PublishError naming the file."""
    folder = project.static_dir(pp.post.name)
    for n in entry["outputs"]:
        dst = folder / n
        try:
            atomic_copy(sources[n], dst, cache.tmp)
        except OSError as e:
            raise PublishError(f"cannot write {os_reason(e, dst, project.root)}") from None
    records = lock.setdefault(pp.post.name, {})
    previous = records.get(sp.name)
    records[sp.name] = record(pp, sp, entry)
    try:
        write_lock(project.lock_path, lock, cache.tmp)
    except OSError as e:
        if previous is None:
            del records[sp.name]
        else:
            records[sp.name] = previous
        raise PublishError(f"cannot write {os_reason(e, project.lock_path, project.root)}") \
            from None



def record(pp: PostPlan, sp: StagePlan, entry: dict[str, Any]) -> dict[str, Any]:
    """The lock's record of a stage placed from its cache `entry`."""
    return {"key": sp.key, "profile": pp.config.profile, "inputs": sp.inputs,
            "outputs": entry["outputs"], "artifacts": entry["artifacts"],
            "values": entry["values"], "seconds": entry["seconds"]}
