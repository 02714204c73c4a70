"""What a post's templates and claims see: the values its stages recorded in the lock, the
config, the profile, the stages' timings, the templates' sources and the figures' texts."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .config import Config
from .errors import os_reason
from .project import Post, Project, ProjectError
from .sections import TEMPLATE_SUFFIX, FigureInfo
from .stages import Graph


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
