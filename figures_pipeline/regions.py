"""The post's generated regions: the rendered Markdown, and its atomic rewrite once the claims
were judged (a digest of everything rendering reads lets an unchanged build skip the templates)."""

from __future__ import annotations

import contextlib
import hashlib
import sys
from pathlib import Path
from typing import Any

from . import claims
from .cache import atomic_write, dumps_canonical
from .config import Config
from .errors import PublishError, os_reason
from .project import Post, Project, ProjectError
from .sections import render_sections
from .stages import Graph
from .values import read_text, section_inputs
from .verdicts import declared_claims, judge_claims


def render_post(project: Project, post: Post, records: dict[str, Any], config: Config,
                graph: Graph) -> tuple[str, str] | None:
    """(current text, rendered text) of the post's Markdown, or None if it has none."""
    if not post.markdown:
        return None
    path = project.root / post.markdown
    if not path.is_file():
        raise ProjectError(f"figures.toml [posts.{post.name}] markdown: "
                           f"'{post.markdown}' not found")
    text = read_text(path, project.root)
    values, templates, figures = section_inputs(project, post, records, config, graph)
    new = render_sections(text, values, templates, figures, path=post.markdown,
                          template_dir=post.templates or "templates")
    return text, new


def write_sections(project: Project, post: Post, records: dict[str, Any], config: Config,
                   graph: Graph, tmp_dir: Path | None = None,
                   written: list[tuple[Path, bytes]] | None = None) -> list[claims.Verdict]:
    """Rewrite the post's regions if they changed, and judge its claims (a bad claim raises
    before anything is written). A digest of the Markdown and of everything rendering reads,
    kept in the cache once every claim held, lets a build whose values did not change skip the
    templates (the claims are still judged and counted: cheap, and always reported)."""
    if not post.markdown:
        return judge_claims(project, post, records, config, graph, "")
    md = project.root / post.markdown
    stamp = project.cache_dir / f"sections-{post.name}.sha"
    values, templates, figures = section_inputs(project, post, records, config, graph)
    inputs = dumps_canonical([values, templates, {k: list(v.__dict__.values())
                                                  for k, v in sorted(figures.items())},
                              [[c.expr, c.where] for c in declared_claims(project, graph)]])

    def digest() -> str:
        h = hashlib.sha256(inputs.encode())
        h.update(md.read_bytes() if md.is_file() else b"")
        return h.hexdigest()

    try:
        if stamp.read_text() == digest():
            return judge_claims(project, post, records, config, graph,
                                read_text(md, project.root) if md.is_file() else "")
    except OSError:
        pass
    rendered = render_post(project, post, records, config, graph)
    verdicts = judge_claims(project, post, records, config, graph,
                            rendered[1] if rendered else "")
    changed = rendered is not None and rendered[0] != rendered[1]
    if changed and _bytes(md) != rendered[0].encode("utf-8"):
        # the author saved the post while its regions were rendered (a preview renders while
        # they write): their text wins; the next build, or the preview seeing the save, renders
        # the regions again
        print(f"not updated {post.markdown}: it changed while it was rendered", file=sys.stderr)
        return verdicts
    if changed:
        try:
            atomic_write(md, rendered[1].encode("utf-8"), tmp_dir)
            if written is not None:  # the preview: this file is the engine's own edit
                written.append((md, rendered[1].encode("utf-8")))
        except OSError as e:
            raise PublishError(f"cannot write {os_reason(e, md, project.root)}") from None
        print(f"updated {post.markdown}", file=sys.stderr)
    if all(v.holds for v in verdicts):
        with contextlib.suppress(OSError):  # only a shortcut for the next build
            atomic_write(stamp, digest().encode(), tmp_dir)
    return verdicts



def _bytes(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None
