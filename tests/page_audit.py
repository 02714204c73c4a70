"""What a reader's browser downloads and shows: the page's weight table and its Lighthouse scores.

Importable (the browser tests use ``weigh``) and runnable (``make audit``):

    python tests/page_audit.py PUBLIC_DIR [PAGE_PATH]

serves PUBLIC_DIR as GitHub Pages does (tests/site_helpers.py: gzip, byte ranges) on 127.0.0.1,
runs the pinned Lighthouse (package.json; `npm ci`) with Debian's Chromium in its mobile and
desktop presets, prints the four category scores and every audit that lost points, then loads
the page in Chromium at 375 and 1280 CSS px, scrolls it to the end, and prints each resource:
its bytes on the wire, and for an image or video its displayed against its intrinsic size.
Exit 1 when a Lighthouse run fails or a budget (BUDGETS) is exceeded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = Path(os.environ.get("SITE_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
LIGHTHOUSE = REPO / "node_modules" / ".bin" / "lighthouse"
CATEGORIES = ("performance", "accessibility", "best-practices", "seo")
# issue 12: the post after a full scroll at 375 px, and before the first scroll (bytes on the wire)
BUDGETS = {"full": 1_000_000, "first": 250_000}
VIEWPORT_HEIGHT = 900

# Every <img> and <video> of the page: what it shows, at which size, from which file.
_MEDIA = """async () => Promise.all([...document.querySelectorAll('img, video')].map(async e => {
  const video = e.tagName === 'VIDEO';
  const r = e.getBoundingClientRect();
  const url = e.currentSrc || e.src || '';
  let intrinsic = video ? [e.videoWidth, e.videoHeight] : [0, 0];
  if (!video && url && e.complete && e.naturalWidth) {
    // the file's own pixels: naturalWidth of a srcset image is divided by its density
    const probe = new Image();
    probe.src = url;
    try { await probe.decode(); intrinsic = [probe.naturalWidth, probe.naturalHeight]; }
    catch (err) { intrinsic = [0, 0]; }
  }
  return {tag: e.tagName.toLowerCase(), url, shown: r.width > 0 && r.height > 0,
          displayed: [Math.round(r.width), Math.round(r.height)], intrinsic,
          width: e.getAttribute('width'), height: e.getAttribute('height')};
}))"""


@dataclass
class Resource:
    url: str
    kind: str  # the browser's resource type: Document, Stylesheet, Image, Media, Font, Script
    bytes: int  # on the wire: headers and the (gzipped) body
    phase: str = "first"  # "first": before the first scroll; "scroll": loaded while scrolling


@dataclass
class Weight:
    """The bytes a page cost a reader at one viewport width, and the media it showed."""

    width: int
    resources: list[Resource] = field(default_factory=list)
    media: list[dict] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(r.bytes for r in self.resources)

    @property
    def first(self) -> int:
        return sum(r.bytes for r in self.resources if r.phase == "first")

    def table(self) -> str:
        """One line per resource: bytes, type, displayed/intrinsic size, phase, file name."""
        shown = {m["url"]: m for m in self.media if m["url"]}
        lines = [f"  {'bytes':>9}  {'type':<10} {'displayed':>10} {'intrinsic':>10}  phase   file"]
        for r in sorted(self.resources, key=lambda r: -r.bytes):
            m = shown.get(r.url)
            disp = "x".join(map(str, m["displayed"])) if m else ""
            intr = "x".join(map(str, m["intrinsic"])) if m else ""
            name = r.url.split("?")[0].rstrip("/").rsplit("/", 1)[-1] or r.url
            lines.append(f"  {r.bytes:>9,}  {r.kind:<10} {disp:>10} {intr:>10}  {r.phase:<6}  "
                         f"{name}")
        lines.append(f"  {self.total:>9,}  total ({self.first:,} before the first scroll)")
        return "\n".join(lines)


def weigh(browser, url: str, *, width: int, scheme: str = "light", scroll: bool = True,
          reduced_motion: str = "no-preference") -> Weight:
    """Load `url` at `width` CSS px (fresh cache), wait for the network to settle, then scroll
    to the end a half screen at a time; every request's bytes on the wire (Chromium's
    encodedDataLength, DevTools protocol) and every image and video's sizes."""
    context = browser.new_context(viewport={"width": width, "height": VIEWPORT_HEIGHT},
                                  color_scheme=scheme, reduced_motion=reduced_motion)
    try:
        page = context.new_page()
        cdp = context.new_cdp_session(page)
        requests: dict[str, Resource] = {}
        received: dict[str, int] = {}
        phase = ["first"]

        def sent(e):
            requests.setdefault(e["requestId"], Resource(e["request"]["url"], e.get("type", ""),
                                                         0, phase[0]))

        def data(e):
            received[e["requestId"]] = received.get(e["requestId"], 0) + e["encodedDataLength"]

        def finished(e):
            if e["requestId"] in requests:
                requests[e["requestId"]].bytes = int(e["encodedDataLength"])

        def failed(e):
            if e["requestId"] in requests:
                requests[e["requestId"]].bytes = received.get(e["requestId"], 0)

        cdp.on("Network.requestWillBeSent", sent)
        cdp.on("Network.dataReceived", data)
        cdp.on("Network.loadingFinished", finished)
        cdp.on("Network.loadingFailed", failed)
        cdp.send("Network.enable")
        cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
        page.goto(url, wait_until="load")
        page.wait_for_load_state("networkidle")
        page.wait_for_timeout(300)
        if scroll:
            phase[0] = "scroll"
            height = page.evaluate("() => document.documentElement.scrollHeight")
            for y in range(0, height + VIEWPORT_HEIGHT, VIEWPORT_HEIGHT // 2):
                page.evaluate("y => window.scrollTo(0, y)", y)
                page.wait_for_timeout(60)
            page.wait_for_load_state("networkidle")
            page.evaluate("() => Promise.all([...document.images].map(i => i.complete ||"
                          " new Promise(r => { i.onload = i.onerror = r; })))")
            page.wait_for_timeout(300)
        media = page.evaluate(_MEDIA)
        resources = [r for r in requests.values() if not r.url.startswith("data:")]
        return Weight(width, resources, media)
    finally:
        context.close()


# --- Lighthouse ---------------------------------------------------------------------------------
def lighthouse(url: str, preset: str, out: Path) -> dict:
    """Run the pinned Lighthouse on `url` (preset "mobile" or "desktop"); its JSON report."""
    if not LIGHTHOUSE.is_file():
        raise FileNotFoundError(f"{LIGHTHOUSE} missing: run `npm ci` (make audit does)")
    cmd = [str(LIGHTHOUSE), url, "--output=json", f"--output-path={out}", "--quiet",
           "--chrome-flags=--headless=new --no-sandbox --disable-gpu",
           f"--only-categories={','.join(CATEGORIES)}"]
    if preset == "desktop":
        cmd.append("--preset=desktop")
    env = {**os.environ, "CHROME_PATH": str(CHROMIUM)}
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0 or not out.is_file():
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise RuntimeError(f"lighthouse ({preset}) failed: {' | '.join(tail)}")
    return json.loads(out.read_text())


def scores(report: dict) -> dict[str, float]:
    return {c: report["categories"][c]["score"] for c in CATEGORIES}


def lost_points(report: dict) -> list[str]:
    """Each scored audit below 1 in a category, with its displayed value: what to fix."""
    out = []
    for cat in CATEGORIES:
        for ref in report["categories"][cat]["auditRefs"]:
            a = report["audits"][ref["id"]]
            if ref.get("weight", 0) > 0 and a.get("score") is not None and a["score"] < 1:
                out.append(f"    {cat}: {a['id']} {a['score']:.2f} {a.get('displayValue', '')}")
    return out


def main(argv: list[str]) -> int:
    if not 1 <= len(argv) <= 2:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    public = Path(argv[0])
    page_path = argv[1] if len(argv) > 1 else "posts/generative-models/"
    if not (public / page_path / "index.html").is_file():
        print(f"error: {public / page_path}index.html: no such page (run `make site`)",
              file=sys.stderr)
        return 2
    sys.path.insert(0, str(Path(__file__).parent))
    from playwright.sync_api import sync_playwright
    from site_helpers import serve

    ok = True
    with serve(public) as base, tempfile.TemporaryDirectory() as tmp:
        url = base + page_path
        for preset in ("mobile", "desktop"):
            try:
                report = lighthouse(url, preset, Path(tmp) / f"{preset}.json")
            except (RuntimeError, FileNotFoundError) as e:
                print(f"error: {e}", file=sys.stderr)
                ok = False
                continue
            s = scores(report)
            lcp = report["audits"]["largest-contentful-paint"].get("displayValue", "")
            print(f"lighthouse {preset:<7} " + "  ".join(f"{c} {v:.2f}" for c, v in s.items())
                  + f"  (LCP {lcp})")
            print("\n".join(lost_points(report)) or "    every scored audit passes")
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                         args=CHROMIUM_ARGS)
            for width in (375, 1280):
                w = weigh(browser, url, width=width)
                print(f"\nweight at {width} px, light, after a full scroll:")
                print(w.table())
                if width == 375:
                    for what, budget in BUDGETS.items():
                        got = w.total if what == "full" else w.first
                        if got > budget:
                            print(f"error: {got:,} bytes {what}: over the budget of {budget:,}",
                                  file=sys.stderr)
                            ok = False
            browser.close()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
