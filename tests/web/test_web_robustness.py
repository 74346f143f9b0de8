"""No input gets a 500 or a stack trace: odd bodies get a JSON 4xx, or cards when they are valid."""

from __future__ import annotations

import logging

import orjson
import pytest
from hook_requests import hook_request, searchset, service_url

from cds_service.engine import Engine


def deeply_nested_procedure(levels: int) -> bytes:
    """A request whose Procedure nests `levels` extensions (too deep for json/orjson dumps)."""
    nested = (
        b'{"url": "http://e.org/x", "extension": [' * levels
        + b'{"url": "http://e.org/leaf", "valueBoolean": true}'
        + b"]}" * levels
    )
    procedure = (
        b'{"resourceType": "Procedure", "id": "p1", "status": "completed", '
        b'"subject": {"reference": "Patient/pat-1"}, "extension": [' + nested + b"]}"
    )
    request = hook_request("patient-view")
    request["prefetch"]["procedures"] = "PLACEHOLDER"
    return orjson.dumps(request).replace(b'"PLACEHOLDER"', procedure)


def with_prefetch(**prefetch: object) -> dict:
    request = hook_request("patient-view")
    request["prefetch"].update(prefetch)  # not copied: some values are too deep for deepcopy
    return request


def replaced(**fields: object) -> dict:
    return {**hook_request("patient-view"), **fields}


def with_context(**context: object) -> dict:
    request = hook_request("order-select")
    request["context"].update(context)
    return request


ODD_BODIES = {
    "array": b"[]",
    "array of requests": b'[{"hook": "patient-view"}]',
    "string": b'"patient-view"',
    "number": b"42",
    "null": b"null",
    "true": b"true",
    "NaN": b'{"hook": NaN}',
    "trailing comma": b'{"hook": "patient-view",}',
    "invalid UTF-8": b'{"hook": "\xff\xfe"}',
    "UTF-16 BOM": '{"hook": "patient-view"}'.encode("utf-16"),
    "huge integer": b'{"hook": "patient-view", "n": 1' + b"0" * 400 + b"}",
    "nested 5000 deep": b'{"a":' * 5000 + b"1" + b"}" * 5000,
    "whitespace": b"   \n\t ",
}

ODD_REQUESTS = {
    "hook is a number": replaced(hook=1),
    "hook is null": replaced(hook=None),
    "hookInstance is an object": replaced(hookInstance={"id": "x"}),
    "hookInstance with a newline": replaced(hookInstance="a\nforged log line"),
    "context is an array": replaced(context=[]),
    "context is a string": replaced(context="Patient/1"),
    "prefetch is an array": replaced(prefetch=[]),
    "prefetch is a string": replaced(prefetch="all"),
    "extension is an array": replaced(extension=[1]),
    "fhirServer is a number": replaced(fhirServer=8080),
    "fhirServer is not a URL": replaced(fhirServer="javascript:alert(1)"),
    "fhirAuthorization is a string": replaced(
        fhirServer="https://e.org", fhirAuthorization="Bearer x"
    ),
    "userId is a number": replaced(context={"userId": 7, "patientId": "p"}),
    "patientId is a list": replaced(context={"userId": "Practitioner/1", "patientId": ["p"]}),
    "patientId is empty": replaced(context={"userId": "Practitioner/1", "patientId": ""}),
    "selections is a string": with_context(selections="MedicationRequest/draft-1"),
    "selections holds null": with_context(selections=[None]),
    "draftOrders is a list": with_context(draftOrders=[]),
    "draftOrders is a Patient": with_context(draftOrders={"resourceType": "Patient"}),
    "draftOrders entry is a string": with_context(
        draftOrders={"resourceType": "Bundle", "entry": ["x"]}
    ),
    "draftOrders entry resource is a list": with_context(
        draftOrders={"resourceType": "Bundle", "entry": [{"resource": []}]}
    ),
    "draftOrders entry is not a list": with_context(
        draftOrders={"resourceType": "Bundle", "entry": "x"}
    ),
    "prefetch key is a list": with_prefetch(conditions=[]),
    "prefetch key is a number": with_prefetch(procedures=3),
}

# Valid envelopes with odd prefetch content: the content is skipped or ignored, never fatal.
ODD_BUT_ACCEPTED = {
    "bundle entry is not a list": with_prefetch(
        procedures={"resourceType": "Bundle", "entry": "nope"}
    ),
    "bundle entries of every type": with_prefetch(
        procedures={
            "resourceType": "Bundle",
            "entry": [1, "x", None, [], {}, {"resource": []}, {"resource": None}],
        }
    ),
    "resource without resourceType": with_prefetch(patient={"id": "pat-1"}),
    "resourceType is a number": with_prefetch(patient={"resourceType": 5}),
    "resource of an unknown type": with_prefetch(patient={"resourceType": "Spaceship", "id": "x"}),
    "resource of the wrong type for an optional key": with_prefetch(
        procedures={"resourceType": "Patient", "id": "pat-1"}
    ),
    "resource nested 500 deep": deeply_nested_procedure(500),
    "resource fields of the wrong type": with_prefetch(
        conditions=searchset(
            {
                "resourceType": "Condition",
                "id": "c1",
                "subject": [],
                "code": "C79.31",
                "onsetDateTime": {"y": 1},
            }
        )
    ),
    "empty object prefetch": with_prefetch(observations={}),
    "an unknown prefetch key": with_prefetch(somethingElse=[1, 2, 3]),
    "unicode everywhere": with_prefetch(
        patient={"resourceType": "Patient", "id": "pat-1", "name": [{"text": "Zoë 😀 \u202e"}]}
    ),
}


def assert_json_error_without_trace(response, caplog) -> None:
    assert 400 <= response.status_code < 500, response.data[:300]
    body = response.get_json()
    assert set(body) == {"error", "message"}
    assert "Traceback" not in response.get_data(as_text=True)
    assert not [r for r in caplog.records if r.exc_info], "an exception escaped to the catch-all"


@pytest.mark.parametrize("body", ODD_BODIES.values(), ids=ODD_BODIES.keys())
def test_odd_bodies_get_a_json_4xx(client, caplog, body):
    response = client.post(service_url("patient-view"), data=body, content_type="application/json")

    assert_json_error_without_trace(response, caplog)


@pytest.mark.parametrize("request_body", ODD_REQUESTS.values(), ids=ODD_REQUESTS.keys())
def test_wrongly_typed_requests_get_400(client, caplog, request_body):
    hook = "order-select" if "selections" in str(request_body.get("context")) else "patient-view"

    response = client.post(service_url(hook), json=request_body)

    assert_json_error_without_trace(response, caplog)
    assert response.status_code == 400


@pytest.mark.parametrize("request_body", ODD_BUT_ACCEPTED.values(), ids=ODD_BUT_ACCEPTED.keys())
def test_odd_prefetch_content_is_never_fatal(client, caplog, request_body):
    if isinstance(request_body, bytes):
        response = client.post(
            service_url("patient-view"), data=request_body, content_type="application/json"
        )
    else:
        response = client.post(service_url("patient-view"), json=request_body)

    assert response.status_code == 200, response.get_json()
    assert not [r for r in caplog.records if r.exc_info]


@pytest.mark.parametrize(
    "body", [b"{}", b"[]", b"nonsense", b'{"feedback": "x"}', b'{"feedback": [1]}']
)
def test_odd_feedback_bodies_get_a_json_4xx(client, caplog, body):
    response = client.post(
        "/cds-services/her2-cns-patient-view/feedback", data=body, content_type="application/json"
    )

    assert_json_error_without_trace(response, caplog)


def test_an_unexpected_failure_is_a_json_500_logged_with_its_traceback(client, monkeypatch, caplog):
    def broken(self, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(Engine, "answer", broken)
    with caplog.at_level(logging.ERROR):
        response = client.post(service_url("patient-view"), json=hook_request("patient-view"))

    assert response.status_code == 500
    assert response.get_json() == {"error": "internal-error", "message": "internal error"}
    assert "secret internals" not in response.get_data(as_text=True)
    assert any(r.exc_info and r.exc_info[0] is RuntimeError for r in caplog.records)


def test_an_unknown_route_gets_json_404(client):
    response = client.get("/nowhere")

    assert response.status_code == 404
    assert response.get_json()["error"] == "not-found"


def test_a_wrong_method_gets_json_405_with_allow(client):
    response = client.get(service_url("order-sign"))

    assert response.status_code == 405
    assert response.get_json()["error"] == "method-not-allowed"
    assert "POST" in response.headers["Allow"]


def test_health_is_ok(client):
    response = client.get("/health")

    assert response.status_code == 200
    assert response.get_json()["status"] == "ok"
