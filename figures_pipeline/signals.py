"""Stopping a build: SIGINT, SIGTERM and SIGHUP all stop it the way Ctrl-C does, and a worker
process never outlives the build that spawned it.

    with signals.handled():        # the CLI: each of the three signals raises Interrupted
        ...
        with signals.deferred():   # a stage's commit (cache, outputs, lock) is never cut in half:
            ...                    # a signal arriving inside is raised when the block ends

`Interrupted` is a KeyboardInterrupt, so every `except KeyboardInterrupt` (a stage's runner
re-raises it; the engine stops its workers on it) treats the three signals alike.

A worker (`watch_parent`, called by the pool's initializer) ignores SIGINT and SIGHUP, which the
terminal sends to the whole process group: the parent alone decides, and terminates its workers.
It exits when its parent dies, whatever killed the parent (kill -9, the OOM killer): the kernel
sends it SIGKILL (Linux's PR_SET_PDEATHSIG), and a watchdog thread polling the parent's pid does
the same where that is not available.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
WATCHDOG_SECONDS = 0.5  # how often a worker checks that its parent is alive
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


class Interrupted(KeyboardInterrupt):
    """The build was stopped by `signum`; `committed` lists the stages whose results it had
    already committed (cache, outputs, lock) when it stopped."""

    def __init__(self, signum: int = signal.SIGINT, committed: tuple[str, ...] = ()):
        super().__init__(signum, committed)
        self.signum = signum
        self.committed = tuple(committed)

    @property
    def exit_code(self) -> int:
        return 128 + int(self.signum)

    def __str__(self) -> str:
        name = signal.Signals(self.signum).name
        if not self.committed:
            return f"interrupted ({name}): outputs, lock and cache are unchanged"
        shown = ", ".join(self.committed)
        return (f"interrupted ({name}): committed {shown} (outputs, lock and cache); "
                "everything else is unchanged")


_deferring = 0
_pending: int | None = None


def _raise(signum: int, _frame: object) -> None:
    global _pending
    if _deferring:
        _pending = signum
        return
    raise Interrupted(signum)


@contextlib.contextmanager
def handled() -> Iterator[None]:
    """Within the block (main thread only), each stop signal raises Interrupted; the previous
    handlers come back afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, _raise) for s in STOP_SIGNALS}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Hold back a stop signal until the block ends, then raise it."""
    global _deferring, _pending
    _deferring += 1
    try:
        yield
    finally:
        _deferring -= 1
        if not _deferring and _pending is not None:
            signum, _pending = _pending, None
            raise Interrupted(signum)


def watch_parent(parent: int) -> None:
    """In a worker process of the build `parent` (a pid): leave SIGINT and SIGHUP to the parent,
    and die with the parent."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the kernel knew to tell us
        os._exit(1)
    threading.Thread(target=_watchdog, args=(parent,), name="parent-watchdog",
                     daemon=True).start()


def _watchdog(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(WATCHDOG_SECONDS)
    os._exit(1)
