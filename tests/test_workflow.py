"""The GitHub Actions workflow: it parses, calls only real make targets, publishes to Pages."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.y*ml"))
SITE_WORKFLOW = REPO / ".github" / "workflows" / "site.yml"


def make_targets() -> set[str]:
    text = (REPO / "Makefile").read_text()
    return set(re.findall(r"^([a-z][a-z0-9_-]*):(?!=)", text, re.M))


def make_calls(run: str) -> list[str]:
    return re.findall(r"\bmake\s+([a-z][a-z0-9_-]*)", run)


def load(path: Path) -> dict:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict), f"{path.name} is not a YAML mapping"
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as True
    return data


def steps(job: dict) -> list[dict]:
    return job.get("steps", [])


@pytest.fixture(scope="module")
def workflow() -> dict:
    return load(SITE_WORKFLOW)


def test_workflows_parse_and_call_existing_make_targets():
    assert WORKFLOWS, "no workflow under .github/workflows/"
    targets = make_targets()
    for path in WORKFLOWS:
        for name, job in load(path)["jobs"].items():
            for step in steps(job):
                for target in make_calls(step.get("run", "")):
                    assert target in targets, f"{path.name}:{name} calls unknown `make {target}`"


def test_rebuilds_on_every_push(workflow):
    trigger = workflow["on"]
    assert "push" in trigger
    push = trigger["push"] if isinstance(trigger, dict) else None
    assert not push or not (push.get("branches") or push.get("paths")), "every push, every branch"


def test_build_job_runs_the_pipeline_in_order(workflow):
    build = workflow["jobs"]["build"]
    calls = [t for step in steps(build) for t in make_calls(step.get("run", ""))]
    wanted = ["setup", "figures", "check", "site", "test"]
    assert [c for c in calls if c in wanted] == wanted, calls
    env = build.get("env", {})
    assert str(env.get("CI")).lower() == "true", "browser tests must fail, not skip, in CI"
    assert env.get("PROFILE", "default") == "default"


def _cache_steps(job: dict) -> list[dict]:
    return [s for s in steps(job) if str(s.get("uses", "")).startswith("actions/cache@")]


def test_caches_pip_and_the_figures_cache(workflow):
    caches = _cache_steps(workflow["jobs"]["build"])
    figures = [s["with"] for s in caches if s["with"]["path"].strip() in {".cache", ".cache/"}]
    assert figures and "hashFiles('figures.lock')" in figures[0]["key"]
    pip_dir = workflow["jobs"]["build"]["env"].get("PIP_CACHE_DIR", "~/.cache/pip")
    pip = [s["with"] for s in caches if s["with"]["path"].strip() == pip_dir]
    assert pip and "hashFiles('requirements.txt')" in pip[0]["key"]


def test_pages_upload_and_deploy(workflow):
    jobs = workflow["jobs"]
    upload = [s for s in steps(jobs["build"]) if "upload-pages-artifact" in s.get("uses", "")]
    assert upload and upload[0]["with"]["path"] == "public"
    assert "refs/heads/main" in upload[0].get("if", "")

    deploy = jobs["deploy"]
    assert deploy["needs"] == "build" or "build" in deploy["needs"]
    assert "refs/heads/main" in deploy.get("if", ""), "publish from main only"
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert deploy["environment"]["name"] == "github-pages"
    assert any("actions/deploy-pages@" in s.get("uses", "") for s in steps(deploy))
    assert workflow["permissions"] == {"contents": "read"}, "least privilege by default"


def test_ci_entry_runs_the_readme_test_command():
    run = (REPO / ".ci" / "run").read_text()
    assert "make test" in run
    assert {"site", "test", "browser"} <= make_targets()
