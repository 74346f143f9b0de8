"""fetch_missing against a real FHIR server on 127.0.0.1: searches, code filters, paging, tokens."""

from __future__ import annotations

import pytest

from cds_service.config import Settings
from cds_service.fhir.fetch import fetch_missing

pytestmark = pytest.mark.integration

SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
# Codes from the project's terminology reference, all marked VERIFIED there.
BREAST_CANCER = "254837009"
BRAIN_METASTASIS = "94225005"
HER2_INTERPRETATION = "48676-1"
HER2_IHC = "85319-2"
ESTROGEN_RECEPTOR = "85337-4"
HER2_RESULTS = 23  # more than one page at the server's default page size (20)


def _observation(oid: str, patient: str, code: str) -> dict:
    return {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "subject": {"reference": f"Patient/{patient}"},
        "code": {"coding": [{"system": LOINC, "code": code}]},
    }


def _condition(cid: str, patient: str, code: str) -> dict:
    return {
        "resourceType": "Condition",
        "id": cid,
        "subject": {"reference": f"Patient/{patient}"},
        "code": {"coding": [{"system": SNOMED, "code": code}]},
    }


def _bundle() -> dict:
    resources = [
        {
            "resourceType": "Patient",
            "id": "fetch-p1",
            "gender": "female",
            "birthDate": "1968-04-02",
        },
        {
            "resourceType": "Patient",
            "id": "fetch-p2",
            "gender": "female",
            "birthDate": "1971-09-30",
        },
        _condition("fetch-c1", "fetch-p1", BREAST_CANCER),
        _condition("fetch-c2", "fetch-p1", BRAIN_METASTASIS),
        _condition("fetch-c3", "fetch-p2", BREAST_CANCER),
        _observation("fetch-er", "fetch-p1", ESTROGEN_RECEPTOR),
        _observation("fetch-other", "fetch-p2", HER2_IHC),
    ]
    resources += [
        _observation(f"fetch-her2-{i:02d}", "fetch-p1", (HER2_IHC, HER2_INTERPRETATION)[i % 2])
        for i in range(HER2_RESULTS)
    ]
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": r} for r in resources],
    }


QUERIES = {
    "patient": "Patient/fetch-p1",
    "conditions": "Condition?patient=fetch-p1",
    "her2": f"Observation?patient=fetch-p1&code={LOINC}|{HER2_IHC},{LOINC}|{HER2_INTERPRETATION}",
}


@pytest.fixture(scope="module")
def loaded(fhir_server):
    fhir_server.load(_bundle())
    return fhir_server


def _settings(base_url: str, **overrides: object) -> Settings:
    return Settings(
        fhir_dev_servers=(base_url,),
        fhir_deadline=10.0,
        fhir_read_timeout=5.0,
        fhir_connect_timeout=2.0,
        **overrides,
    )  # type: ignore[arg-type]


def test_fetch_from_a_real_server(loaded) -> None:
    result = fetch_missing(
        fhir_server=loaded.base_url,
        fhir_authorization={"access_token": loaded.token, "token_type": "Bearer"},
        queries=QUERIES,
        settings=_settings(loaded.base_url),
    )
    assert {k: v.error for k, v in result.items()} == {k: None for k in QUERIES}
    assert [r["id"] for r in result["patient"].resources] == ["fetch-p1"]
    assert sorted(r["id"] for r in result["conditions"].resources) == ["fetch-c1", "fetch-c2"]
    # Two pages, only this patient's HER2 results, not the ER result.
    her2 = sorted(r["id"] for r in result["her2"].resources)
    assert her2 == [f"fetch-her2-{i:02d}" for i in range(HER2_RESULTS)]


def test_page_cap_against_a_real_server(loaded) -> None:
    result = fetch_missing(
        fhir_server=loaded.base_url,
        fhir_authorization={"access_token": loaded.token},
        queries={"her2": QUERIES["her2"]},
        settings=_settings(loaded.base_url, fhir_page_cap=1),
    )
    assert result["her2"].error == (
        "Observation search: more than 1 pages of results; stopped (data incomplete)"
    )


def test_wrong_token_is_reported_not_leaked(loaded) -> None:
    wrong = "not-the-right-token-0123456789"
    result = fetch_missing(
        fhir_server=loaded.base_url,
        fhir_authorization={"access_token": wrong},
        queries={"conditions": QUERIES["conditions"]},
        settings=_settings(loaded.base_url),
    )
    error = result["conditions"].error
    assert error is not None
    assert error.startswith("Condition search: the FHIR server refused the access token (401)")
    assert wrong not in error and loaded.token not in error


def test_missing_resource_read(loaded) -> None:
    result = fetch_missing(
        fhir_server=loaded.base_url,
        fhir_authorization={"access_token": loaded.token},
        queries={"patient": "Patient/fetch-nobody"},
        settings=_settings(loaded.base_url),
    )
    error = result["patient"].error
    assert error is not None and error.startswith(
        "Patient read: not found on the FHIR server (404)"
    )
    assert "fetch-nobody" not in error
