"""The Hugo site without a browser: pinned Hugo, build-time math, image and heading hooks, guards.

Every build happens in a copy (tests/site_helpers.py), so the author's tree is never written.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from html.parser import HTMLParser
from pathlib import Path

import pytest
from site_helpers import (
    REPO,
    HugoBuildError,
    SiteBuild,
    build,
    chroma_css,
    copy_site,
    count_math,
    published_posts,
    run_hugo,
)

POST = REPO / "content" / "posts" / "generative-models.md"
# every post of figures.toml: (key = slug, Markdown path); the generic page tests run for each
EVERY_POST = pytest.mark.parametrize("slug, source", published_posts(),
                                     ids=[k for k, _ in published_posts()])


def pinned_hugo() -> str:
    match = re.search(r"^hugo==(\S+)$", (REPO / "requirements.txt").read_text(), re.M)
    assert match, "requirements.txt must pin hugo==X.Y.Z"
    return match.group(1)


class Tags(HTMLParser):
    """Collect (tag, attrs) of every start tag of an HTML page."""

    def __init__(self, html: str):
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def find(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for t, attrs in self.tags if t == tag]

    def with_class(self, cls: str) -> list[tuple[str, dict[str, str | None]]]:
        return [(t, a) for t, a in self.tags if cls in (a.get("class") or "").split()]


def post_html(public: Path, slug: str = "generative-models") -> str:
    return (public / "posts" / slug / "index.html").read_text(encoding="utf-8")


def write_post(site: Path, slug: str, body: str, front: str = "") -> Path:
    path = site / "content" / "posts" / f"{slug}.md"
    text = f"+++\ntitle = '{slug}'\ndate = 2024-01-01\n{front}+++\n{body}"
    path.write_text(text, encoding="utf-8")
    return path


def build_with_post(tmp_path: Path, slug: str, body: str, *, front: str = "") -> str:
    """Build a copy of the site plus one extra post; return that post's HTML."""
    site = copy_site(REPO, tmp_path / "src")
    write_post(site, slug, body, front)
    public = build(site, tmp_path / "out", placeholders=True).public
    return post_html(public, slug)


def tree_digest(*paths: Path) -> str:
    h = hashlib.sha256()
    for root in paths:
        files = sorted(root.rglob("*")) if root.is_dir() else [root]
        for f in files:
            if f.is_file():
                h.update(str(f.relative_to(REPO)).encode() + b"\0" + f.read_bytes())
            elif not f.exists():
                h.update(b"missing:" + str(f).encode())
    return h.hexdigest()


# -- string in, string out ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("no math", (0, 0)),
        ("$a$ and $b$", (2, 0)),
        ("$$x$$\n\ntext $y$", (1, 1)),
        ("a price of \\$5 and \\$6, then $z$", (1, 0)),
        ("`$not math$` then $m$", (1, 0)),
        ("```\n$$code$$\n```\n$$\\begin{aligned}a&=b\\\\c&=d\\end{aligned}$$", (0, 1)),
        ("+++\ntitle = '$x$'\n+++\n$y$", (1, 0)),
    ],
)
def test_count_math(source, expected):
    assert count_math(source) == expected


# -- the pinned toolchain and vendored files ------------------------------------------------------


def test_hugo_binary_is_the_pinned_extended_version():
    version = run_hugo("version").stdout
    assert f"v{pinned_hugo()}" in version and "+extended" in version, version


def test_version_guard_matches_the_pin():
    config = tomllib.loads((REPO / "hugo.toml").read_text())
    assert config["params"]["minHugoVersion"] == pinned_hugo()
    assert config["module"]["hugoVersion"]["min"] == pinned_hugo()


def test_version_guard_fails_the_build_on_an_older_hugo(tmp_path):
    site = copy_site(REPO, tmp_path / "src")
    config = site / "hugo.toml"
    pin = f'minHugoVersion = "{pinned_hugo()}"'
    config.write_text(config.read_text().replace(pin, 'minHugoVersion = "999.0.0"'))
    with pytest.raises(HugoBuildError, match=r"needs Hugo >= 999\.0\.0 \(found "):
        build(site, tmp_path / "out", placeholders=True)


def test_katex_is_vendored_at_the_version_hugo_embeds():
    katex = REPO / "static" / "katex"
    assert "katex@0.18.4" in (katex / "README.md").read_text()
    css = (katex / "katex.min.css").read_text()
    urls = set(re.findall(r"url\(([^)]+)\)", css))
    assert urls, "katex.min.css declares no fonts"
    for url in urls:
        assert url.endswith(".woff2"), f"{url}: only the woff2 fonts are vendored"
        assert (katex / url).is_file(), f"katex.min.css refers to a missing {url}"


@pytest.mark.parametrize("name", ["chroma-light", "chroma-dark"])
def test_chroma_stylesheets_are_generated_by_the_pinned_hugo(name):
    committed = (REPO / "assets" / "css" / f"{name}.css").read_text()
    target = f"assets/css/{name}.css"
    assert committed == chroma_css(name), (
        f"{target} is stale: python tests/site_helpers.py {name} > {target}"
    )


# -- the post, built from a copy ------------------------------------------------------------------


def test_build_never_writes_into_the_author_tree(tmp_path):
    watched = (REPO / "content", REPO / "static", REPO / "figures.lock")
    before = tree_digest(*watched)
    build(REPO, tmp_path, placeholders=True)
    assert tree_digest(*watched) == before


def test_placeholders_only_stand_in_for_missing_figures(site_build: SiteBuild):
    for path in site_build.placeholders:
        assert path.is_relative_to(site_build.source), path
        assert not (REPO / path.relative_to(site_build.source)).exists(), path


@EVERY_POST
def test_home_lists_the_post(site_build: SiteBuild, slug, source):
    html = (site_build.public / "index.html").read_text()
    links = [a.get("href") for a in Tags(html).find("a")]
    assert f"/posts/{slug}/" in links


@EVERY_POST
def test_every_post_page_has_its_title_a_date_and_the_footer(site_build: SiteBuild, slug, source):
    text = (site_build.source / source).read_text(encoding="utf-8")
    title = tomllib.loads(text.split("+++")[1])["title"]
    html = post_html(site_build.public, slug)
    tags = Tags(html)
    assert [a for a in tags.find("h1")] and f">{title}</h1>" in html.replace("&amp;", "&")
    assert tags.find("time") and tags.find("footer")


def test_post_page_has_title_date_reading_time_toc_and_footer(site_build: SiteBuild):
    html = post_html(site_build.public)
    tags = Tags(html)
    assert "<h1>Generative models: VAE, Score, and Diffusion</h1>" in html
    assert tags.find("time") and "min read" in html
    assert any(a.get("id") == "TableOfContents" for a in tags.find("nav"))
    assert tags.find("footer")
    # two scripts, deferred, from the site itself: the animation's player (without it the post
    # shows the GIF) and the interactive figures' bundle (without it, the static figures)
    scripts = tags.find("script")
    assert len(scripts) == 2 and all("defer" in s and s["src"].startswith("/js/") for s in scripts)
    assert {s["src"].split("/")[2].split(".")[0] for s in scripts} == {"animation", "interactive"}


@EVERY_POST
def test_post_math_is_typeset_at_build_time(site_build: SiteBuild, slug, source):
    tags = Tags(post_html(site_build.public, slug))
    # the post the site was built from
    inline, display = count_math((site_build.source / source).read_text(encoding="utf-8"))
    assert len(tags.with_class("katex")) == inline + display
    assert len(tags.with_class("katex-display")) == display
    assert not tags.with_class("katex-error")
    assert any("katex/katex.min.css" in (a.get("href") or "") for a in tags.find("link"))


@EVERY_POST
def test_post_images_have_alt_size_and_lazy_loading(site_build: SiteBuild, slug, source):
    imgs = Tags(post_html(site_build.public, slug)).find("img")
    assert imgs
    for i, img in enumerate(imgs):
        assert (img.get("alt") or "").strip(), img
        assert int(img["width"]) > 0 and int(img["height"]) > 0, img
        assert img["loading"] == ("eager" if i == 0 else "lazy"), img


def test_headings_carry_anchor_links(site_build: SiteBuild):
    tags = Tags(post_html(site_build.public))
    ids = {a["id"] for t, a in tags.tags if t in {"h2", "h3", "h4"} and a.get("id")}
    anchors = {a.get("href") for a in tags.with_class("anchor") for a in [a[1]]}
    assert ids and anchors == {f"#{i}" for i in ids}


# -- hooks on small synthetic posts ---------------------------------------------------------------


def test_math_inline_display_aligned_and_literal_dollar(tmp_path):
    body = (
        "Inline $x^2$ costs \\$5.\n\n"
        "$$\n\\begin{aligned}\n"
        "a &= \\frac{b}{c} + \\sqrt{c} \\\\\n"
        "d &= \\sum_{i=1}^n e_i\n"
        "\\end{aligned}\n$$\n\n"
        "Code `$kept$` stays.\n"
    )
    tags = Tags(html := build_with_post(tmp_path, "math-demo", body))
    assert len(tags.with_class("katex")) == 2
    assert len(tags.with_class("katex-display")) == 1
    assert "$5" in html and "$kept$" in html
    # The vendored stylesheet matches the KaTeX Hugo embeds: every class of the page is styled,
    # bar KaTeX's atom types and the theme's structural hooks.
    css = (REPO / "static" / "katex" / "katex.min.css").read_text()
    css += (REPO / "assets" / "css" / "main.css").read_text()
    unstyled = {"mord", "mopen", "mclose", "mpunct", "mrel", "mbin", "mop", "minner", "mtight"}
    unstyled |= {"post", "post-body", "post-header"}
    classes = {c for _, a in tags.tags for c in (a.get("class") or "").split()}
    missing = {c for c in classes - unstyled if not re.search(rf"\.{re.escape(c)}(?![\w-])", css)}
    assert not missing, f"classes without CSS (KaTeX version mismatch?): {sorted(missing)}"


def test_latex_error_fails_the_build_naming_file_and_line(tmp_path):
    body = "First line.\n\nSecond, broken: $\\frac{1}{$ here.\n"  # body line 3 -> file line 7
    with pytest.raises(HugoBuildError, match=r"broken-math\.md:7:\d+.*LaTeX error") as err:
        build_with_post(tmp_path, "broken-math", body)
    assert "\n" not in str(err.value).strip(), "one clear line"


def test_image_without_alt_text_fails_the_build(tmp_path):
    body = "Text.\n\n![](density_evo.gif \"A caption\")\n"
    with pytest.raises(HugoBuildError, match=r"no-alt\.md:\d+:\d+.*has no alt text"):
        build_with_post(tmp_path, "no-alt", body)


def test_standalone_image_without_caption_fails_the_build(tmp_path):
    body = "Text.\n\n![A plot](../generative-models/DDPM.png)\n"
    with pytest.raises(HugoBuildError, match=r"no-caption\.md:\d+:\d+.*has no caption"):
        build_with_post(tmp_path, "no-caption", body)


def test_missing_image_fails_the_build(tmp_path):
    body = "Text.\n\n![A plot](/nowhere/plot.png \"Caption\")\n"
    with pytest.raises(HugoBuildError, match=r"plot\.png.*not found"):
        build_with_post(tmp_path, "missing-image", body)


def test_figure_hook_output(tmp_path):
    body = '![Two & "quoted"](../generative-models/DDPM.png "Caption with $x$ math")\n'
    html = build_with_post(tmp_path, "figure-demo", body)
    match = re.search(r"<figure><picture>(.*?)</picture><figcaption>(.*?)</figcaption></figure>",
                      html)
    assert match, html
    (img,) = Tags(match.group(1)).find("img")
    assert img["alt"] == "Two & \u201cquoted\u201d"  # the typographer's quotes, escaped safely
    assert int(img["width"]) > 0 and int(img["height"]) > 0
    assert len(Tags(match.group(2)).with_class("katex")) == 1, "math in captions"


def test_code_is_highlighted_with_css_classes_light_and_dark(tmp_path):
    body = "## Code\n\n```python\ndef f(x):\n    return x + 1\n```\n"
    html = build_with_post(tmp_path, "code-demo", body)
    tags = Tags(html)
    assert tags.with_class("chroma") and tags.with_class("k"), "Chroma CSS classes"
    styled = [a for t, a in tags.tags if t in {"pre", "span"} and "color" in (a.get("style") or "")]
    assert not styled, "no inline colours (noClasses = false)"
    assert not [a for a in tags.find("nav") if a.get("id") == "TableOfContents"], "TOC only on ask"
    (sheet,) = [a["href"] for a in tags.find("link") if "/css/site" in (a.get("href") or "")]
    css = (tmp_path / "out" / "public" / sheet.lstrip("/")).read_text()
    dark = css.rsplit("@media (prefers-color-scheme:dark)", 1)[-1]
    assert css.count(".chroma .k{") == 2 and ".chroma .k{" in dark, "light rules, then dark ones"
