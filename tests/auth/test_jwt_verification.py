"""A trusted EHR's JWT is accepted; every broken property of it is refused (CDS Hooks 2.0)."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time

import pytest
from cryptography.hazmat.primitives import serialization

from cds_service.config import Settings
from cds_service.errors import Unauthorized
from cds_service.web.auth import Authenticator, Caller


def refused(auth: Authenticator, authorization: str | None, url: str) -> str:
    with pytest.raises(Unauthorized) as caught:
        auth.authenticate(authorization, url)
    return caught.value.reason


@pytest.mark.parametrize("key_name", ["es384_key", "rs384_key"])
def test_a_valid_token_identifies_the_trusted_caller(request, kit, authenticator, key_name):
    key = request.getfixturevalue(key_name)
    caller = authenticator.authenticate(kit.bearer(kit.token(key)), kit.SERVICE_URL)
    assert caller == Caller(iss=kit.ISS, tenant=None, fhir_servers=(kit.FHIR_SERVER,))


def test_aud_may_be_an_array_and_the_query_string_is_ignored(kit, authenticator, es384_key):
    token = kit.token(es384_key, aud=["https://other.example.org/x", kit.SERVICE_URL])
    caller = authenticator.authenticate(kit.bearer(token), kit.SERVICE_URL + "?debug=1")
    assert caller.iss == kit.ISS


def test_feedback_aud_is_the_feedback_url(kit, authenticator, es384_key):
    token = kit.token(es384_key, aud=kit.FEEDBACK_URL)
    assert authenticator.authenticate(kit.bearer(token), kit.FEEDBACK_URL).iss == kit.ISS
    other = kit.token(es384_key, aud=kit.FEEDBACK_URL)
    assert "audience" in refused(authenticator, kit.bearer(other), kit.SERVICE_URL).lower()


@pytest.mark.parametrize(
    "aud",
    [
        "https://cds.example.org/cds-services/another-service",
        "https://cds.example.org/cds-services/her2-brain-mets/",
        "http://cds.example.org/cds-services/her2-brain-mets",
        "https://cds.example.org/cds-services",
        ["https://cds.example.org/cds-services/another-service"],
    ],
)
def test_wrong_aud_is_refused(kit, authenticator, es384_key, aud):
    reason = refused(authenticator, kit.bearer(kit.token(es384_key, aud=aud)), kit.SERVICE_URL)
    assert "audience" in reason.lower()


def test_public_base_url_sets_the_expected_aud_behind_a_proxy(kit, make_authenticator, es384_key):
    auth = make_authenticator(public_base_url="https://cds.example.org")
    internal = "http://10.0.0.7:8000/cds-services/her2-brain-mets"
    assert auth.authenticate(kit.bearer(kit.token(es384_key)), internal).iss == kit.ISS
    # A token minted for the internal address is not for the public endpoint.
    reason = refused(auth, kit.bearer(kit.token(es384_key, aud=internal)), internal)
    assert "audience" in reason.lower()


def test_expired_token_is_refused(kit, authenticator, es384_key):
    now = int(time.time())
    token = kit.token(es384_key, iat=now - 600, exp=now - 120)
    assert "expired" in refused(authenticator, kit.bearer(token), kit.SERVICE_URL).lower()


def test_clock_skew_within_the_leeway_is_tolerated(kit, make_authenticator, es384_key):
    auth = make_authenticator(jwt_leeway_seconds=60)
    now = int(time.time())
    token = kit.token(es384_key, iat=now + 30, exp=now + 330)
    assert auth.authenticate(kit.bearer(token), kit.SERVICE_URL).iss == kit.ISS
    late = kit.token(es384_key, iat=now - 330, exp=now - 30)
    assert auth.authenticate(kit.bearer(late), kit.SERVICE_URL).iss == kit.ISS


def test_iat_in_the_future_is_refused(kit, authenticator, es384_key):
    now = int(time.time())
    token = kit.token(es384_key, iat=now + 600, exp=now + 900)
    assert "iat" in refused(authenticator, kit.bearer(token), kit.SERVICE_URL)


def test_nbf_in_the_future_is_honoured(kit, authenticator, es384_key):
    token = kit.token(es384_key, nbf=int(time.time()) + 600)
    assert "not yet valid" in refused(authenticator, kit.bearer(token), kit.SERVICE_URL)


def test_unknown_iss_is_refused(kit, authenticator, es384_key):
    token = kit.token(es384_key, iss="https://intruder.example.net")
    assert "iss" in refused(authenticator, kit.bearer(token), kit.SERVICE_URL)


def test_unknown_kid_is_refused(kit, authenticator, es384_key):
    token = kit.token(es384_key, header={"kid": "not-in-the-jwks"})
    assert "unknown kid" in refused(authenticator, kit.bearer(token), kit.SERVICE_URL)


def test_allowed_jku_is_accepted_and_another_refused(kit, authenticator, es384_key):
    good = kit.token(es384_key, header={"jku": kit.JKU})
    assert authenticator.authenticate(kit.bearer(good), kit.SERVICE_URL).iss == kit.ISS
    bad = kit.token(es384_key, header={"jku": "https://attacker.example.net/jwks.json"})
    assert "jku" in refused(authenticator, kit.bearer(bad), kit.SERVICE_URL)


def test_alg_none_is_refused(kit, authenticator, es384_key):
    unsigned = kit.encode_segments(
        {"alg": "none", "typ": "JWT", "kid": es384_key.kid}, kit.default_claims()
    )
    reason = refused(authenticator, kit.bearer(unsigned + "."), kit.SERVICE_URL)
    assert "alg 'none'" in reason


def test_hs256_signed_with_the_public_key_as_secret_is_refused(kit, authenticator, es384_key):
    # The classic algorithm-confusion attack: the "secret" is the issuer's public key PEM.
    pem = es384_key.private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signing_input = kit.encode_segments(
        {"alg": "HS256", "typ": "JWT", "kid": es384_key.kid}, kit.default_claims()
    )
    mac = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
    token = signing_input + "." + kit.b64url(mac)
    assert "alg 'HS256'" in refused(authenticator, kit.bearer(token), kit.SERVICE_URL)


def test_a_token_signed_by_an_untrusted_key_with_a_trusted_kid_is_refused(
    kit, authenticator, other_es384_key
):
    token = kit.token(other_es384_key)
    assert "Signature" in refused(authenticator, kit.bearer(token), kit.SERVICE_URL)


def test_key_of_the_wrong_type_for_the_alg_is_refused(kit, authenticator, es384_key, rs384_key):
    # Header claims RS384 but names the EC key's kid: never try an EC key as RSA.
    token = kit.token(rs384_key, header={"kid": es384_key.kid})
    assert "cannot verify alg RS384" in refused(authenticator, kit.bearer(token), kit.SERVICE_URL)


def test_replayed_jti_is_refused(kit, authenticator, es384_key):
    token = kit.token(es384_key)
    assert authenticator.authenticate(kit.bearer(token), kit.SERVICE_URL).iss == kit.ISS
    assert "replay" in refused(authenticator, kit.bearer(token), kit.SERVICE_URL)
    # A fresh token (new jti) from the same client still gets in.
    assert authenticator.authenticate(kit.bearer(kit.token(es384_key)), kit.SERVICE_URL).iss


def test_a_refused_token_does_not_burn_its_jti(kit, authenticator, es384_key):
    jti = "same-jti-twice"
    wrong_aud = kit.token(es384_key, jti=jti, aud=kit.FEEDBACK_URL)
    refused(authenticator, kit.bearer(wrong_aud), kit.SERVICE_URL)
    good = kit.token(es384_key, jti=jti)
    assert authenticator.authenticate(kit.bearer(good), kit.SERVICE_URL).iss == kit.ISS


def test_tampered_payload_is_refused(kit, authenticator, es384_key):
    header, _, signature = kit.token(es384_key).split(".")
    forged_claims = kit.default_claims(sub="someone-else")
    forged_payload = kit.b64url(json.dumps(forged_claims).encode())
    token = f"{header}.{forged_payload}.{signature}"
    assert "Signature" in refused(authenticator, kit.bearer(token), kit.SERVICE_URL)


@pytest.mark.parametrize("authorization", [None, "", "Bearer", "Bearer  ", "Basic dXNlcjpwYXNz"])
def test_missing_or_non_bearer_authorization_is_refused(kit, authenticator, authorization):
    reason = refused(authenticator, authorization, kit.SERVICE_URL)
    assert "Authorization" in reason


@pytest.mark.parametrize("not_a_jwt", ["abc", "a.b.c", "e30.e30", "Zm9v.YmFy.YmF6", "..."])
def test_something_that_is_not_a_jwt_is_refused(kit, authenticator, not_a_jwt):
    assert "not a JWT" in refused(authenticator, kit.bearer(not_a_jwt), kit.SERVICE_URL)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ({"typ": "DROP"}, "typ"),
        ({"typ": "at+jwt"}, "typ"),
        ({"kid": "DROP"}, "kid"),
        ({"kid": ""}, "kid"),
    ],
)
def test_missing_typ_or_kid_is_refused(kit, authenticator, es384_key, header, expected):
    header = {name: kit.DROP if value == "DROP" else value for name, value in header.items()}
    token = kit.token(es384_key, header=header)
    assert expected in refused(authenticator, kit.bearer(token), kit.SERVICE_URL)


@pytest.mark.parametrize("claim", ["jti", "iat", "exp", "aud", "iss"])
def test_missing_required_claim_is_refused(kit, authenticator, es384_key, claim):
    token = kit.token(es384_key, **{claim: kit.DROP})
    reason = refused(authenticator, kit.bearer(token), kit.SERVICE_URL)
    assert claim in reason


@pytest.mark.parametrize("jti", ["", 42])
def test_jti_must_be_a_non_empty_string(kit, authenticator, es384_key, jti):
    token = kit.token(es384_key, jti=jti)
    assert "jti" in refused(authenticator, kit.bearer(token), kit.SERVICE_URL).lower()


def test_tenant_is_checked_when_the_client_has_one(kit, make_authenticator, es384_key):
    auth = make_authenticator([kit.client_entry(tenant="hospital-a")])
    wrong = kit.token(es384_key, tenant="hospital-b")
    assert "tenant" in refused(auth, kit.bearer(wrong), kit.SERVICE_URL)
    missing = kit.token(es384_key)
    assert "tenant" in refused(auth, kit.bearer(missing), kit.SERVICE_URL)
    caller = auth.authenticate(
        kit.bearer(kit.token(es384_key, tenant="hospital-a")), kit.SERVICE_URL
    )
    assert caller.tenant == "hospital-a"


def test_two_clients_each_get_their_own_fhir_servers(
    kit, tmp_path, make_authenticator, es384_key, rs384_key
):
    kit.write_jwks(tmp_path / "rsa.json", [rs384_key.public_jwk()])
    second = kit.client_entry(
        iss="https://other-ehr.example.org",
        jwks_file="rsa.json",
        jku=kit.DROP,
        fhir_servers=["https://fhir.other-ehr.example.org/R4"],
    )
    auth = make_authenticator([kit.client_entry(), second], jwks=[es384_key.public_jwk()])
    token = kit.token(rs384_key, iss="https://other-ehr.example.org")
    caller = auth.authenticate(kit.bearer(token), kit.SERVICE_URL)
    assert caller.fhir_servers == ("https://fhir.other-ehr.example.org/R4",)
    # Keys are per issuer: the other EHR's key does not vouch for the first one.
    crossed = kit.token(rs384_key)
    assert "unknown kid" in refused(auth, kit.bearer(crossed), kit.SERVICE_URL)


def test_auth_off_lets_everyone_in_without_a_check(kit, caplog):
    from cds_service.web.auth import build_authenticator

    with caplog.at_level(logging.WARNING, logger="cds_service.web.auth"):
        auth = build_authenticator(Settings(auth_enabled=False))
    assert "CDS_AUTH=off" in caplog.text
    assert auth.authenticate(None, kit.SERVICE_URL) == Caller(iss=None)
    assert auth.authenticate("Bearer garbage", kit.SERVICE_URL) == Caller(iss=None)


def test_the_log_names_reason_iss_and_jti_but_never_the_token(
    kit, authenticator, es384_key, caplog
):
    token = kit.token(es384_key, aud=kit.FEEDBACK_URL, jti="jti-for-the-log")
    with caplog.at_level(logging.WARNING, logger="cds_service.web.auth"):
        refused(authenticator, kit.bearer(token), kit.SERVICE_URL)
    assert "audience" in caplog.text.lower()
    assert kit.ISS in caplog.text and "jti-for-the-log" in caplog.text
    for segment in token.split("."):
        assert segment not in caplog.text


def test_the_caller_sees_no_detail(kit, authenticator, es384_key):
    token = kit.token(es384_key, aud=kit.FEEDBACK_URL)
    with pytest.raises(Unauthorized) as caught:
        authenticator.authenticate(kit.bearer(token), kit.SERVICE_URL)
    assert caught.value.status == 401
    assert caught.value.to_json() == {"error": "unauthorized", "message": "unauthorized"}


def test_the_jwks_file_key_without_alg_still_verifies_rs384(kit, make_authenticator, rs384_key):
    # PyJWT would bind an alg-less RSA JWK to RS256; RS384 tokens must still verify.
    auth = make_authenticator(jwks=[rs384_key.public_jwk(declare_alg=False)])
    assert auth.authenticate(kit.bearer(kit.token(rs384_key)), kit.SERVICE_URL).iss == kit.ISS
