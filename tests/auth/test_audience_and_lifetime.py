"""Over HTTP, auth on: the audience is the configured public URL(s), never the Host header; a
token's exp must be a number within CDS_JWT_MAX_LIFETIME of now; the service will not start
with auth on and no CDS_PUBLIC_BASE_URL."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from cds_service.app import create_app
from cds_service.config import Settings

SERVICE_PATH = "/cds-services/her2-cns-patient-view"
EMPTY_BUNDLE = {"resourceType": "Bundle", "type": "searchset", "entry": []}
HOOK_CALL = {
    "hook": "patient-view",
    "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
    "context": {"userId": "Practitioner/example", "patientId": "1288992"},
    "prefetch": {"conditions": EMPTY_BUNDLE, "medicationRequests": EMPTY_BUNDLE},
}


def client_for(tmp_path, write_trust, env):
    settings = Settings.from_env(
        {"CDS_CLIENTS": str(write_trust()), "CDS_DATABASE_URL": f"sqlite:///{tmp_path / 'c.db'}"}
        | env
    )
    return create_app(settings).test_client()


def call(client, kit, key, aud, host=None, **claims):
    headers = {"Authorization": kit.bearer(kit.token(key, aud=aud, **claims))}
    if host:
        headers["Host"] = host
    return client.post(SERVICE_PATH, json=HOOK_CALL, headers=headers)


def test_a_token_for_the_host_header_is_refused(kit, tmp_path, write_trust, es384_key):
    client = client_for(tmp_path, write_trust, {"CDS_PUBLIC_BASE_URL": "https://cds.example.org"})

    forged = call(client, kit, es384_key, "http://evil.example" + SERVICE_PATH, "evil.example")
    public = call(client, kit, es384_key, "https://cds.example.org" + SERVICE_PATH, "evil.example")

    assert forged.status_code == 401
    assert public.status_code == 200


def test_every_listed_public_url_is_an_audience(kit, tmp_path, write_trust, es384_key):
    env = {"CDS_PUBLIC_BASE_URL": "https://cds.example.org, https://cds.internal.example.org/"}
    client = client_for(tmp_path, write_trust, env)

    statuses = [
        call(client, kit, es384_key, base + SERVICE_PATH).status_code
        for base in ("https://cds.example.org", "https://cds.internal.example.org")
    ]

    assert statuses == [200, 200]
    assert (
        call(client, kit, es384_key, "https://other.example.org" + SERVICE_PATH).status_code == 401
    )


NOW = int(time.time())
BAD_EXP = {
    "100 years ahead": NOW + 100 * 365 * 86400,
    "1e308": 1e308,
    "a numeric string": str(NOW + 300),
    "a string": "tomorrow",
    "true": True,
    "just past the lifetime and leeway": NOW + 3600 + 60 + 30,
}


@pytest.mark.parametrize("exp", BAD_EXP.values(), ids=BAD_EXP.keys())
def test_an_exp_too_far_ahead_or_not_a_number_is_refused(
    kit, tmp_path, write_trust, es384_key, exp
):
    client = client_for(tmp_path, write_trust, {"CDS_PUBLIC_BASE_URL": "https://cds.example.org"})

    response = call(client, kit, es384_key, "https://cds.example.org" + SERVICE_PATH, exp=exp)

    assert response.status_code == 401
    assert response.get_json() == {"error": "unauthorized", "message": "unauthorized"}


def test_the_lifetime_bound_is_configurable(kit, tmp_path, write_trust, es384_key):
    aud = "https://cds.example.org" + SERVICE_PATH
    default = client_for(tmp_path, write_trust, {"CDS_PUBLIC_BASE_URL": "https://cds.example.org"})
    longer = client_for(
        tmp_path,
        write_trust,
        {"CDS_PUBLIC_BASE_URL": "https://cds.example.org", "CDS_JWT_MAX_LIFETIME": "7200"},
    )

    assert call(default, kit, es384_key, aud, exp=int(time.time()) + 3500).status_code == 200
    assert call(default, kit, es384_key, aud, exp=int(time.time()) + 5000).status_code == 401
    assert call(longer, kit, es384_key, aud, exp=int(time.time()) + 5000).status_code == 200


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({}, "CDS_PUBLIC_BASE_URL must name the service's public URL(s) when CDS_AUTH is on"),
        ({"CDS_PUBLIC_BASE_URL": "cds.example.org"}, "CDS_PUBLIC_BASE_URL: 'cds.example.org'"),
        (
            {"CDS_PUBLIC_BASE_URL": "https://c.org", "CDS_JWT_MAX_LIFETIME": "an hour"},
            "CDS_JWT_MAX_LIFETIME",
        ),
    ],
)
def test_serve_refuses_to_start_with_exit_2_naming_the_variable(write_trust, tmp_path, env, named):
    variables = {k: v for k, v in os.environ.items() if not k.startswith("CDS_")}
    variables |= {"CDS_AUTH": "on", "CDS_CLIENTS": str(write_trust())} | env
    variables["CDS_DATABASE_URL"] = f"sqlite:///{tmp_path / 'c.db'}"
    done = subprocess.run(
        [sys.executable, "-m", "cds_service", "serve", "--port", "19409"],
        env=variables,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 2
    errors = [line for line in done.stderr.splitlines() if "ERROR" in line or named in line]
    assert len(errors) == 1, done.stderr[-2000:]
    assert named in errors[0]
