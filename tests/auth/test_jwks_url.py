"""Keys from a client's jwks_url: cached, refetched on key rotation, never from a stray jku."""

from __future__ import annotations

import pytest
import responses

from cds_service.errors import Unauthorized

JWKS_URL = "https://ehr.example.org/.well-known/jwks.json"
OTHER_JKU = "https://keys.ehr.example.org/jwks"


@pytest.fixture
def rsps():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def url_client(kit, **overrides):
    entry = {"jwks_file": kit.DROP, "jwks_url": JWKS_URL, "jku": kit.DROP, **overrides}
    return kit.client_entry(**entry)


def test_keys_are_fetched_once_and_cached(kit, make_authenticator, rsps, es384_key):
    rsps.get(JWKS_URL, json={"keys": [es384_key.public_jwk()]})
    auth = make_authenticator([url_client(kit)])
    for _ in range(3):
        assert auth.authenticate(kit.bearer(kit.token(es384_key)), kit.SERVICE_URL).iss == kit.ISS
    assert len(rsps.calls) == 1


def test_a_rotated_key_is_found_by_refetching(kit, make_authenticator, rsps, es384_key, rs384_key):
    rsps.get(JWKS_URL, json={"keys": [es384_key.public_jwk()]})
    auth = make_authenticator([url_client(kit)])
    assert auth.authenticate(kit.bearer(kit.token(es384_key)), kit.SERVICE_URL).iss == kit.ISS
    # The EHR rotates: its JWKS now also publishes the new key, and it signs with that.
    rsps.replace(
        responses.GET, JWKS_URL, json={"keys": [es384_key.public_jwk(), rs384_key.public_jwk()]}
    )
    assert auth.authenticate(kit.bearer(kit.token(rs384_key)), kit.SERVICE_URL).iss == kit.ISS
    assert len(rsps.calls) == 2


def test_unknown_kids_cannot_make_us_refetch_again_and_again(
    kit, make_authenticator, rsps, es384_key
):
    rsps.get(JWKS_URL, json={"keys": [es384_key.public_jwk()]})
    auth = make_authenticator([url_client(kit)], jwks_cooldown_seconds=30)
    for n in range(5):
        token = kit.token(es384_key, header={"kid": f"made-up-{n}"})
        with pytest.raises(Unauthorized):
            auth.authenticate(kit.bearer(token), kit.SERVICE_URL)
    # The first fetch, then a single forced refresh; the cooldown holds off the rest.
    assert len(rsps.calls) == 2


def test_a_jku_that_is_not_allowed_is_never_fetched(kit, make_authenticator, rsps, es384_key):
    rsps.get(JWKS_URL, json={"keys": [es384_key.public_jwk()]})
    auth = make_authenticator([url_client(kit)])
    token = kit.token(es384_key, header={"jku": "https://attacker.example.net/jwks.json"})
    with pytest.raises(Unauthorized) as caught:
        auth.authenticate(kit.bearer(token), kit.SERVICE_URL)
    assert "jku" in caught.value.reason
    assert len(rsps.calls) == 0


def test_the_jwks_url_is_the_default_allowed_jku(kit, make_authenticator, rsps, es384_key):
    rsps.get(JWKS_URL, json={"keys": [es384_key.public_jwk()]})
    auth = make_authenticator([url_client(kit)])
    token = kit.token(es384_key, header={"jku": JWKS_URL})
    assert auth.authenticate(kit.bearer(token), kit.SERVICE_URL).iss == kit.ISS


def test_an_allowed_jku_is_where_the_keys_come_from(
    kit, make_authenticator, rsps, es384_key, rs384_key
):
    rsps.get(JWKS_URL, json={"keys": [es384_key.public_jwk()]})
    rsps.get(OTHER_JKU, json={"keys": [rs384_key.public_jwk()]})
    auth = make_authenticator([url_client(kit, jku=[JWKS_URL, OTHER_JKU])])
    token = kit.token(rs384_key, header={"jku": OTHER_JKU})
    assert auth.authenticate(kit.bearer(token), kit.SERVICE_URL).iss == kit.ISS
    assert [call.request.url for call in rsps.calls] == [OTHER_JKU]


@pytest.mark.parametrize(
    "reply",
    [
        {"status": 500, "json": {"error": "down"}},
        {"status": 302, "headers": {"Location": "https://attacker.example.net/jwks.json"}},
        {"status": 200, "body": "<html>not json</html>"},
        {"status": 200, "json": {"keys": []}},
    ],
)
def test_a_broken_jwks_endpoint_means_401_not_a_crash(
    kit, make_authenticator, rsps, es384_key, reply
):
    rsps.get(JWKS_URL, **reply)
    auth = make_authenticator([url_client(kit)])
    with pytest.raises(Unauthorized) as caught:
        auth.authenticate(kit.bearer(kit.token(es384_key)), kit.SERVICE_URL)
    assert JWKS_URL in caught.value.reason
    assert all(call.request.url == JWKS_URL for call in rsps.calls)
