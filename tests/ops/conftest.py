"""The `services` fixture: services a test starts are stopped afterwards, whatever happens."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from service_process import ServiceProcess


@pytest.fixture
def services() -> Iterator[list[ServiceProcess]]:
    """Started services are appended here by the test and stopped afterwards, whatever happens."""
    started: list[ServiceProcess] = []
    yield started
    for service in started:
        service.stop()
