"""The verdicts on a post's claims: those in its Markdown and those its stages declare, judged
over the values the templates see; said (an error in the published profile, else a warning)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from . import claims
from .cache import read_lock
from .config import PUBLISHED_PROFILE, Config
from .project import Post, Project, load_graph, load_post_config, load_project
from .sections import make_environment
from .stages import Graph
from .values import read_text, section_inputs


def declared_claims(project: Project, graph: Graph) -> list[claims.Claim]:
    return claims.declared((graph.stages[n] for n in graph.order), project.root)


def judge_claims(project: Project, post: Post, records: dict[str, Any], config: Config,
                 graph: Graph, text: str) -> list[claims.Verdict]:
    """The verdicts on the claims of the post's Markdown `text` and of its figures, over the
    values the templates see. Raises ClaimError (file:line) on a claim it cannot judge."""
    values, _, figures = section_inputs(project, post, records, config, graph)
    found = claims.find_claims(text, post.markdown) if text and post.markdown else []
    found += declared_claims(project, graph)
    return claims.evaluate(found, values, make_environment(figures))


def report_claims(verdicts: list[claims.Verdict], fatal: bool) -> int:
    """Say each false claim (an error if `fatal`, else a warning) and the count; how many."""
    false = [v for v in verdicts if not v.holds]
    for v in false:
        print(f"{'error' if fatal else 'warning'}: {v.message()}", file=sys.stderr, flush=True)
    if verdicts:
        print(claims.summary(verdicts), file=sys.stderr, flush=True)
    return len(false)


def claim_verdicts(root: str | Path = ".", profile: str = PUBLISHED_PROFILE,
                   overrides: tuple[str, ...] = (), posts: tuple[str, ...] = ()
                   ) -> dict[str, list[claims.Verdict]]:
    """{post: verdicts} over the values in the lock, for `check` and `list`: nothing runs; the
    claims are read from the Markdown as it is on disk."""
    project = load_project(root)
    lock = read_lock(project.lock_path)
    out: dict[str, list[claims.Verdict]] = {}
    for post in project.select(posts):
        config = load_post_config(project, post, profile, overrides)
        graph = load_graph(project, post)
        md = project.root / post.markdown if post.markdown else None
        text = read_text(md, project.root) if md is not None and md.is_file() else ""
        out[post.name] = judge_claims(project, post, lock.get(post.name, {}), config, graph, text)
    return out

