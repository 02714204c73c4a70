"""Plan a post: each stage's key and whether (and why) it must run.

A stage's key hashes everything that could change its outputs, computed statically: its code
(the import closure `codehash.Analyzer` finds), the config keys it reads, its data files, what
its upstream stages produced (the digest of their output and artifact hashes and values: early
cutoff, as in Shake and Bazel), the versions of the packages it imports, its declaration, the
profile and the engine's version. `plan_post` compares each key with the lock and the files on
disk and says what must run, what the cache can restore, and why.

A stage whose upstream must run cannot know its key before that upstream has run: it is planned
as `pending` (to run), and the executor computes its key once its upstream stages are done
(`resolve`): if they produced the same bytes and values as before, the key is the recorded one
and the stage is not run.
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

ENGINE_VERSION = 2  # 2: upstream output digests in the key (early cutoff)
PENDING = "pending"  # an upstream's digest before it has run


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
    pending: bool = False  # its key waits for an upstream that runs (`resolve` computes it)

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


def without(values: dict[str, Any], paths: tuple[str, ...]) -> dict[str, Any]:
    """`values` less the dotted `paths` ('train_seconds', '*.seconds_per_1000': `*` is any key
    at its level)."""
    if not paths:
        return values
    out = dict(values)
    for path in paths:
        head, _, rest = path.partition(".")
        for k in [k for k in out if head in ("*", k)]:
            if not rest:
                del out[k]
            elif isinstance(out[k], dict):
                out[k] = without(out[k], (rest,))
    return out


def result_digest(record: dict[str, Any] | None, volatile: tuple[str, ...] = ()) -> str:
    """What a finished stage produced, as one hash: its output and artifact hashes and its
    values but the `volatile` ones (a lock record or a cache entry). Its downstream stages' keys
    use this, not its key, so a re-run that produces the same bytes re-runs nothing after it."""
    if not record or "outputs" not in record:
        return PENDING
    produced = {k: record.get(k, {}) for k in ("outputs", "artifacts", "values")}
    produced["values"] = without(produced["values"], volatile)
    return hashlib.sha256(dumps_canonical(produced).encode()).hexdigest()[:32]


def stage_inputs(project: Project, post: Post, st: Stage, config: Config, analyzer: Analyzer,
                 upstream_digests: dict[str, str]) -> dict[str, Any]:
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
        "upstream": {u: upstream_digests[u] for u in st.after},
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
        for path, a, b in changed_values(k, o.get(k, UNSET), n.get(k, UNSET)):
            reasons.append(f"config {path}: {_shown(a)} -> {_shown(b)}")
    o, n = old.get("data", {}), new["data"]
    for k in sorted(set(o) | set(n)):
        if o.get(k) != n.get(k):
            reasons.append(f"data changed: {k}")
    o, n = old.get("upstream", {}), new["upstream"]
    ups = sorted(k for k in set(o) | set(n) if o.get(k) != n.get(k))
    waits = [k for k in ups if n.get(k) == PENDING]
    if waits:
        reasons.append(f"upstream runs: {', '.join(waits)} (if its outputs come out the same, "
                       "this stage will not run)")
    if len(waits) < len(ups):
        reasons.append(f"upstream outputs changed: {', '.join(k for k in ups if k not in waits)}")
    o, n = old.get("packages", {}), new["packages"]
    for k in sorted(set(o) | set(n)):
        if o.get(k) != n.get(k):
            reasons.append(f"package {k}: {o.get(k, 'not imported')} -> "
                           f"{n.get(k, 'not imported')}")
    for part in ("declaration", "profile", "engine"):
        if old.get(part) != new[part]:
            reasons.append(f"{part} changed" if part != "profile"
                           else f"profile {old.get(part)} -> {new[part]}")
    return reasons or ["inputs changed"]


UNSET = object()  # a config key on one side only


def changed_values(path: str, old: Any, new: Any) -> list[tuple[str, Any, Any]]:
    """The leaves that differ between two config values, with their old and new values:
    ('ddpm', {'lr': 1, 'steps': 3}, {'lr': 1, 'steps': 4}) -> [('ddpm.steps', 3, 4)]; lists of
    one length are compared item by item ('post.weights[1]')."""
    if old == new and type(old) is type(new):
        return []
    if isinstance(old, dict) and isinstance(new, dict):
        return [c for k in sorted(set(old) | set(new))
                for c in changed_values(f"{path}.{k}", old.get(k, UNSET), new.get(k, UNSET))]
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [c for i, (a, b) in enumerate(zip(old, new, strict=True))
                for c in changed_values(f"{path}[{i}]", a, b)]
    return [(path, old, new)]


def _shown(v: Any) -> str:
    """A config value in full (JSON), or 'unset'; never cut: both sides must be readable."""
    return "unset" if v is UNSET else dumps_canonical(v)


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
    entries: dict[str, dict | None] = {}
    for name in graph.order:
        st = graph.stages[name]
        for k in st.config:
            config.get(k)  # an unknown key is a ConfigError naming the stage's module
        digests = {u: _expected_digest(plans[u], records.get(u), entries.get(u))
                   for u in st.after}
        inputs = stage_inputs(project, post, st, config, analyzer, digests)
        sp = StagePlan(st, stage_key(post.name, name, inputs), inputs,
                       pending=PENDING in digests.values())
        record = records.get(name)
        if sp.pending or record is None or record.get("key") != sp.key:
            sp.reasons = why_changed(record and record.get("inputs"), inputs)
        else:
            sp.reasons = output_problems(project, post.name, st, record)
        if name in forced:
            sp.forced = True
            sp.reasons = sp.reasons + ["--force"]
        if name in selected and sp.reasons:
            sp.action = "run"
            if cache is not None and not sp.forced and not sp.pending:
                entries[name] = cache.get_entry(sp.key)
                if entries[name] is not None:
                    sp.action = "restore"
        plans[name] = sp
    if cache is not None:
        _use_cache(plans, graph, cache)
    return PostPlan(post, config, graph, plans)


def _expected_digest(up: StagePlan, record: dict | None, entry: dict | None) -> str:
    """What upstream `up` will have produced when its downstream stage runs: known now if it is
    fresh (its lock record) or restored (its cache entry); PENDING if it runs."""
    if up.pending or up.action == "run":
        return PENDING
    if up.action == "restore":
        return result_digest(entry, up.stage.volatile)
    return result_digest(record, up.stage.volatile) \
        if record and record.get("key") == up.key else PENDING


def produced_digest(pp: PostPlan, u: str, records: dict[str, Any], cache: Cache) -> str:
    """The digest of what upstream stage `u` produced under its current key: its lock record,
    or (a finished stage not yet recorded, as in the live preview) its cache entry."""
    up = pp.stages[u]
    record = records.get(u)
    if not (record and record.get("key") == up.key):
        record = cache.get_entry(up.key, verify=False)
    return result_digest(record, up.stage.volatile)


def resolve(project: Project, pp: PostPlan, sp: StagePlan, lock: dict[str, Any],
            cache: Cache) -> None:
    """Compute the key of a pending stage now that its upstream stages are done (their records
    are in `lock`, or their entries in `cache`), and decide again: skip it if the key is the
    recorded one and its outputs are intact (early cutoff), restore it if the cache has the key,
    else run it."""
    records = lock.get(pp.post.name, {})
    inputs = dict(sp.inputs)
    inputs["upstream"] = {u: produced_digest(pp, u, records, cache) for u in sp.stage.after}
    sp.inputs, sp.key, sp.pending = inputs, stage_key(pp.post.name, sp.name, inputs), False
    record = records.get(sp.name)
    if sp.forced:
        return
    if record is not None and record.get("key") == sp.key:
        problems = output_problems(project, pp.post.name, sp.stage, record)
        if not problems:
            sp.action, sp.reasons = "skip", ["early cutoff: its upstream outputs are unchanged"]
            return
        sp.reasons = problems
    else:
        sp.reasons = why_changed(record and record.get("inputs"), inputs)
    sp.action = "restore" if cache.get_entry(sp.key) is not None else "run"


def _use_cache(plans: dict[str, StagePlan], graph: Graph, cache: Cache) -> None:
    """Restore from the cache what it has; run an up-to-date upstream whose artifacts it lacks."""
    entries: dict[str, dict | None] = {}

    def entry(sp: StagePlan) -> dict | None:
        if sp.name not in entries:
            entries[sp.name] = cache.get_entry(sp.key)
        return entries[sp.name]

    changed = True
    while changed:
        changed = False
        for name in reversed(graph.order):
            sp = plans[name]
            if sp.action != "run":
                continue
            for u in sp.stage.after:
                up = plans[u]
                if up.action == "skip" and up.stage.artifacts and not up.pending \
                        and entry(up) is None:
                    up.action = "run"
                    up.reasons = [f"artifacts not in the cache (needed by {name})"]
                    changed = True

