"""Fixtures for the patient-state tests (helpers live in tests/state/support.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from cds_service.state.model import PatientState
from tests.state.support import FIXTURES, load_bundle, state_of


@pytest.fixture
def fixture_state() -> Callable[..., PatientState]:
    """fixture_state("scenarios/01-rechallenge-after-srs") -> the derived PatientState."""

    def build(name: str, **kwargs: Any) -> PatientState:
        return state_of(load_bundle(FIXTURES / f"{name}.json"), **kwargs)

    return build
