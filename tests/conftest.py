"""Shared pytest fixtures. Keep each one small; helpers live in their own modules."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from site_helpers import REPO, SiteBuild, build, serve

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
def site_build(tmp_path_factory: pytest.TempPathFactory) -> SiteBuild:
    """The site built from a copy of the repository (placeholders only for missing figures)."""
    return build(REPO, tmp_path_factory.mktemp("site"), placeholders=True)


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
