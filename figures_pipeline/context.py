"""What a running stage sees (`ctx`), and the worker entry point that runs one stage.

A stage writes its files into a staging folder through `ctx.output(name)` / `ctx.artifact(name)`;
the engine then stores them in the cache and moves changed outputs into place atomically.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
# Where a running stage's progress also goes, (stage, desc, i, total), besides stderr: the
# preview's worker sets it to report to its status overlay (figures_pipeline/live.py).
progress_hook: Callable[[str, str, int, int | None], None] | None = None
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
               "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")


class StageError(RuntimeError):
    """A stage misused its context (an undeclared file, a value that is not JSON)."""


class UndeclaredConfigError(StageError, KeyError):
    """A stage read a config key it did not declare (a KeyError too, for `except KeyError`)."""

    def __str__(self) -> str:
        return str(self.args[0])


class DeclaredConfig(dict):
    """`ctx.config`: the declared keys, nested; reading any other names the fix."""

    def __init__(self, values: dict[str, Any], stage: str = "", prefix: str = "",
                 declared: tuple[str, ...] = ()):
        declared = declared or tuple(sorted(_dotted(values)))
        super().__init__({k: DeclaredConfig(v, stage, f"{prefix}{k}.", declared)
                          if isinstance(v, dict) else v for k, v in values.items()})
        self._stage, self._prefix, self._declared = stage, prefix, declared

    def __missing__(self, key: str) -> Any:
        name = f"{self._prefix}{key}"
        raise UndeclaredConfigError(
            f"stage '{self._stage}' reads config '{name}', which it does not declare "
            f"(declared: {_few(self._declared)}); add \"{name}\" (or its table) "
            "to @stage(config=[...])")

    def __reduce__(self):  # pickles as a plain dict
        return (dict, (dict(self),))


def _dotted(values: dict[str, Any], prefix: str = "") -> list[str]:
    """The dotted keys of a nested selection ('walk.n', 'walk.steps', 'seed')."""
    out: list[str] = []
    for k, v in values.items():
        out += _dotted(v, f"{prefix}{k}.") if isinstance(v, dict) and v else [f"{prefix}{k}"]
    return out


def _few(names: tuple[str, ...], most: int = 8) -> str:
    more = f", ... ({len(names) - most} more)" if len(names) > most else ""
    return ", ".join(names[:most]) + more if names else "none"


@dataclass(frozen=True)
class Upstream:
    """A finished upstream stage: its values and the cached paths of its files (read-only)."""

    name: str
    values: dict[str, Any]
    files: dict[str, str] = field(default_factory=dict)

    def artifact(self, name: str) -> Path:
        if name not in self.files:
            raise StageError(f"upstream '{self.name}' declares no artifact or output '{name}' "
                             f"(it has: {', '.join(sorted(self.files)) or 'none'})")
        return Path(self.files[name])

    output = artifact


@dataclass
class Context:
    name: str
    post: str
    profile: str
    config: dict[str, Any]
    upstream: dict[str, Upstream]
    staging: Path
    outputs: tuple[str, ...]
    artifacts: tuple[str, ...]
    parallel: bool = False
    root: Path = Path(".")
    data: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.config, DeclaredConfig):
            self.config = DeclaredConfig(self.config, self.name)

    def data_path(self, name: str) -> Path:
        """The declared data file `name` (relative to the project root), to read."""
        if name not in self.data:
            raise StageError(f"stage '{self.name}': '{name}' is not among its declared data "
                             f"({', '.join(self.data) or 'none'})")
        return self.root / name

    def output(self, name: str) -> Path:
        """Where to write declared output `name` (moved to static/posts/<post>/ afterwards)."""
        return self._path("outputs", name, self.outputs)

    def artifact(self, name: str) -> Path:
        """Where to write declared artifact `name` (kept in the cache for downstream stages)."""
        return self._path("artifacts", name, self.artifacts)

    def _path(self, kind: str, name: str, declared: tuple[str, ...]) -> Path:
        if name not in declared:
            raise StageError(f"stage '{self.name}': '{name}' is not among its declared {kind} "
                             f"({', '.join(declared) or 'none'})")
        p = self.staging / kind / name
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    def log(self, message: str) -> None:
        print(f"  [{self.name}] {message}", file=sys.stderr, flush=True)

    def progress(self, iterable: Iterable[T], total: int | None = None,
                 desc: str = "progress") -> Iterator[T]:
        """Yield from `iterable`, drawing a bar (a TTY) or a line per 10% (a log)."""
        if total is None and hasattr(iterable, "__len__"):
            total = len(iterable)  # type: ignore[arg-type]
        tty = sys.stderr.isatty() and not self.parallel
        start = time.monotonic()
        shown = 0
        i = 0
        for i, item in enumerate(iterable, start=1):
            yield item
            if progress_hook is not None:
                progress_hook(self.name, desc, i, total)
            if total:
                tenth = (10 * i) // total
                if tty:
                    bar = "#" * (30 * i // total)
                    sys.stderr.write(f"\r  [{self.name}] {desc} |{bar:<30}| {i}/{total}")
                    sys.stderr.flush()
                elif tenth != shown:
                    shown = tenth
                    self.log(f"{desc} {10 * tenth:3d}% ({i}/{total}, "
                             f"{time.monotonic() - start:.1f} s)")
        if tty and total:
            sys.stderr.write("\n")
        elif not total:
            self.log(f"{desc}: {i} steps in {time.monotonic() - start:.1f} s")


@dataclass(frozen=True)
class Job:
    """Everything a worker needs to run one stage (picklable plain data)."""

    root: str
    post: str
    module: str
    stage: str
    profile: str
    config: dict[str, Any]
    upstream: dict[str, Upstream]
    staging: str
    outputs: tuple[str, ...]
    artifacts: tuple[str, ...]
    parallel: bool
    data: tuple[str, ...] = ()


def init_worker(parent: int | None = None) -> None:
    """Process-pool initializer: one thread per worker, set before torch or numpy load; the
    worker exits when the build `parent` (its pid) dies."""
    for var in THREAD_VARS:
        os.environ[var] = "1"
    if parent is not None:
        from .signals import watch_parent

        watch_parent(parent)


def run_job(job: Job, fn: Any = None) -> dict[str, Any]:
    """Run one stage; returns {"ok", "values" | "error", "seconds"} (never raises)."""
    start = time.monotonic()
    try:
        if fn is None:
            fn = _load_function(job)
        ctx = Context(job.stage, job.post, job.profile, job.config, job.upstream,
                      Path(job.staging), job.outputs, job.artifacts, job.parallel,
                      Path(job.root), job.data)
        values = fn(ctx)
        if values is None:
            values = {}
        if not isinstance(values, dict):
            raise StageError(f"returned {type(values).__name__}, expected a dict of values")
        check_finite(values)
        try:
            values = json.loads(json.dumps(values, sort_keys=True, allow_nan=False))
        except (TypeError, ValueError) as e:
            raise StageError(f"returned values that are not JSON: {e}") from None
        return {"ok": True, "values": values, "seconds": time.monotonic() - start}
    except KeyboardInterrupt:
        raise
    except BaseException as e:  # noqa: BLE001 - a failed stage is reported, not fatal
        return {"ok": False, "error": _describe(e, job.root), "seconds": time.monotonic() - start,
                "traceback": traceback.format_exc()}


def _load_function(job: Job) -> Any:
    from .project import import_project_module
    from .stages import declared_in

    import_project_module(Path(job.root), job.module, f"stage module {job.module}")
    for st in declared_in(job.module):
        if st.name == job.stage:
            return st.fn
    raise StageError(f"stage '{job.stage}' is no longer declared in {job.module}")


def check_finite(values: Any, key: str = "") -> None:
    """Raise StageError naming the first non-finite number in `values` ('metrics.mmd2': nan):
    a diverged training must fail its stage, not publish 'nan' in the post."""
    if isinstance(values, dict):
        for k, v in values.items():
            check_finite(v, f"{key}.{k}" if key else str(k))
    elif isinstance(values, list | tuple):
        for i, v in enumerate(values):
            check_finite(v, f"{key}[{i}]")
    elif isinstance(values, float) and not math.isfinite(values):
        raise StageError(f"returned a non-finite value for '{key}': {values!r}")


def _describe(e: BaseException, root: str) -> str:
    """'file.py:12: ValueError: message', pointing at the deepest frame in the project's own
    code (not the engine, not an environment's site-packages inside the root)."""
    from .project import is_project_code

    loc = ""
    tb = e.__traceback__
    while tb is not None:
        f = tb.tb_frame.f_code.co_filename
        if is_project_code(f, Path(root)):
            loc = f"{os.path.relpath(f, root)}:{tb.tb_lineno}: "
        tb = tb.tb_next
    lines = str(e).splitlines()
    msg = lines[0] if lines else ""
    return f"{loc}{type(e).__name__}: {msg}" if not isinstance(e, StageError) else f"{loc}{msg}"
