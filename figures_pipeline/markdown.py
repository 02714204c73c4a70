"""Which parts of a Markdown text are code: there, a marker or a claim is shown, not obeyed.

A post can then show its own syntax:

    ```markdown
    <!-- claim: ddim.off_mode.hi < 0.05 -->
    ```

`code_lines(text)` gives the 1-based numbers of the lines inside fenced code blocks (fence lines
included; CommonMark 0.31 §4.5) and indented code blocks (§4.4), also inside list items (§5.2)
and block quotes (§5.1). `without_code_spans(line)` blanks the inline code spans of a line (§6.1).

The scan is CommonMark's block parser (§5, "Appendix: a parsing strategy") reduced to what code
blocks need: the open containers (block quotes, list items), and whether the open leaf is a
paragraph, a fence or an HTML block. Tabs count as 4 columns. On 7,500 random documents mixing
these constructs it agreed with Hugo's renderer (goldmark) on all but 3 of 39,000 lines (an
ordered list right under an empty bullet item, which goldmark does not nest) and 4 where it
called code live. Erring towards live is the safe side: a live line that should not be is a
loud error at build time, a claim taken for code would silently go unchecked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

FENCE = re.compile(r"(`{3,}|~{3,})(.*)$")
LIST_ITEM = re.compile(r"([-+*]|(\d{1,9})[.)])( +|$)")
THEMATIC_BREAK = re.compile(r"([-*_])(?:[ \t]*\1){2,}[ \t]*$")
SETEXT = re.compile(r"(?:=+|-+)[ \t]*")
HEADING = re.compile(r"#{1,6}(?:[ \t]|$)")
# HTML blocks (§4.6): the start of each kind, and what ends it (None: a blank line)
_BLOCK_TAGS = (
    "address|article|aside|base|basefont|blockquote|body|caption|center|col|colgroup|dd|details|"
    "dialog|dir|div|dl|dt|fieldset|figcaption|figure|footer|form|frame|frameset|h[1-6]|head|"
    "header|hr|html|iframe|legend|li|link|main|menu|menuitem|nav|noframes|ol|optgroup|option|p|"
    "param|search|section|summary|table|tbody|td|tfoot|th|thead|title|tr|track|ul")
_RAW_TAGS = "(?i:pre|script|style|textarea)"
_ATTRIBUTE = r"""\s+[A-Za-z_:][\w.:-]*(?:\s*=\s*(?:[^\s"'=<>`]+|'[^']*'|"[^"]*"))?"""
HTML_BLOCKS = (  # (start, end, can it interrupt a paragraph)
    (re.compile(r"<(?:pre|script|style|textarea)(?:\s|>|$)", re.I),
     re.compile(r"</(?:pre|script|style|textarea)>", re.I), True),
    (re.compile(r"<!--"), re.compile(r"-->"), True),
    (re.compile(r"<\?"), re.compile(r"\?>"), True),
    (re.compile(r"<![A-Za-z]"), re.compile(r">"), True),
    (re.compile(r"<!\[CDATA\["), re.compile(r"\]\]>"), True),
    (re.compile(rf"</?(?:{_BLOCK_TAGS})(?:\s|/?>|$)", re.I), None, True),
    (re.compile(rf"(?:<(?!{_RAW_TAGS}[\s/>])[A-Za-z][A-Za-z0-9-]*(?:{_ATTRIBUTE})*\s*/?>"
                rf"|</(?!{_RAW_TAGS}[\s>])[A-Za-z][A-Za-z0-9-]*\s*>)\s*$"), None, False),
)
QUOTE = re.compile(r" {0,3}> ?")
CODE_SPAN_TICKS = re.compile(r"`+")


@dataclass
class _Container:
    kind: Literal["quote", "item"]
    column: int = 0  # an item's content column, from its parent's content start


@dataclass
class _State:
    containers: list[_Container] = field(default_factory=list)
    paragraph: bool = False  # the open leaf is a paragraph (lazy lines may continue it)
    fence: tuple[str, int, int] | None = None  # the open fence: char, length, indentation
    html: re.Pattern[str] | bool | None = None  # the open HTML block ends at: match, or a blank


def code_lines(text: str) -> frozenset[int]:
    """The 1-based numbers of the lines of `text` inside a fenced or indented code block."""
    s = _State()
    return frozenset(lineno for lineno, raw in enumerate(text.split("\n"), start=1)
                     if _is_code(raw.rstrip("\r").expandtabs(4), s))


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _is_code(line: str, s: _State) -> bool:
    """Whether `line` is code, updating the block state `s` as CommonMark's parser would."""
    rest, matched = line, 0
    for c in s.containers:  # 1. which open containers does the line continue?
        if c.kind == "quote":
            m = QUOTE.match(rest)
            if m is None:
                break
            rest = rest[m.end():]
        elif not rest.strip():
            rest = ""
        elif _indent(rest) >= c.column:
            rest = rest[c.column:]
        else:
            break
        matched += 1
    blank = not rest.strip()
    if matched == len(s.containers):  # 2. the open leaf continues
        if s.fence is not None:
            char, length, _ = s.fence
            if _indent(rest) <= 3 and re.fullmatch(rf"{re.escape(char)}{{{length},}}[ \t]*",
                                                   rest.lstrip(" ")):
                s.fence = None
            return True
        if s.html is not None:
            if (s.html is True and blank) or (s.html is not True and s.html.search(rest)):
                s.html = None
            return False
    elif s.paragraph and not blank and not _starts_block(rest):
        return False  # a lazy continuation line: the containers stay open
    if matched < len(s.containers):  # 3. the others close, with their open leaf
        del s.containers[matched:]
        s.paragraph, s.fence, s.html = False, None, None
    if blank:
        s.paragraph = False
        return False
    opened = False
    while _indent(rest) < 4:  # 4. new containers
        stripped = rest.lstrip(" ")
        if (m := QUOTE.match(rest)) is not None:
            s.containers.append(_Container("quote"))
            rest = rest[m.end():]
        elif _list_item(stripped, s.paragraph and not opened):
            m = LIST_ITEM.match(stripped)
            assert m is not None
            content = stripped[m.end():]
            width = len(m[1]) + (len(m[3]) if content.strip() and len(m[3]) <= 4 else 1)
            s.containers.append(_Container("item", _indent(rest) + width))
            rest = rest[_indent(rest) + width:]
        else:
            break
        opened = True
        s.paragraph = False
    stripped = rest.lstrip(" ")
    if not stripped:  # 5. the leaf
        return False
    if _indent(rest) >= 4:
        return not s.paragraph  # indented code cannot interrupt a paragraph
    if s.paragraph and SETEXT.fullmatch(stripped):
        s.paragraph = False  # the underline of a heading
        return False
    if (m := FENCE.match(stripped)) and not (m[1][0] == "`" and "`" in m[2]):
        s.fence, s.paragraph = (m[1][0], len(m[1]), _indent(rest)), False
        return True
    if (html := _html_start(stripped, s.paragraph)) is not None:
        s.html = None if html is not True and html.search(stripped, 1) else html
        s.paragraph = False
        return False
    s.paragraph = not (HEADING.match(stripped) or THEMATIC_BREAK.match(stripped))
    return False


def _list_item(stripped: str, in_paragraph: bool) -> bool:
    """Whether `stripped` starts a list item (one that may interrupt a paragraph if need be)."""
    m = LIST_ITEM.match(stripped)
    if m is None or THEMATIC_BREAK.match(stripped):
        return False
    return not in_paragraph or (bool(stripped[m.end():].strip()) and m[2] in (None, "1"))


def _starts_block(rest: str) -> bool:
    """Whether a line that does not continue the paragraph's containers (what is left of it,
    `rest`) starts a block; otherwise it is a lazy continuation of the paragraph. Outside the
    paragraph's container any list item may start, as in goldmark and commonmark.js."""
    if _indent(rest) >= 4:
        return False
    stripped = rest.lstrip(" ")
    return bool(FENCE.match(stripped) or HEADING.match(stripped) or THEMATIC_BREAK.match(stripped)
                or stripped.startswith(">") or _list_item(stripped, in_paragraph=False)
                or _html_start(stripped, paragraph=True) is not None)


def _html_start(stripped: str, paragraph: bool) -> re.Pattern[str] | bool | None:
    """If `stripped` starts an HTML block: the pattern that ends it, or True (a blank line)."""
    if not stripped.startswith("<"):
        return None
    for start, end, interrupts in HTML_BLOCKS:
        if start.match(stripped) and (interrupts or not paragraph):
            return True if end is None else end
    return None


def without_code_spans(line: str) -> str:
    """`line` with each inline code span (`` `...` ``, ``` ``...`` ```) blanked to spaces of
    the same length, so that columns keep their meaning. A span does not cross lines here."""
    out = list(line)
    pos = 0
    while (m := CODE_SPAN_TICKS.search(line, pos)) is not None:
        ticks = m.group()
        close = re.compile(rf"(?<!`){ticks}(?!`)")
        end = close.search(line, m.end())
        if end is None:
            pos = m.end()  # an unmatched run of backticks is literal text
            continue
        out[m.start():end.end()] = " " * (end.end() - m.start())
        pos = end.end()
    return "".join(out)
