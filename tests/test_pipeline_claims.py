"""figures_pipeline.claims: parsing and judging claims (string in, verdicts out), then the build,
`check` and `list` on the toy project (tests/pipeline_toy, copied to a temporary folder)."""

import pytest
from pipeline_toy.harness import build, edit, make_project

from figures_pipeline.cache import read_lock
from figures_pipeline.claims import (
    Claim,
    ClaimError,
    ClaimFalseError,
    evaluate,
    find_claims,
    summary,
)
from figures_pipeline.cli import main
from figures_pipeline.sections import FigureInfo, SectionError, make_environment
from figures_pipeline.stages import DeclarationError, Figure

B, E = "<!-- generated:begin {} -->", "<!-- generated:end {} -->"
VALUES = {"ddim": {"off_mode": {"value": 0.04, "lo": 0.03, "hi": 0.061, "n": 10000}},
          "ddpm": {"steps": 1000, "mmd2": {"value": 3.0e-4, "lo": 2.0e-4, "hi": 4.0e-4, "n": 10}},
          "exact": {"mmd2": {"value": 1.0e-4, "lo": 0.0, "hi": 2.0e-4, "n": 10}},
          "config": {"ddpm": {"steps": 1000}}, "profile": "default", "timings": {"ddpm": 2.5}}


def doc(*lines: str) -> str:
    return "\n".join(lines) + "\n"


def judge(*exprs: str, values=VALUES):
    claims = [Claim(x, f"p.md:{i}") for i, x in enumerate(exprs, start=1)]
    return evaluate(claims, values, make_environment({"a.png": FigureInfo("a.png", "A")}))


# ---- parsing

def test_claims_at_the_end_of_a_line_on_their_own_line_and_several_per_line():
    text = doc("# Title", "",
               "DDIM stays on the modes. <!-- claim: ddim.off_mode.hi < 0.1 -->",
               "<!--claim:ddpm.steps > 10-->",
               "Both. <!-- claim: a --> and <!-- claim:  b == 'x' -->")
    assert find_claims(text, "p.md") == [
        Claim("ddim.off_mode.hi < 0.1", "p.md:3"), Claim("ddpm.steps > 10", "p.md:4"),
        Claim("a", "p.md:5"), Claim("b == 'x'", "p.md:5")]


def test_claims_in_code_are_shown_not_claimed():
    text = doc("```markdown", "<!-- claim: not (valid -->", "```", "",
               "    <!-- claim: indented code -->", "",
               "Write `<!-- claim: EXPR -->` beside the sentence. <!-- claim: real -->")
    assert find_claims(text, "p.md") == [Claim("real", "p.md:7")]


@pytest.mark.parametrize("line, message", [
    ("<!-- claim: x < 1", "p.md:2: malformed claim '<!-- claim: x < 1'; write '<!-- claim: "
                          "EXPR -->' on one line"),
    ("<!-- claim x < 1 -->", "p.md:2: malformed claim"),
    ("<!-- claims: x < 1 -->", "p.md:2: malformed claim"),
    ("<!-- Claim: x < 1 -->", "p.md:2: malformed claim"),
    ("ok <!-- claim: -->", "p.md:2: empty claim"),
])
def test_a_malformed_claim_names_file_and_line(line, message):
    with pytest.raises(ClaimError) as e:
        find_claims(doc("text", line), "p.md")
    assert str(e.value).startswith(message) and "\n" not in str(e.value)


def test_crlf_lines():
    assert find_claims("a\r\nb <!-- claim: x > 1 -->\r\n", "p.md") == [Claim("x > 1", "p.md:2")]


def test_figure_claims_are_a_tuple_of_expressions():
    assert Figure(alt="a", claims=["x > 1"]).claims == ("x > 1",)
    for bad in ("x > 1", ("x > 1", ""), (3,)):
        with pytest.raises(DeclarationError, match=r"Figure\(alt='a'\): claims must be a tuple"):
            Figure(alt="a", claims=bad)


def test_a_claim_inside_a_generated_region_is_an_error():
    text = doc(B.format("r"), "made <!-- claim: x -->", E.format("r"))
    with pytest.raises(ClaimError, match="p.md:2: a claim inside generated region 'r'"):
        find_claims(text, "p.md")
    with pytest.raises(SectionError, match="p.md:1: region 'r' has no"):
        find_claims(doc(B.format("r")), "p.md")


# ---- judging

def test_a_false_claim_names_where_the_expression_and_the_values_it_read():
    (v,) = judge("ddim.off_mode.hi < 0.05")
    assert not v.holds
    assert v.message() == "p.md:1: claim false: ddim.off_mode.hi < 0.05  (ddim.off_mode.hi = 0.061)"
    (v,) = judge("ddpm.steps == config.ddpm.steps and timings['ddpm'] < 60")
    assert v.holds and v.seen == (("ddpm.steps", "1000"), ("config.ddpm.steps", "1000"),
                                  ("timings['ddpm']", "2.5"))


def test_claims_see_the_filters_and_globals_of_the_templates():
    verdicts = judge("compare(ddpm.mmd2, exact.mmd2) == 'higher than'",  # the intervals touch,
                     "ddpm.mmd2 | est(1, exp=-4) == '3.0 [2.0, 4.0]'",   # yet differ
                     "profile == 'draft'")
    assert [v.holds for v in verdicts] == [True, True, False]
    assert verdicts[0].seen[0] == ("ddpm.mmd2", "0.0003 [0.0002, 0.0004] (n=10)")


def test_a_guarded_claim_shows_what_it_did_not_read_as_undefined():
    (v,) = judge("ddim.nothing is defined and ddim.nothing > 1")
    assert not v.holds and v.seen == (("ddim.nothing", "undefined"),)


@pytest.mark.parametrize("expr, message", [
    ("ddimm.off_mode.hi < 0.05", "p.md:1: undefined value in claim ddimm.off_mode.hi < 0.05: "
                                 "'ddimm' is undefined"),
    ("ddim.off_mode.upper < 0.05", "p.md:1: undefined value in claim"),
    ("ddim.off_mode.hi <", "p.md:1: claim syntax error: "),
    ("ddim.off_mode.hi < 0.05 0.1", "p.md:1: claim syntax error: "),
    ("ddim.off_mode.hi", "p.md:1: claim ddim.off_mode.hi is 0.061 (a float), not true or false"),
    ("ddpm.steps | est", "p.md:1: claim ddpm.steps | est: FormatError: | est: expected an "
                         "estimate"),
])
def test_a_claim_that_cannot_be_judged_fails_like_a_template_error(expr, message):
    with pytest.raises(ClaimError) as e:
        judge(expr)
    assert str(e.value).startswith(message) and "\n" not in str(e.value)
    assert isinstance(e.value, SectionError)


def test_summary():
    assert summary(judge("true", "false")) == "2 claims checked: 1 false"
    assert summary(judge("true")) == "1 claim checked: all hold"
    assert summary([]) == "0 claims checked: none in the post"


# ---- the toy project: build, check, list

POST = "content/posts/toy.md"
CLAIM = "We drew as many points as the config asks for. <!-- claim: points.n == config.points.n -->"


def claim_line(root, text):
    return (root / POST).read_text().split("\n").index(text) + 1


@pytest.fixture
def root(tmp_path):
    root = make_project(tmp_path)
    assert main(["build", "--root", str(root), "--jobs", "1"]) == 0
    return root


def add_claim(root, expr):
    edit(root, POST, CLAIM, f"{CLAIM}\nThe mean is small. <!-- claim: {expr} -->")
    return claim_line(root, f"The mean is small. <!-- claim: {expr} -->")


def lock_values(root, stage):
    return read_lock(root / "figures.lock")["toy"][stage]["values"]


def test_the_toy_claims_hold_and_are_counted(root, capsys):
    assert main(["build", "--root", str(root), "--jobs", "1", "--force"]) == 0
    assert "2 claims checked: all hold" in capsys.readouterr().err  # the post's and the figure's
    assert main(["check", "--root", str(root)]) == 0
    assert "2 claims checked: all hold\nup to date" in capsys.readouterr().out
    assert main(["list", "--root", str(root)]) == 0
    assert "toy/claims  2 claims checked: all hold" in capsys.readouterr().out


def test_a_false_claim_fails_the_published_build_naming_file_line_and_values(root, capsys):
    line = add_claim(root, "points.mean_x < -100")
    before = lock_values(root, "points")["mean_x"]
    assert main(["build", "--root", str(root), "--jobs", "1"]) == 1
    err = capsys.readouterr().err
    assert (f"error: {POST}:{line}: claim false: points.mean_x < -100  "
            f"(points.mean_x = {before!r})") in err
    assert "error: 1 false claim(s); the published profile 'default' needs every claim" in err
    # nothing is remembered as good: the next build judges again, and fails again
    assert main(["build", "--root", str(root), "--jobs", "1"]) == 1
    assert f"{POST}:{line}: claim false" in capsys.readouterr().err


def test_an_override_that_makes_a_claim_false_fails_the_published_build(root, capsys):
    line = add_claim(root, "points.n >= 10")
    assert main(["build", "--root", str(root), "--jobs", "1"]) == 0
    assert main(["build", "--root", str(root), "--jobs", "1", "--set", "points.n=5"]) == 1
    assert f"{POST}:{line}: claim false: points.n >= 10  (points.n = 5)" in \
        capsys.readouterr().err


def test_a_draft_profile_only_warns(root, capsys):
    line = add_claim(root, "points.n >= 10")  # the fast profile draws 5 points
    assert main(["build", "--root", str(root), "--jobs", "1", "--profile", "fast"]) == 0
    err = capsys.readouterr().err
    assert f"warning: {POST}:{line}: claim false: points.n >= 10  (points.n = 5)" in err
    assert "3 claims checked: 1 false" in err
    assert main(["build", "--root", str(root), "--jobs", "1", "--profile", "fast"]) == 0
    assert f"warning: {POST}:{line}" in capsys.readouterr().err  # said again, every build


def test_check_judges_the_claims_from_the_lock_without_running_anything(root, capsys):
    line = add_claim(root, "points.n > 20")
    assert main(["check", "--root", str(root)]) == 1
    out, err = capsys.readouterr()
    assert f"{POST}:{line}: claim false: points.n > 20  (points.n = 20)" in out
    assert "3 claims checked: 1 false" in out and "error: 1 false claim(s)" in err
    assert " ran " not in err and "stale" not in out
    assert main(["list", "--root", str(root)]) == 0
    out = capsys.readouterr().out
    assert f"toy/claims  3 claims checked: 1 false\n  {POST}:{line}: claim false" in out


@pytest.mark.parametrize("claim, message", [
    ("<!-- claim: points.nn > 1 -->", "undefined value in claim points.nn > 1"),
    ("<!-- claim: points.n > -->", "claim syntax error"),
    ("<!-- claim points.n > 1 -->", "malformed claim"),
])
def test_a_bad_claim_fails_with_file_line_and_leaves_the_post_untouched(root, capsys, claim,
                                                                       message):
    edit(root, "toy/templates/results.md.j2", "We drew", "We sampled")  # the region would change
    edit(root, POST, CLAIM, f"{CLAIM}\nBad. {claim}")
    line = claim_line(root, f"Bad. {claim}")
    md = (root / POST).read_bytes()
    assert main(["build", "--root", str(root), "--jobs", "1"]) == 1
    err = capsys.readouterr().err
    assert f"error: {POST}:{line}: " in err and message in err
    assert (root / POST).read_bytes() == md
    assert main(["check", "--root", str(root)]) == 1
    assert f"error: {POST}:{line}: " in capsys.readouterr().err


def test_claims_and_markers_in_code_blocks_are_ignored(root):
    md = (root / POST).read_text()
    assert "```markdown\n<!-- generated:begin results -->\n<!-- claim: shown, not" in md
    assert "\n    <!-- generated:end results -->\n" in md  # an indented code block
    assert "We drew 20 points" in md  # the real region after them was rendered


def test_a_false_figure_claim_names_the_stage_module_line(root, capsys):
    stages = root / "toy/stages.py"
    edit(root, "toy/stages.py", '"scatter.count == points.n"', '"scatter.count > points.n"')
    line = stages.read_text().split("\n").index(
        '                                      claims=("scatter.count > points.n",))})') + 1
    statuses = build(root, jobs=1, profile="fast")  # a draft: a warning
    assert set(statuses.values()) <= {"skipped", "ran", "restored"}
    assert f"warning: toy/stages.py:{line}: claim false: scatter.count > points.n  " \
           "(scatter.count = 5, points.n = 5)" in capsys.readouterr().err
    with pytest.raises(ClaimFalseError):
        build(root, jobs=1)
    assert f"error: toy/stages.py:{line}: claim false" in capsys.readouterr().err

