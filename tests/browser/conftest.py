"""Headless Chromium for browser tests; skipped, with the reason, where it can't be had."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.chromium import chromium, unavailable


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    reason = unavailable()
    if reason:
        pytest.skip(f"browser tests need headless Chromium: {reason}")
    with chromium() as launched:
        yield launched
