"""figures_pipeline.markdown: which lines are code (string in, line numbers out), then the same
question put to Hugo's own renderer on random documents."""

import random
import re

import pytest
from site_helpers import run_hugo

from figures_pipeline.markdown import code_lines, without_code_spans


def lines(*rows: str) -> str:
    return "\n".join(rows) + "\n"


@pytest.mark.parametrize("text, code", [
    (lines("a", "", "```md", "<!-- x -->", "```", "b"), {3, 4, 5}),
    (lines("~~~~", "x", "~~~", "y", "~~~~~", "z"), {1, 2, 3, 4, 5}),  # a shorter fence is text
    (lines("``` a`b", "not a fence"), set()),  # a backtick fence's info has no backtick
    (lines("```", "x", "y"), {1, 2, 3, 4}),  # an unclosed fence runs to the end
    (lines("para", "", "    code", "    more", "", "back"), {3, 4}),
    (lines("para", "    continued, not code"), set()),
    (lines("# Heading", "    code"), {2}),
    (lines("\tcode after a tab"), {1}),
    (lines("- item", "", "  ```", "  code", "  ```", "- next"), {3, 4, 5}),
    (lines("- item", "", "    continued paragraph"), set()),
    (lines("- item", "", "      code in the item"), {3}),
    (lines("- a", "  - b", "", "        code in b"), {4}),
    (lines("1. item", "", "       code"), {3}),
    (lines("- item", "lazy", "", "    still the item's"), set()),
    (lines("- ```", "  code", "```", "fence at the top"), {1, 2, 3, 4, 5}),
    (lines("> ```", "> code", "> ```", "after"), {1, 2, 3}),
    (lines("> ```", "> code", "out of the quote"), {1, 2}),
    (lines("```", "> not a quote", "```"), {1, 2, 3}),
    (lines(">     code in a quote"), {1}),
    (lines("<div>", "", "    code after the HTML block"), {3}),
    (lines("<div>", "    html, not code", "```", "</div>"), set()),
    (lines("<!-- a comment -->", "    code"), {2}),
    (lines("para", "<span>", "    continued"), set()),
    (lines("para", "---", "    code after a heading"), {3}),
])
def test_code_lines(text, code):
    assert code_lines(text) == code


def test_crlf_and_no_trailing_newline():
    assert code_lines("a\r\n\r\n    b\r\n") == {3}
    assert code_lines("```\nx") == {1, 2}


def test_without_code_spans_keeps_columns():
    line = "a `<!-- claim: x -->` b ``c ` d`` e ` unmatched"
    out = without_code_spans(line)
    assert len(out) == len(line)
    assert out == "a" + " " * 21 + "b" + " " * 11 + "e ` unmatched"
    assert without_code_spans("no spans") == "no spans"


# ---- the same question put to goldmark, Hugo's CommonMark renderer

BLOCKS = ["para {t}", "    indented {t}", "  two {t}", "      six {t}", "- item {t}",
          "1. item {t}", "2) item {t}", "  - nested {t}", "```", "~~~", "````", "  ```", "    ```",
          "```py", "> quote {t}", "> ```", ">     code {t}", "# head {t}", "", "", "", "---",
          "<!-- c {t} -->", "<div>", "</div>", "\ttabbed {t}", "-     far {t}", "  text {t}",
          "***", "* star {t}", "lazy {t}", "> - qitem {t}", ">", "  > q2 {t}", "1.     code {t}",
          "   - item3 {t}", "10. ten {t}", "        eight {t}", "- > q {t}", "<span>", "</span>",
          "<pre>", "</pre>", "> > deep {t}", ">>     dcode {t}", "\t- tablist {t}", "  ~~~",
          "<!-- open {t}", "close --> {t}"]


def test_code_lines_agree_with_hugo_on_random_documents(tmp_path):
    """Each line of a random document carries a token; goldmark puts it in a <pre><code> block
    or not. (An empty bullet item is left out: goldmark does not nest an ordered list in it.)"""
    rng = random.Random(7)
    site = tmp_path / "site"
    (site / "layouts/_default").mkdir(parents=True)
    (site / "content/d").mkdir(parents=True)
    (site / "hugo.toml").write_text('baseURL = "http://x/"\n[markup.goldmark.renderer]\n'
                                    'unsafe = true\n[markup.highlight]\ncodeFences = false\n')
    (site / "layouts/_default/single.html").write_text("{{ .Content }}")
    (site / "layouts/_default/list.html").write_text("")
    docs = []
    for i in range(300):
        text = lines(*(rng.choice(BLOCKS).format(t=f"zq{k}x")
                       for k in range(1, rng.randint(4, 14) + 1)))
        docs.append(text)
        (site / f"content/d/p{i}.md").write_text("+++\ntitle = 'x'\n+++\n" + text)
    result = run_hugo("--source", str(site), "--quiet")
    assert result.returncode == 0, result.stderr
    checked, disagree = 0, []
    for i, text in enumerate(docs):
        html = (site / f"public/d/p{i}/index.html").read_text()
        in_code = {int(t) for block in re.findall(r"<pre><code[^>]*>(.*?)</code></pre>", html, re.S)
                   for t in re.findall(r"zq(\d+)x", block)}
        ours = code_lines(text)
        for k, line in enumerate(text.split("\n"), start=1):
            if f"zq{k}x" in line:
                checked += 1
                if (k in in_code) != (k in ours):
                    disagree.append(f"doc {i} line {k}:\n{text}")
    assert checked > 1500
    assert not disagree, disagree[0]
