"""Shared pytest fixtures. Keep each one small; helpers live in their own modules."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from site_helpers import SiteBuild, build, serve

# Debian's chromium (`make browser`); SITE_TEST_CHROMIUM overrides the path (tests of the skip).
CHROMIUM = Path(os.environ.get("SITE_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def site_build(tmp_path_factory: pytest.TempPathFactory, fast_post) -> SiteBuild:
    """The site built from the real post, regenerated from code with the fast profile."""
    assert fast_post.result.returncode == 0, fast_post.result.stderr[-3000:]
    return build(fast_post.root, tmp_path_factory.mktemp("site"), placeholders=False)


@pytest.fixture(scope="session")
def site_url(site_build: SiteBuild):
    """Base URL (ending in /) of the built site, served on 127.0.0.1."""
    with serve(site_build.public) as url:
        yield url


@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium driven by Playwright; skips on a laptop without it, fails in CI."""
    if not CHROMIUM.is_file() or not shutil.which(str(CHROMIUM)):
        reason = f"{CHROMIUM} not found: run `make browser` (apt-get install chromium)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true and {reason}", pytrace=False)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@dataclass
class FastPost:
    root: Path  # a copy of the project, built with the fast profile
    result: subprocess.CompletedProcess


@pytest.fixture(scope="session")
def fast_post(tmp_path_factory: pytest.TempPathFactory) -> FastPost:
    """The real post built from scratch with the fast profile, in a copy of the project.

    SITE_TEST_PROJECT=DIR reuses a copy already built there (to iterate on the site and browser
    tests without rebuilding the post); it is only read: the site is built from a copy of it."""
    from post_helpers import copy_project, pipeline

    if prebuilt := os.environ.get("SITE_TEST_PROJECT"):
        root = Path(prebuilt)
        if not (root / "figures.lock").is_file():
            pytest.fail(f"SITE_TEST_PROJECT={prebuilt}: no built project there", pytrace=False)
        return FastPost(root, subprocess.CompletedProcess(["prebuilt"], 0, "", ""))
    root = copy_project(tmp_path_factory.mktemp("post") / "project")
    return FastPost(root, pipeline(root, "build", "--profile", "fast"))
