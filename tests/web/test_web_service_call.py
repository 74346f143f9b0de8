"""POST /cds-services/{id}: accepted requests, broken contracts, and what each gets back."""

from __future__ import annotations

import copy
import io
import logging
from pathlib import Path
from typing import Any

import orjson
import pytest
import responses
from hook_requests import (
    DRAFT_ORDER,
    SERVICE_FOR_HOOK,
    external,
    hook_request,
    searchset,
    service_url,
)

from cds_service.schemas import first_error, validator

REQUIRED_KEYS = ("conditions", "medicationRequests")


@pytest.fixture(autouse=True)
def no_network():
    """No test here may reach a real FHIR server: any outgoing request fails."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def assert_cards_response(response) -> None:
    assert response.status_code == 200, response.get_json()
    assert response.mimetype == "application/json"
    assert first_error(validator("cards-response"), response.get_json()) is None


def assert_names_missing_data(response) -> None:
    assert response.status_code == 412, response.get_json()
    body = response.get_json()
    assert body["error"] in {"prefetch-unavailable", "fhir-server-not-allowed"}
    assert all(key in body["message"] for key in REQUIRED_KEYS)


# --- accepted ---------------------------------------------------------------------------------


@pytest.mark.parametrize("hook", SERVICE_FOR_HOOK)
def test_a_request_with_every_required_key_gets_cards(client, hook):
    assert_cards_response(client.post(service_url(hook), json=hook_request(hook)))


@pytest.mark.parametrize(
    "example",
    [
        "cds-hooks-spec/patient-view-request.json",
        "cds-hooks-spec/order-select-radiology-request.json",
        "inferno-davinci-crd-test-kit/order_select_hook_request.json",
        "inferno-davinci-crd-test-kit/order_sign_hook_request.json",
        "inferno-davinci-crd-test-kit/order-select-request_complete-prefetch.json",
        "inferno-davinci-crd-test-kit/order-sign-request_complete-prefetch.json",
    ],
)
def test_peer_requests_without_our_prefetch_get_412_naming_the_data(client, example):
    # None of these carries our required keys, and their fhirServer is not one we may contact.
    request = external(example)

    assert_names_missing_data(client.post(service_url(request["hook"]), json=request))


@pytest.mark.parametrize(
    "example",
    [
        "cds-hooks-spec/patient-view-request.json",
        "cds-hooks-spec/order-select-radiology-request.json",
        "inferno-davinci-crd-test-kit/order_select_hook_request.json",
        "inferno-davinci-crd-test-kit/order_sign_hook_request.json",
        "inferno-davinci-crd-test-kit/order-select-request_complete-prefetch.json",
        "inferno-davinci-crd-test-kit/order-sign-request_complete-prefetch.json",
    ],
)
def test_peer_requests_get_cards_once_the_required_data_is_prefetched(client, example):
    request = external(example)
    request.setdefault("prefetch", {}).update(
        conditions=searchset(
            external("hl7-mcode-stu4/Condition-secondary-cancer-condition-brain-mets.json")
        ),
        medicationRequests=None,
    )

    assert_cards_response(client.post(service_url(request["hook"]), json=request))


@pytest.mark.parametrize(
    ("hook", "example"),
    [
        ("order-select", "cds-hooks-spec/order-select-context-r4.json"),
        ("order-sign", "cds-hooks-spec/order-sign-context-r4.json"),
    ],
)
def test_the_hook_librarys_example_contexts_are_accepted(client, hook, example):
    request = hook_request(hook, context=external(example)["context"])

    assert_cards_response(client.post(service_url(hook), json=request))


def test_hapis_request_is_rejected_for_what_it_lacks(client):
    # HAPI's fixture is a serialisation test: hook "Hook Name", no hookInstance.
    request = external("hapi-fhir-cds-hooks/CdsServiceRequestJson.json")
    url = "/cds-services/her2-cns-order-select"

    wrong_hook = client.post(url, json=request)
    no_instance = client.post(url, json={**request, "hook": "order-select"})

    assert (wrong_hook.status_code, no_instance.status_code) == (400, 400)
    assert wrong_hook.get_json()["message"].startswith("hook: 'Hook Name' does not match")
    assert no_instance.get_json()["message"].startswith("hookInstance:")


def hapi_request_made_valid() -> dict[str, Any]:
    """HAPI's request with its envelope repaired; its prefetch (a null among resources) kept."""
    request = external("hapi-fhir-cds-hooks/CdsServiceRequestJson.json")
    request["hook"] = "order-select"
    request["hookInstance"] = "f6a7f2f5-1c43-4c8f-9f6e-0d3b1c2a9e10"
    request["context"]["patientId"] = "123"
    request["context"]["userId"] = "Practitioner/example"
    request["context"]["selections"] = ["MedicationRequest/abc"]
    return request


def test_hapis_null_prefetch_with_our_keys_missing_gets_412(client):
    assert_names_missing_data(
        client.post("/cds-services/her2-cns-order-select", json=hapi_request_made_valid())
    )


def test_hapis_null_prefetch_is_no_data_not_missing(client):
    request = hapi_request_made_valid()
    request["prefetch"].update(conditions=None, medicationRequests=None)

    assert_cards_response(client.post("/cds-services/her2-cns-order-select", json=request))


def test_an_empty_searchset_and_a_null_both_mean_no_data(client):
    request = hook_request(
        "patient-view",
        prefetch={
            "conditions": {"resourceType": "Bundle", "type": "searchset"},
            "medicationRequests": None,
        },
    )

    assert_cards_response(client.post(service_url("patient-view"), json=request))


def test_a_malformed_resource_in_a_prefetch_bundle_is_skipped_and_logged(client, caplog):
    good = external("hl7-mcode-stu4/Condition-secondary-cancer-condition-brain-mets.json")
    # Coded like a brain metastasis (so it is read), but subject and onset are of the wrong type.
    broken = {
        "resourceType": "Condition",
        "id": "broken-1",
        "code": good["code"],
        "subject": "Patient/pat-1",
        "onsetDateTime": 7,
    }
    request = hook_request(
        "patient-view", prefetch={"conditions": searchset(broken, good), "medicationRequests": None}
    )

    with caplog.at_level(logging.WARNING, logger="cds_service"):
        response = client.post(service_url("patient-view"), json=request)

    assert_cards_response(response)
    assert any(
        "Condition/broken-1" in r.getMessage() and "skipped" in r.getMessage()
        for r in caplog.records
    )


def test_an_operation_outcome_for_required_data_without_fhir_server_gets_412(client):
    outcome = external("hl7-fhir-r4-examples/OperationOutcome-searchfail.json")
    request = hook_request(
        "patient-view", prefetch={"conditions": outcome, "medicationRequests": None}
    )

    response = client.post(service_url("patient-view"), json=request)

    assert response.status_code == 412
    assert "conditions" in response.get_json()["message"]
    assert "OperationOutcome" in response.get_json()["message"]


def test_an_operation_outcome_for_optional_data_still_gets_cards(client):
    request = hook_request("patient-view")
    request["prefetch"]["procedures"] = external(
        "hl7-fhir-r4-examples/OperationOutcome-searchfail.json"
    )

    assert_cards_response(client.post(service_url("patient-view"), json=request))


# --- rejected ---------------------------------------------------------------------------------


def without(mapping: dict, *path: str) -> dict:
    trimmed = copy.deepcopy(mapping)
    target = trimmed
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return trimmed


@pytest.mark.parametrize(
    ("url", "request_body", "field"),
    [
        (
            service_url("patient-view"),
            without(hook_request("patient-view"), "hookInstance"),
            "hookInstance",
        ),
        (service_url("patient-view"), without(hook_request("patient-view"), "context"), "context"),
        (
            service_url("patient-view"),
            without(hook_request("patient-view"), "context", "patientId"),
            "context.patientId",
        ),
        (
            service_url("order-sign"),
            without(hook_request("order-sign"), "context", "draftOrders"),
            "context.draftOrders",
        ),
        (
            service_url("order-select"),
            without(hook_request("order-select"), "context", "selections"),
            "context.selections",
        ),
        (
            service_url("patient-view"),
            hook_request("patient-view", hookInstance=""),
            "hookInstance",
        ),
        (service_url("patient-view"), hook_request("order-sign"), "hook"),
        (service_url("order-sign"), hook_request("order-select"), "hook"),
        (
            service_url("order-select"),
            hook_request(
                "order-select",
                fhirAuthorization=external("cds-hooks-spec/patient-view-request.json")[
                    "fhirAuthorization"
                ],
            ),
            "fhirServer",
        ),
        (
            service_url("patient-view"),
            hook_request(
                "patient-view",
                fhirServer="https://ehr.example.org/fhir",
                fhirAuthorization={
                    **external("cds-hooks-spec/patient-view-request.json")["fhirAuthorization"],
                    "patient": "someone-else",
                },
            ),
            "fhirAuthorization.patient",
        ),
        (
            service_url("patient-view"),
            hook_request(
                "patient-view", prefetch={"conditions": "Condition/1", "medicationRequests": None}
            ),
            "prefetch.conditions",
        ),
    ],
)
def test_a_broken_contract_gets_400_naming_the_field(client, url, request_body, field):
    response = client.post(url, json=request_body)

    assert response.status_code == 400
    assert response.get_json()["error"] == "bad-request"
    assert response.get_json()["message"].startswith(f"{field}:")


def test_a_patient_reference_where_an_id_belongs_is_named(client):
    request = hook_request("patient-view")
    request["context"]["patientId"] = "Patient/pat-1"

    response = client.post(service_url("patient-view"), json=request)

    assert response.status_code == 400
    assert response.get_json()["message"].startswith("context.patientId: 'Patient/pat-1'")


def test_a_selection_outside_the_draft_orders_is_named(client):
    request = hook_request("order-select")
    request["context"]["selections"] = ["MedicationRequest/draft-1", "MedicationRequest/x"]

    response = client.post(service_url("order-select"), json=request)

    assert response.status_code == 400
    assert response.get_json()["message"] == (
        "context.selections[1]: 'MedicationRequest/x' is not in draftOrders"
    )


def test_a_selection_cannot_match_a_draft_order_without_id(client):
    request = hook_request("order-select")
    request["context"]["draftOrders"]["entry"][0]["resource"] = {
        k: v for k, v in DRAFT_ORDER.items() if k != "id"
    }
    request["context"]["selections"] = ["MedicationRequest/None"]

    assert client.post(service_url("order-select"), json=request).status_code == 400


@pytest.mark.parametrize(
    ("example", "field"),
    [
        ("cds-hooks-spec/request-with-extension.json", "context.patientId"),
        ("cds-hooks-spec/medication-prescribe-opioid-request.json", "context.draftOrders"),
    ],
)
def test_spec_examples_that_are_not_valid_requests_are_named(client, example, field):
    request = external(example)

    response = client.post(service_url(request["hook"]), json=request)

    assert response.status_code == 400
    assert response.get_json()["message"].startswith(f"{field}:")


def test_malformed_json_gets_400(client):
    response = client.post(
        service_url("patient-view"),
        data=b'{"hook": "patient-view",',
        content_type="application/json",
    )

    assert response.status_code == 400
    assert response.get_json()["message"].startswith("body: malformed JSON")


def test_an_empty_body_gets_400(client):
    response = client.post(service_url("patient-view"), data=b"", content_type="application/json")

    assert response.status_code == 400
    assert response.get_json()["message"].startswith("body:")


def test_an_unknown_service_gets_404(client):
    response = client.post("/cds-services/no-such-service", json=hook_request("patient-view"))

    assert response.status_code == 404
    assert response.get_json()["error"] == "unknown-service"


def test_a_body_declared_over_the_limit_gets_413(make_app):
    client = make_app(max_body_bytes=2048).test_client()
    request = hook_request("patient-view")
    request["prefetch"]["patient"] = {
        "resourceType": "Patient",
        "id": "pat-1",
        "text": {"div": "x" * 4096},
    }

    response = client.post(service_url("patient-view"), json=request)

    assert response.status_code == 413
    assert response.get_json()["error"] == "payload-too-large"


def test_a_body_over_the_limit_without_content_length_gets_413(make_app):
    client = make_app(max_body_bytes=2048).test_client()
    body = b'{"hook": "patient-view", "pad": "' + b"x" * 4096 + b'"}'

    # Chunked, as gunicorn passes it on: no Content-Length, so only the bytes read reveal the size.
    response = client.post(
        service_url("patient-view"),
        input_stream=io.BytesIO(body),
        headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )

    assert response.status_code == 413


def test_a_body_at_the_limit_is_read(make_app):
    request_bytes = orjson.dumps(hook_request("patient-view"))
    client = make_app(max_body_bytes=len(request_bytes)).test_client()

    response = client.post(
        service_url("patient-view"), data=request_bytes, content_type="application/json"
    )

    assert_cards_response(response)


REPO = Path(__file__).resolve().parents[2]


def test_patient_view_cards_link_to_the_timeline_smart_app(client):
    from cds_service.testing import hook_request as from_bundle
    from cds_service.testing import load_json

    bundle = load_json(REPO / "fixtures/scenarios/01-rechallenge-after-srs.json")
    request = from_bundle(bundle, "patient-view", as_of="2026-11-23")
    cards = client.post("/cds-services/her2-cns-patient-view", json=request).get_json()["cards"]
    assert cards
    # Each link once per response (CLINICAL_RULES.md): the first card carries the timeline.
    smart = [
        (index, link)
        for index, card in enumerate(cards)
        for link in card.get("links", [])
        if link["type"] == "smart"
    ]
    assert smart == [
        (
            0,
            {
                "label": "CNS history timeline",
                "url": "http://localhost/smart/launch",
                "type": "smart",
            },
        )
    ]


def test_order_cards_carry_no_timeline_link(client):
    from cds_service.testing import load_json

    request = load_json(REPO / "hooks/order-select-lapatinib-rechallenge.json")
    cards = client.post("/cds-services/her2-cns-order-select", json=request).get_json()["cards"]
    assert cards
    assert all(link["type"] != "smart" for card in cards for link in card.get("links", []))
