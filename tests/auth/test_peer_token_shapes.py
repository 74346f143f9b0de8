"""Tokens shaped exactly like the CDS Hooks sandbox's and Epic's are accepted."""

from __future__ import annotations

import time
import uuid

import jwt
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from cds_service.config import Settings
from cds_service.web.auth import Caller, build_authenticator

SANDBOX_ISS = "https://sandbox.cds-hooks.org"
SANDBOX_JKU = "https://sandbox.cds-hooks.org/.well-known/jwks.json"
SANDBOX_KID = "44823f3d-0b01-4a6c-a80e-b9d3e8a7226f"
SANDBOX_FHIR = "https://launch.smarthealthit.org/v/r4/fhir"


def test_a_sandbox_token_verifies_against_the_sandbox_jwks_file(kit, tmp_path):
    # The sandbox's published JWKS and its (public by design) signing key, copied unchanged.
    private = load_pem_private_key((kit.HERE / "sandbox-ecprivkey.pem").read_bytes(), None)
    clients = tmp_path / "clients.toml"
    clients.write_text(
        kit.toml_clients(
            [
                {
                    "iss": SANDBOX_ISS,
                    "jwks_file": str(kit.HERE / "sandbox-jwks.json"),
                    "jku": [SANDBOX_JKU],
                    "fhir_servers": [SANDBOX_FHIR],
                }
            ]
        ),
        encoding="utf-8",
    )
    auth = build_authenticator(Settings(clients_file=clients, public_base_url=kit.PUBLIC_BASE_URL))
    now = int(time.time())
    # Shape of cds-hooks/sandbox src/retrieve-data-helpers/jwt-generator.js: ES384, typ, kid,
    # jku; iss, aud = the exact endpoint, exp = iat + 300, jti uuid; no tenant.
    token = jwt.encode(
        {
            "iss": SANDBOX_ISS,
            "aud": kit.SERVICE_URL,
            "exp": now + 300,
            "iat": now,
            "jti": str(uuid.uuid4()),
        },
        private,
        algorithm="ES384",
        headers={"typ": "JWT", "kid": SANDBOX_KID, "jku": SANDBOX_JKU},
    )
    caller = auth.authenticate(kit.bearer(token), kit.SERVICE_URL)
    assert caller == Caller(iss=SANDBOX_ISS, tenant=None, fhir_servers=(SANDBOX_FHIR,))


def test_an_epic_shaped_token_verifies(kit, tmp_path, rs384_key):
    # Epic (CDS Hooks tutorial, per the reference notes): RS384, jku to the org's public keys,
    # nbf about five minutes before iat, sub = the CDS client id, iss = the org's FHIR endpoint.
    # Hosts here are example hosts; the JWK carries no "alg", as JWKS endpoints often omit it.
    iss = "https://fhir.hospital.example.org/interconnect-fhir-oauth/api/FHIR/R4"
    jku = "https://fhir.hospital.example.org/interconnect-fhir-oauth/api/epic/2019/Security/Open/PublicKeys/530005/OAuth2"
    kit.write_jwks(tmp_path / "epic-keys.json", [rs384_key.public_jwk(declare_alg=False)])
    clients = tmp_path / "clients.toml"
    clients.write_text(
        kit.toml_clients(
            [{"iss": iss, "jwks_file": "epic-keys.json", "jku": [jku], "fhir_servers": [iss]}]
        ),
        encoding="utf-8",
    )
    auth = build_authenticator(Settings(clients_file=clients, public_base_url=kit.PUBLIC_BASE_URL))
    now = int(time.time())
    token = kit.token(
        rs384_key,
        header={"jku": jku},
        iss=iss,
        sub="d45049c3-3441-40ef-ab4d-b9cd86a17225",
        nbf=now - 300,
        iat=now,
        exp=now + 300,
    )
    caller = auth.authenticate(kit.bearer(token), kit.SERVICE_URL)
    assert caller == Caller(iss=iss, tenant=None, fhir_servers=(iss,))
