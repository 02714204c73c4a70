"""Which code a stage runs, found statically (ast): nothing is imported, so no torch.

A stage depends on
- its own function (decorator included) and the module-level definitions of its module that it
  uses, transitively (a helper function, a constant): each hashed alone, so editing a sibling
  stage does not touch it;
- every project module it reaches: through its module's imports that the function uses, and the
  imports in its body; a project module counts whole, with its parent packages' __init__.py and its
  own project imports, transitively;
- the third-party packages all that code imports (their versions go into the key).

A project module is a file under the project root (`a/b.py` or `a/b/__init__.py`). Hashes are of
`ast.dump`, so comments and formatting do not count, names and values do.
"""

from __future__ import annotations

import ast
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

ENGINE = "figures_pipeline"
ENGINE_SHAPING = frozenset({"figures_pipeline.writers"})  # engine modules that write bytes


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


class Analyzer:
    """Parses each project file once; answers `stage_deps(module, function)`."""

    def __init__(self, root: Path):
        self.root = Path(root).resolve()
        self._modules: dict[str, ModuleInfo | None] = {}
        self._module_closure: dict[str, tuple[dict[str, str], frozenset[str]]] = {}

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
        try:
            tree = ast.parse(path.read_bytes(), filename=rel)
        except SyntaxError as e:
            raise CodeError(f"{rel}:{e.lineno}: syntax error: {e.msg}") from None
        info = ModuleInfo(name, path, rel, tree, is_pkg)
        for node in tree.body:
            for bound in _bound_names(node):
                info.defs.setdefault(bound, []).append(node)
            if isinstance(node, ast.Import | ast.ImportFrom):
                for alias, target in self._import_targets(node, info):
                    info.imports[alias] = target
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
        modules: set[str] = set()
        if info.is_package or "." in module:  # importing module runs its packages' __init__
            parent = module.rpartition(".")[0] if not info.is_package else ""
            if parent:
                modules.add(parent)
        todo: list[str] = [function]
        seen: set[str] = set()
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            if name in info.imports:
                modules.update(self._resolve(*info.imports[name], []))
            binders = [n for n in info.defs.get(name, [])
                       if not isinstance(n, ast.Import | ast.ImportFrom)]
            if not binders:
                continue
            units[f"{info.rel}::{name}"] = _hash("\n".join(ast.dump(n) for n in binders))
            for node in binders:
                for used, chain in _names_used(node):
                    if used in info.imports:
                        modules.update(self._resolve(*info.imports[used], chain))
                    if used in info.defs:
                        todo.append(used)
                modules.update(self._modules_imported(_walk_body(node), info))
        for m in sorted(modules):
            if _is_engine(m):
                continue
            if self.find(m) is None and self.find(m.split(".")[0]) is None:
                externals.add(m.split(".")[0])
                continue
            mu, me = self.module_closure(m)
            units.update(mu)
            externals.update(me)
        return CodeDeps(dict(sorted(units.items())), frozenset(externals))


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
    chains: dict[int, list[str]] = {}
    nodes = list(_walk_body(node))
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
