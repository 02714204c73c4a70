"""The excerpt shortcode (layouts/_shortcodes/excerpt.html): code cut from the project's own
files between `# excerpt: NAME` and `# end excerpt`, highlighted with Chroma's CSS classes; a bad
reference fails the Hugo build, naming the post's file and line.

Each test builds a small site: a copy of the theme with one post and no other content.
"""

from __future__ import annotations

import re
import shutil
from html import unescape
from pathlib import Path

import pytest
from site_helpers import REPO, HugoBuildError, copy_site, run_hugo

CODE = """\
import math


def outer():
    # excerpt: demo
    def sigma(t):  # \\sigma_t
        return math.sqrt(t)

    return sigma
    # end excerpt


# excerpt: open
x = 1
"""


def build_one(tmp_path: Path, body: str, code: str = CODE) -> str:
    """Build the theme with one post (and blog/demo.py = code); return the post's HTML."""
    site = copy_site(REPO, tmp_path / "site")
    shutil.rmtree(site / "content" / "posts")
    (site / "content" / "posts").mkdir()
    (site / "content" / "posts" / "demo.md").write_text(
        f"+++\ntitle = 'demo'\ndate = 2024-01-01\n+++\n\n## Code\n\n{body}\n", encoding="utf-8")
    (site / "blog").mkdir(exist_ok=True)
    (site / "blog" / "demo.py").write_text(code, encoding="utf-8")
    run_hugo("--source", str(site), "--destination", str(tmp_path / "public"),
             "--cacheDir", str(tmp_path / "cache"), "--panicOnWarning", "--noBuildLock")
    return (tmp_path / "public" / "posts" / "demo" / "index.html").read_text(encoding="utf-8")


def text_of(html: str) -> str:
    return unescape(re.sub(r"<[^>]+>", "", html))


def test_the_lines_between_the_markers_dedented_with_css_classes(tmp_path):
    html = build_one(tmp_path, '{{< excerpt file="blog/demo.py" name="demo" >}}')
    (pre,) = re.findall(r"<pre.*?</pre>", html, re.S)
    assert 'class="chroma"' in pre and 'class="k"' in pre, "Chroma classes"
    assert "style=" not in pre, "no inline colours (noClasses = false)"
    lines = text_of(pre).strip("\n").split("\n")
    assert lines == [
        "def sigma(t):  # \\sigma_t",
        "    return math.sqrt(t)",
        "",
        "return sigma",
    ]
    assert "excerpt" not in text_of(pre), "the marker lines are not shown"
    assert "<code>blog/demo.py</code>, lines 6–9" in html


def test_the_post_shows_the_real_model_code(tmp_path):
    html = build_one(tmp_path, '{{< excerpt file="blog/score.py" name="dsm-loss" >}}')
    source = (REPO / "blog" / "score.py").read_text(encoding="utf-8").split("\n")
    start = source.index("# excerpt: dsm-loss") + 1
    end = source.index("# end excerpt", start)
    (pre,) = re.findall(r"<pre.*?</pre>", html, re.S)
    assert text_of(pre).strip("\n").split("\n") == source[start:end]
    assert f"lines {start + 1}–{end}" in html


@pytest.mark.parametrize(
    ("shortcode", "message"),
    [
        ('{{< excerpt file="blog/nope.py" name="demo" >}}', 'no file "blog/nope.py"'),
        ('{{< excerpt file="blog/demo.py" name="missing" >}}', 'no line "# excerpt: missing"'),
        ('{{< excerpt file="blog/demo.py" name="open" >}}', 'no "# end excerpt" after line 13'),
        ('{{< excerpt name="demo" >}}', 'excerpt needs file="PATH" and name="NAME"'),
    ],
)
def test_a_bad_reference_fails_the_build_naming_the_post_line(tmp_path, shortcode, message):
    with pytest.raises(HugoBuildError) as err:
        build_one(tmp_path, shortcode)
    assert message in str(err.value)
    assert "demo.md:8:1" in str(err.value), "the post's file and line"


def test_a_marker_used_twice_fails_the_build(tmp_path):
    code = CODE + "# excerpt: demo\n# end excerpt\n"
    with pytest.raises(HugoBuildError, match='"# excerpt: demo" appears 2 times'):
        build_one(tmp_path, '{{< excerpt file="blog/demo.py" name="demo" >}}', code)
