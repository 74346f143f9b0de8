"""Over HTTP: service calls and feedback need a good JWT (401 with no detail); discovery is open."""

from __future__ import annotations

import logging
import time

import pytest

from cds_service.app import create_app
from cds_service.config import Settings

BASE = "http://localhost"
SERVICE_PATH = "/cds-services/her2-cns-patient-view"
FEEDBACK_PATH = SERVICE_PATH + "/feedback"
NO_DETAIL = {"error": "unauthorized", "message": "unauthorized"}
EMPTY_BUNDLE = {"resourceType": "Bundle", "type": "searchset", "entry": []}
HOOK_CALL = {
    "hook": "patient-view",
    "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
    "context": {"userId": "Practitioner/example", "patientId": "1288992"},
    # The required prefetch, given, so the call needs no FHIR server.
    "prefetch": {"conditions": EMPTY_BUNDLE, "medicationRequests": EMPTY_BUNDLE},
}


# The CDS Hooks 2.0 spec's "overridden" feedback example (cds-hooks/docs current.md).
FEEDBACK = {
    "feedback": [
        {
            "card": "f6b95768-b1c8-40dc-8385-bf3504b82ffb",
            "outcome": "overridden",
            "outcomeTimestamp": "2020-12-11T00:00:00Z",
        }
    ]
}


def make_client(tmp_path, write_trust, **settings):
    clients = write_trust()
    settings.setdefault("public_base_url", BASE)  # the Flask test client's http://localhost
    app = create_app(
        Settings(
            clients_file=clients,
            database_url=f"sqlite:///{tmp_path / 'cds.sqlite3'}",
            **settings,
        )
    )
    return app.test_client()


@pytest.fixture
def client(tmp_path, write_trust):
    return make_client(tmp_path, write_trust)


def auth_header(kit, key, path, **claims):
    return {"Authorization": kit.bearer(kit.token(key, aud=BASE + path, **claims))}


def assert_refused_without_detail(response):
    assert response.status_code == 401
    assert response.get_json() == NO_DETAIL


def test_discovery_is_open_without_a_token(client):
    response = client.get("/cds-services")
    assert response.status_code == 200
    assert SERVICE_PATH.rsplit("/", 1)[1] in [s["id"] for s in response.get_json()["services"]]


def test_a_service_call_without_a_token_is_refused(client):
    assert_refused_without_detail(client.post(SERVICE_PATH, json=HOOK_CALL))


def test_a_service_call_with_a_good_token_is_answered(kit, client, es384_key):
    response = client.post(
        SERVICE_PATH, json=HOOK_CALL, headers=auth_header(kit, es384_key, SERVICE_PATH)
    )
    assert response.status_code == 200
    assert isinstance(response.get_json()["cards"], list)


@pytest.mark.parametrize(
    "broken",
    [
        {"path": FEEDBACK_PATH},  # a token minted for another endpoint
        {"exp": int(time.time()) - 3600, "iat": int(time.time()) - 3900},
        {"iss": "https://intruder.example.net"},
        {"header": {"jku": "https://attacker.example.net/jwks.json"}},
    ],
)
def test_a_service_call_with_a_bad_token_is_refused_without_detail(
    kit, client, es384_key, broken, caplog
):
    path = broken.pop("path", SERVICE_PATH)
    with caplog.at_level(logging.WARNING, logger="cds_service.web.auth"):
        response = client.post(
            SERVICE_PATH, json=HOOK_CALL, headers=auth_header(kit, es384_key, path, **broken)
        )
    assert_refused_without_detail(response)
    assert "caller rejected" in caplog.text  # the reason went to the log, not to the caller


def test_a_replayed_token_is_refused(kit, client, es384_key):
    headers = auth_header(kit, es384_key, SERVICE_PATH)
    assert client.post(SERVICE_PATH, json=HOOK_CALL, headers=headers).status_code == 200
    assert_refused_without_detail(client.post(SERVICE_PATH, json=HOOK_CALL, headers=headers))


def test_an_unknown_service_is_not_revealed_to_an_unauthenticated_caller(client):
    assert_refused_without_detail(client.post("/cds-services/no-such-service", json=HOOK_CALL))


def test_feedback_without_a_token_is_refused(client):
    assert_refused_without_detail(client.post(FEEDBACK_PATH, json=FEEDBACK))


def test_feedback_with_the_service_calls_token_is_refused(kit, client, es384_key):
    headers = auth_header(kit, es384_key, SERVICE_PATH)
    assert_refused_without_detail(client.post(FEEDBACK_PATH, json=FEEDBACK, headers=headers))


def test_feedback_with_a_good_token_is_recorded(kit, client, rs384_key):
    headers = auth_header(kit, rs384_key, FEEDBACK_PATH)
    response = client.post(FEEDBACK_PATH, json=FEEDBACK, headers=headers)
    assert response.status_code == 200


def test_behind_a_proxy_the_aud_is_the_public_url(kit, tmp_path, write_trust, es384_key):
    client = make_client(tmp_path, write_trust, public_base_url="https://cds.example.org")
    public = {
        "Authorization": kit.bearer(
            kit.token(es384_key, aud="https://cds.example.org" + SERVICE_PATH)
        )
    }
    assert client.post(SERVICE_PATH, json=HOOK_CALL, headers=public).status_code == 200
    internal = auth_header(kit, es384_key, SERVICE_PATH)
    assert_refused_without_detail(client.post(SERVICE_PATH, json=HOOK_CALL, headers=internal))
