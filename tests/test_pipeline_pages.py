"""figures_pipeline.pages: the slug rule, drafts and orphaned output folders, before Hugo runs."""

import pytest
from pipeline_toy.harness import build, cli, make_files, make_project

from figures_pipeline.pages import check_pages, front_matter


@pytest.mark.parametrize("text, meta", [
    ("+++\ntitle = 'A'\ndraft = true\n+++\nbody", {"title": "A", "draft": True}),
    ("---\ntitle: \"A\"\ndraft: true\nslug: b\n---\nbody", {"title": "A", "draft": True,
                                                            "slug": "b"}),
    ("no front matter\n", {}),
])
def test_front_matter(text, meta):
    assert front_matter(text) == meta


def add_front_matter(root, line):
    md = root / "content/posts/toy.md"
    md.write_text(md.read_text().replace("+++\n", "+++\n" + line + "\n", 1))


def test_a_matching_page_has_no_finding(tmp_path):
    assert check_pages(make_project(tmp_path)) == []


@pytest.mark.parametrize("front, expected", [
    ("slug = 'toy-post'", "its page is /posts/toy-post/ but the post's key is 'toy'"),
    ("url = '/posts/other/'", "set slug = \"toy\" in its front matter"),
])
def test_a_page_whose_slug_is_not_the_key_fails_check(tmp_path, front, expected):
    root = make_project(tmp_path)
    build(root)
    add_front_matter(root, front)
    [finding] = check_pages(root)
    assert finding.level == "error" and expected in finding.message
    r = cli(root, "check")
    assert r.returncode == 1 and expected in r.stderr
    r = cli(root, "build")  # the figures are built; the page that cannot show them is an error
    assert r.returncode == 1 and expected in r.stderr


def test_a_renamed_page_fails_and_its_fix_is_named(tmp_path):
    root = make_project(tmp_path)
    (root / "content/posts/toy.md").rename(root / "content/posts/toy-post.md")
    (root / "figures.toml").write_text((root / "figures.toml").read_text().replace(
        "content/posts/toy.md", "content/posts/toy-post.md"))
    [finding] = check_pages(root)
    assert "rename the file to content/posts/toy.md" in finding.message


def test_a_draft_and_an_orphaned_folder_warn(tmp_path):
    root = make_project(tmp_path)
    add_front_matter(root, "draft = true")
    make_files(root, {"static/posts/old-name/a.png": "x"})
    found = check_pages(root)
    assert [f.level for f in found] == ["warning", "warning"]
    assert "draft = true: Hugo leaves the page out" in found[0].message
    assert "static/posts/old-name/: no post 'old-name'" in found[1].message
    assert "git rm -r static/posts/old-name" in found[1].message
