"""Only operator-allowed FHIR servers are contacted: https, segment-bounded prefixes."""

from __future__ import annotations

import pytest
from fhir_fakes import BASE, QUERIES, make_settings

from cds_service.errors import FhirServerNotAllowed
from cds_service.fhir.allowlist import check_fhir_server, within
from cds_service.fhir.fetch import fetch_missing


@pytest.mark.parametrize(
    "server",
    [
        BASE,
        BASE + "/",
        "https://EHR.example.org/fhir",
        "https://ehr.example.org:443/fhir",
        "https://ehr.example.org/fhir/r4",
    ],
)
def test_listed_server_and_its_subpaths_are_allowed(server: str) -> None:
    base = check_fhir_server(server, make_settings())
    assert str(base).startswith("https://ehr.example.org/fhir")


@pytest.mark.parametrize(
    "server",
    [
        "https://ehr.example.org.evil.com/fhir",
        "https://evil-ehr.example.org/fhir",
        "https://ehr.example.org/fhirx",
        "https://ehr.example.org/",
        "https://ehr.example.org:8443/fhir",
        "https://ehr.example.org/fhir/../admin",
        "https://ehr.example.org\\@evil.com/fhir",
        "ftp://ehr.example.org/fhir",
        "not a url",
        "",
    ],
)
def test_lookalikes_and_tricks_are_refused(server: str) -> None:
    with pytest.raises(FhirServerNotAllowed):
        check_fhir_server(server, make_settings())


def test_userinfo_is_refused_without_echoing_it() -> None:
    with pytest.raises(FhirServerNotAllowed) as caught:
        check_fhir_server("https://admin:hunter2@ehr.example.org/fhir", make_settings())
    assert "hunter2" not in caught.value.message
    assert "credentials" in caught.value.message


def test_http_is_refused_even_when_listed_unless_a_dev_server() -> None:
    settings = make_settings(fhir_servers=("http://ehr.example.org/fhir",))
    with pytest.raises(FhirServerNotAllowed) as caught:
        check_fhir_server("http://ehr.example.org/fhir", settings)
    assert "https is required" in caught.value.message
    assert "http://ehr.example.org/fhir" in caught.value.message


def test_http_dev_server_is_allowed_only_as_listed() -> None:
    settings = make_settings()
    assert str(check_fhir_server("http://127.0.0.1:8090/fhir", settings)) == (
        "http://127.0.0.1:8090/fhir"
    )
    for other in ("http://127.0.0.1:8091/fhir", "http://localhost:8090/fhir"):
        with pytest.raises(FhirServerNotAllowed):
            check_fhir_server(other, settings)


def test_caller_allowed_servers_extend_the_list() -> None:
    settings = make_settings(fhir_servers=())
    server = "https://other-ehr.example.net/R4"
    with pytest.raises(FhirServerNotAllowed):
        check_fhir_server(server, settings)
    assert str(check_fhir_server(server, settings, ("https://other-ehr.example.net/R4",))) == server


def test_message_names_the_server() -> None:
    with pytest.raises(FhirServerNotAllowed) as caught:
        check_fhir_server("https://unknown.example.com/fhir", make_settings())
    assert "https://unknown.example.com/fhir" in caught.value.message
    assert caught.value.status == 412


def test_within_keeps_next_links_on_the_same_base() -> None:
    base = check_fhir_server(BASE, make_settings())
    assert within(f"{BASE}/Condition?patient=1&_page=2", base)
    assert not within("https://ehr.example.org/fhirx/Condition", base)
    assert not within("https://cdn.example.org/fhir/Condition", base)
    assert not within("http://ehr.example.org/fhir/Condition", base)


@pytest.mark.parametrize(
    "server",
    [
        "https://evil.example.com/fhir",
        "http://ehr.example.org/fhir",
        "https://ehr.example.org/fhirx",
    ],
)
def test_disallowed_server_sends_nothing(ehr, server: str) -> None:
    with pytest.raises(FhirServerNotAllowed):
        fetch_missing(
            fhir_server=server,
            fhir_authorization={"access_token": "t"},
            queries=QUERIES,
            settings=make_settings(),
        )
    assert len(ehr.calls) == 0
