"""Which code a stage runs, found statically (ast): nothing is imported, so no torch.

A stage depends on
- its own function (decorator included) and the module-level definitions of its module that it
  uses, transitively (a helper function, a constant): each hashed alone, so editing a sibling
  stage does not touch it;
- every project function, class or constant it reaches in an imported module, through its
  module's imports that the function uses and the imports in its body (`from blog.plots.plane
  import draw`, or `plane.draw`): each hashed alone, with the names it uses in its own module
  and in the modules it imports, transitively; and, for each module so reached, what importing
  it runs (its import statements, its packages' `__init__.py`);
- a module counts whole (all of it, with its own project imports, transitively) when static
  analysis cannot tell what of it runs: it is used as a value (`getattr(mod, name)`, a dict of
  modules), it has top-level statements other than imports, definitions and assignments (a
  `for` loop filling a registry), a decorator that is not a known pure one (`dataclass`,
  `torch.inference_mode()`...), `import *`, `global`, `globals()`, `exec` or `eval`, or a name
  that none of its definitions or imports binds;
- the third-party packages all that code imports (their versions go into the key).

A project module is a file under the project root (`a/b.py` or `a/b/__init__.py`). Hashes are of
`ast.dump`, so comments and formatting do not count, names and values do.
"""

from __future__ import annotations

import ast
import dataclasses
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

ENGINE = "figures_pipeline"
ENGINE_SHAPING = frozenset({"figures_pipeline.writers"})  # engine modules that write bytes
# Decorators known to run nothing at import that another function could observe.
PURE_DECORATORS = frozenset({
    "staticmethod", "classmethod", "property", "dataclass", "dataclasses.dataclass",
    "functools.cache", "functools.lru_cache", "functools.cached_property", "functools.wraps",
    "cache", "lru_cache", "cached_property", "wraps", "overload", "typing.overload",
    "torch.no_grad", "torch.inference_mode", "torch.enable_grad", "no_grad", "inference_mode",
    "abstractmethod", "abc.abstractmethod", "total_ordering", "functools.total_ordering",
})
INIT = "<init>"  # the member of a module that stands for importing it
UNSAFE_CALLS = frozenset({"globals", "vars", "exec", "eval", "__import__", "locals"})


class CodeError(ValueError):
    """A stage's source could not be found or parsed; one line."""


@dataclass
class ModuleInfo:
    name: str
    path: Path
    rel: str
    tree: ast.Module
    is_package: bool
    defs: dict[str, list[ast.stmt]] = field(default_factory=dict)  # top-level name -> binders
    imports: dict[str, tuple[str, str | None]] = field(default_factory=dict)  # name -> (mod, attr)
    imported: list[str] | None = None  # every module imported anywhere in the file
    opaque: str | None = None  # why it counts whole ("" if it need not)
    _digest: str | None = None

    def digest(self) -> str:
        if self._digest is None:
            self._digest = _hash(ast.dump(self.tree))
        return self._digest


@dataclass(frozen=True)
class CodeDeps:
    """The code a stage depends on: {unit: hash} and the external top-level packages."""

    units: dict[str, str]
    externals: frozenset[str]


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# Parsed files by (module, path, is package), with their bytes: every Analyzer of this process
# reuses a file's tree while its bytes are unchanged. ModuleInfo's fields other than `imported`
# follow from the file alone (its tree, names, imports, opacity, digest); `imported` also depends
# on which other modules exist, so a reused info gets it recomputed.
_PARSED: dict[tuple[str, Path, bool], tuple[bytes, ModuleInfo]] = {}
PARSED_LIMIT = 512


class Analyzer:
    """Parses each project file once; answers `stage_deps(module, function)`."""

    def __init__(self, root: Path):
        self.root = Path(root).resolve()
        self._modules: dict[str, ModuleInfo | None] = {}
        self._module_closure: dict[str, tuple[dict[str, str], frozenset[str]]] = {}
        # memos: the stages of a post share their helpers (each is dumped and walked once)
        self._unit_hashes: dict[str, str] = {}
        self._uses: dict[tuple[int, bool], tuple[set[str], set[tuple[str, str | None]]]] = {}

    def _unit_hash(self, unit: str, nodes: list[ast.stmt]) -> str:
        if unit not in self._unit_hashes:
            self._unit_hashes[unit] = _hash("\n".join(ast.dump(n) for n in nodes))
        return self._unit_hashes[unit]

    # -- modules --
    def find(self, name: str) -> ModuleInfo | None:
        """The project module `name`, parsed, or None if it is not a file under the root."""
        if name in self._modules:
            return self._modules[name]
        info = None
        base = self.root.joinpath(*name.split("."))
        for path, is_pkg in ((base.with_suffix(".py"), False), (base / "__init__.py", True)):
            if path.is_file():
                info = self._parse(name, path, is_pkg)
                break
        self._modules[name] = info
        return info

    def _parse(self, name: str, path: Path, is_pkg: bool) -> ModuleInfo:
        rel = path.relative_to(self.root).as_posix()
        source = path.read_bytes()
        known = _PARSED.get((name, path, is_pkg))
        if known is not None and known[0] == source:
            # the same bytes as at an earlier plan (a preview replans on every save): its tree
            # and what follows from the file alone; what depends on the other files is redone
            return dataclasses.replace(known[1], imported=None)
        try:
            tree = ast.parse(source, filename=rel)
        except SyntaxError as e:
            raise CodeError(f"{rel}:{e.lineno}: syntax error: {e.msg}") from None
        info = ModuleInfo(name, path, rel, tree, is_pkg)
        for node in tree.body:
            for bound in _bound_names(node):
                info.defs.setdefault(bound, []).append(node)
            if isinstance(node, ast.Import | ast.ImportFrom):
                for alias, target in self._import_targets(node, info):
                    info.imports[alias] = target
        if len(_PARSED) >= PARSED_LIMIT:
            del _PARSED[next(iter(_PARSED))]
        _PARSED[(name, path, is_pkg)] = (source, info)
        return info

    def _package_of(self, info: ModuleInfo) -> str:
        return info.name if info.is_package else info.name.rpartition(".")[0]

    def _import_targets(self, node: ast.stmt, info: ModuleInfo):
        """(bound name, (module, attribute or None)) for each alias of an import statement."""
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.asname:
                    yield a.asname, (a.name, None)
                else:
                    top = a.name.split(".")[0]
                    yield top, (top, None)
        elif isinstance(node, ast.ImportFrom):
            mod = self._absolute(node, info)
            for a in node.names:
                if a.name != "*":
                    yield a.asname or a.name, (mod, a.name)

    def _absolute(self, node: ast.ImportFrom, info: ModuleInfo) -> str:
        if not node.level:
            return node.module or ""
        parts = self._package_of(info).split(".")
        if node.level > 1:
            parts = parts[: len(parts) - node.level + 1]
        base = ".".join(p for p in parts if p)
        return f"{base}.{node.module}" if node.module and base else (node.module or base)

    def _resolve(self, mod: str, attr: str | None, chain: list[str]) -> list[str]:
        """Module names (project or not) that `mod[.attr][.chain...]` refers to."""
        names = [mod] + ([attr] if attr else []) + chain
        for n in range(len(names), 0, -1):
            candidate = ".".join(names[:n])
            if self.find(candidate) is not None:
                return [candidate]
        return [mod]

    def module_closure(self, name: str) -> tuple[dict[str, str], frozenset[str]]:
        """Units and externals of project module `name`, its packages and imports, transitively."""
        if name in self._module_closure:
            return self._module_closure[name]
        units: dict[str, str] = {}
        externals: set[str] = set()
        todo = [name]
        seen: set[str] = set()
        while todo:
            m = todo.pop()
            if m in seen:
                continue
            seen.add(m)
            if _is_engine(m):
                continue
            info = self.find(m)
            if info is None:
                if m and m.split(".")[0] and self.find(m.split(".")[0]) is None:
                    externals.add(m.split(".")[0])
                continue
            units[info.rel] = info.digest()
            parent = m.rpartition(".")[0]
            if parent:
                todo.append(parent)
            todo.extend(self._imported_by(info))
        result = (units, frozenset(externals))
        self._module_closure[name] = result
        return result

    def _imported_by(self, info: ModuleInfo) -> list[str]:
        """Every module that `info` imports, anywhere in its body (computed once per module)."""
        if info.imported is None:
            info.imported = self._modules_imported(ast.walk(info.tree), info)
        return info.imported

    def _modules_imported(self, nodes, info: ModuleInfo) -> list[str]:
        """The modules that the import statements among `nodes` (AST nodes of `info`) name."""
        out: list[str] = []
        for node in nodes:
            if isinstance(node, ast.Import | ast.ImportFrom):
                for _, (mod, attr) in self._import_targets(node, info):
                    out.extend(self._resolve(mod, attr, []))
                if isinstance(node, ast.Import):
                    out.extend(a.name for a in node.names)
        return out

    # -- members of modules --
    def why_whole(self, info: ModuleInfo) -> str:
        """Why module `info` must count whole ('' if its members can be tracked one by one)."""
        if info.opaque is None:
            info.opaque = _opacity(info.tree)
        return info.opaque

    def _member(self, mod: str, attr: str | None, chain: list[str]) -> tuple[str, str | None]:
        """(module, member) that `mod[.attr][.chain...]` names: the longest prefix that is a
        project module, and the next name (None: the module itself is used)."""
        names = [mod] + ([attr] if attr else []) + chain
        for n in range(len(names), 0, -1):
            candidate = ".".join(names[:n])
            if self.find(candidate) is not None:
                return candidate, (names[n] if n < len(names) else None)
        return mod, None

    def _used_members(self, node: ast.AST, info: ModuleInfo, skip_decorators: bool
                      ) -> tuple[set[str], set[tuple[str, str | None]]]:
        """The names of `info` that `node` uses (to follow in the same module) and the
        (module, member) pairs it reaches through imports, its own body's included."""
        memo = (id(node), skip_decorators)  # (the tree lives as long as this analyzer)
        if memo not in self._uses:
            self._uses[memo] = self._find_used_members(node, info, skip_decorators)
        names, members = self._uses[memo]
        return set(names), set(members)

    def _find_used_members(self, node: ast.AST, info: ModuleInfo, skip_decorators: bool
                           ) -> tuple[set[str], set[tuple[str, str | None]]]:
        local: dict[str, tuple[str, str | None]] = {}
        members: set[tuple[str, str | None]] = set()
        walk = _walk_body(node) if skip_decorators else ast.walk(node)
        nodes = list(walk)
        for sub in nodes:
            if isinstance(sub, ast.Import | ast.ImportFrom) and sub is not node:
                for alias, target in self._import_targets(sub, info):
                    local[alias] = target
                for mod in self._modules_imported([sub], info):
                    members.add((mod, INIT))  # importing it runs its top level
        names: set[str] = set()
        uses = _names_used(node) if skip_decorators else _names_used_all(node)
        for used, chain in uses:
            target = local.get(used) or info.imports.get(used)
            if target is not None:
                members.add(self._member(*target, chain))
            elif used in info.defs:
                names.add(used)
        return names, members

    def _members_closure(self, start: set[tuple[str, str | None]], units: dict[str, str],
                         externals: set[str]) -> None:
        """Add to `units` and `externals` the code that the (module, member) pairs reach."""
        todo = list(start)
        seen: set[tuple[str, str | None]] = set()
        while todo:
            item = todo.pop()
            if item in seen:
                continue
            seen.add(item)
            m, name = item
            if _is_engine(m):
                continue
            info = self.find(m)
            if info is None:
                if m and self.find(m.split(".")[0]) is None:
                    externals.add(m.split(".")[0])
                continue
            if name is None or self.why_whole(info) or (
                    name != INIT and name not in info.defs and name not in info.imports):
                mu, me = self.module_closure(m)  # it cannot tell: the whole module
                units.update(mu)
                externals.update(me)
                continue
            parent = m.rpartition(".")[0]
            if parent:
                todo.append((parent, INIT))
            if name == INIT:  # importing it: its import statements run
                imports = [n for n in info.tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
                units[f"{info.rel}::{INIT}"] = self._unit_hash(f"{info.rel}::{INIT}", imports)
                todo.extend((mod, INIT) for mod in self._modules_imported(imports, info))
                continue
            todo.append((m, INIT))
            if name in info.imports and not [n for n in info.defs.get(name, [])
                                              if not isinstance(n, ast.Import | ast.ImportFrom)]:
                todo.append(self._member(*info.imports[name], []))  # a re-export
                continue
            binders = [n for n in info.defs[name] if not isinstance(n, ast.Import | ast.ImportFrom)]
            units[f"{info.rel}::{name}"] = self._unit_hash(f"{info.rel}::{name}", binders)
            for node in binders:
                names, members = self._used_members(node, info, skip_decorators=False)
                todo.extend((m, n) for n in names)
                todo.extend(members)

    # -- stages --
    def stage_deps(self, module: str, function: str) -> CodeDeps:
        """Everything the top-level function `module.function` depends on."""
        info = self.find(module)
        if info is None:
            raise CodeError(f"stage module '{module}' is not a file under {self.root}")
        nodes = [n for n in info.defs.get(function, [])
                 if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
        if not nodes:
            raise CodeError(f"{info.rel}: no top-level function '{function}'")
        units: dict[str, str] = {}
        externals: set[str] = set()
        members: set[tuple[str, str | None]] = set()
        if info.is_package or "." in module:  # importing module runs its packages' __init__
            parent = module.rpartition(".")[0] if not info.is_package else ""
            if parent:
                members.add((parent, INIT))
        todo: list[str] = [function]
        seen: set[str] = set()
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            binders = [n for n in info.defs.get(name, [])
                       if not isinstance(n, ast.Import | ast.ImportFrom)]
            if not binders:
                continue
            units[f"{info.rel}::{name}"] = self._unit_hash(f"{info.rel}::{name}", binders)
            for node in binders:
                names, reached = self._used_members(node, info, skip_decorators=True)
                todo.extend(names)
                members.update(reached)
        self._members_closure(members, units, externals)
        return CodeDeps(dict(sorted(units.items())), frozenset(externals))


def _opacity(tree: ast.Module) -> str:
    """Why a module's members cannot be tracked one by one ('' if they can)."""
    for i, node in enumerate(tree.body):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and i == 0:
            continue  # the docstring
        if isinstance(node, ast.Import | ast.ImportFrom):
            if any(a.name == "*" for a in node.names):
                return "import *"
            continue
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            for dec in node.decorator_list:
                if _dotted(dec.func if isinstance(dec, ast.Call) else dec) not in PURE_DECORATORS:
                    return f"line {node.lineno}: decorator {ast.unparse(dec)}"
            continue
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if all(isinstance(n, ast.Name | ast.Tuple | ast.List | ast.Starred | ast.Store)
                   for t in targets for n in ast.walk(t)):
                continue  # binds names: a definition (its value is hashed with it)
            return f"line {node.lineno}: an assignment to an attribute or item"
        if isinstance(node, ast.If) and _dotted(node.test) in ("TYPE_CHECKING",
                                                                "typing.TYPE_CHECKING"):
            continue
        return f"line {node.lineno}: a top-level {type(node).__name__} statement"
    for node in ast.walk(tree):
        if isinstance(node, ast.Global):
            return f"line {node.lineno}: global"
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                and node.func.id in UNSAFE_CALLS:
            return f"line {node.lineno}: {node.func.id}()"
        if isinstance(node, ast.FunctionDef) and node.name == "__getattr__" \
                and node in tree.body:
            return "a module __getattr__"
    return ""


def _dotted(node: ast.AST) -> str:
    """'torch.inference_mode' for that attribute chain; '' for anything else."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return ""
    return ".".join([node.id, *reversed(parts)])


def _names_used_all(node: ast.AST):
    """`_names_used`, decorators included (they run with the definition)."""
    return _chains(list(ast.walk(node)))


def _is_engine(module: str) -> bool:
    """The engine's own modules do not shape a stage's output; its writers do."""
    return (module == ENGINE or module.startswith(ENGINE + ".")) and module not in ENGINE_SHAPING


def _walk_body(node: ast.AST):
    """ast.walk, but not into a function's decorators (`@stage(...)` is declaration, not code)."""
    todo = [node]
    while todo:
        cur = todo.pop()
        yield cur
        for child in ast.iter_child_nodes(cur):
            if isinstance(cur, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and \
                    child in cur.decorator_list:
                continue
            todo.append(child)


def _bound_names(node: ast.stmt) -> list[str]:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return [node.name]
    if isinstance(node, ast.Assign):
        return [n.id for t in node.targets for n in ast.walk(t) if isinstance(n, ast.Name)]
    if isinstance(node, ast.AnnAssign | ast.AugAssign) and isinstance(node.target, ast.Name):
        return [node.target.id]
    if isinstance(node, ast.Import | ast.ImportFrom):
        return [a.asname or a.name.split(".")[0] for a in node.names if a.name != "*"]
    return []


def _names_used(node: ast.AST):
    """(name, attribute chain) of each name in `node`: `np.linalg.norm` -> np, [linalg, norm]."""
    return _chains(list(_walk_body(node)))


def _chains(nodes: list[ast.AST]):
    """(name, longest attribute chain read from it) of each ast.Name among `nodes`."""
    chains: dict[int, list[str]] = {}
    for sub in nodes:
        if isinstance(sub, ast.Attribute):
            parts: list[str] = []
            cur: ast.AST = sub
            while isinstance(cur, ast.Attribute):
                parts.append(cur.attr)
                cur = cur.value
            if isinstance(cur, ast.Name):
                prev = chains.get(id(cur))
                if prev is None or len(parts) > len(prev):
                    chains[id(cur)] = parts[::-1]
    for sub in nodes:
        if isinstance(sub, ast.Name):
            yield sub.id, chains.get(id(sub), [])
