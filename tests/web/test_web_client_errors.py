"""Client input that once raised inside the service (a 500) is now a 4xx naming the problem."""

from __future__ import annotations

import orjson
import pytest
from hook_requests import hook_request, searchset, service_url


@pytest.mark.parametrize("fhir_server", ["http://[", "https://[::1", "https://[::1]:99999/fhir"])
def test_an_unreadable_fhir_server_url_gets_412(client, fhir_server):
    request = hook_request("patient-view", prefetch={}, fhirServer=fhir_server)

    response = client.post(service_url("patient-view"), json=request)

    assert response.status_code == 412
    assert response.get_json()["error"] == "fhir-server-not-allowed"
    assert "is not a usable http(s) URL" in response.get_json()["message"]


def test_an_unreadable_iss_on_smart_launch_gets_403(client):
    response = client.get("/smart/launch?iss=http://%5B&launch=x")

    assert response.status_code == 403
    assert "is not a usable http(s) URL" in response.get_data(as_text=True)


def test_a_subject_reference_urlsplit_cannot_read_is_no_crash(client):
    condition = {
        "resourceType": "Condition",
        "id": "c1",
        "subject": {"reference": "http://[/Patient/pat-1"},
        "code": {"text": "brain metastases"},
    }
    request = hook_request(
        "patient-view", prefetch={"conditions": searchset(condition), "medicationRequests": None}
    )

    response = client.post(service_url("patient-view"), json=request)

    assert response.status_code == 200


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "text/html; charset=utf-8", None],
)
def test_a_json_body_not_declared_as_json_gets_415(client, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    response = client.post(
        service_url("patient-view"),
        data=b'{"hook": "patient-view"}',
        headers=headers,
    )

    assert response.status_code == 415
    assert response.get_json()["error"] == "unsupported-media-type"
    assert response.get_json()["message"].startswith("Content-Type: expected application/json")


def test_feedback_not_declared_as_json_gets_415(client):
    response = client.post(
        "/cds-services/her2-cns-patient-view/feedback",
        data=b'{"feedback": []}',
        content_type="text/plain",
    )

    assert response.status_code == 415


@pytest.mark.parametrize(
    "content_type", ["application/json; charset=utf-8", "application/fhir+json"]
)
def test_json_declared_with_a_charset_or_as_a_json_subtype_is_read(client, content_type):
    request = hook_request("patient-view")
    response = client.post(
        service_url("patient-view"), data=orjson.dumps(request), content_type=content_type
    )

    assert response.status_code == 200
