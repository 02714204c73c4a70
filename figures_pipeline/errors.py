"""The engine's failures that the CLI turns into a one-line error and a non-zero exit."""

from __future__ import annotations

import os
from pathlib import Path


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

