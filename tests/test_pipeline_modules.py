"""The engine's modules: each with one job, small, importable on its own (no import cycle), and
`figures_pipeline.engine` still offering the names the CLI and the tests use."""

import subprocess
import sys
from pathlib import Path

import pytest

import figures_pipeline

ENGINE = Path(figures_pipeline.__file__).parent
SPLIT = ("engine", "planning", "execution", "fingerprint", "values", "regions", "verdicts",
         "errors", "watch", "live", "status", "preview")
MAX_LINES = 400  # past this, a module has grown a second job: split it where a seam shows


def test_engine_keeps_its_entry_points():
    from figures_pipeline import engine

    for name in ("build", "check", "states", "clean", "claim_verdicts", "BuildOptions",
                 "StageFailedError", "StaleError", "PublishError", "os_reason", "plan_post"):
        assert hasattr(engine, name), name


@pytest.mark.parametrize("module", SPLIT)
def test_each_module_is_small(module):
    lines = (ENGINE / f"{module}.py").read_text().count("\n")
    assert lines <= MAX_LINES, f"figures_pipeline/{module}.py has {lines} lines"


def test_each_module_imports_alone():
    code = "; ".join(f"import figures_pipeline.{m}" for m in SPLIT)
    for m in SPLIT:  # a fresh interpreter per module: a cycle shows whichever comes first
        result = subprocess.run([sys.executable, "-c", f"import figures_pipeline.{m}"],
                                capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
