"""What Hugo will make of each post's page, checked before Hugo runs: the slug rule, drafts, and
output folders that no post owns.

The slug rule: a post's key in figures.toml is its page's slug. Its figures are published in
static/posts/KEY/ and linked relatively (`walks.png`), so the page must be served at
/posts/KEY/: the Markdown file is content/posts/KEY.md (or its front matter says `slug = "KEY"`).

`page_findings(project, posts)` returns `Finding`s; an error breaks the site (a figure Hugo will
not find), a warning is something the author probably did not mean (a page Hugo drops).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from .project import PROJECT_FILE, STATIC_DIR, Post, Project


@dataclass(frozen=True)
class Finding:
    post: str
    level: str  # "error" | "warning"
    message: str  # one line, naming the file and the fix

    def __str__(self) -> str:
        return f"{self.level}: {self.message}"


def front_matter(text: str) -> dict[str, Any]:
    """The front matter of a Hugo page: TOML between `+++` lines, or the flat `key: value`
    lines of YAML between `---` lines (all the keys read here are flat); {} if none."""
    lines = text.lstrip("\ufeff").splitlines()
    if not lines or lines[0].strip() not in ("+++", "---"):
        return {}
    fence = lines[0].strip()
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() == fence)
    except StopIteration:
        return {}
    body = "\n".join(lines[1:end])
    if fence == "+++":
        try:
            return tomllib.loads(body)
        except tomllib.TOMLDecodeError:
            return {}
    out: dict[str, Any] = {}
    for line in lines[1:end]:
        m = re.match(r"^([A-Za-z_][\w-]*)\s*:\s*(.*?)\s*$", line)
        if m:
            value = m.group(2).strip("'\"")
            out[m.group(1)] = {"true": True, "false": False}.get(value.lower(), value)
    return out


def page_slug(post: Post, meta: dict[str, Any]) -> str | None:
    """The last part of the page's URL: front matter `url`, else `slug`, else the file name."""
    if isinstance(meta.get("url"), str) and meta["url"].strip("/"):
        return PurePosixPath(meta["url"].strip("/")).name
    if isinstance(meta.get("slug"), str) and meta["slug"]:
        return meta["slug"]
    return PurePosixPath(post.markdown).stem if post.markdown else None


def page_findings(project: Project, posts: list[Post]) -> list[Finding]:
    """The slug rule and drafts for `posts`; output folders of no post (always all of them)."""
    found: list[Finding] = []
    for post in posts:
        if not post.markdown:
            continue
        path = project.root / post.markdown
        try:
            meta = front_matter(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError):
            continue  # the build and check report an unreadable post themselves
        slug = page_slug(post, meta)
        if slug != post.name:
            fix = (f"set slug = \"{post.name}\" in its front matter (or remove its url)"
                   if "url" in meta or "slug" in meta else
                   f"rename the file to content/posts/{post.name}.md")
            found.append(Finding(post.name, "error", (
                f"{post.markdown}: its page is /posts/{slug}/ but the post's key is "
                f"'{post.name}', whose figures are in {STATIC_DIR}/{post.name}/: Hugo will not "
                f"find them; {fix}, or rename [posts.{post.name}] in {PROJECT_FILE} to "
                f"[posts.{slug}] (and its folder {STATIC_DIR}/{post.name}/)")))
        if meta.get("draft") is True:
            found.append(Finding(post.name, "warning", (
                f"{post.markdown}: draft = true: Hugo leaves the page out of the site (and "
                f"`make site` passes); set draft = false in its front matter to publish it")))
    static = project.root / STATIC_DIR
    if static.is_dir():
        for folder in sorted(p for p in static.iterdir() if p.is_dir()):
            if folder.name not in project.posts:
                found.append(Finding("-", "warning", (
                    f"{STATIC_DIR}/{folder.name}/: no post '{folder.name}' in {PROJECT_FILE} "
                    f"owns this output folder (a renamed or removed post?); delete it "
                    f"(git rm -r {STATIC_DIR}/{folder.name}) or declare [posts.{folder.name}]")))
    return found


def check_pages(root: str | Path, names: tuple[str, ...] = ()) -> list[Finding]:
    """`page_findings` for the posts selected by `names` (all when empty)."""
    from .project import load_project

    project = load_project(root)
    return page_findings(project, project.select(names))
