"""Warm worker processes for the live preview (live.py): a stage starts without waiting for Python.

Each stage still runs in a process of its own, so that cancelling it is killing that process and
no state leaks from one stage to the next. But the process is started ahead of time and has
already imported the third-party modules the post's stages import (numpy, matplotlib, torch...):
a change then waits for the stage's own work, not for an interpreter and its imports.

    pool = WarmPool(2, os.getpid(), lambda: preloads(analyzer, ["blog.stages"]))
    running = Running(key, job, pool.take())   # a warm process (the first started), or a fresh one
    running.receive(on_progress)               # its progress so far; True once it is over
    pool.release(running.worker)               # it exits by itself (reaped later)
    pool.busy(now)                             # stages run (or Hugo rebuilds): start nothing
    pool.refill(room, now)                     # idle IDLE_SECONDS: start workers, `room` at once
    pool.close()                               # stop the waiting ones

Only modules from outside the project are preloaded: the project's own code (the stages, their
helpers, the engine when it lives in the project) may be edited while a worker waits, and a stage
imports it afresh (project.import_project_module). A module that fails to import is skipped: the
stage that needs it reports the error itself.
"""

from __future__ import annotations

import ast
import importlib
import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import context
from .codehash import Analyzer
from .context import Job, init_worker, run_job

PROGRESS_SECONDS = 0.2  # a worker reports its progress at most this often
IDLE_SECONDS = 1.0  # workers start (or go on importing) once the preview was idle this long


def preloads(analyzer: Analyzer, modules: Iterable[str]) -> tuple[str, ...]:
    """The modules from outside the project (and outside the standard library) that the project
    modules reachable from `modules` import anywhere in their code, lazily or not: the dotted
    names as written (`matplotlib.figure`, and `PIL.Image` for `from PIL import Image`)."""
    out: set[str] = set()
    todo, seen = list(modules), set()
    while todo:
        name = todo.pop()
        if name in seen or not name:
            continue
        seen.add(name)
        top = name.split(".")[0]
        if top in sys.stdlib_module_names or top == "__future__":
            continue
        info = analyzer.find(name)
        if info is None:
            if analyzer.find(top) is None:  # not a project module: preload it
                out.add(name)
            continue
        package = name if info.is_package else name.rpartition(".")[0]
        if package:
            todo.append(package)
        for node in ast.walk(info.tree):
            if isinstance(node, ast.Import):
                todo += [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: within the project
                    parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(p for p in [*parts, base] if p)
                todo.append(base)
                todo += [f"{base}.{a.name}" for a in node.names if a.name != "*"]
    return tuple(sorted(out))  # `from numpy import pi` adds numpy.pi: it fails, cheaply


def stage_modules(root: Path, posts: Iterable) -> list[str]:
    """Each post's stage module, and each module of its stage package."""
    out = []
    for post in posts:
        package = root.joinpath(*post.stages.split("."))
        out += [post.stages] + ([f"{post.stages}.{p.stem}" for p in sorted(package.glob("*.py"))
                                 if p.stem != "__init__"] if package.is_dir() else [])
    return out


def _serve(conn: multiprocessing.connection.Connection, preload: tuple[str, ...],
           parent: int) -> None:
    """A worker process: import `preload`, say so, then run the one job it is sent."""
    init_worker(parent)  # one thread per worker: set before numpy or torch load
    for name in preload:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001, S112 - not a module, or broken: the stage will say
            continue
    try:
        conn.send(("ready",))
        job = conn.recv()
    except (EOFError, OSError):  # the preview stopped, or retired this worker
        return
    run(job, conn)


def run(job: Job, conn: multiprocessing.connection.Connection) -> None:
    """Run one stage, sending its progress and then its result on `conn`."""
    last = 0.0

    def progress(stage: str, desc: str, i: int, total: int | None) -> None:
        nonlocal last
        now = time.monotonic()
        if now - last >= PROGRESS_SECONDS or i == total:
            last = now
            conn.send(("progress", desc, i, total))

    context.progress_hook = progress
    conn.send(("done", run_job(job)))
    conn.close()
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(0)  # at once: tearing down torch and matplotlib takes a second, and nothing waits


@dataclass
class Worker:
    process: Any  # multiprocessing's Process
    conn: multiprocessing.connection.Connection  # both ways: the job in, the reports out
    preloaded: tuple[str, ...]
    ready: bool = False
    paused: bool = False  # stopped (SIGSTOP) while it imports: stages need the CPUs
    started: float = field(default_factory=time.monotonic)

    def poll_ready(self) -> bool:
        """Whether it has imported its preloads (reads its 'ready', never a job's report)."""
        if not self.ready:
            try:
                if self.conn.poll():
                    self.ready = self.conn.recv()[0] == "ready"
            except (EOFError, OSError):
                pass
        return self.ready

    def pause(self, paused: bool) -> None:
        """Stop (SIGSTOP) or continue (SIGCONT) it, while it imports."""
        if paused != self.paused and self.process.is_alive():
            os.kill(self.process.pid, signal.SIGSTOP if paused else signal.SIGCONT)
        self.paused = paused

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it lingers; reap it."""
        self.process.terminate()
        self.pause(False)  # (a stopped process takes SIGTERM once continued)
        self.process.join(2)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(2)
        self.conn.close()


@dataclass
class Running:
    """A stage that runs in `worker`, and its result once sent."""

    key: str
    job: Job
    worker: Worker
    result: dict[str, Any] | None = None

    def receive(self, progress: Callable[..., None]) -> bool:
        """Take what the worker sent (its progress goes to `progress`); whether it is over
        (a result came, or the process died)."""
        try:
            while self.result is None and self.worker.conn.poll():
                kind, *payload = self.worker.conn.recv()
                if kind == "progress":
                    progress(*payload)
                elif kind == "done":
                    self.result = payload[0]  # (a warm worker's "ready" says nothing here)
        except (EOFError, OSError):
            pass
        return self.result is not None or not self.worker.process.is_alive()


def wait(running: Iterable[Running], timeout: float) -> None:
    """Until one of the `running` stages sends something or dies, or `timeout` seconds."""
    ws = [w for r in running for w in (r.worker.conn, r.worker.process.sentinel)]
    if ws:
        multiprocessing.connection.wait(ws, timeout)
    else:
        time.sleep(timeout)


class WarmPool:
    """Up to `size` started workers that wait for a job with the modules `find_preload()`
    names imported (computed when the pool is idle, again after `changed`)."""

    def __init__(self, size: int, parent: int,
                 find_preload: Callable[[], tuple[str, ...]] = tuple):
        self.size, self.parent, self.find_preload = size, parent, find_preload
        self.preload: tuple[str, ...] | None = None
        self.busy_at = 0.0  # when the preview last ran a stage or waited for Hugo
        self._mp = multiprocessing.get_context("spawn")
        self.idle: list[Worker] = []
        self.exiting: list[Any] = []  # processes that sent their result
        self.taken = {"warm": 0, "cold": 0}  # how each job got its process (for tests)

    def _start(self, preload: tuple[str, ...]) -> Worker:
        mine, theirs = self._mp.Pipe(duplex=True)
        process = self._mp.Process(target=_serve, args=(theirs, preload, self.parent),
                                   name="figures worker", daemon=True)
        process.start()
        theirs.close()
        return Worker(process, mine, preload)

    def take(self) -> Worker:
        """A worker that has imported its preloads, or, if none has yet, a fresh process
        that imports nothing ahead (the stage imports what it needs: one still importing
        all the preloads would make it wait for modules it may not use)."""
        for w in [w for w in self.idle if not w.process.is_alive()]:
            self.idle.remove(w)
            w.stop()
        ready = [w for w in self.idle if w.poll_ready()]
        if ready:
            self.idle.remove(ready[0])
            self.taken["warm"] += 1
            return ready[0]
        self.taken["cold"] += 1
        return self._start(())

    def release(self, worker: Worker, grace: float = 0.05) -> None:
        """A worker whose stage is over: reaped now if it exited, else later (`reap`), or
        after 5 s if it sent no result (it died)."""
        worker.process.join(grace)
        if worker.process.is_alive():
            self.exiting.append(worker.process)
        worker.conn.close()

    def reap(self) -> None:
        self.exiting = [p for p in self.exiting if p.is_alive()]  # (is_alive reaps)

    def busy(self, now: float | None = None) -> None:
        """Stages run, or Hugo rebuilds: the workers still importing stop until idle."""
        self.busy_at = time.monotonic() if now is None else now
        for w in self.idle:
            if not w.poll_ready():
                w.pause(True)

    def changed(self) -> None:
        """The project's code changed: its imports may have (found again when idle)."""
        self.preload = None

    def refill(self, room: int, now: float | None = None) -> None:
        """Once idle for IDLE_SECONDS (not while stages run, nor while Hugo rebuilds and the
        page reloads: they would share the CPUs), start workers, `room` at most at once, and
        let the paused ones go on."""
        self.reap()
        now = time.monotonic() if now is None else now
        if self.size <= 0 or now - self.busy_at < IDLE_SECONDS:
            return
        if self.preload is None:
            self.retire(self.find_preload())
        for w in self.idle:
            w.pause(False)
        self.fill(room)

    def fill(self, room: int) -> None:
        """Start workers until `size` wait, with at most `room` of them still importing."""
        importing = sum(not w.poll_ready() for w in self.idle)
        while len(self.idle) < self.size and importing < room:
            self.idle.append(self._start(self.preload or ()))
            importing += 1

    def retire(self, preload: tuple[str, ...]) -> None:
        """From now on preload `preload`; the waiting workers that lack some of it are stopped."""
        if preload != self.preload:
            self.preload = preload
            keep = set(preload)
            for w in [w for w in self.idle if not keep <= set(w.preloaded)]:
                self.idle.remove(w)
                w.stop()

    def close(self) -> None:
        for w in self.idle:
            w.stop()
        for p in self.exiting:
            p.join(1)
        self.idle, self.exiting = [], []
