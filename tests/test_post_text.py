"""The post's hand-written text: its structure, its notation, its references, its code excerpts.

These read content/posts/generative-models.md (and the templates of the regions whose sentences
print config values); nothing is built. The text inside the other generated regions is written by
the templates of blog/templates/ and judged by their own tests.
"""

from __future__ import annotations

import copy
import re
import tomllib
from pathlib import Path

import pytest

from figures_pipeline.sections import find_regions, make_environment, render_template

REPO = Path(__file__).resolve().parents[1]
POST = REPO / "content" / "posts" / "generative-models.md"
SEED = sorted((REPO.parent / "shared" / "seed").glob("*.txt")) or sorted(
    Path("/work/shared/seed").glob("*.txt"))
TEMPLATES = REPO / "blog" / "templates"

TEXT = POST.read_text(encoding="utf-8")
FRONT, BODY = re.match(r"(\+\+\+\n.*?\n\+\+\+\n)(.*)", TEXT, re.S).groups()


def hand_written(text: str = TEXT) -> str:
    """The post without the bodies of its generated regions (the marker lines stay)."""
    out, last = [], 0
    for region in find_regions(text, str(POST)):
        out.append(text[last:region.start])
        last = region.stop
    return "".join(out) + text[last:]


def headings(text: str = BODY) -> list[tuple[int, str]]:
    """(level, title) of every ATX heading outside fenced code."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    return [(len(m.group(1)), m.group(2).strip())
            for m in re.finditer(r"^(#{1,6}) (.+)$", text, re.M)]


def references(text: str = BODY) -> dict[int, str]:
    """Reference number -> its entry line, from the `<a id="n">[n]</a> ...` lines."""
    return {int(m.group(1)): m.group(0)
            for m in re.finditer(r'^<a id="(\d+)">\[\1\]</a> .*$', text, re.M)}


# -- structure -----------------------------------------------------------------------------------


def test_headings_go_from_h2_to_h3_without_skipping_and_are_unique():
    levels = headings()
    assert levels and levels[0][0] == 2, "the first heading is an h2 (the title is the h1)"
    for (prev, _), (level, title) in zip(levels, levels[1:], strict=False):
        assert level in (2, 3), f"only ## and ### in the post: {title!r}"
        assert level <= prev + 1, f"{title!r} skips a level"
    titles = [t for _, t in levels]
    assert len(titles) == len(set(titles)), "two headings would share an anchor"


@pytest.mark.parametrize("title", ["Langevin dynamics", "Denoising score matching",
                                   "The SDE view", "DDIM and Heun's method", "Tweedie's formula",
                                   "From the ELBO to the simple loss", "Two noise conventions"])
def test_the_table_of_contents_reaches_each_topic(title):
    assert (3, title) in headings(), f"### {title} (a TOC entry a reader can jump to)"


def test_the_seeds_front_matter_headings_images_and_references_stay():
    assert SEED, "the author's seed post is missing"
    seed = SEED[0].read_text(encoding="utf-8")
    seed_front = re.match(r"(\+\+\+\n.*?\n\+\+\+\n)", seed, re.S).group(1)
    assert FRONT == seed_front, "the front matter is the author's"
    renamed = {"Diffusion as VAE": "Diffusion as a VAE"}  # the one rename the issue asks for
    for _, title in headings(seed):
        assert renamed.get(title, title) in [t for _, t in headings()], title
    for image in ("density_evo.gif", "DDPM.png"):
        assert image in TEXT
    seed_urls = re.findall(r"https?://\S+?(?=\.?$)", "\n".join(
        line for line in seed.splitlines() if line.startswith("<a id=")), re.M)
    assert len(seed_urls) == 4
    for url in seed_urls:
        assert url in BODY, f"the author's reference {url} stays"


def test_a_notation_box_opens_the_post_before_the_first_section():
    first_h2 = BODY.index("\n## ")
    box = re.search(r"<details[^>]*>\s*<summary>Notation</summary>\n\n(.*?)\n\n</details>",
                    BODY, re.S)
    assert box and box.start() < first_h2, "a <details> Notation box above the first section"
    rows = [line for line in box.group(1).splitlines() if line.startswith("| $")]
    assert len(rows) >= 10
    table = box.group(1)
    for symbol in (r"\kappa^2", r"\gamma_k", r"\tilde\beta_t", r"\sigma_t^2", r"\epsilon_\theta",
                   r"s_\theta(x, \sigma)", r"\ell_{\text{ELBO}}", r"\bar B_\tau"):
        assert symbol in table, f"the notation box defines {symbol}"


# -- one notation --------------------------------------------------------------------------------

# Symbols of the old text that now mean something else or were renamed (preamble's notation).
RETIRED = {
    r"3s\b": "the off-mode radius is 3w",
    r"\$s\$": "the mode width is w",
    r"s\^2 I": "the mode variance is w^2",
    r"r_k\(": "responsibilities are gamma_k",
    r"\\mathcal\{L\}": "objectives are ell with a subscript",
    r"L_\{\\text\{simple\}\}": "the DDPM loss is ell_simple",
    r"\\sigma_\\theta|\\sigma_\\phi|\\mu_\\phi|\\mu_\\theta\(z\)": "the VAE uses m, v, g, kappa",
    r"\bz_i\b|\\eta\}\{2\}": "Langevin noise is epsilon_j, its step alpha",
    r"radius[^.$]*\$r\b|\br \\begin\{pmatrix\}": "the radius is R",
}


@pytest.mark.parametrize("pattern", sorted(RETIRED))
def test_the_hand_written_text_uses_the_posts_notation(pattern):
    hits = [line for line in hand_written().splitlines() if re.search(pattern, line)]
    assert not hits, f"{RETIRED[pattern]}: {hits[0][:120]!r}"


def test_every_display_equation_is_balanced():
    assert BODY.count("$$") % 2 == 0
    for block in re.findall(r"\$\$(.*?)\$\$", BODY, re.S):
        assert block.count("{") == block.count("}"), block[:80]
        assert block.count(r"\left") == block.count(r"\right"), block[:80]


# -- references ----------------------------------------------------------------------------------


def test_references_are_numbered_in_order_and_share_one_format():
    refs = references()
    assert sorted(refs) == list(range(1, len(refs) + 1))
    one_format = re.compile(
        r'^<a id="\d+">\[\d+\]</a> '
        r"[A-ZÀ-Ý][^,()]+, [A-Z]\.[^()]*"  # Surname, I. (and more authors)
        r"\((\d{4})\)\. "  # (Year).
        r"[^ ].*\. "  # Title. Venue.
        r"https?://\S+[^.]$"  # URL, no trailing full stop
    )
    for n, entry in refs.items():
        assert one_format.match(entry), f"[{n}] is not 'Surname, I. (Year). Title. Venue. URL'"


def test_every_citation_resolves_and_every_reference_is_cited():
    refs = references()
    prose = BODY.split("\n## References", 1)[0]
    cited = {int(n) for n in re.findall(r"\]\(#(\d+)\)", prose)}
    for a, b in re.findall(r"\(#(\d+)\) - \[\d+\\\]\]\(#(\d+)\)", prose):  # [\[1](#1) - [4\]](#4)
        cited |= set(range(int(a), int(b) + 1))
    assert cited <= set(refs), f"citations without a reference: {sorted(cited - set(refs))}"
    assert set(refs) <= cited, f"references never cited: {sorted(set(refs) - cited)}"


@pytest.mark.parametrize("author", ["Sohl-Dickstein", "Hyvärinen", "Anderson", "Gretton",
                                    "Nichol", "Karras", "Luo", "Lipman", "Efron"])
def test_the_references_the_issue_asks_for_are_listed(author):
    assert any(entry.split("</a> ", 1)[1].startswith(author) or f", {author}" in entry
               for entry in references().values()), author


# -- code excerpts -------------------------------------------------------------------------------

EXCERPT = re.compile(r'\{\{< excerpt file="([^"]+)" name="([^"]+)" >\}\}')


def test_the_post_shows_the_losses_and_the_samplers():
    names = {name for _, name in EXCERPT.findall(BODY)}
    assert {"elbo", "dsm-loss", "ddpm-loss", "annealed-langevin", "p-sample", "ddim-step"} <= names


@pytest.mark.parametrize(("file", "name"), EXCERPT.findall(BODY))
def test_each_excerpt_names_one_short_marked_block(file, name):
    lines = (REPO / file).read_text(encoding="utf-8").splitlines()
    starts = [i for i, line in enumerate(lines) if line.strip() == f"# excerpt: {name}"]
    assert len(starts) == 1, f"{file}: '# excerpt: {name}' must appear exactly once"
    end = next(i for i in range(starts[0], len(lines)) if lines[i].strip() == "# end excerpt")
    assert 5 <= end - starts[0] - 1 <= 16, f"{file}:{starts[0] + 1}: keep excerpts short"


# -- sentences that print config values ----------------------------------------------------------

CONFIG = tomllib.loads((REPO / "blog" / "post.toml").read_text(encoding="utf-8"))
CONFIG.pop("profiles", None)


def render(region: str, **changes: dict) -> str:
    config = copy.deepcopy(CONFIG)
    for table, values in changes.items():
        config[table].update(values)
    source = (TEMPLATES / f"{region}.md.j2").read_text(encoding="utf-8")
    return render_template(make_environment({}), source, {"config": config}, region)


def test_the_langevin_count_and_the_final_denoising_step_come_from_the_config():
    text = render("langevin-steps")
    s = CONFIG["score"]
    assert f"$M = {s['n_steps_each']:,}$" in text and f"$L = {s['n_sigmas']}$" in text
    assert f"{s['n_sigmas'] * s['n_steps_each'] + 1:,} evaluations" in text
    assert "Tweedie" in text
    plain = render("langevin-steps", score={"denoise": False, "n_steps_each": 7})
    assert "$M = 7$" in plain and "Tweedie" not in plain


def test_the_decoder_variance_sentence_follows_the_config():
    fixed = render("vae-decoder", vae={"decoder_std": 0.2})
    assert r"\kappa^2 = 0.04" in fixed and "width of one mode" not in fixed
    learned = render("vae-decoder", vae={"decoder_std": 0.0})
    assert "learned" in learned and r"\kappa^2(z)" in learned


@pytest.mark.parametrize(("ddpm", "says"), [
    ({}, "preconditioned"),
    ({"prediction": "eps", "t_sampling": "uniform"}, "exactly this loss"),
    ({"prediction": "eps", "t_sampling": "lognormal"}, "weights dropped"),
])
def test_the_ddpm_training_sentence_follows_the_config(ddpm, says):
    assert says in render("ddpm-training", ddpm=ddpm)


def test_the_new_regions_are_in_the_post_in_reading_order():
    names = [r.name for r in find_regions(TEXT, str(POST))]
    for earlier, later in (("vae-decoder", "vae"), ("ddpm-training", "reverse"),
                           ("langevin-steps", "score")):
        assert names.index(earlier) < names.index(later)
