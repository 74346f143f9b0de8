"""Prefetch resolution: what the engine is given, what is fetched, what is reported unavailable."""

from __future__ import annotations

from datetime import date

import pytest
from hook_requests import DRAFT_ORDER, PATIENT_ID, external, hook_request, searchset, service_url

import cds_service.fhir.prefetch as prefetch_module
from cds_service.config import Settings
from cds_service.engine import Engine
from cds_service.errors import FhirServerNotAllowed, PreconditionFailed
from cds_service.fhir.fetch import Fetched
from cds_service.fhir.prefetch import resolve
from cds_service.services import find_service
from cds_service.web.auth import Caller

SETTINGS = Settings(auth_enabled=False)
CALLER = Caller(iss=None)
ORDER_SELECT = find_service("her2-cns-order-select")
PATIENT_VIEW = find_service("her2-cns-patient-view")
# mCODE's example belongs to John Anyperson: re-homed to the request's patient, since resources
# of another patient are (rightly) skipped.
CONDITION = {
    **external("hl7-mcode-stu4/Condition-secondary-cancer-condition-brain-mets.json"),
    "subject": {"reference": f"Patient/{PATIENT_ID}"},
}


@pytest.fixture
def fetches(monkeypatch):
    """Stands in for the FHIR server: records the queries asked, answers each with `answers`."""
    asked: dict = {}
    answers: dict[str, Fetched] = {}

    def fake_fetch_missing(**kwargs):
        asked.update(kwargs)
        return {key: answers.get(key, Fetched(key, error="HTTP 500")) for key in kwargs["queries"]}

    monkeypatch.setattr(prefetch_module, "fetch_missing", fake_fetch_missing)
    return asked, answers


def test_a_full_prefetch_is_read_without_contacting_the_server(fetches):
    asked, _ = fetches
    request = hook_request("patient-view", fhirServer="https://ehr.example.org/fhir")
    request["prefetch"] = {key: None for key in PATIENT_VIEW.prefetch}
    request["prefetch"]["conditions"] = searchset(CONDITION)

    record = resolve(PATIENT_VIEW, request, SETTINGS, CALLER)

    assert [r["resourceType"] for r in record.documents] == ["Condition"]
    assert record.unavailable == frozenset()
    assert asked == {}


def test_missing_keys_are_fetched_with_the_patient_filled_in(fetches):
    asked, answers = fetches
    answers["conditions"] = Fetched("conditions", resources=(CONDITION,))
    answers["medicationRequests"] = Fetched("medicationRequests")
    request = hook_request("patient-view", fhirServer="https://ehr.example.org/fhir", prefetch={})

    record = resolve(
        PATIENT_VIEW,
        request,
        SETTINGS,
        Caller(iss="ehr", fhir_servers=("https://ehr.example.org",)),
    )

    assert asked["fhir_server"] == "https://ehr.example.org/fhir"
    assert asked["allowed_servers"] == ("https://ehr.example.org",)
    assert asked["queries"]["conditions"] == f"Condition?patient={PATIENT_ID}"
    assert asked["queries"]["patient"] == f"Patient/{PATIENT_ID}"
    assert set(asked["queries"]) == set(PATIENT_VIEW.prefetch)
    assert [r["id"] for r in record.documents] == [CONDITION["id"]]
    # What the server could not give (HTTP 500 here) is unknown, not "none recorded".
    assert "Procedure" in record.unavailable and "Condition" not in record.unavailable


def test_an_operation_outcome_in_prefetch_is_fetched_again(fetches):
    asked, answers = fetches
    answers["conditions"] = Fetched("conditions", resources=(CONDITION,))
    request = hook_request("patient-view", fhirServer="https://ehr.example.org/fhir")
    request["prefetch"]["conditions"] = external(
        "hl7-fhir-r4-examples/OperationOutcome-searchfail.json"
    )

    resolve(PATIENT_VIEW, request, SETTINGS, CALLER)

    assert "conditions" in asked["queries"]
    assert "medicationRequests" not in asked["queries"]  # a null is an answer


def test_required_data_the_server_cannot_give_is_412_naming_the_key_and_why(fetches):
    request = hook_request("patient-view", fhirServer="https://ehr.example.org/fhir", prefetch={})

    with pytest.raises(
        PreconditionFailed, match=r"conditions \(Condition\): fetch failed: HTTP 500"
    ):
        resolve(PATIENT_VIEW, request, SETTINGS, CALLER)


def test_a_server_off_the_allow_list_is_412_only_when_required_data_is_missing(monkeypatch):
    def not_allowed(**kwargs):
        raise FhirServerNotAllowed("not allowed")

    monkeypatch.setattr(prefetch_module, "fetch_missing", not_allowed)
    full = hook_request("patient-view", fhirServer="https://elsewhere.example.org")
    partial = hook_request("patient-view", fhirServer="https://elsewhere.example.org", prefetch={})

    assert "Procedure" in resolve(PATIENT_VIEW, full, SETTINGS, CALLER).unavailable
    with pytest.raises(FhirServerNotAllowed, match="conditions, medicationRequests"):
        resolve(PATIENT_VIEW, partial, SETTINGS, CALLER)


def test_user_tokens_are_filled_from_the_user_id():
    context = {"userId": "PractitionerRole/role-9", "patientId": "p1"}

    assert (
        prefetch_module.substitute("PractitionerRole?_id={{userPractitionerRoleId}}", context)
        == "PractitionerRole?_id=role-9"
    )
    assert prefetch_module.substitute("Practitioner/{{userPractitionerId}}", context) is None


def test_this_sessions_draft_orders_are_not_read_as_history():
    signed = {**DRAFT_ORDER, "id": "earlier-1", "status": "completed"}
    request = hook_request("order-select")
    # EHRs often return the draft in the MedicationRequest search as well.
    request["prefetch"]["medicationRequests"] = searchset(DRAFT_ORDER, signed)

    record = resolve(ORDER_SELECT, request, SETTINGS, CALLER)

    assert [r["id"] for r in record.of_type("MedicationRequest")] == ["earlier-1"]


def test_the_clock_override_sets_today_from_the_request(make_app, monkeypatch):
    seen: list[date] = []
    original = Engine.answer

    def spy(self, **kwargs):
        seen.append(kwargs["today"])
        return original(self, **kwargs)

    monkeypatch.setattr(Engine, "answer", spy)
    pinned = hook_request("patient-view", extension={"org.her2cns.asOfDate": "2025-03-01"})

    assert (
        make_app(clock_override=True)
        .test_client()
        .post(service_url("patient-view"), json=pinned)
        .status_code
        == 200
    )
    assert (
        make_app().test_client().post(service_url("patient-view"), json=pinned).status_code == 200
    )
    assert seen == [date(2025, 3, 1), date(2026, 11, 23)]  # honoured only when the override is on


def test_a_bad_as_of_date_is_named_when_the_override_is_on(make_app):
    request = hook_request("patient-view", extension={"org.her2cns.asOfDate": "next tuesday"})

    response = (
        make_app(clock_override=True).test_client().post(service_url("patient-view"), json=request)
    )

    assert response.status_code == 400
    assert response.get_json()["message"].startswith('extension["org.her2cns.asOfDate"]:')


def test_prefetch_resources_of_another_patient_are_skipped_and_reported(client, caplog):
    stranger = {
        "resourceType": "Condition",
        "id": "someone-else",
        "subject": {"reference": "Patient/another-patient"},
        "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "C79.31"}]},
    }
    own = dict(stranger, id="own", subject={"reference": f"Patient/{PATIENT_ID}"})
    request = hook_request(
        "patient-view",
        prefetch={"conditions": searchset(own, stranger), "medicationRequests": None},
    )
    with caplog.at_level("WARNING"):
        response = client.post(service_url("patient-view"), json=request)
    assert response.status_code == 200
    assert (
        "Condition/someone-else from conditions skipped: belongs to another patient" in caplog.text
    )
    assert "Condition/own" not in caplog.text


def _paginated(*resources: dict) -> dict:
    page = searchset(*resources)
    page["link"] = [{"relation": "next", "url": "https://ehr.example.org/fhir/Condition?page=2"}]
    return page


def test_paginated_prefetch_is_fetched_whole_from_the_fhir_server(fetches):
    asked, answers = fetches
    second = {**CONDITION, "id": "on-page-2"}
    answers["conditions"] = Fetched("conditions", resources=(CONDITION, second))
    request = hook_request("patient-view", fhirServer="https://ehr.example.org/fhir")
    request["prefetch"] = {key: None for key in PATIENT_VIEW.prefetch}
    request["prefetch"]["conditions"] = _paginated(CONDITION)

    record = resolve(
        PATIENT_VIEW,
        request,
        SETTINGS,
        Caller(iss="ehr", fhir_servers=("https://ehr.example.org",)),
    )

    assert list(asked["queries"]) == ["conditions"]
    assert sorted(r["id"] for r in record.of_type("Condition")) == sorted(
        [CONDITION["id"], "on-page-2"]
    )
    assert record.unavailable == frozenset()


def test_paginated_required_prefetch_without_a_server_is_412():
    request = hook_request("patient-view")
    request["prefetch"] = {key: None for key in PATIENT_VIEW.prefetch}
    request["prefetch"]["conditions"] = _paginated(CONDITION)

    with pytest.raises(PreconditionFailed, match="conditions"):
        resolve(PATIENT_VIEW, request, SETTINGS, CALLER)


def test_paginated_optional_prefetch_keeps_the_page_but_absence_is_unknown():
    observation = {
        "resourceType": "Observation",
        "id": "ecog",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "89247-1"}]},
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
        "valueInteger": 1,
    }
    request = hook_request("patient-view")
    request["prefetch"] = {key: None for key in PATIENT_VIEW.prefetch}
    request["prefetch"]["conditions"] = searchset(CONDITION)
    request["prefetch"]["observations"] = _paginated(observation)

    record = resolve(PATIENT_VIEW, request, SETTINGS, CALLER)

    assert [r["id"] for r in record.of_type("Observation")] == ["ecog"]
    assert record.unavailable == frozenset({"Observation"})


def test_the_412_for_a_disallowed_server_names_the_server(client):
    request = hook_request("patient-view", fhirServer="https://evil.example.org/fhir", prefetch={})
    response = client.post(service_url("patient-view"), json=request)
    assert response.status_code == 412
    message = response.get_json()["message"]
    assert "conditions, medicationRequests" in message
    assert "https://evil.example.org/fhir is not allowed" in message
