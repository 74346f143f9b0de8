"""Property-based fuzzing: schemathesis generates requests from openapi.yaml and sends them to the
app (WSGI, in process), with authentication off and on (each request with a freshly signed
token). No response may be a 5xx, or break the status codes, content types and schemas
openapi.yaml declares. CI runs this file; FUZZ_EXAMPLES raises the count for a release run."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from cds_service.app import create_app
from cds_service.config import Settings
from cds_service.testing import sign_jwt

ROOT = Path(__file__).resolve().parents[2]
AUTH_DIR = ROOT / "tests" / "auth"
SANDBOX_ISS = "https://sandbox.cds-hooks.org"
SANDBOX_KID = "44823f3d-0b01-4a6c-a80e-b9d3e8a7226f"
# What the generated requests are sent to: the first server in openapi.yaml.
BASE_URL = "http://127.0.0.1:8080"
# Examples per operation (six) and authentication mode (two): about 2,500 requests by default
# (the two GETs without parameters have one case each; schemathesis adds its coverage cases).
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "200"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
SCHEMA = schemathesis.openapi.from_path(ROOT / "openapi.yaml")
SENT = {"requests": 0}


@pytest.fixture(scope="module", params=["auth-off", "auth-on"])
def app(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Flask]:
    directory = tmp_path_factory.mktemp(request.param)
    clients = directory / "clients.toml"
    clients.write_text(
        f'[[clients]]\niss = "{SANDBOX_ISS}"\njwks_file = "{AUTH_DIR / "sandbox-jwks.json"}"\n',
        encoding="utf-8",
    )
    settings = Settings(
        auth_enabled=request.param == "auth-on",
        clients_file=clients,
        public_base_url=BASE_URL,
        database_url=f"sqlite:///{directory / 'cds.sqlite3'}",
    )
    built = create_app(settings)
    yield built
    built.extensions["cds"].feedback.close()


def signed_header(app: Flask, path: str) -> dict[str, str]:
    if not app.extensions["cds"].settings.auth_enabled:
        return {}
    key = (AUTH_DIR / "sandbox-ecprivkey.pem").read_bytes()
    return {
        "Authorization": f"Bearer {sign_jwt(key, iss=SANDBOX_ISS, aud=BASE_URL + path, kid=SANDBOX_KID)}"
    }


@SCHEMA.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_5xx_and_every_response_as_openapi_yaml_says(case, app):
    SENT["requests"] += 1
    case.call_and_validate(
        base_url=BASE_URL, app=app, headers=signed_header(app, case.formatted_path), checks=CHECKS
    )


def test_the_fuzzing_sent_at_least_2000_requests():
    # Runs after the fuzzing above (pytest keeps the file's order).
    assert SENT["requests"] >= 2000, SENT
