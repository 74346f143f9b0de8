"""The trusted-clients file (CDS_CLIENTS): a bad one stops start-up with a message naming it."""

from __future__ import annotations

import pytest

from cds_service.clients import load_clients
from cds_service.config import Settings
from cds_service.errors import ConfigError
from cds_service.web.auth import build_authenticator

ISSUE_EXAMPLE = """\
[[clients]]
iss = "https://sandbox.cds-hooks.org"
jwks_url = "https://sandbox.cds-hooks.org/.well-known/jwks.json"  # or jwks_file = "keys.json"
jku = ["https://sandbox.cds-hooks.org/.well-known/jwks.json"]     # allowed jku values, optional
fhir_servers = ["https://launch.smarthealthit.org/v/r4/fhir"]      # FHIR base URLs it may send
tenant = "..."                                                     # optional
"""


def config_error(tmp_path, text: str) -> str:
    path = tmp_path / "clients.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        build_authenticator(Settings(clients_file=path))
    return str(caught.value)


def test_the_example_from_the_issue_is_read_as_written(tmp_path):
    path = tmp_path / "clients.toml"
    path.write_text(ISSUE_EXAMPLE, encoding="utf-8")
    (client,) = load_clients(path).values()
    assert client.iss == "https://sandbox.cds-hooks.org"
    assert client.jwks_url == "https://sandbox.cds-hooks.org/.well-known/jwks.json"
    assert client.jwks_file is None
    assert client.jku == ("https://sandbox.cds-hooks.org/.well-known/jwks.json",)
    assert client.fhir_servers == ("https://launch.smarthealthit.org/v/r4/fhir",)
    assert client.tenant == "..."


def test_jku_defaults_to_the_jwks_url_and_jwks_file_is_relative_to_the_clients_file(kit, tmp_path):
    path = tmp_path / "clients.toml"
    path.write_text(
        kit.toml_clients(
            [
                {"iss": "https://a.example.org", "jwks_url": "https://a.example.org/jwks"},
                {"iss": "https://b.example.org", "jwks_file": "keys/b.json"},
            ]
        ),
        encoding="utf-8",
    )
    clients = load_clients(path)
    assert clients["https://a.example.org"].jku == ("https://a.example.org/jwks",)
    assert clients["https://b.example.org"].jku == ()
    assert clients["https://b.example.org"].jwks_file == tmp_path / "keys" / "b.json"


def test_malformed_toml_names_the_file_and_line(tmp_path):
    message = config_error(tmp_path, '[[clients]]\niss = "https://a.example.org"\njku = [,]\n')
    assert "clients.toml" in message and "not valid TOML" in message and "line 3" in message


def test_missing_iss_names_the_entry_and_line(kit, tmp_path):
    text = kit.toml_clients([kit.client_entry(), kit.client_entry(iss=kit.DROP)])
    message = config_error(tmp_path, text)
    assert "entry 2, line 7" in message and "missing required key 'iss'" in message


def test_neither_jwks_url_nor_jwks_file(kit, tmp_path):
    message = config_error(tmp_path, kit.toml_clients([kit.client_entry(jwks_file=kit.DROP)]))
    assert "entry 1, line 1" in message and "exactly one of jwks_url or jwks_file" in message


def test_both_jwks_url_and_jwks_file(kit, tmp_path):
    text = kit.toml_clients([kit.client_entry(jwks_url="https://ehr.example.org/jwks")])
    assert "exactly one of jwks_url or jwks_file" in config_error(tmp_path, text)


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [
        ("jwks_url", "not a url", "is not an absolute http(s) URL"),
        ("jwks_url", "ftp://ehr.example.org/jwks", "is not an absolute http(s) URL"),
        ("jwks_url", "http://ehr.example.org/jwks", "must use https"),
        ("jwks_url", "https://user:pw@ehr.example.org/jwks", "credentials"),
        ("jku", ["https://ehr.example.org/jwks", "https:///no-host"], "is not an absolute"),
        ("fhir_servers", ["fhir.example.org/r4"], "is not an absolute http(s) URL"),
        ("fhir_servers", "https://fhir.example.org/r4", "must be a list of URL strings"),
    ],
)
def test_bad_url_is_named(kit, tmp_path, key, value, problem):
    entry = kit.client_entry(**{key: value})
    if key == "jwks_url":
        entry.pop("jwks_file")
    message = config_error(tmp_path, kit.toml_clients([entry]))
    assert key in message and problem in message
    if isinstance(value, str) and key != "fhir_servers":
        assert repr(value) in message


def test_plain_http_is_allowed_for_localhost_only(kit, tmp_path):
    path = tmp_path / "clients.toml"
    entry = kit.client_entry(jwks_file=kit.DROP, jwks_url="http://127.0.0.1:9000/jwks")
    path.write_text(kit.toml_clients([entry]), encoding="utf-8")
    assert load_clients(path)[kit.ISS].jwks_url == "http://127.0.0.1:9000/jwks"


def test_unknown_key_is_named(kit, tmp_path):
    text = kit.toml_clients([kit.client_entry(jwks_uri="https://ehr.example.org/jwks")])
    message = config_error(tmp_path, text)
    assert "unknown key 'jwks_uri'" in message and "entry 1" in message


def test_unknown_top_level_key_is_named(kit, tmp_path):
    text = "leeway = 5\n" + kit.toml_clients([kit.client_entry()])
    assert "unknown top-level key 'leeway'" in config_error(tmp_path, text)


@pytest.mark.parametrize("text", ["", "clients = 3\n", "clients = []\n"])
def test_a_file_without_clients_is_refused(tmp_path, text):
    assert "expected at least one [[clients]] table" in config_error(tmp_path, text)


def test_the_same_iss_twice_is_refused(kit, tmp_path):
    text = kit.toml_clients([kit.client_entry(), kit.client_entry()])
    message = config_error(tmp_path, text)
    assert "entry 2" in message and "already configured" in message


@pytest.mark.parametrize(("key", "value"), [("tenant", ""), ("iss", 7), ("jwks_file", ["a"])])
def test_wrong_value_types_are_named(kit, tmp_path, key, value):
    message = config_error(tmp_path, kit.toml_clients([kit.client_entry(**{key: value})]))
    assert f"{key} must be a non-empty string" in message


def test_a_missing_clients_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="cannot read .*absent.toml"):
        build_authenticator(Settings(clients_file=tmp_path / "absent.toml"))


@pytest.mark.parametrize(
    ("jwks_text", "problem"),
    [
        (None, "No such file"),
        ("{not json", "Expecting property name"),
        ('{"keys": []}', "did not contain any keys"),
        ('{"keys": [{"kty": "EC", "crv": "P-384", "x": "AA", "y": "AA"}]}', "usable keys"),
    ],
)
def test_a_bad_jwks_file_is_named(kit, tmp_path, jwks_text, problem):
    if jwks_text is not None:
        (tmp_path / "jwks.json").write_text(jwks_text, encoding="utf-8")
    message = config_error(tmp_path, kit.toml_clients([kit.client_entry()]))
    assert "entry 1" in message and "jwks_file" in message and problem in message


def test_a_jwks_file_whose_keys_have_no_kid_is_refused(kit, tmp_path, es384_key):
    jwk = es384_key.public_jwk()
    del jwk["kid"]
    kit.write_jwks(tmp_path / "jwks.json", [jwk])
    message = config_error(tmp_path, kit.toml_clients([kit.client_entry()]))
    assert "no signing key with a kid" in message


def test_auth_on_without_a_clients_file_refuses_to_start():
    with pytest.raises(ConfigError, match="CDS_CLIENTS"):
        build_authenticator(Settings(auth_enabled=True, clients_file=None))


def test_cds_auth_off_needs_no_clients_file():
    settings = Settings.from_env({"CDS_AUTH": "off"})
    assert build_authenticator(settings).enabled is False
