"""figures_pipeline.stages (declarations, graph) and figures_pipeline.codehash (static deps)."""

import pytest
from pipeline_toy.harness import make_files

from figures_pipeline.codehash import Analyzer
from figures_pipeline.stages import REGISTRY, DeclarationError, Figure, Graph, stage


@pytest.fixture(autouse=True)
def _clean_registry():
    saved = dict(REGISTRY)
    yield
    REGISTRY.clear()
    REGISTRY.update(saved)


def declare(name, fn_name="f", **kw):
    def fn(ctx):
        return {}

    fn.__name__ = fn.__qualname__ = fn_name
    fn.__module__ = "tests_decl"
    return stage(name, **kw)(fn).__stage__


def test_declaration_is_plain_data():
    st = declare("a", config=["seed", "ddpm"], after=["b"], data=["blog/x.csv"],
                 outputs={"x.png": Figure(alt="X", caption="cap"), "y.txt": None},
                 artifacts=["w.pt"])
    assert st.declaration() == {
        "name": "a", "config": ["ddpm", "seed"], "after": ["b"], "data": ["blog/x.csv"],
        "outputs": ["x.png", "y.txt"], "artifacts": ["w.pt"], "figures": {"x.png": ["X", "cap"]}}


@pytest.mark.parametrize("kw, message", [
    ({"outputs": ["../x.png"]}, "leaves its folder"),
    ({"outputs": ["/etc/x.png"]}, "is absolute"),
    ({"artifacts": ["a b.pt"]}, "may use only letters"),
    ({"data": ["x.csv", "x.csv"]}, "lists 'x.csv' twice"),
    ({"after": ["a"]}, "cannot come after itself"),
    ({"outputs": {"x.png": "alt"}}, "must be a Figure"),
])
def test_bad_declarations(kw, message):
    with pytest.raises(DeclarationError, match=message):
        declare("a", **kw)


def test_duplicate_name_is_refused():
    declare("a", "f")
    declare("a", "f")  # the same function declared again (a re-import) is fine
    with pytest.raises(DeclarationError, match="duplicate stage name 'a'"):
        declare("a", "g")


def test_graph_cycles_and_unknown_upstreams():
    a, b, c = declare("a", "fa", after=["c"]), declare("b", "fb", after=["a"]), \
        declare("c", "fc", after=["b"])
    with pytest.raises(DeclarationError, match="stage cycle: a -> c -> b -> a"):
        Graph([a, b, c])
    with pytest.raises(DeclarationError, match="unknown stage 'bb' \\(did you mean 'b'"):
        Graph([declare("d", "fd", after=["bb"]), declare("b2", "fb2")] + [b, a])
    g = Graph([declare("x", "fx"), declare("y", "fy", after=["x"]),
               declare("z", "fz", after=["y"])])
    assert g.order == ["x", "y", "z"] and g.downstream("x") == {"y", "z"}
    assert g.upstream_closure(["y"]) == {"x", "y"}


def test_two_stages_writing_one_output():
    with pytest.raises(DeclarationError, match="output 'o.png' is already written by"):
        Graph([declare("p", "fp", outputs=["o.png"]), declare("q", "fq", outputs=["o.png"])])


# ---- codehash ----

MOD = '''
import numpy as np
import pkg.util as util
from pkg import shapes
from pkg.consts import SCALE
from figures_pipeline import stage

K = 3


def helper(x):
    return shapes.square(x) * K


@stage()
def one(ctx):
    return helper(np.ones(2))


@stage()
def two(ctx):
    import torch
    from pkg import lazy
    return util.f() + SCALE


def three(ctx):
    return 1
'''


@pytest.fixture
def project(tmp_path):
    make_files(tmp_path, {
        "pkg/__init__.py": "", "pkg/stages.py": MOD, "pkg/util.py": "from pkg import deep\n",
        "pkg/deep.py": "import scipy\n", "pkg/shapes.py": "def square(x):\n    return x * x\n",
        "pkg/consts.py": "SCALE = 2\n", "pkg/lazy.py": "", "pkg/unused.py": "",
    })
    return tmp_path


def test_function_deps_are_static_and_precise(project):
    a = Analyzer(project)
    one = a.stage_deps("pkg.stages", "one")
    # the functions it reaches in imported modules, and what importing those modules runs
    assert set(one.units) == {"pkg/stages.py::one", "pkg/stages.py::helper", "pkg/stages.py::K",
                              "pkg/shapes.py::square", "pkg/shapes.py::<init>",
                              "pkg/__init__.py::<init>"}
    assert one.externals == {"numpy"}
    two = a.stage_deps("pkg.stages", "two")
    # util has no `f` that analysis can see: util counts whole, with what it imports
    assert set(two.units) == {"pkg/stages.py::two", "pkg/util.py", "pkg/deep.py",
                              "pkg/consts.py::SCALE", "pkg/consts.py::<init>",
                              "pkg/lazy.py::<init>", "pkg/__init__.py", "pkg/__init__.py::<init>"}
    assert two.externals == {"torch", "scipy"}
    assert set(a.stage_deps("pkg.stages", "three").units) == {"pkg/stages.py::three",
                                                              "pkg/__init__.py::<init>"}


def test_an_edit_to_a_function_a_stage_does_not_reach_leaves_its_key(project):
    shapes = project / "pkg/shapes.py"
    shapes.write_text(shapes.read_text() + "\n\ndef cube(x):\n    return x * x * x\n")
    before = Analyzer(project).stage_deps("pkg.stages", "one").units
    shapes.write_text(shapes.read_text().replace("x * x * x", "x ** 3"))
    assert Analyzer(project).stage_deps("pkg.stages", "one").units == before
    shapes.write_text(shapes.read_text().replace("return x * x\n", "return x ** 2\n"))
    after = Analyzer(project).stage_deps("pkg.stages", "one").units
    assert {u for u in after if after[u] != before[u]} == {"pkg/shapes.py::square"}


@pytest.mark.parametrize("shapes", [
    "def square(x):\n    return x * x\n\nfor n in ('a',):\n    REG[n] = square\n",  # registry
    "import functools\n\n@register\ndef square(x):\n    return x * x\n",    # unknown decorator
    "def square(x):\n    return globals()['cube'](x)\n\ndef cube(x):\n    return x\n",
    "def square(x):\n    return x * x\n\nsquare.cached = {}\n",       # an attribute assignment
])
def test_a_module_analysis_cannot_see_through_counts_whole(project, shapes):
    (project / "pkg/shapes.py").write_text(shapes + "\n\ndef other():\n    return 1\n")
    a = Analyzer(project)
    assert "pkg/shapes.py" in a.stage_deps("pkg.stages", "one").units
    assert a.why_whole(a.find("pkg.shapes"))


def test_a_module_used_as_a_value_counts_whole(project):
    stages = project / "pkg/stages.py"
    stages.write_text(stages.read_text().replace("shapes.square(x)",
                                                 "getattr(shapes, 'square')(x)"))
    assert "pkg/shapes.py" in Analyzer(project).stage_deps("pkg.stages", "one").units


def test_hashes_ignore_comments_but_not_code(project):
    before = Analyzer(project).stage_deps("pkg.stages", "one").units
    stages = project / "pkg/stages.py"
    stages.write_text(stages.read_text().replace("K = 3", "K = 3  # a comment"))
    assert Analyzer(project).stage_deps("pkg.stages", "one").units == before
    stages.write_text(stages.read_text().replace("return 1", "return 2"))
    assert Analyzer(project).stage_deps("pkg.stages", "one").units == before
    stages.write_text(stages.read_text().replace("K = 3", "K = 4"))
    assert Analyzer(project).stage_deps("pkg.stages", "one").units != before


def test_an_unchanged_file_is_parsed_once_but_sees_modules_added_since(project):
    """A preview replans on every save: a file whose bytes did not change keeps its parse, but
    what its imports resolve to is found again (a module file may have appeared)."""
    stages = project / "pkg/stages.py"
    stages.write_text("from pkg import extra\n" + stages.read_text().replace(
        "return shapes.square(x) * K", "return shapes.square(x) * K * extra.X"))
    first = Analyzer(project)
    assert not any(u.startswith("pkg/extra.py") for u in
                   first.stage_deps("pkg.stages", "one").units)
    (project / "pkg/extra.py").write_text("X = 1\n")
    second = Analyzer(project)
    assert any(u.startswith("pkg/extra.py") for u in second.stage_deps("pkg.stages", "one").units)
    assert second.find("pkg.stages").tree is first.find("pkg.stages").tree  # parsed once
    stages.write_text(stages.read_text() + "\nY = 2\n")
    assert Analyzer(project).find("pkg.stages").tree is not first.find("pkg.stages").tree
