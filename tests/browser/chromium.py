"""Debian's headless Chromium driven by Playwright (never a downloaded browser build)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM = Path(os.environ.get("CDS_CHROMIUM", "/usr/bin/chromium"))
# No network but 127.0.0.1: no updates, sync, or first-run traffic from the browser itself.
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def unavailable() -> str | None:
    """Why the browser can't be driven here, or None when it can."""
    if not CHROMIUM.is_file():
        return f"{CHROMIUM} not installed (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright not installed (pip install playwright==1.65.2)"
    return None


@contextmanager
def chromium() -> Iterator[Any]:
    """A launched headless Chromium (a Playwright Browser)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=ARGS, headless=True
        )
        try:
            yield browser
        finally:
            browser.close()
