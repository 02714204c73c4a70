"""Plan a post: each stage's key and whether (and why) it must run.

A stage's key hashes everything that could change its outputs, computed statically: its code
(the import closure `codehash.Analyzer` finds), the config keys it reads, its data files, its
upstream stages' keys, the versions of the packages it imports, its declaration, the profile and
the engine's version. `plan_post` compares each key with the lock and the files on disk and says
what must run, what the cache can restore, and why.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import sys
from dataclasses import dataclass, field
from typing import Any

from .cache import Cache, dumps_canonical, file_sha
from .codehash import Analyzer
from .config import Config
from .project import (
    TRACKED_PACKAGES,
    Post,
    Project,
    ProjectError,
    load_graph,
    load_post_config,
)
from .stages import Graph, Stage

ENGINE_VERSION = 1


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


def nested(selected: dict[str, Any]) -> dict[str, Any]:
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

