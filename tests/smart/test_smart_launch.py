"""SMART EHR launch end to end: mocked authorization and FHIR servers, the timeline at the end."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from flask import Flask
from flask.testing import FlaskClient

from cds_service.testing import bundle_resources, run_query
from cds_service.web.smart import smart_bp

SCENARIO_1 = (
    Path(__file__).resolve().parents[2] / "fixtures" / "scenarios" / "01-rechallenge-after-srs.json"
)
FHIR = "https://ehr.example.org/fhir"
AUTHORIZE = "https://auth.example.org/authorize"
TOKEN = "https://auth.example.org/token"
ACCESS_TOKEN = "access-token-for-scenario-01"
PATIENT = "scenario-01"
OAUTH_URIS = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"
CAPABILITY = {
    "resourceType": "CapabilityStatement",
    "status": "active",
    "date": "2026-11-23",
    "kind": "instance",
    "fhirVersion": "4.0.1",
    "format": ["json"],
    "rest": [
        {
            "mode": "server",
            "security": {
                "extension": [
                    {
                        "url": OAUTH_URIS,
                        "extension": [
                            {"url": "authorize", "valueUri": AUTHORIZE},
                            {"url": "token", "valueUri": TOKEN},
                        ],
                    }
                ]
            },
        }
    ],
}


@pytest.fixture
def smart_app(make_app: Callable[..., Flask]) -> Flask:
    app = make_app(fhir_servers=(FHIR,))
    if "smart" not in app.blueprints:  # until app.py registers it
        app.register_blueprint(smart_bp)
    return app


class Ehr(responses.RequestsMock):
    """The mocked EHR; resource types in `failing` answer 500. With `collapse_slashes` it sits
    behind a proxy that collapses `//` to `/` in the URL, as the SMART App Launcher's does."""

    failing: set[str]
    collapse_slashes: bool


@pytest.fixture
def ehr() -> Any:
    """The EHR's FHIR server (scenario 1, bearer token required) and its authorization server."""
    resources = bundle_resources(json.loads(SCENARIO_1.read_text(encoding="utf-8")))
    with Ehr(assert_all_requests_are_fired=False) as mock:
        mock.failing = set()
        mock.collapse_slashes = False
        mock.get(f"{FHIR}/metadata", json=CAPABILITY)

        def fhir(request: Any) -> tuple[int, dict[str, str], str]:
            if request.headers.get("Authorization") != f"Bearer {ACCESS_TOKEN}":
                return 401, {}, json.dumps({"resourceType": "OperationOutcome"})
            query = request.url.split(FHIR + "/", 1)[1]
            while mock.collapse_slashes and "//" in query:
                query = query.replace("//", "/")
            if query.split("?", 1)[0].split("/", 1)[0] in mock.failing:
                return 500, {}, json.dumps({"resourceType": "OperationOutcome"})
            found = run_query(query.replace("%7C", "|").replace("%2C", ","), resources)
            return (200, {}, json.dumps(found)) if found else (404, {}, "{}")

        mock.add_callback(
            responses.GET, re.compile(re.escape(FHIR) + r"/(?!metadata).+"), callback=fhir
        )
        yield mock


def token_endpoint(
    mock: Any, challenge: str, body: dict[str, Any] | None = None
) -> list[dict[str, list[str]]]:
    """Register the token endpoint; it checks PKCE as a real one would. Returns the forms it got."""
    forms: list[dict[str, list[str]]] = []

    def exchange(request: Any) -> tuple[int, dict[str, str], str]:
        form = parse_qs(request.body)
        forms.append(form)
        verifier = form["code_verifier"][0].encode()
        computed = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).decode().rstrip("=")
        if form["code"] != ["the-code"] or computed != challenge:
            return 400, {}, json.dumps({"error": "invalid_grant"})
        answer = body or {
            "access_token": ACCESS_TOKEN,
            "token_type": "Bearer",
            "expires_in": 3600,
            "scope": "launch patient/*.read",
            "patient": PATIENT,
        }
        return 200, {}, json.dumps(answer)

    mock.add_callback(responses.POST, TOKEN, callback=exchange)
    return forms


def launch(client: FlaskClient) -> dict[str, str]:
    response = client.get("/smart/launch", query_string={"iss": FHIR, "launch": "launch-123"})
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith(AUTHORIZE + "?")
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def test_ehr_launch_authorizes_reads_the_record_with_the_token_and_shows_the_timeline(
    smart_app: Flask, ehr: Any
) -> None:
    client = smart_app.test_client()
    authorize = launch(client)
    assert authorize["response_type"] == "code"
    assert authorize["client_id"] == "her2-cns-timeline"
    assert authorize["aud"] == FHIR
    assert authorize["launch"] == "launch-123"
    assert authorize["scope"].split() == ["launch", "patient/*.read"]
    assert authorize["redirect_uri"] == "http://localhost/smart/timeline"
    assert authorize["code_challenge_method"] == "S256"
    forms = token_endpoint(ehr, authorize["code_challenge"])

    page = client.get(
        "/smart/timeline", query_string={"code": "the-code", "state": authorize["state"]}
    )

    assert page.status_code == 200, page.text
    assert forms[0]["grant_type"] == ["authorization_code"]
    assert forms[0]["redirect_uri"] == ["http://localhost/smart/timeline"]
    fhir_calls = [
        c.request
        for c in ehr.calls
        if c.request.url.startswith(FHIR) and "/metadata" not in c.request.url
    ]
    assert len(fhir_calls) == 11  # the ten prefetch queries and DiagnosticReport
    assert all(c.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}" for c in fhir_calls)
    assert any(c.url.startswith(f"{FHIR}/Procedure?patient={PATIENT}") for c in fhir_calls)
    html = page.text
    assert html.count('class="local srs"') == 2
    assert (
        "lapatinib + capecitabine: 2025-02-10 to 2026-08-25; ended by progression (2026-08-20)"
        in html
    )
    # 2024-05-14 (first brain metastases, during trastuzumab + pertuzumab), 2025-01-20, 2026-08-20
    assert (
        len(re.findall(r'<a href="#progression-\d+" class="progression intracranial">', html)) == 3
    )
    assert len(re.findall(r'<a href="#mri-\d+"', html)) == 3
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert ACCESS_TOKEN not in html


def test_an_iss_not_allowed_gets_no_request_at_all(smart_app: Flask) -> None:
    with responses.RequestsMock() as mock:  # any outgoing request would fail the test
        response = smart_app.test_client().get(
            "/smart/launch", query_string={"iss": "https://evil.example.com/fhir", "launch": "x"}
        )
        assert len(mock.calls) == 0
    assert response.status_code == 403
    assert "not listed in CDS_FHIR_SERVERS" in response.text


def test_a_callback_with_a_forged_state_never_exchanges_the_code(
    smart_app: Flask, ehr: Any
) -> None:
    client = smart_app.test_client()
    authorize = launch(client)
    forms = token_endpoint(ehr, authorize["code_challenge"])
    response = client.get("/smart/timeline", query_string={"code": "the-code", "state": "forged"})
    assert response.status_code == 400
    assert "authorization failed" in response.text
    assert forms == []


def test_a_callback_without_a_launch_is_refused(smart_app: Flask) -> None:
    response = smart_app.test_client().get(
        "/smart/timeline", query_string={"code": "c", "state": "s"}
    )
    assert response.status_code == 400
    assert "no launch in progress" in response.text


def test_a_denied_authorization_shows_why_without_a_token_request(
    smart_app: Flask, ehr: Any
) -> None:
    client = smart_app.test_client()
    authorize = launch(client)
    forms = token_endpoint(ehr, authorize["code_challenge"])
    response = client.get(
        "/smart/timeline", query_string={"error": "access_denied", "state": authorize["state"]}
    )
    assert response.status_code == 400
    assert forms == []


def test_a_token_without_a_patient_is_refused(smart_app: Flask, ehr: Any) -> None:
    client = smart_app.test_client()
    authorize = launch(client)
    token_endpoint(
        ehr, authorize["code_challenge"], {"access_token": ACCESS_TOKEN, "token_type": "Bearer"}
    )
    response = client.get(
        "/smart/timeline", query_string={"code": "the-code", "state": authorize["state"]}
    )
    assert response.status_code == 400
    assert "no usable patient id" in response.text


def test_procedures_that_cannot_be_read_show_as_unknown_not_none(
    smart_app: Flask, ehr: Any
) -> None:
    ehr.failing.add("Procedure")
    client = smart_app.test_client()
    authorize = launch(client)
    token_endpoint(ehr, authorize["code_challenge"])
    page = client.get(
        "/smart/timeline", query_string={"code": "the-code", "state": authorize["state"]}
    )
    assert page.status_code == 200
    assert "local therapy unknown: could not be obtained" in page.text
    assert "Procedure could not be obtained" in page.text
    assert 'class="local srs"' not in page.text


def test_the_launch_cookie_works_inside_an_ehr_iframe_over_https(
    smart_app: Flask, ehr: Any
) -> None:
    response = smart_app.test_client().get(
        "/smart/launch",
        query_string={"iss": FHIR, "launch": "l"},
        base_url="https://cds.example.org",
    )
    cookie = response.headers["Set-Cookie"]
    for attribute in (
        "Secure",
        "HttpOnly",
        "SameSite=None",
        "Partitioned",
        "Path=/smart",
        "Max-Age=600",
    ):
        assert attribute in cookie
    assert ACCESS_TOKEN not in cookie


def test_a_launch_is_used_once_and_a_tampered_one_never(smart_app: Flask, ehr: Any) -> None:
    client = smart_app.test_client()
    authorize = launch(client)
    forms = token_endpoint(ehr, authorize["code_challenge"])
    callback = {"code": "the-code", "state": authorize["state"]}
    assert client.get("/smart/timeline", query_string=callback).status_code == 200
    again = client.get("/smart/timeline", query_string=callback)
    assert again.status_code == 400 and "no launch in progress" in again.text

    other = smart_app.test_client()
    launch(other)
    cookie = other.get_cookie("cds_smart_launch", path="/smart")
    other.set_cookie("cds_smart_launch", cookie.value[:-2] + "xx", path="/smart")
    tampered = other.get("/smart/timeline", query_string=callback)
    assert tampered.status_code == 400
    assert len(forms) == 1


def test_the_timeline_through_a_slash_collapsing_proxy_keeps_its_progression_marks(
    smart_app: Flask, ehr: Any
) -> None:
    ehr.collapse_slashes = True
    client = smart_app.test_client()
    authorize = launch(client)
    token_endpoint(ehr, authorize["code_challenge"])

    page = client.get(
        "/smart/timeline", query_string={"code": "the-code", "state": authorize["state"]}
    )

    # Before: raw `code=http://loinc.org|97509-4` arrived as `http:/loinc.org|...` and both
    # disease-status progression marks were lost, with nothing saying data was missing. Now the
    # timeline has the three marks it has without the proxy (the test of the direct launch).
    assert page.status_code == 200
    assert (
        len(re.findall(r'<a href="#progression-\d+" class="progression intracranial">', page.text))
        == 3
    )
    fhir_queries = [c.request.url for c in ehr.calls if c.request.url.startswith(FHIR + "/")]
    assert not [url for url in fhir_queries if "//" in url.split(FHIR + "/", 1)[1]]
