"""The CI workflow installs the CPU-only PyTorch build, the one figures.lock records (issue 12)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
CPU_INDEX = "https://download.pytorch.org/whl/cpu"


def setup_step() -> dict:
    wf = yaml.safe_load((REPO / ".github" / "workflows" / "site.yml").read_text())
    (step,) = [s for s in wf["jobs"]["build"]["steps"] if "make setup" in s.get("run", "")]
    return step


def test_setup_reads_pytorchs_cpu_index():
    env = setup_step().get("env", {})
    assert env.get("PIP_EXTRA_INDEX_URL") == CPU_INDEX or env.get("PIP_INDEX_URL") == CPU_INDEX


def test_the_pinned_torch_is_the_version_the_lock_records():
    pin = re.search(r"^torch==(\S+)", (REPO / "requirements.txt").read_text(), re.M).group(1)
    locked = set(re.findall(r'"torch": "([^"]+)"', (REPO / "figures.lock").read_text()))
    assert locked == {f"{pin}+cpu"}, (pin, locked)
