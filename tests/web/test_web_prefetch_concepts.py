"""What the HER2, breast cancer and performance status modules read, the prefetch asks for: every
LOINC code of their Observation value sets, and every pathology report category, in each
service's templates (the fetch queries are the same templates)."""

from __future__ import annotations

from urllib.parse import parse_qsl

import pytest

from cds_service.services import SERVICES
from cds_service.state.terminology import valueset

# The value sets state/her2.py and state/status.py match Observation codes against.
OBSERVATION_VALUE_SETS = (
    "her2-test",
    "her2-ihc",
    "her2-ish",
    "her2-ish-ratio",
    "her2-ish-copy-number",
    "her2-ish-panel",
    "ecog",
    "karnofsky",
)


def _searched(template: str, parameter: str) -> set[str]:
    params = dict(parse_qsl(template.partition("?")[2]))
    return set(params.get(parameter, "").split(","))


@pytest.mark.parametrize("service", SERVICES, ids=[s.id for s in SERVICES])
def test_every_observation_code_read_is_requested(service) -> None:
    requested = _searched(service.prefetch["observations"], "code")
    read = {
        f"{system}|{code}"
        for vs_id in OBSERVATION_VALUE_SETS
        for system, code in valueset(vs_id).codes
        if system == "http://loinc.org"
    }
    assert read - requested == set()


@pytest.mark.parametrize("service", SERVICES, ids=[s.id for s in SERVICES])
def test_pathology_reports_are_requested(service) -> None:
    requested = _searched(service.prefetch["diagnosticReports"], "category")
    read = {f"{system}|{code}" for system, code in valueset("pathology-report").codes}
    assert read - requested == set()


def test_serum_her2_is_not_requested() -> None:
    requested = _searched(SERVICES[0].prefetch["observations"], "code")
    serum = {f"{s}|{c}" for s, c in valueset("her2-serum").codes}
    assert serum & requested == set()
