"""The post as readers open it (issue 12): Chromium at 375 and 1280 CSS px, light and dark,
served with gzip as GitHub Pages serves it (tests/site_helpers.py), after a full scroll.

Weight budget, images no more than twice as large as they are shown, no layout shift, every
figure dark in dark mode, no horizontal scroll, no console errors, the animation playing (and
paused under reduced motion), the GIF without JavaScript. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from page_audit import BUDGETS, weigh
from PIL import Image
from site_helpers import REPO
from test_site_browser import POST_PATH, visit

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ARTIFACTS = REPO / "test-artifacts"
WIDTHS = (375, 1280)
SCHEMES = ("light", "dark")


def luminance(png: bytes) -> float:
    """Mean relative luminance (0 black .. 1 white) of a screenshot, sRGB decoded."""
    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.float64) / 255
    lin = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    return float((lin @ np.array([0.2126, 0.7152, 0.0722])).mean())


@pytest.fixture(scope="module")
def post(browser, site_url):
    v = visit(browser, site_url + POST_PATH)
    yield v
    v.page.context.close()


@pytest.fixture(scope="module")
def weights(browser, site_url):
    """The weight of the post at each width, light, after scrolling to its end."""
    return {w: weigh(browser, site_url + POST_PATH, width=w) for w in WIDTHS}


def test_the_post_fits_its_byte_budget_on_a_phone(weights):
    w = weights[375]
    assert w.total <= BUDGETS["full"], f"{w.total:,} bytes after a full scroll\n{w.table()}"
    assert w.first <= BUDGETS["first"], f"{w.first:,} bytes before scrolling\n{w.table()}"
    kinds = {r.kind for r in w.resources}
    assert {"Document", "Image", "Media"} <= kinds, kinds  # the measure saw the figures


@pytest.mark.parametrize("width", WIDTHS)
def test_no_image_or_video_is_more_than_twice_its_displayed_width(weights, width):
    shown = [m for m in weights[width].media if m["shown"]]
    assert len(shown) >= 13, "every figure and the animation were measured"
    for m in shown:
        iw, dw = m["intrinsic"][0], m["displayed"][0]
        assert 0 < iw <= 2 * dw, f"{m['url']}: {iw} px wide, shown at {dw} px"


@pytest.mark.parametrize("width", WIDTHS)
def test_a_phone_gets_the_narrow_layouts_and_a_desktop_the_wide_ones(weights, width):
    urls = [m["url"] for m in weights[width].media if m["shown"]]
    narrow = [u for u in urls if ".narrow" in u]
    if width == 375:  # every figure wider than a phone's column comes in a narrow layout
        assert len(narrow) >= len(urls) - 2, urls
    else:
        assert narrow == [], narrow


def test_every_image_video_and_source_reserves_its_box(post):
    """Width and height on each, so nothing shifts as files arrive (and no layout shift)."""
    missing = post.page.eval_on_selector_all(
        "img, video, picture source",
        "es => es.filter(e => !(e.getAttribute('width') > 0 && e.getAttribute('height') > 0))"
        ".map(e => e.outerHTML.slice(0, 120))",
    )
    assert missing == []
    shift = post.page.evaluate(
        """() => new Promise(done => {
          let total = 0;
          new PerformanceObserver(list => { for (const e of list.getEntries())
            if (!e.hadRecentInput) total += e.value; })
            .observe({type: 'layout-shift', buffered: true});
          setTimeout(() => done(total), 300);
        })"""
    )
    assert shift < 0.01, f"cumulative layout shift {shift:.3f}"


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("width", WIDTHS)
def test_every_figure_follows_the_colour_scheme(browser, site_url, width, scheme):
    v = visit(browser, site_url + POST_PATH, width=width, scheme=scheme)
    page = v.page
    # the figures of images; the interactive ones (tests/test_interactive.py) and the code
    # excerpts (tests/test_excerpt.py) have no <picture>
    figures = page.locator("article figure:not(.interactive):not(.excerpt)")
    assert figures.count() >= 13
    for i in range(figures.count()):
        box = figures.nth(i).locator("picture").first
        box.scroll_into_view_if_needed()
        lum = luminance(box.screenshot())
        name = figures.nth(i).locator("img").first.get_attribute("src")
        if scheme == "dark":
            # the animation is a density heat map (magma) on both pages: only its frame and
            # text follow the scheme, so how bright it is depends on the data it shows
            limit = 0.35 if "density_evo" in name else 0.25
            assert lum < limit, f"{name}: mean luminance {lum:.2f} on a dark page"
        else:
            assert lum > 0.4 or "density_evo" in name, f"{name}: luminance {lum:.2f}, light page"
    assert page.evaluate("() => document.documentElement.scrollWidth") <= width
    problems = list(v.problems)  # before the full-page capture, whose resized viewport makes
    # the <picture> elements fetch and abort sources no reader sees (test_site_browser.py)
    ARTIFACTS.mkdir(exist_ok=True)
    page.evaluate("() => window.scrollTo(0, 0)")
    page.screenshot(path=str(ARTIFACTS / f"post-{width}-{scheme}.png"), full_page=True)
    assert problems == []
    page.context.close()


def _video_state(page) -> dict:
    return page.eval_on_selector(
        "figure.animation video",
        "v => ({paused: v.paused, time: v.currentTime, src: v.currentSrc, ready: v.readyState})",
    )


@pytest.mark.parametrize(("width", "scheme", "variant"),
                         [(1280, "light", "density_evo.mp4"),
                          (375, "dark", "density_evo.narrow.dark.mp4")])
def test_the_animation_plays_in_the_look_of_the_page(browser, site_url, width, scheme, variant):
    v = visit(browser, site_url + POST_PATH, width=width, scheme=scheme)
    page = v.page
    page.wait_for_function(
        "() => document.querySelector('figure.animation video').currentTime > 0.3",
        timeout=15_000,
    )
    state = _video_state(page)
    assert not state["paused"] and state["src"].endswith("/" + variant), state
    button = page.locator("figure.animation button.play")
    button.scroll_into_view_if_needed()
    assert button.is_visible() and button.text_content() == "Pause"
    assert button.get_attribute("aria-pressed") == "true"
    button.click()
    assert _video_state(page)["paused"]
    assert button.text_content() == "Play" and button.get_attribute("aria-pressed") == "false"
    assert v.problems == []
    page.context.close()


def test_reduced_motion_leaves_the_animation_paused_on_its_poster(browser, site_url):
    context = browser.new_context(viewport={"width": 1280, "height": 900},
                                  reduced_motion="reduce")
    page = context.new_page()
    videos = []
    page.on("request", lambda r: r.url.endswith(".mp4") and videos.append(r.url))
    page.goto(site_url + POST_PATH, wait_until="load")
    page.wait_for_load_state("networkidle")
    assert _video_state(page)["paused"]
    assert videos == [], "a paused animation costs no video bytes"
    poster = page.locator("figure.animation picture img")
    assert poster.is_visible() and poster.evaluate("i => i.complete && i.naturalWidth > 0")
    button = page.locator("figure.animation button.play")
    assert button.is_visible() and button.text_content() == "Play"
    button.click()
    page.wait_for_function(
        "() => document.querySelector('figure.animation video').currentTime > 0.2",
        timeout=15_000,
    )
    context.close()


def test_without_javascript_the_gif_shows_instead_of_the_player(browser, site_url):
    v = visit(browser, site_url + POST_PATH, js=False)
    page = v.page
    gif = page.locator("figure.animation img[src$='.gif']")
    assert gif.count() == 1 and gif.is_visible()
    assert gif.evaluate("i => i.complete && i.naturalWidth > 0")
    assert not page.locator("figure.animation .player").is_visible()
    frames = Image.open(io.BytesIO(page.request.get(gif.evaluate("i => i.src")).body())).n_frames
    assert frames > 1
    assert v.problems == []
    page.context.close()
