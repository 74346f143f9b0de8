"""fetch_missing against a mocked EHR: what is fetched, how, and what each failure says."""

from __future__ import annotations

import logging
import threading
import time
from urllib.parse import parse_qs, unquote, urlsplit

import orjson
import pytest
import requests
import responses
from fhir_fakes import BASE, PATIENT, QUERIES, TOKEN, make_settings, resource, searchset

from cds_service.config import Settings
from cds_service.fhir.fetch import Fetched, fetch_missing

AUTH = {"access_token": TOKEN, "token_type": "Bearer", "expires_in": 300, "scope": "patient/*.read"}
SEARCH_TYPES = {
    "conditions": "Condition",
    "medications": "MedicationStatement",
    "observations": "Observation",
}


def fetch(
    queries: dict[str, str], settings: Settings | None = None, **kwargs
) -> dict[str, Fetched]:
    return fetch_missing(
        fhir_server=kwargs.pop("fhir_server", BASE),
        fhir_authorization=kwargs.pop("fhir_authorization", AUTH),
        queries=queries,
        settings=settings or make_settings(),
        **kwargs,
    )


def serve_patient_record(ehr: responses.RequestsMock) -> None:
    ehr.get(f"{BASE}/Patient/{PATIENT}", json={"resourceType": "Patient", "id": PATIENT})
    for key, resource_type in SEARCH_TYPES.items():
        ehr.get(
            f"{BASE}/{resource_type}",
            json=searchset(
                resource(resource_type, f"{key}-1"), resource(resource_type, f"{key}-2")
            ),
        )


def one_query(key: str) -> dict[str, str]:
    return {key: QUERIES[key]}


def test_full_prefetch_makes_no_call(ehr) -> None:
    # fhirServer is not even allow-listed: with nothing to fetch it must not matter.
    assert fetch({}, fhir_server="https://not-listed.example.com/fhir") == {}
    assert len(ehr.calls) == 0


@pytest.mark.parametrize("key", sorted(QUERIES))
def test_each_missing_key_is_fetched_alone(ehr, key: str) -> None:
    serve_patient_record(ehr)
    result = fetch(one_query(key))
    assert list(result) == [key]
    assert result[key].ok, result[key].error
    assert len(ehr.calls) == 1
    sent = ehr.calls[0].request
    assert unquote(sent.url) == f"{BASE}/{QUERIES[key]}"
    assert sent.headers["Authorization"] == f"Bearer {TOKEN}"
    assert sent.headers["Accept"] == "application/fhir+json"
    if key == "patient":
        assert result[key].resources == ({"resourceType": "Patient", "id": PATIENT},)
    else:
        assert [r["id"] for r in result[key].resources] == [f"{key}-1", f"{key}-2"]


def test_token_codes_reach_the_server_intact(ehr) -> None:
    serve_patient_record(ehr)
    fetch(one_query("observations"))
    query = parse_qs(urlsplit(ehr.calls[0].request.url).query)
    assert query == {
        "patient": [PATIENT],
        "code": ["http://loinc.org|85319-2,http://loinc.org|48676-1"],
    }


def test_all_missing_keys_in_one_call(ehr) -> None:
    serve_patient_record(ehr)
    result = fetch(QUERIES)
    assert set(result) == set(QUERIES)
    assert all(f.ok for f in result.values())
    assert len(ehr.calls) == 4


def test_no_authorization_header_without_a_token(ehr) -> None:
    serve_patient_record(ehr)
    result = fetch(one_query("conditions"), fhir_authorization=None)
    assert result["conditions"].ok
    assert "Authorization" not in ehr.calls[0].request.headers


def test_queries_run_in_parallel(ehr) -> None:
    delay = 0.25

    def slow(request):
        time.sleep(delay)
        return 200, {}, orjson.dumps(searchset())

    for resource_type in ("Condition", "MedicationStatement", "Observation", "Procedure"):
        ehr.add_callback(responses.GET, f"{BASE}/{resource_type}", callback=slow)
    queries = {
        t: f"{t}?patient={PATIENT}"
        for t in ("Condition", "MedicationStatement", "Observation", "Procedure")
    }
    started = time.monotonic()
    result = fetch(queries)
    elapsed = time.monotonic() - started
    assert all(f.ok for f in result.values())
    # Sequential would take 4 x delay; parallel about one delay.
    assert elapsed < 2.5 * delay, f"{elapsed:.3f}s"


def test_paging_across_three_pages(ehr) -> None:
    page2, page3 = f"{BASE}/Condition-page?p=2", f"{BASE}/Condition-page?p=3"
    ehr.get(f"{BASE}/Condition", json=searchset(resource("Condition", "c1"), next_url=page2))
    ehr.get(
        f"{BASE}/Condition-page",
        json=searchset(resource("Condition", "c2"), next_url=page3),
        match=[responses.matchers.query_param_matcher({"p": "2"})],
    )
    ehr.get(
        f"{BASE}/Condition-page",
        json=searchset(resource("Condition", "c3")),
        match=[responses.matchers.query_param_matcher({"p": "3"})],
    )
    result = fetch(one_query("conditions"))
    assert result["conditions"].ok, result["conditions"].error
    assert [r["id"] for r in result["conditions"].resources] == ["c1", "c2", "c3"]
    assert len(ehr.calls) == 3
    assert all(c.request.headers["Authorization"] == f"Bearer {TOKEN}" for c in ehr.calls)


def test_page_cap_stops_and_reports_incomplete_data(ehr) -> None:
    ehr.get(
        f"{BASE}/Condition",
        json=searchset(resource("Condition", "c1"), next_url=f"{BASE}/Condition?page=next"),
    )
    result = fetch(one_query("conditions"), make_settings(fhir_page_cap=2))
    assert not result["conditions"].ok
    assert result["conditions"].error == (
        "Condition search: more than 2 pages of results; stopped (data incomplete)"
    )
    assert result["conditions"].resources == ()
    assert len(ehr.calls) == 2


def test_next_link_to_another_server_is_not_followed(ehr) -> None:
    ehr.get(
        f"{BASE}/Condition",
        json=searchset(
            resource("Condition", "c1"), next_url="https://cdn.example.net/fhir/Condition?page=2"
        ),
    )
    result = fetch(one_query("conditions"))
    assert result["conditions"].error == (
        "Condition search: next page link leaves the fhirServer; not followed (after 1 page)"
    )
    assert len(ehr.calls) == 1


def test_slow_server_hits_the_deadline_and_others_are_kept(ehr) -> None:
    release = threading.Event()

    def stuck(request):
        release.wait(5)
        return 200, {}, orjson.dumps(searchset())

    ehr.add_callback(responses.GET, f"{BASE}/Condition", callback=stuck)
    ehr.get(f"{BASE}/MedicationStatement", json=searchset(resource("MedicationStatement", "m1")))
    settings = make_settings(fhir_deadline=0.3)
    started = time.monotonic()
    try:
        result = fetch({k: QUERIES[k] for k in ("conditions", "medications")}, settings)
        elapsed = time.monotonic() - started
    finally:
        release.set()
    assert elapsed < 0.3 + 0.2, f"{elapsed:.3f}s"
    assert result["conditions"].error == (
        "Condition search: not finished within the 0.3 s fetch deadline"
    )
    assert [r["id"] for r in result["medications"].resources] == ["m1"]


def failing(ehr: responses.RequestsMock, **response: object) -> str | None:
    ehr.get(f"{BASE}/Condition", **response)
    return fetch(one_query("conditions"))["conditions"].error


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (401, "Condition search: the FHIR server refused the access token (401)"),
        (403, "Condition search: access forbidden by the FHIR server (403)"),
        (404, "Condition search: not found on the FHIR server (404)"),
        (422, "Condition search: rejected by the FHIR server (HTTP 422)"),
        (500, "Condition search: FHIR server error (HTTP 500)"),
        (503, "Condition search: FHIR server error (HTTP 503)"),
    ],
)
def test_http_errors_are_translated(ehr, status: int, expected: str) -> None:
    assert failing(ehr, status=status, body="<html>oops</html>") == expected


def test_read_404_names_the_read(ehr) -> None:
    ehr.get(f"{BASE}/Patient/{PATIENT}", status=404)
    result = fetch(one_query("patient"))
    assert result["patient"].error == "Patient read: not found on the FHIR server (404)"


def test_error_status_with_outcome_adds_its_first_issue(ehr) -> None:
    outcome = {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": "error",
                "code": "invalid",
                "diagnostics": "Unknown search parameter 'foo'",
            },
            {"severity": "error", "code": "other", "diagnostics": "second"},
        ],
    }
    assert failing(ehr, status=400, json=outcome) == (
        "Condition search: rejected by the FHIR server (HTTP 400) "
        "(invalid: Unknown search parameter 'foo')"
    )


def test_garbage_body(ehr) -> None:
    assert failing(ehr, status=200, body=b"\x00\xffnot json") == (
        "Condition search: the answer is not JSON"
    )


def test_json_that_is_not_a_bundle(ehr) -> None:
    assert failing(ehr, json={"resourceType": "Patient", "id": "x"}) == (
        "Condition search: expected a Bundle, got resourceType Patient"
    )


def test_read_answered_with_a_bundle(ehr) -> None:
    ehr.get(f"{BASE}/Patient/{PATIENT}", json=searchset())
    assert fetch(one_query("patient"))["patient"].error == (
        "Patient read: expected a Patient, got resourceType Bundle"
    )


def test_operation_outcome_with_200(ehr) -> None:
    diagnostics = "Search failed " + "because the index is being rebuilt " * 10
    error = failing(
        ehr,
        json={
            "resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": "transient", "diagnostics": diagnostics}],
        },
    )
    assert error is not None
    assert error.startswith(
        "Condition search: the FHIR server answered with an OperationOutcome "
        "(transient: Search failed because the index"
    )
    assert error.endswith("…)")
    assert len(error) < 260


def test_timeout_and_connection_errors(ehr) -> None:
    assert failing(ehr, body=requests.exceptions.ReadTimeout("x")) == (
        "Condition search: timed out waiting for the FHIR server"
    )
    ehr.replace(responses.GET, f"{BASE}/Condition", body=requests.exceptions.ConnectTimeout("x"))
    assert fetch(one_query("conditions"))["conditions"].error == (
        "Condition search: timed out connecting to the FHIR server"
    )
    ehr.replace(
        responses.GET, f"{BASE}/Condition", body=requests.exceptions.ConnectionError("refused")
    )
    assert fetch(one_query("conditions"))["conditions"].error == (
        "Condition search: could not connect to the FHIR server"
    )


def test_redirect_to_another_host_is_not_followed(ehr) -> None:
    ehr.get(
        f"{BASE}/Condition",
        status=302,
        headers={"Location": "https://evil.example.com/fhir/Condition?patient=1"},
    )
    ehr.get("https://evil.example.com/fhir/Condition", json=searchset())
    result = fetch(one_query("conditions"))
    assert result["conditions"].error == (
        "Condition search: redirect to another server not followed (HTTP 302)"
    )
    assert [c.request.url.split("?")[0] for c in ehr.calls] == [f"{BASE}/Condition"]


def test_redirect_on_the_same_base_is_refused_too(ehr) -> None:
    ehr.get(f"{BASE}/Condition", status=307, headers={"Location": f"{BASE}/Condition?x=1"})
    assert fetch(one_query("conditions"))["conditions"].error == (
        "Condition search: redirect not followed (HTTP 307)"
    )
    assert len(ehr.calls) == 1


def test_query_cannot_leave_the_server(ehr) -> None:
    result = fetch({"a": "https://evil.example.com/fhir/Condition", "b": "../admin/Condition"})
    assert result["a"].error is not None and result["b"].error is not None
    assert len(ehr.calls) == 0


def test_token_and_patient_id_never_reach_reasons_or_logs(ehr, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    echo = {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": "error",
                "code": "security",
                "diagnostics": f"token {TOKEN} is not valid for Patient/{PATIENT} ({PATIENT})",
            }
        ],
    }
    ehr.get(f"{BASE}/Condition", status=401, json=echo)
    ehr.get(f"{BASE}/MedicationStatement", status=200, json=echo)
    ehr.get(f"{BASE}/Observation", status=500, body=f"crash {TOKEN}")
    ehr.get(f"{BASE}/Patient/{PATIENT}", status=302, headers={"Location": f"https://x.org/{TOKEN}"})
    result = fetch(QUERIES)
    reasons = [f.error for f in result.values()]
    assert all(reasons), reasons
    assert "(security: token … is not valid for Patient/… (…))" in str(result["conditions"].error)
    for text in (*reasons, caplog.text):
        assert TOKEN not in str(text)
    assert PATIENT not in " ".join(str(r) for r in reasons)
    assert PATIENT not in caplog.text
    assert caplog.records, "the fetch should log its outcome (without secrets)"


def test_bundle_outcome_entries_are_not_patient_data(ehr) -> None:
    bundle = searchset(resource("Condition", "c1"))
    bundle["entry"].append(
        {
            "resource": {"resourceType": "OperationOutcome", "issue": []},
            "search": {"mode": "outcome"},
        }
    )
    ehr.get(f"{BASE}/Condition", json=bundle)
    assert [r["id"] for r in fetch(one_query("conditions"))["conditions"].resources] == ["c1"]


def test_cookies_from_one_call_never_reach_the_next(ehr) -> None:
    ehr.get(
        f"{BASE}/Condition",
        json=searchset(),
        headers={"Set-Cookie": "EHRSESSION=user-a; Path=/; Domain=ehr.example.org"},
    )
    fetch(one_query("conditions"))
    fetch(one_query("conditions"), fhir_authorization={"access_token": "other-user"})
    assert len(ehr.calls) == 2
    assert "Cookie" not in ehr.calls[1].request.headers


def test_search_results_of_another_patient_are_refused(ehr) -> None:
    # A server that ignored `patient=` would return everyone's conditions.
    others = searchset(
        resource("Condition", "c1"),
        {"resourceType": "Condition", "id": "c9", "subject": {"reference": "Patient/someone-else"}},
    )
    assert failing(ehr, json=others) == (
        "Condition search: the server returned another patient's data; none of it used"
    )


def test_absolute_and_versioned_patient_references_are_the_same_patient(ehr) -> None:
    mine = searchset(
        {
            "resourceType": "Condition",
            "id": "c1",
            "subject": {"reference": f"{BASE}/Patient/{PATIENT}/_history/3"},
        },
        {"resourceType": "Condition", "id": "c2"},  # no subject: nothing contradicts
    )
    ehr.get(f"{BASE}/Condition", json=mine)
    assert [r["id"] for r in fetch(one_query("conditions"))["conditions"].resources] == ["c1", "c2"]


def test_read_of_a_different_patient_is_refused(ehr) -> None:
    ehr.get(f"{BASE}/Patient/{PATIENT}", json={"resourceType": "Patient", "id": "someone-else"})
    assert fetch(one_query("patient"))["patient"].error == (
        "Patient read: the server returned a different Patient"
    )
