"""Discovery: three services, one per hook, announced from the same declarations routing uses."""

from __future__ import annotations

import pytest
from hook_requests import external, hook_request, service_url

from cds_service.schemas import first_error, validator
from cds_service.services import SERVICES

PREFETCHED_TYPES = {
    "Patient",
    "Condition",
    "MedicationStatement",
    "MedicationRequest",
    "MedicationAdministration",
    "MedicationDispense",
    "Procedure",
    "ImagingStudy",
    "DiagnosticReport",
    "Observation",
    "ServiceRequest",  # open orders (state/active_orders)
}


def test_discovery_lists_one_service_per_hook(client):
    response = client.get("/cds-services")

    assert response.status_code == 200
    assert response.mimetype == "application/json"
    services = response.get_json()["services"]
    assert {(s["id"], s["hook"]) for s in services} == {
        ("her2-cns-patient-view", "patient-view"),
        ("her2-cns-order-select", "order-select"),
        ("her2-cns-order-sign", "order-sign"),
    }
    assert all(s["title"] and s["description"] for s in services)


def test_discovery_response_is_valid_cds_hooks(client):
    body = client.get("/cds-services").get_json()

    assert first_error(validator("discovery-response"), body) is None


def test_every_service_prefetches_the_resources_the_rules_read(client):
    for service in client.get("/cds-services").get_json()["services"]:
        templates = service["prefetch"].values()
        read = {t.split("?")[0].split("/")[0] for t in templates}
        assert read == PREFETCHED_TYPES, service["id"]
        assert all("{{context.patientId}}" in t for t in templates)


def test_medication_request_prefetch_includes_the_medications_it_names(client):
    for service in client.get("/cds-services").get_json()["services"]:
        requests = service["prefetch"]["medicationRequests"]
        assert requests.endswith("&_include=MedicationRequest:medication"), service["id"]


def test_report_prefetch_asks_only_for_radiology_reports(client):
    service = client.get("/cds-services").get_json()["services"][0]

    reports = service["prefetch"]["diagnosticReports"]
    assert "category=http://terminology.hl7.org/CodeSystem/v2-0074|RAD" in reports
    assert "http://loinc.org|LP29684-5" in reports


def test_observation_prefetch_asks_for_her2_status_and_performance_codes(client):
    service = client.get("/cds-services").get_json()["services"][0]

    observations = service["prefetch"]["observations"]
    for loinc in ("48676-1", "85319-2", "97509-4", "89247-1", "89243-0"):
        assert f"http://loinc.org|{loinc}" in observations


@pytest.mark.parametrize("service", SERVICES, ids=lambda s: s.id)
def test_every_announced_service_answers_its_hook(client, service):
    response = client.post(f"/cds-services/{service.id}", json=hook_request(service.hook))

    assert response.status_code == 200, response.get_json()
    assert service_url(service.hook) == f"/cds-services/{service.id}"


@pytest.mark.parametrize(
    "example", ["discovery-response.json", "discovery-response-with-extension.json"]
)
def test_discovery_schema_accepts_the_specs_examples(example):
    assert (
        first_error(validator("discovery-response"), external(f"cds-hooks-spec/{example}")) is None
    )


@pytest.mark.parametrize(
    "template",
    [
        "Medication/{{context.medication.id}}",
        "Patient/{{Patient.id}}",
        "Patient/{context.patientId}}",
    ],
)
def test_discovery_schema_rejects_prefetch_tokens_the_spec_forbids(template):
    body = {
        "services": [
            {"hook": "patient-view", "id": "x", "description": "d", "prefetch": {"k": template}}
        ]
    }

    assert first_error(validator("discovery-response"), body).startswith("services[0].prefetch.k:")
