"""The built post in a real browser (headless Debian Chromium through Playwright).

The site is built from a copy of the repository (tests/site_helpers.py) and served on 127.0.0.1;
screenshots go to test-artifacts/ (git-ignored).
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urldefrag, urlsplit

import pytest
from PIL import Image
from site_helpers import REPO, count_math, published_posts

pytestmark = [pytest.mark.browser, pytest.mark.slow]

POST_PATH = "posts/generative-models/"
POST_SOURCE = Path("content") / "posts" / "generative-models.md"  # within the built copy
ARTIFACTS = REPO / "test-artifacts"
WIDTHS = (375, 1280)


@dataclass
class Visit:
    """A loaded page and every problem the browser reported while loading it."""

    page: object
    problems: list[str] = field(default_factory=list)


def visit(browser, url: str, *, width: int = 1280, scheme: str = "light", js: bool = True) -> Visit:
    """Open ``url``, wait for its images (lazy ones scrolled into view) and fonts; log problems."""
    context = browser.new_context(
        viewport={"width": width, "height": 900}, color_scheme=scheme, java_script_enabled=js
    )
    page = context.new_page()
    v = Visit(page)
    page.on("console", lambda m: m.type == "error" and v.problems.append(f"console: {m.text}"))
    page.on("pageerror", lambda e: v.problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: v.problems.append(f"failed: {r.url} ({r.failure})"))
    page.on(
        "response", lambda r: r.status >= 400 and v.problems.append(f"HTTP {r.status}: {r.url}")
    )
    page.goto(url, wait_until="load")
    for img in page.locator("img").all():
        if not img.evaluate("i => i.checkVisibility()"):
            continue  # e.g. the animation's poster when the player is hidden (no JavaScript)
        img.scroll_into_view_if_needed()
        img.evaluate("i => i.complete || new Promise(r => { i.onload = i.onerror = r; })")
    page.evaluate("() => document.fonts.ready.then(() => null)")
    page.wait_for_load_state("networkidle")
    return v


@pytest.fixture(scope="module")
def post(browser, site_url):
    v = visit(browser, site_url + POST_PATH)
    yield v
    v.page.context.close()


@dataclass
class PostVisit:
    slug: str
    source: Path  # the Markdown, within the built copy
    visit: Visit


@pytest.fixture(scope="module", params=published_posts(), ids=lambda p: p[0])
def any_post(request, browser, site_url):
    """Each post of figures.toml, loaded: the tests that every page must pass use this."""
    slug, source = request.param
    v = visit(browser, f"{site_url}posts/{slug}/")
    yield PostVisit(slug, Path(source), v)
    v.page.context.close()


def test_home_page_lists_the_post_without_errors(browser, site_url):
    v = visit(browser, site_url)
    hrefs = v.page.eval_on_selector_all("main a", "as => as.map(a => a.href)")
    for slug, _ in published_posts():
        assert f"{site_url}posts/{slug}/" in hrefs
    assert v.problems == []
    v.page.context.close()


def test_post_loads_without_console_errors_or_failed_requests(any_post):
    assert any_post.visit.problems == []


def test_every_image_loaded_with_alt_text(any_post):
    imgs = any_post.visit.page.eval_on_selector_all(
        "img", "is => is.map(i => ({src: i.src, alt: i.alt, w: i.naturalWidth}))"
    )
    assert imgs, "the post has figures"
    for img in imgs:
        assert img["w"] > 0, f"{img['src']} did not load"
        assert img["alt"].strip(), f"{img['src']} has no alt text"


def test_figures_have_visible_captions(any_post):
    page = any_post.visit.page
    captions = page.locator("figure figcaption")
    assert captions.count() == page.locator("figure").count() > 0
    for i in range(captions.count()):
        # text_content: an off-screen block is not rendered (content-visibility), so it has
        # no innerText until the reader scrolls to it
        assert captions.nth(i).is_visible() and captions.nth(i).text_content().strip()


def test_gif_has_more_than_one_frame(post):
    """The animation's GIF (its download link; the page without JavaScript shows it)."""
    gifs = post.page.eval_on_selector_all("a[href$='.gif']", "as => as.map(a => a.href)")
    assert gifs, "the post links the diffusion GIF"
    for src in gifs:
        frames = Image.open(io.BytesIO(post.page.request.get(src).body())).n_frames
        assert frames > 1, f"{src} has {frames} frame"


def test_math_is_typeset_and_matches_the_source(any_post, site_build):
    source = site_build.source / any_post.source
    inline, display = count_math(source.read_text(encoding="utf-8"))
    page = any_post.visit.page
    assert page.locator(".katex").count() == inline + display
    assert page.locator(".katex-display").count() == display
    assert page.locator(".katex-error").count() == 0
    if inline + display:
        loaded = page.evaluate(
            "() => [...document.fonts].filter(f => f.family.includes('KaTeX')"
            " && f.status === 'loaded').length"
        )
        assert loaded > 0, "KaTeX fonts were not used"


def _has_id(html: str, ident: str) -> bool:
    """Whether (minified) HTML has an element with this id, quoted or not."""
    i = re.escape(ident)
    return re.search(rf"""\bid=(?:"{i}"|'{i}'|{i}(?=[\s>]))""", html) is not None


def test_internal_links_and_anchors_resolve(post, site_url):
    page = post.page
    hrefs = page.eval_on_selector_all("a[href]", "as => as.map(a => a.href)")
    origin = urlsplit(site_url).netloc
    internal = sorted({h for h in hrefs if urlsplit(h).netloc == origin})
    assert internal, "the post has in-page links (TOC, references)"
    fetched: dict[str, str] = {}
    for href in internal:
        target, fragment = urldefrag(href)
        if target not in fetched:
            response = page.request.get(target)
            assert response.status == 200, f"{href}: HTTP {response.status}"
            fetched[target] = response.text()
        if fragment:
            if target == page.url.split("#")[0]:
                found = page.evaluate("id => !!document.getElementById(id)", fragment)
            else:
                found = _has_id(fetched[target], fragment)
            assert found, f"{href}: no element with id {fragment!r}"


def test_toc_links_every_heading(post):
    page = post.page
    ids = page.eval_on_selector_all(
        "article .post-body :is(h2, h3, h4)", "hs => hs.map(h => h.id)"
    )
    assert ids and all(ids), "every heading has an id"
    toc = page.eval_on_selector_all(
        "#TableOfContents a", "as => as.map(a => a.getAttribute('href'))"
    )
    assert sorted(toc) == sorted(f"#{i}" for i in ids)


@pytest.mark.parametrize("width", WIDTHS)
def test_no_horizontal_scrolling_and_screenshot(browser, site_url, width):
    v = visit(browser, site_url + POST_PATH, width=width)
    page = v.page
    scroll = page.evaluate("() => document.documentElement.scrollWidth")
    assert scroll <= width, f"horizontal scrolling at {width}px: page is {scroll}px wide"
    problems = list(v.problems)  # before the screenshot: a full-page capture resizes the
    # viewport to the page's height, and the <picture> sources it switches to while it does
    # are fetched and aborted, which no reader ever sees
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"post-{width}.png"), full_page=True)
    assert problems == []
    v.page.context.close()


def _rgb(css: str) -> tuple[float, ...]:
    return tuple(float(x) for x in re.findall(r"[\d.]+", css)[:3])


def _contrast(a: str, b: str) -> float:
    def lum(rgb):
        c = [x / 255 for x in rgb]
        c = [x / 12.92 if x <= 0.03928 else ((x + 0.055) / 1.055) ** 2.4 for x in c]
        return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]

    hi, lo = sorted((lum(_rgb(a)), lum(_rgb(b))), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_colour_scheme_and_contrast(browser, site_url, scheme):
    v = visit(browser, site_url + POST_PATH, scheme=scheme)
    colours = v.page.evaluate(
        """() => {
          const c = s => getComputedStyle(document.querySelector(s));
          return {bg: c('body').backgroundColor, fg: c('body').color,
                  link: c('.post-body a').color, muted: c('.meta').color};
        }"""
    )
    dark_bg = sum(_rgb(colours["bg"])) < 3 * 128
    assert dark_bg == (scheme == "dark"), colours
    assert _contrast(colours["fg"], colours["bg"]) >= 7, colours
    assert _contrast(colours["link"], colours["bg"]) >= 4.5, colours
    assert _contrast(colours["muted"], colours["bg"]) >= 4.5, colours
    v.page.context.close()


def test_post_reads_without_javascript(browser, site_url):
    v = visit(browser, site_url + POST_PATH, js=False)
    assert v.page.locator("h1").inner_text().startswith("Generative models")
    assert v.page.locator(".katex").count() > 0
    scripts = v.page.eval_on_selector_all("script", "ss => ss.map(s => s.src)")
    assert all(re.search(r"/js/(animation|interactive)\.", s) for s in scripts), \
        "the scripts: the animation's player, the interactive figures (tests/test_interactive.py)"
    v.page.context.close()


@pytest.mark.parametrize(("ci", "outcome"), [("", "1 skipped"), ("true", "1 error")])
def test_missing_browser_skips_on_a_laptop_and_fails_in_ci(tmp_path, ci, outcome):
    env = {**os.environ, "SITE_TEST_CHROMIUM": str(tmp_path / "no-chromium"), "CI": ci}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs",
         f"{__file__}::test_post_loads_without_console_errors_or_failed_requests"],
        cwd=REPO, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert outcome in proc.stdout, proc.stdout
    assert "make browser" in proc.stdout
