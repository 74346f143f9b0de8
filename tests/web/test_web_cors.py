"""CORS: a browser (the CDS Hooks sandbox) can call every endpoint, error responses included."""

from __future__ import annotations

import dataclasses

import pytest
from hook_requests import external, hook_request, service_url

from cds_service.web.auth import Authenticator

ORIGIN = "https://sandbox.cds-hooks.org"
ENDPOINTS = [
    ("GET", "/cds-services"),
    ("POST", "/cds-services/her2-cns-order-select"),
    ("POST", "/cds-services/her2-cns-order-select/feedback"),
]


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_preflight_allows_the_method_and_the_authorization_header(client, method, path):
    response = client.options(
        path,
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "Content-Type, Authorization",
        },
    )

    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] in {ORIGIN, "*"}
    assert method in response.headers["Access-Control-Allow-Methods"]
    allowed = {
        h.strip().lower() for h in response.headers["Access-Control-Allow-Headers"].split(",")
    }
    assert {"content-type", "authorization"} <= allowed


def cors_origin(response) -> str | None:
    return response.headers.get("Access-Control-Allow-Origin")


def test_discovery_carries_cors_headers(client):
    assert cors_origin(client.get("/cds-services", headers={"Origin": ORIGIN})) in {ORIGIN, "*"}


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (hook_request("order-select"), 200),
        ({"hook": "order-select"}, 400),
        (hook_request("order-select", prefetch={}), 412),
    ],
)
def test_service_responses_carry_cors_headers_whatever_the_status(client, body, status):
    response = client.post(service_url("order-select"), json=body, headers={"Origin": ORIGIN})

    assert response.status_code == status
    assert cors_origin(response) in {ORIGIN, "*"}


def test_unknown_service_and_oversized_body_carry_cors_headers(make_app):
    client = make_app(max_body_bytes=64).test_client()

    not_found = client.post("/cds-services/nope", json={}, headers={"Origin": ORIGIN})
    too_large = client.post(
        service_url("order-select"), json=hook_request("order-select"), headers={"Origin": ORIGIN}
    )

    assert (not_found.status_code, too_large.status_code) == (404, 413)
    assert cors_origin(not_found) in {ORIGIN, "*"}
    assert cors_origin(too_large) in {ORIGIN, "*"}


def test_feedback_carries_cors_headers(client):
    response = client.post(
        "/cds-services/her2-cns-order-select/feedback",
        json=external("cds-hooks-spec/feedback-accepted.json"),
        headers={"Origin": ORIGIN},
    )

    assert response.status_code == 200
    assert cors_origin(response) in {ORIGIN, "*"}


def test_a_rejected_caller_gets_401_with_cors_headers(app):
    # Authentication on, no trusted clients: every caller is rejected.
    runtime = app.extensions["cds"]
    on = dataclasses.replace(
        runtime.settings, auth_enabled=True, public_base_url="http://localhost"
    )
    app.extensions["cds"] = dataclasses.replace(runtime, authenticator=Authenticator(on))

    response = app.test_client().post(
        service_url("order-select"), json=hook_request("order-select"), headers={"Origin": ORIGIN}
    )

    assert response.status_code == 401
    assert response.get_json() == {"error": "unauthorized", "message": "unauthorized"}
    assert cors_origin(response) in {ORIGIN, "*"}


def test_only_the_configured_origins_are_allowed(make_app):
    client = make_app(cors_origins=("https://ehr.example.org",)).test_client()

    allowed = client.get("/cds-services", headers={"Origin": "https://ehr.example.org"})
    other = client.get("/cds-services", headers={"Origin": "https://evil.example.com"})

    assert cors_origin(allowed) == "https://ehr.example.org"
    assert cors_origin(other) is None
