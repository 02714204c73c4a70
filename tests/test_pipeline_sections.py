"""figures_pipeline.sections: string in, string out."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from figures_pipeline.sections import (
    FigureInfo,
    SectionError,
    escape_markdown,
    find_regions,
    render_sections,
)

B, E = "<!-- generated:begin {} -->", "<!-- generated:end {} -->"


def doc(*lines: str) -> str:
    return "\n".join(lines) + "\n"


def test_rewrites_only_the_region():
    text = doc("# Title", B.format("r"), "old", "stuff", E.format("r"), "tail $x$")
    out = render_sections(text, {"n": 3}, {"r": "n = {{ n }}"})
    assert out == doc("# Title", B.format("r"), "n = 3", E.format("r"), "tail $x$")


def test_empty_region_and_idempotence():
    text = doc(B.format("r"), E.format("r"))
    out = render_sections(text, {}, {"r": "hello\n"})
    assert out == doc(B.format("r"), "hello", E.format("r"))
    assert render_sections(out, {}, {"r": "hello\n"}) == out


def test_two_regions_and_crlf_kept():
    text = "a\r\n" + B.format("x") + "\r\nold\r\n" + E.format("x") + "\r\nb\r\n"
    out = render_sections(text, {}, {"x": "one\ntwo"})
    assert out == "a\r\n" + B.format("x") + "\r\none\r\ntwo\r\n" + E.format("x") + "\r\nb\r\n"


def test_no_regions_is_identity_without_templates():
    assert render_sections("plain\n", {}, {}) == "plain\n"


@pytest.mark.parametrize("text, message", [
    (doc(B.format("a"), "x"), "post.md:1: region 'a' has no"),
    (doc("x", E.format("a")), "post.md:2: 'generated:end a' without a begin"),
    (doc(B.format("a"), B.format("b"), E.format("b"), E.format("a")),
     "post.md:2: region 'b' begins inside region 'a' (opened at line 1)"),
    (doc(B.format("a"), E.format("a"), B.format("a"), E.format("a")),
     "post.md:3: duplicate region 'a' (first at line 1)"),
    (doc(B.format("a"), E.format("b")), "post.md:2: 'generated:end b' closes region 'a'"),
    (doc("<!-- generated:begin -->"), "post.md:1: malformed marker"),
    (doc("text <!-- generated:end a --> more"), "post.md:1: malformed marker"),
    (doc(B.format("zzz"), E.format("zzz")), "post.md:1: unknown region 'zzz'"),
])
def test_marker_errors_name_file_and_line(text, message):
    with pytest.raises(SectionError) as e:
        render_sections(text, {}, {"a": "", "b": ""}, path="post.md")
    assert str(e.value).startswith(message)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("template, message", [
    ("line1\n{{ missing }}", "templates/r.md.j2:2: undefined value: 'missing' is undefined"),
    ("{{ m.nope }}", "templates/r.md.j2:1: undefined value"),
    ("{% if %}", "templates/r.md.j2:1: template syntax error"),
    ("{{ 0.1 + 0.2 }}", "templates/r.md.j2:1: unformatted number 0.30000000000000004"),
    ("{{ figure('nope.png') }}", "figure('nope.png'): no stage declares this output"),
    ("{{ figure('a.pnh') }}", "(did you mean 'a.png'?)"),
    ("{{ 'x' | sig(2) }}", "| sig: expected a number"),
    ("{{ mm.x | sig(2) }}", "undefined value: 'mm' is undefined (did you mean 'm'?)"),
    ("{{ m.nope | est(1) }}", "'dict object' has no attribute 'nope'"),
])
def test_template_errors(template, message):
    text = doc(B.format("r"), E.format("r"))
    with pytest.raises(SectionError) as e:
        render_sections(text, {"m": {}}, {"r": template},
                        {"a.png": FigureInfo("a.png", "A")}, path="p.md")
    assert message in str(e.value)


@pytest.mark.parametrize("shown", [
    doc("```markdown", B.format("r"), "<!-- generated:begin -->", "```"),
    doc("~~~", E.format("r"), "~~~"),
    doc("Before:", "", "    " + B.format("zzz"), "    " + E.format("zzz")),
    doc("- a list item showing", "", "      " + B.format("r")),
    doc("Inline: `" + E.format("r") + "` and ``<!-- generated:begin a --> ``."),
])
def test_markers_in_code_are_shown_not_obeyed(shown):
    text = shown + doc("", B.format("r"), "old", E.format("r"))
    out = render_sections(text, {}, {"r": "new"})
    assert out == shown + doc("", B.format("r"), "new", E.format("r"))


def test_a_marker_indented_in_a_paragraph_is_live():
    text = doc("para", "    " + B.format("r"), "old", E.format("r"))
    assert render_sections(text, {}, {"r": "new"}) == doc("para", "    " + B.format("r"), "new",
                                                         E.format("r"))


def test_strings_are_escaped_for_markdown():
    text = doc(B.format("r"), E.format("r"))
    out = render_sections(text, {"s": "costs $5 and *a_b* [x](y)"}, {"r": "{{ s }}"})
    assert "costs \\$5 and \\*a\\_b\\* \\[x\\](y)" in out
    assert escape_markdown("a\\b") == "a\\\\b"
    raw = render_sections(text, {"s": "*bold*"}, {"r": "{{ s | raw }}"})
    assert "\n*bold*\n" in raw


def test_alt_text_and_caption_are_templates_over_the_values():
    figs = {"w.png": FigureInfo("w.png", "{{ config.n }} walks of {{ walks.label }}",
                                "{{ config.n }} walks, mean {{ walks.m | fixed(1) }} of a_b")}
    values = {"config": {"n": 5}, "walks": {"label": "x_t [1]", "m": 0.25}}
    out = render_sections(doc(B.format("r"), E.format("r")), values,
                          {"r": "{{ figure('w.png') }}"}, figs)
    # the alt text is escaped once, values and literal text alike; the caption is Markdown
    assert '![5 walks of x\\_t \\[1\\]](w.png "5 walks, mean 0.2 of a_b")' in out
    values["config"]["n"] = 12  # a config change changes the texts: nothing to keep in step
    out = render_sections(doc(B.format("r"), E.format("r")), values,
                          {"r": "{{ figure('w.png') }}"}, figs)
    assert "![12 walks" in out and '"12 walks, mean' in out


@pytest.mark.parametrize("alt, message", [
    ("{{ config.m }} walks", "figure('w.png') alt: undefined value"),
    ("{{ walks.m }} walks", "figure('w.png') alt: unformatted number 0.25"),
    ("{{ config.n", "figure('w.png') alt: template syntax error"),
])
def test_a_bad_alt_template_names_the_figure(alt, message):
    figs = {"w.png": FigureInfo("w.png", alt, "c")}
    with pytest.raises(SectionError) as e:
        render_sections(doc(B.format("r"), E.format("r")), {"config": {"n": 5},
                        "walks": {"m": 0.25}}, {"r": "{{ figure('w.png') }}"}, figs, path="p.md")
    assert message in str(e.value) and str(e.value).startswith("templates/r.md.j2:1: ")


def test_figure_global_uses_declared_alt_and_caption():
    figs = {"evo.gif": FigureInfo("evo.gif", "density of x_t", 'The "evolution"')}
    out = render_sections(doc(B.format("r"), E.format("r")), {},
                          {"r": "{{ figure('evo.gif') }}"}, figs)
    assert '![density of x\\_t](evo.gif "The \\"evolution\\"")' in out


def test_find_regions_offsets():
    text = doc("a", B.format("r"), "body", E.format("r"))
    (r,) = find_regions(text)
    assert (r.begin_line, r.end_line) == (2, 4) and text[r.start:r.stop] == "body\n"


_no_marker = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=200).filter(
    lambda s: "generated" not in s.lower())


@settings(max_examples=150, deadline=None)
@given(before=_no_marker, inside=_no_marker, after=_no_marker,
       value=st.text(max_size=30).filter(lambda s: "\r" not in s and "\n" not in s))
def test_text_outside_regions_is_preserved_byte_for_byte(before, inside, after, value):
    before = before if before.endswith("\n") or not before else before + "\n"
    inside = inside + "\n" if inside else ""
    end = E.format("r") + "\n" + after
    text = before + B.format("r") + "\n" + inside + end
    out = render_sections(text, {"v": value}, {"r": "{{ v }}"})
    head = before + B.format("r") + "\n"
    assert out.startswith(head) and out.endswith(end)
    body = out[len(head):len(out) - len(end)]
    assert body.replace("\r\n", "\n") == (escape_markdown(value) + "\n" if value else "")
