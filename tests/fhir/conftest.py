"""Fixtures for the FHIR fetch tests: settings and a mocked EHR FHIR server."""

from __future__ import annotations

import pytest
import responses
from fhir_fakes import make_settings

from cds_service.config import Settings


@pytest.fixture
def settings() -> Settings:
    return make_settings()


@pytest.fixture
def ehr():
    """A mocked EHR; any request to an unregistered URL fails the test's expectations."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock
