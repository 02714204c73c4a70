"""Generated Markdown sections: the author's post keeps its text, the engine rewrites the regions.

A region is a pair of marker lines, each alone on its line (HTML comments: Hugo shows nothing):

    <!-- generated:begin results -->
    ...whatever the template `results.md.j2` renders...
    <!-- generated:end results -->

`render_sections(text, values, templates)` is the pure core: it returns the new text, with every
byte outside the regions kept. Unbalanced, nested, duplicate, malformed or unknown markers, a
template error or an undefined value raise `SectionError` naming file:line.

Values are escaped for Markdown when inserted (a `$`, `_` or `*` in a string stays literal);
numbers go through the filters of `numbers` (`{{ x | sig(2) }}`, `{{ m | est(1, exp=-4) }}`,
`compare(a, b)`); a bare float is refused. A marker inside a code block (fenced or indented) or an
inline code span is shown, not obeyed: a post can show the syntax.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .numbers import FILTERS, GLOBALS, FormatError, Raw, escape_markdown

__all__ = ["FigureInfo", "Raw", "Region", "SectionError", "escape_markdown", "find_regions",
           "make_environment", "render_sections", "render_template"]

MARKER = re.compile(
    r"^[ \t]*<!--[ \t]*generated:(begin|end)[ \t]+([A-Za-z0-9_.-]+)[ \t]*-->[ \t]*$")
LOOSE = re.compile(r"<!--\s*generated\s*:", re.IGNORECASE)
TEMPLATE_SUFFIX = ".md.j2"


class SectionError(ValueError):
    """A bad marker, template or value; the message is one line and starts with file:line."""


@dataclass(frozen=True)
class Region:
    name: str
    begin_line: int  # 1-based line numbers of the marker lines
    end_line: int
    start: int  # character offsets of the region's body (between the marker lines)
    stop: int


@dataclass(frozen=True)
class FigureInfo:
    """What `figure(name)` needs: the file (relative to the post's page) and its texts."""

    file: str
    alt: str
    caption: str = ""


def find_regions(text: str, path: str = "<text>") -> list[Region]:
    """The regions of `text`, in order; raises SectionError on any marker problem."""
    regions: list[Region] = []
    seen: dict[str, int] = {}
    open_: tuple[str, int, int] | None = None  # name, line, body start
    offset = 0
    lines = [line + "\n" for line in text.split("\n")]
    lines[-1] = lines[-1][:-1]  # Markdown lines end at \n only (not at str.splitlines' \x0c...)
    from .markdown import code_lines, without_code_spans  # (a no-op build never gets here)

    code = code_lines(text)
    for lineno, line in enumerate(lines, start=1):
        body = line.rstrip("\r\n")
        m = None if lineno in code else MARKER.match(body)
        if m is None:
            if lineno not in code and LOOSE.search(without_code_spans(body)):
                raise SectionError(
                    f"{path}:{lineno}: malformed marker {body.strip()!r}; expected a line "
                    "'<!-- generated:begin NAME -->' or '<!-- generated:end NAME -->'")
            offset += len(line)
            continue
        kind, name = m.groups()
        if kind == "begin":
            if open_ is not None:
                raise SectionError(f"{path}:{lineno}: region '{name}' begins inside region "
                                   f"'{open_[0]}' (opened at line {open_[1]}); regions do not nest")
            if name in seen:
                raise SectionError(f"{path}:{lineno}: duplicate region '{name}' "
                                   f"(first at line {seen[name]})")
            seen[name] = lineno
            open_ = (name, lineno, offset + len(line))
        else:
            if open_ is None:
                raise SectionError(f"{path}:{lineno}: 'generated:end {name}' without a begin")
            if name != open_[0]:
                raise SectionError(f"{path}:{lineno}: 'generated:end {name}' closes region "
                                   f"'{open_[0]}' (opened at line {open_[1]})")
            regions.append(Region(name, open_[1], lineno, open_[2], offset))
            open_ = None
        offset += len(line)
    if open_ is not None:
        raise SectionError(f"{path}:{open_[1]}: region '{open_[0]}' has no "
                           f"'<!-- generated:end {open_[0]} -->'")
    return regions


def render_sections(
    text: str,
    values: Mapping[str, Any],
    templates: Mapping[str, str],
    figures: Mapping[str, FigureInfo] | None = None,
    path: str = "<text>",
    template_dir: str = "templates",
) -> str:
    """Return `text` with each region's body replaced by its template rendered with `values`.

    `templates` maps a region name to its Jinja2 source; `figures` maps an output file name to its
    `FigureInfo` for the `figure()` global. Pure: no file is read or written.
    """
    regions = find_regions(text, path)
    for region in regions:
        if region.name not in templates:
            known = ", ".join(sorted(templates)) or "none"
            raise SectionError(f"{path}:{region.begin_line}: unknown region '{region.name}': no "
                               f"template {template_dir}/{region.name}{TEMPLATE_SUFFIX} "
                               f"(templates: {known})")
    if not regions:
        return text
    env = make_environment(figures or {})
    newline = "\r\n" if "\r\n" in text else "\n"
    out: list[str] = []
    last = 0
    for region in regions:
        tpath = f"{template_dir}/{region.name}{TEMPLATE_SUFFIX}"
        body = render_template(env, templates[region.name], values, tpath)
        if body and not body.endswith("\n"):
            body += "\n"
        if newline != "\n":
            body = body.replace("\r\n", "\n").replace("\n", newline)
        out.append(text[last:region.start])
        out.append(body)
        last = region.stop
    out.append(text[last:])
    return "".join(out)


def render_template(env: Any, source: str, values: Mapping[str, Any], tpath: str) -> str:
    """Render one template; any Jinja2 error becomes a SectionError at `tpath:line`."""
    import jinja2

    try:
        template = env.from_string(source)
        return template.render(**values)
    except jinja2.TemplateSyntaxError as e:
        raise SectionError(f"{tpath}:{e.lineno}: template syntax error: {e.message}") from None
    except jinja2.UndefinedError as e:
        raise SectionError(f"{tpath}:{_template_line(e)}: undefined value: {e.message}"
                           f"{_suggest(e, values)}") from None
    except (SectionError, FormatError) as e:
        raise SectionError(f"{tpath}:{_template_line(e)}: {e}") from None
    except Exception as e:  # noqa: BLE001 - a template may raise anything; report where
        raise SectionError(f"{tpath}:{_template_line(e)}: {type(e).__name__}: {e}") from None


def _template_line(exc: BaseException) -> int | str:
    tb = exc.__traceback__
    line: int | str = "?"
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def make_environment(figures: Mapping[str, FigureInfo]) -> Any:
    """A Jinja2 environment: StrictUndefined, Markdown-escaping finalize, the number filters and
    `compare` of `numbers`, and `figure()`. Templates and claims both evaluate in it."""
    import jinja2

    env = jinja2.Environment(
        undefined=jinja2.StrictUndefined,
        finalize=_finalize,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters.update(FILTERS)
    env.globals.update(GLOBALS)
    env.globals["figure"] = _figure_global(figures)
    return env


def _finalize(value: Any) -> str:
    import jinja2

    if isinstance(value, jinja2.Undefined):
        return str(value)  # StrictUndefined raises here, naming the missing value
    if isinstance(value, Raw):
        return value
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        raise SectionError(f"unformatted number {value!r}: format it with a filter, "
                           "e.g. {{ x | sig(3) }} or {{ x | fixed(2) }}")
    if isinstance(value, int):
        return str(value)
    if value is None:
        raise SectionError("a value is None; give the template a default, e.g. "
                           "{{ x | default('n/a') }}")
    if isinstance(value, str):
        return escape_markdown(value)
    raise SectionError(f"cannot insert a {type(value).__name__} into Markdown; "
                       "format it in the template")


def _figure_global(figures: Mapping[str, FigureInfo]) -> Callable[..., Raw]:
    import jinja2

    @jinja2.pass_context
    def figure(context: Any, name: str, alt: str | None = None,
               caption: str | None = None) -> Raw:
        """`![alt](file "caption")`: the site renders the title as <figcaption>. The alt text
        and caption are templates over the same values (`{{ config.walk.n }} walks`)."""
        if name not in figures:
            import difflib

            close = difflib.get_close_matches(name, list(figures), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise SectionError(f"figure('{name}'): no stage declares this output{hint}")
        info = figures[name]
        values = context.get_all()
        alt_text = escape_markdown(_fill(context.environment, info.alt if alt is None else alt,
                                         values, f"figure('{name}') alt", plain=True))
        cap = _fill(context.environment, info.caption if caption is None else caption, values,
                    f"figure('{name}') caption", plain=False)
        title = ' "' + cap.replace("\\", "\\\\").replace('"', '\\"') + '"' if cap else ""
        return Raw(f"![{alt_text}]({info.file}{title})")

    return figure


def _fill(env: Any, text: str, values: Mapping[str, Any], what: str, plain: bool) -> str:
    """`text` rendered as a template over `values` when it holds `{{`/`{%`, else as is. The alt
    text (`plain`) is escaped whole afterwards, so its values are inserted unescaped here; a
    caption is Markdown, so its values are escaped as a region's are."""
    if "{{" not in text and "{%" not in text:
        return text
    import jinja2

    try:
        if plain:
            env = env.overlay(finalize=_finalize_plain)
        return env.from_string(text).render(values)
    except jinja2.TemplateSyntaxError as e:
        raise SectionError(f"{what}: template syntax error: {e.message}") from None
    except jinja2.UndefinedError as e:
        raise SectionError(f"{what}: undefined value: {e.message}{_suggest(e, values)}") \
            from None
    except (SectionError, FormatError) as e:
        raise SectionError(f"{what}: {e}") from None


def _finalize_plain(value: Any) -> str:
    """`_finalize` without the Markdown escaping (the caller escapes the whole text)."""
    return value if isinstance(value, str) and not isinstance(value, Raw) else _finalize(value)


def _suggest(e: BaseException, values: Mapping[str, Any]) -> str:
    """' (did you mean 'walks'?)' for "'walsk' is undefined", else ''."""
    import difflib

    m = re.match(r"'([^']+)' is undefined", str(e))
    if not m:
        return ""
    names = [k for k in values if not k.startswith("_")]
    close = difflib.get_close_matches(m.group(1), names, n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""
