"""Stage declarations: plain data attached to plain functions, and the graph they form.

    @stage(config=["seed", "ddpm"], after=["ddpm_model"], data=["blog/points.csv"],
           outputs={"forward.png": Figure(alt="x_t for five t", caption="The forward process")},
           artifacts=["samples.npy"])
    def forward_snapshots(ctx): ...

Declaring checks what can be checked alone (names, paths, duplicates); `Graph` checks the rest
(unknown upstream stages, cycles) when a post's stages are loaded.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
FILE = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$")


class DeclarationError(ValueError):
    """A bad stage declaration or stage graph; the message is one line."""


@dataclass(frozen=True)
class Figure:
    """An output that the post shows: its alt text and caption (the `figure()` template global),
    and the claims (Jinja2 expressions over the template values) that make those texts true."""

    alt: str
    caption: str = ""
    claims: tuple[str, ...] = ()  # checked like the post's <!-- claim: ... --> (README "Claims")

    def __post_init__(self) -> None:
        if isinstance(self.claims, str) or not all(
                isinstance(c, str) and c.strip() for c in self.claims):
            raise DeclarationError(f"Figure(alt={self.alt!r}): claims must be a tuple of "
                                   f"expressions (non-empty strings), got {self.claims!r}")
        object.__setattr__(self, "claims", tuple(self.claims))


@dataclass(frozen=True)
class Stage:
    """One declared stage. `fn(ctx) -> dict | None` builds outputs, artifacts and values."""

    name: str
    fn: Callable[..., Any] = field(repr=False, compare=False)
    module: str
    qualname: str
    config: tuple[str, ...] = ()
    after: tuple[str, ...] = ()
    data: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    figures: Mapping[str, Figure] = field(default_factory=dict, compare=False)
    artifacts: tuple[str, ...] = ()
    volatile: tuple[str, ...] = ()  # values that vary from run to run (a measured time)

    def declaration(self) -> dict[str, Any]:
        """The declaration as canonical JSON-able data (part of the stage's key)."""
        return {
            "name": self.name, "config": list(self.config), "after": list(self.after),
            "data": list(self.data), "outputs": list(self.outputs),
            "artifacts": list(self.artifacts),
            "figures": {k: [f.alt, f.caption] for k, f in sorted(self.figures.items())},
            **({"volatile": list(self.volatile)} if self.volatile else {}),
        }


# module name -> stage name -> Stage. A re-import of a module replaces its own declarations.
REGISTRY: dict[str, dict[str, Stage]] = {}


def stage(
    name: str | None = None,
    *,
    config: Iterable[str] = (),
    after: Iterable[str] = (),
    data: Iterable[str] = (),
    outputs: Iterable[str] | Mapping[str, Figure | None] = (),
    artifacts: Iterable[str] = (),
    volatile: Iterable[str] = (),
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare `fn(ctx)` as a stage of the post whose stage module defines it. `volatile` names
    the returned values that vary from run to run (a measured time, the machine), as dotted
    paths ('train_seconds', '*.seconds_per_1000': `*` is any key): the page shows them, but they
    are left out of what its downstream stages depend on (early cutoff), and those stages cannot
    read them."""
    if callable(name):
        raise DeclarationError("use @stage() with parentheses (or @stage(name=...))")

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        st = make_stage(fn, name, config, after, data, outputs, artifacts, volatile)
        register(st)
        fn.__stage__ = st  # type: ignore[attr-defined]
        return fn

    return decorate


def make_stage(fn, name, config, after, data, outputs, artifacts, volatile=()) -> Stage:
    where = f"{fn.__module__}.{fn.__qualname__}"
    sname = name or fn.__name__
    if not NAME.match(sname):
        raise DeclarationError(f"{where}: stage name {sname!r} must be a Python identifier")
    if "." in fn.__qualname__ or "<" in fn.__qualname__:
        raise DeclarationError(f"{where}: a stage must be a module-level function")
    figs: dict[str, Figure] = {}
    if isinstance(outputs, Mapping):
        for k, v in outputs.items():
            if v is not None and not isinstance(v, Figure):
                raise DeclarationError(f"{where}: outputs['{k}'] must be a Figure or None")
            if v is not None:
                figs[k] = v
        outs = tuple(outputs)
    else:
        outs = _strings(outputs, "outputs", where)
    for kind, files in (("outputs", outs), ("artifacts", _strings(artifacts, "artifacts", where)),
                        ("data", _strings(data, "data", where))):
        for f in files:
            check_relative(f, f"{where}: {kind}")
        dup = {f for f in files if files.count(f) > 1}
        if dup:
            raise DeclarationError(f"{where}: {kind} lists '{sorted(dup)[0]}' twice")
    ups = _strings(after, "after", where)
    for u in ups:
        if not NAME.match(u):
            raise DeclarationError(f"{where}: after: {u!r} is not a stage name")
    if sname in ups:
        raise DeclarationError(f"{where}: stage '{sname}' cannot come after itself")
    return Stage(sname, fn, fn.__module__, fn.__qualname__,
                 config=tuple(sorted(set(_strings(config, "config", where)))),
                 after=tuple(sorted(set(ups))), data=tuple(sorted(_strings(data, "data", where))),
                 outputs=tuple(sorted(outs)), figures=figs,
                 artifacts=tuple(sorted(_strings(artifacts, "artifacts", where))),
                 volatile=tuple(sorted(set(_strings(volatile, "volatile", where)))))


def check_relative(path: str, what: str) -> None:
    """Refuse absolute paths, '..', and odd characters in a declared file name."""
    p = PurePosixPath(path)
    if p.is_absolute() or path.startswith("~"):
        raise DeclarationError(f"{what}: '{path}' is absolute; give a path relative to its folder")
    if ".." in p.parts or "." in p.parts:
        raise DeclarationError(f"{what}: '{path}' leaves its folder ('.' or '..')")
    if not FILE.match(path):
        raise DeclarationError(f"{what}: '{path}' may use only letters, digits, '_', '-', '.', "
                               "and '/' between parts")


def _strings(items: Iterable[str], what: str, where: str) -> tuple[str, ...]:
    if isinstance(items, str):
        items = [items]
    out = tuple(items)
    for x in out:
        if not isinstance(x, str) or not x:
            raise DeclarationError(f"{where}: {what} must be non-empty strings, got {x!r}")
    return out


def register(st: Stage) -> None:
    """Add a stage; another function already declared under this name is an error."""
    for module, stages in REGISTRY.items():
        other = stages.get(st.name)
        if other is not None and (module, other.qualname) != (st.module, st.qualname):
            raise DeclarationError(
                f"{st.module}.{st.qualname}: duplicate stage name '{st.name}' "
                f"(already declared by {other.module}.{other.qualname})")
    REGISTRY.setdefault(st.module, {})[st.name] = st


def forget(modules: Iterable[str]) -> None:
    """Drop the declarations of these modules (before they are imported afresh)."""
    for m in modules:
        REGISTRY.pop(m, None)


def declared_in(package: str) -> list[Stage]:
    """Stages declared by module `package` or its submodules."""
    return [st for m, stages in REGISTRY.items()
            if m == package or m.startswith(package + ".") for st in stages.values()]


class Graph:
    """The stages of one post, checked: known upstreams, no cycles, outputs owned once."""

    def __init__(self, stages: Iterable[Stage]):
        self.stages: dict[str, Stage] = {}
        owner: dict[str, str] = {}
        for st in stages:
            self.stages[st.name] = st
            for kind, files in (("output", st.outputs), ("artifact", st.artifacts)):
                for f in files:
                    prev = owner.setdefault(f"{kind}:{f}", st.name)
                    if prev != st.name:
                        raise DeclarationError(f"stage '{st.name}': {kind} '{f}' is already "
                                               f"written by stage '{prev}'")
        for st in self.stages.values():
            for u in st.after:
                if u not in self.stages:
                    import difflib

                    close = difflib.get_close_matches(u, list(self.stages), n=1)
                    hint = f" (did you mean '{close[0]}'?)" if close else ""
                    raise DeclarationError(f"stage '{st.name}': after: unknown stage '{u}'{hint}")
        self.order = self._toposort()

    def _toposort(self) -> list[str]:
        state: dict[str, int] = {}
        order: list[str] = []

        def visit(n: str, path: list[str]) -> None:
            if state.get(n) == 2:
                return
            if state.get(n) == 1:
                cycle = path[path.index(n):] + [n]
                raise DeclarationError("stage cycle: " + " -> ".join(cycle))
            state[n] = 1
            for u in self.stages[n].after:
                visit(u, path + [n])
            state[n] = 2
            order.append(n)

        for n in sorted(self.stages):
            visit(n, [])
        return order

    def upstream_closure(self, names: Iterable[str]) -> set[str]:
        """`names` and everything they need."""
        out: set[str] = set()
        todo = list(names)
        while todo:
            n = todo.pop()
            if n not in out:
                out.add(n)
                todo.extend(self.stages[n].after)
        return out

    def downstream(self, name: str) -> set[str]:
        """Stages that need `name`, directly or not."""
        out: set[str] = set()
        for n in self.order:
            if any(u == name or u in out for u in self.stages[n].after):
                out.add(n)
        return out
