"""Plan, build and check a project's posts.

`plan` computes every stage's key (code, config, data, upstream keys, package versions, profile)
statically, compares it with the lock and the files on disk, and says what must run and why.
`build` runs what is stale (restoring from the cache where it can), in parallel, commits each
finished stage (cache, outputs, lock) as it ends, then rewrites the generated Markdown sections.
`check` does the planning only, against the published profile: no stage runs, torch is not
imported.
"""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import os
import shutil
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import claims, report, signals
from .cache import (
    Cache,
    atomic_copy,
    atomic_write,
    build_lock,
    dumps_canonical,
    file_sha,
    read_lock,
    warn,
    write_lock,
)
from .codehash import Analyzer
from .config import PUBLISHED_PROFILE, Config
from .context import Job, Upstream, init_worker, run_job
from .project import (
    TRACKED_PACKAGES,
    Post,
    Project,
    ProjectError,
    load_graph,
    load_post_config,
    load_project,
)
from .sections import TEMPLATE_SUFFIX, FigureInfo, make_environment, render_sections
from .stages import Graph, Stage
from .verify import remove_stray_temps, stray_temps

ENGINE_VERSION = 1


class StageFailedError(RuntimeError):
    """One or more stages failed (details were reported as they happened)."""


class StaleError(RuntimeError):
    """`check` found stale stages or sections."""


class PublishError(RuntimeError):
    """A file of the post could not be read or written (the path and the OS's reason)."""


def os_reason(e: OSError, path: Path | str | None = None, root: Path | None = None) -> str:
    """'static/posts/x/a.png: Permission denied': the path (default: the error's own; relative
    to `root` when under it) and the OS's reason."""
    where = str(path if path is not None else e.filename if e.filename is not None else "?")
    if root is not None and where.startswith(str(root) + os.sep):
        where = os.path.relpath(where, root)
    return f"{where}: {e.strerror or e}"


@dataclass
class StagePlan:
    stage: Stage
    key: str
    inputs: dict[str, Any]
    reasons: list[str] = field(default_factory=list)
    action: str = "skip"  # skip | run | restore
    forced: bool = False  # --force: run it, even if the cache has its key
    status: str = "skipped"  # after the build: skipped | ran | restored | failed | blocked
    seconds: float = 0.0
    error: str = ""

    @property
    def name(self) -> str:
        return self.stage.name


@dataclass
class PostPlan:
    post: Post
    config: Config
    graph: Graph
    stages: dict[str, StagePlan]  # in topological order


# ---------------------------------------------------------------- keys and staleness

_DIST_INFO: dict[str, str] | None = None


def _installed() -> dict[str, str]:
    """{normalized distribution name: version}, from the *.dist-info folders on sys.path
    (a directory listing: much cheaper than importing importlib.metadata)."""
    global _DIST_INFO
    if _DIST_INFO is None:
        _DIST_INFO = {}
        for entry in sys.path:
            try:
                names = os.listdir(entry or ".")
            except OSError:
                continue
            for n in names:
                if n.endswith(".dist-info") and "-" in n:
                    dist, _, version = n[: -len(".dist-info")].partition("-")
                    _DIST_INFO.setdefault(dist.lower().replace("-", "_"), version)
    return _DIST_INFO


def _versions(externals: frozenset[str]) -> dict[str, str]:
    out = {}
    for mod in sorted(externals):
        dist = TRACKED_PACKAGES.get(mod)
        if dist:
            version = _installed().get(dist.lower().replace("-", "_"))
            if version is None:
                import importlib.metadata

                try:
                    version = importlib.metadata.version(dist)
                except importlib.metadata.PackageNotFoundError:
                    version = "not installed"
            out[dist] = version
    return out


def _nested(selected: dict[str, Any]) -> dict[str, Any]:
    """{'ddpm.steps': 3, 'seed': 0} -> {'ddpm': {'steps': 3}, 'seed': 0}."""
    out: dict[str, Any] = {}
    for dotted, value in selected.items():
        *tables, leaf = dotted.split(".")
        node = out
        for t in tables:
            node = node.setdefault(t, {})
        node[leaf] = value
    return out


def stage_inputs(project: Project, post: Post, st: Stage, config: Config, analyzer: Analyzer,
                 upstream_keys: dict[str, str]) -> dict[str, Any]:
    deps = analyzer.stage_deps(st.module, st.fn.__name__)
    data = {}
    for rel in st.data:
        path = project.root / rel
        if not path.is_file():
            raise ProjectError(f"stage '{st.name}': data file '{rel}' not found")
        data[rel] = file_sha(path)
    return {
        "code": deps.units,
        "config": config.select(st.config),
        "data": data,
        "upstream": {u: upstream_keys[u] for u in st.after},
        "packages": _versions(deps.externals),
        "declaration": st.declaration(),
        "profile": config.profile,
        "engine": ENGINE_VERSION,
    }


def stage_key(post: str, name: str, inputs: dict[str, Any]) -> str:
    canonical = dumps_canonical({"post": post, "stage": name, "inputs": inputs})
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def why_changed(old: dict[str, Any] | None, new: dict[str, Any]) -> list[str]:
    """Human reasons for a key change, by comparing the recorded inputs with the new ones."""
    if not old:
        return ["never built"]
    reasons = []
    o, n = old.get("code", {}), new["code"]
    changed = sorted(u for u in set(o) | set(n) if o.get(u) != n.get(u))
    if changed:
        shown = ", ".join(changed[:3]) + (f" (+{len(changed) - 3})" if len(changed) > 3 else "")
        reasons.append(f"code changed: {shown}")
    o, n = old.get("config", {}), new["config"]
    for k in sorted(set(o) | set(n)):
        if o.get(k) != n.get(k):
            reasons.append(f"config {k}: {_short(o.get(k))} -> {_short(n.get(k))}")
    o, n = old.get("data", {}), new["data"]
    for k in sorted(set(o) | set(n)):
        if o.get(k) != n.get(k):
            reasons.append(f"data changed: {k}")
    o, n = old.get("upstream", {}), new["upstream"]
    ups = sorted(k for k in set(o) | set(n) if o.get(k) != n.get(k))
    if ups:
        reasons.append(f"upstream changed: {', '.join(ups)}")
    o, n = old.get("packages", {}), new["packages"]
    for k in sorted(set(o) | set(n)):
        if o.get(k) != n.get(k):
            reasons.append(f"package {k}: {o.get(k)} -> {n.get(k)}")
    for part in ("declaration", "profile", "engine"):
        if old.get(part) != new[part]:
            reasons.append(f"{part} changed" if part != "profile"
                           else f"profile {old.get(part)} -> {new[part]}")
    return reasons or ["inputs changed"]


def _short(v: Any) -> str:
    s = dumps_canonical(v) if v is not None else "unset"
    return s if len(s) <= 30 else s[:27] + "..."


def output_problems(project: Project, post: str, st: Stage, record: dict[str, Any]) -> list[str]:
    out = []
    recorded = record.get("outputs", {})
    for name in st.outputs:
        path = project.static_dir(post) / name
        if not path.is_file():
            out.append(f"output missing: {name}")
        elif name not in recorded or file_sha(path) != recorded[name]:
            out.append(f"output edited by hand: {name}")
    return out


def plan_post(project: Project, post: Post, lock: dict[str, Any], profile: str = "default",
              overrides: tuple[str, ...] = (), force: bool = False, only: tuple[str, ...] = (),
              cache: Cache | None = None, analyzer: Analyzer | None = None) -> PostPlan:
    config = load_post_config(project, post, profile, overrides)
    graph = load_graph(project, post)
    for n in only:
        if n not in graph.stages:
            close = difflib.get_close_matches(n, list(graph.stages), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ProjectError(f"--only: post '{post.name}' has no stage '{n}'{hint}")
    selected = graph.upstream_closure(only) if only else set(graph.stages)
    forced = (set(only) or set(graph.stages)) if force else set()  # --only X: X, not its upstream
    analyzer = analyzer or Analyzer(project.root)
    records = lock.get(post.name, {})
    plans: dict[str, StagePlan] = {}
    keys: dict[str, str] = {}
    for name in graph.order:
        st = graph.stages[name]
        for k in st.config:
            config.get(k)  # an unknown key is a ConfigError naming the stage's module
        inputs = stage_inputs(project, post, st, config, analyzer, keys)
        key = keys[name] = stage_key(post.name, name, inputs)
        sp = StagePlan(st, key, inputs)
        record = records.get(name)
        if record is None or record.get("key") != key:
            sp.reasons = why_changed(record and record.get("inputs"), inputs)
        else:
            sp.reasons = output_problems(project, post.name, st, record)
        if name in forced:
            sp.forced = True
            sp.reasons = sp.reasons + ["--force"]
        if name in selected and sp.reasons:
            sp.action = "run"
        plans[name] = sp
    if cache is not None:
        _use_cache(plans, graph, cache)
    return PostPlan(post, config, graph, plans)


def _use_cache(plans: dict[str, StagePlan], graph: Graph, cache: Cache) -> None:
    """Restore from the cache what it has; run an up-to-date upstream whose artifacts it lacks."""
    entries: dict[str, dict | None] = {}

    def entry(sp: StagePlan) -> dict | None:
        if sp.name not in entries:
            entries[sp.name] = cache.get_entry(sp.key)
        return entries[sp.name]

    for name in graph.order:
        sp = plans[name]
        if sp.action == "run" and not sp.forced and entry(sp) is not None:
            sp.action = "restore"
    changed = True
    while changed:
        changed = False
        for name in reversed(graph.order):
            sp = plans[name]
            if sp.action != "run":
                continue
            for u in sp.stage.after:
                up = plans[u]
                if up.action == "skip" and up.stage.artifacts and entry(up) is None:
                    up.action = "run"
                    up.reasons = [f"artifacts not in the cache (needed by {name})"]
                    changed = True


# ---------------------------------------------------------------- build

@dataclass
class BuildOptions:
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
        if quick and _unchanged_since(stamp, project, opts):
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
            failed = _execute(project, cache, lock, plans, opts)
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
            atomic_write(stamp, _fingerprint(project, opts).encode(), cache.tmp)
    if failed:
        raise StageFailedError(f"{failed} stage(s) failed")
    if false and published:
        raise claims.ClaimFalseError(f"{false} false claim(s); the published profile "
                                     f"'{PUBLISHED_PROFILE}' needs every claim to hold")
    return plans


# Directories whose files never shape a build (the fingerprint does not stat them).
UNTRACKED_DIRS = frozenset({".git", ".venv", ".cache", "public", "resources", "node_modules",
                            "test-artifacts", "__pycache__", ".pytest_cache", ".ruff_cache"})


def _fingerprint(project: Project, opts: BuildOptions) -> str:
    """(path, size, mtime) of every file in the project, the installed packages' folder, the
    build options and the engine version: equal to the last successful build's, nothing that
    could change a key has changed, so the build can stop before importing or hashing anything.
    Any difference (an edit, a touched file, a package installed) falls back to the full plan."""
    import sysconfig

    h = hashlib.sha256(dumps_canonical([ENGINE_VERSION, opts.profile, list(opts.overrides),
                                        sorted(opts.posts), sys.version]).encode())
    site = Path(sysconfig.get_paths()["purelib"])
    for path in [site, *_project_files(project.root)]:
        try:
            st = path.stat()
        except OSError:
            continue
        h.update(f"{path}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def _project_files(root: Path) -> list[Path]:
    out: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in UNTRACKED_DIRS)
        out.extend(Path(dirpath) / f for f in sorted(filenames) if not f.endswith(".pyc"))
    return out


def _unchanged_since(stamp: Path, project: Project, opts: BuildOptions) -> bool:
    try:
        return stamp.read_text() == _fingerprint(project, opts)
    except OSError:
        return False


def _execute(project: Project, cache: Cache, lock: dict[str, Any], plans: list[PostPlan],
             opts: BuildOptions) -> int:
    todo: dict[tuple[str, str], StagePlan] = {}
    for pp in plans:
        for name, sp in pp.stages.items():
            if sp.action != "skip":
                todo[(pp.post.name, name)] = sp
    if not todo:
        return 0
    jobs = opts.jobs or os.cpu_count() or 1
    runnable = sum(sp.action == "run" for sp in todo.values())
    parallel = jobs > 1 and runnable > 1
    workers = min(jobs, runnable)
    priority = _critical_path(plans, lock)
    pool = None
    from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait

    if parallel:
        import multiprocessing

        pool = ProcessPoolExecutor(max_workers=workers, initializer=init_worker,
                                   initargs=(os.getpid(),),
                                   mp_context=multiprocessing.get_context("spawn"))
    by_post = {pp.post.name: pp for pp in plans}
    done: set[tuple[str, str]] = set()
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
                if pool is not None and sp.action == "run" and len(running) >= workers:
                    continue
                if sp.action == "restore":
                    report.stage_start(post, sp)
                    if not _restore(project, cache, lock, pp, sp):
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
                    job = _job(project, cache, lock, pp, sp, parallel)
                except OSError as e:
                    sp.status = "failed"
                    sp.error = f"cannot stage it: {os_reason(e, None, project.root)}"
                    failed += 1
                    report.stage_end(post, sp)
                    continue
                report.stage_start(post, sp)
                if pool is None:
                    result = run_job(job, sp.stage.fn)
                    failed += _commit(project, cache, lock, pp, sp, job, result)
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
                    failed += _commit(project, cache, lock, pp, sp, job, result)
                    report.stage_end(post, sp)
    except BaseException:
        if pool is not None:
            _stop_workers(pool)
        raise
    if pool is not None:
        pool.shutdown()
    return failed


def _stop_workers(pool: Any, grace: float = 5.0) -> None:
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


def _critical_path(plans: list[PostPlan], lock: dict[str, Any]) -> dict[tuple[str, str], float]:
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


def _upstream(project: Project, cache: Cache, lock: dict[str, Any], pp: PostPlan,
              u: str) -> Upstream:
    record = lock.get(pp.post.name, {}).get(u, {})
    entry = cache.get_entry(pp.stages[u].key, verify=False) or {}
    files = {n: str(cache.object_path(sha, n))
             for n, sha in {**entry.get("outputs", {}), **entry.get("artifacts", {})}.items()}
    return Upstream(u, record.get("values", {}), files)


def _job(project: Project, cache: Cache, lock: dict[str, Any], pp: PostPlan, sp: StagePlan,
         parallel: bool) -> Job:
    st = sp.stage
    return Job(str(project.root), pp.post.name, pp.post.stages, st.name, pp.config.profile,
               _nested(pp.config.select(st.config)),
               {u: _upstream(project, cache, lock, pp, u) for u in st.after},
               str(cache.staging(st.name)), st.outputs, st.artifacts, parallel, st.data)


def _commit(project: Project, cache: Cache, lock: dict[str, Any], pp: PostPlan, sp: StagePlan,
            job: Job, result: dict[str, Any]) -> int:
    """Store a finished stage's files in the cache, move changed outputs, record it; 1 if failed.
    A stop signal waits until the commit is whole; an OS error (a full disk, a read-only folder)
    fails this stage only, naming the path and the cause."""
    sp.seconds = result["seconds"]
    staging = Path(job.staging)
    try:
        with signals.deferred():
            if not result["ok"]:
                sp.status, sp.error = "failed", result["error"]
                return 1
            hashes: dict[str, dict[str, str]] = {"outputs": {}, "artifacts": {}}
            written: dict[str, Path] = {}
            for kind, names in (("outputs", sp.stage.outputs),
                                ("artifacts", sp.stage.artifacts)):
                for n in names:
                    f = staging / kind / n
                    if not f.is_file():
                        sp.status, sp.error = "failed", f"did not write its {kind[:-1]} '{n}'"
                        return 1
                    try:
                        hashes[kind][n] = cache.put_file(f, n)
                    except OSError as e:
                        reason = os_reason(e, None, project.root)
                        sp.status, sp.error = "failed", f"cannot store '{n}' in the cache: {reason}"
                        return 1
                    written[n] = f
            entry = {"stage": sp.name, "key": sp.key, **hashes, "values": result["values"],
                     "seconds": round(sp.seconds, 3)}
            try:
                cache.put_entry(sp.key, entry)
                # outputs are placed from what the stage wrote, never from a cached copy
                _place(project, cache, lock, pp, sp, entry,
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
        shutil.rmtree(staging, ignore_errors=True)


def _restore(project: Project, cache: Cache, lock: dict[str, Any], pp: PostPlan,
             sp: StagePlan) -> bool:
    """Place a stage's cached outputs and record it; False if its entry is gone or corrupt
    (the bad object is deleted: the caller runs the stage instead)."""
    with signals.deferred():
        entry = cache.get_entry(sp.key)
        if entry is None:
            return False
        sp.seconds = entry["seconds"]
        try:
            _place(project, cache, lock, pp, sp, entry,
                   {n: cache.object_path(sha, n) for n, sha in entry["outputs"].items()})
        except PublishError as e:
            sp.status, sp.error = "failed", str(e)
            return True
        sp.status = "restored"
        return True


def _place(project: Project, cache: Cache, lock: dict[str, Any], pp: PostPlan, sp: StagePlan,
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
    records[sp.name] = {
        "key": sp.key, "profile": pp.config.profile, "inputs": sp.inputs,
        "outputs": entry["outputs"], "artifacts": entry["artifacts"],
        "values": entry["values"], "seconds": entry["seconds"],
    }
    try:
        write_lock(project.lock_path, lock, cache.tmp)
    except OSError as e:
        if previous is None:
            del records[sp.name]
        else:
            records[sp.name] = previous
        raise PublishError(f"cannot write {os_reason(e, project.lock_path, project.root)}") \
            from None


# ---------------------------------------------------------------- sections

def section_inputs(project: Project, post: Post, records: dict[str, Any], config: Config,
                   graph: Graph) -> tuple[dict[str, Any], dict[str, str], dict[str, FigureInfo]]:
    values: dict[str, Any] = {name: records.get(name, {}).get("values", {})
                              for name in graph.stages}
    values["config"] = config.values
    values["profile"] = config.profile
    values["timings"] = {n: r.get("seconds", 0.0) for n, r in records.items()}
    templates: dict[str, str] = {}
    if post.templates:
        tdir = project.root / post.templates
        if tdir.is_dir():
            for p in sorted(tdir.glob(f"*{TEMPLATE_SUFFIX}")):
                templates[p.name[: -len(TEMPLATE_SUFFIX)]] = read_text(p, project.root)
    figures = {f: FigureInfo(f, fig.alt, fig.caption)
               for st in graph.stages.values() for f, fig in st.figures.items()}
    return values, templates, figures


def render_post(project: Project, post: Post, records: dict[str, Any], config: Config,
                graph: Graph) -> tuple[str, str] | None:
    """(current text, rendered text) of the post's Markdown, or None if it has none."""
    if not post.markdown:
        return None
    path = project.root / post.markdown
    if not path.is_file():
        raise ProjectError(f"figures.toml [posts.{post.name}] markdown: "
                           f"'{post.markdown}' not found")
    text = read_text(path, project.root)
    values, templates, figures = section_inputs(project, post, records, config, graph)
    new = render_sections(text, values, templates, figures, path=post.markdown,
                          template_dir=post.templates or "templates")
    return text, new


def read_text(path: Path, root: Path) -> str:
    """A project text file as UTF-8; an unreadable or undecodable one is a ProjectError naming
    the file, line and column."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ProjectError(f"cannot read {os_reason(e, path, root)}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        col = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise ProjectError(f"{os.path.relpath(path, root)}:{line}:{col}: not UTF-8 text (byte "
                           f"0x{data[e.start]:02x}); save the file as UTF-8") from None


def write_sections(project: Project, post: Post, records: dict[str, Any], config: Config,
                   graph: Graph, tmp_dir: Path | None = None) -> list[claims.Verdict]:
    """Rewrite the post's regions if they changed, and judge its claims (a bad claim raises
    before anything is written). A digest of the Markdown and of everything rendering reads,
    kept in the cache once every claim held, lets a build whose values did not change skip the
    templates (the claims are still judged and counted: cheap, and always reported)."""
    if not post.markdown:
        return judge_claims(project, post, records, config, graph, "")
    md = project.root / post.markdown
    stamp = project.cache_dir / f"sections-{post.name}.sha"
    values, templates, figures = section_inputs(project, post, records, config, graph)
    inputs = dumps_canonical([values, templates, {k: list(v.__dict__.values())
                                                  for k, v in sorted(figures.items())},
                              [[c.expr, c.where] for c in _declared_claims(project, graph)]])

    def digest() -> str:
        h = hashlib.sha256(inputs.encode())
        h.update(md.read_bytes() if md.is_file() else b"")
        return h.hexdigest()

    try:
        if stamp.read_text() == digest():
            return judge_claims(project, post, records, config, graph,
                                read_text(md, project.root) if md.is_file() else "")
    except OSError:
        pass
    rendered = render_post(project, post, records, config, graph)
    verdicts = judge_claims(project, post, records, config, graph,
                            rendered[1] if rendered else "")
    changed = rendered is not None and rendered[0] != rendered[1]
    if changed:
        try:
            atomic_write(md, rendered[1].encode("utf-8"), tmp_dir)
        except OSError as e:
            raise PublishError(f"cannot write {os_reason(e, md, project.root)}") from None
        print(f"updated {post.markdown}", file=sys.stderr)
    if all(v.holds for v in verdicts):
        with contextlib.suppress(OSError):  # only a shortcut for the next build
            atomic_write(stamp, digest().encode(), tmp_dir)
    return verdicts


# ---------------------------------------------------------------- check and list

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


# ---------------------------------------------------------------- claims

def _declared_claims(project: Project, graph: Graph) -> list[claims.Claim]:
    return claims.declared((graph.stages[n] for n in graph.order), project.root)


def judge_claims(project: Project, post: Post, records: dict[str, Any], config: Config,
                 graph: Graph, text: str) -> list[claims.Verdict]:
    """The verdicts on the claims of the post's Markdown `text` and of its figures, over the
    values the templates see. Raises ClaimError (file:line) on a claim it cannot judge."""
    values, _, figures = section_inputs(project, post, records, config, graph)
    found = claims.find_claims(text, post.markdown) if text and post.markdown else []
    found += _declared_claims(project, graph)
    return claims.evaluate(found, values, make_environment(figures))


def report_claims(verdicts: list[claims.Verdict], fatal: bool) -> int:
    """Say each false claim (an error if `fatal`, else a warning) and the count; how many."""
    false = [v for v in verdicts if not v.holds]
    for v in false:
        print(f"{'error' if fatal else 'warning'}: {v.message()}", file=sys.stderr, flush=True)
    if verdicts:
        print(claims.summary(verdicts), file=sys.stderr, flush=True)
    return len(false)


def claim_verdicts(root: str | Path = ".", profile: str = PUBLISHED_PROFILE,
                   overrides: tuple[str, ...] = (), posts: tuple[str, ...] = ()
                   ) -> dict[str, list[claims.Verdict]]:
    """{post: verdicts} over the values in the lock, for `check` and `list`: nothing runs; the
    claims are read from the Markdown as it is on disk."""
    project = load_project(root)
    lock = read_lock(project.lock_path)
    out: dict[str, list[claims.Verdict]] = {}
    for post in project.select(posts):
        config = load_post_config(project, post, profile, overrides)
        graph = load_graph(project, post)
        md = project.root / post.markdown if post.markdown else None
        text = read_text(md, project.root) if md is not None and md.is_file() else ""
        out[post.name] = judge_claims(project, post, lock.get(post.name, {}), config, graph, text)
    return out


__all__ = ["build", "check", "states", "clean", "claim_verdicts", "BuildOptions", "warn"]
