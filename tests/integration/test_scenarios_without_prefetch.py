"""Each clinical scenario over real HTTP with no prefetch: cards equal those with full prefetch.

Every patient bundle in fixtures/{scenarios,variants,controls}/ is loaded into the real FHIR
server. For each of its patients the service is called for patient-view, and for order-select
and order-sign with a lapatinib draft order (plus any hooks/*.json about that patient), twice over
HTTP: once with every prefetch key filled from the FHIR server (as a complete EHR would), once
with no prefetch but fhirServer and an access token. The cards must be the same.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from cds_service.app import create_app
from cds_service.config import Settings
from cds_service.services import SERVICES
from cds_service.testing import compare_golden, live_server
from tests.conftest import TODAY

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures"
BUNDLE_DIRS = ("scenarios", "variants", "controls", "cards")
HOOKS = ROOT / "hooks"
SERVICE_FOR_HOOK = {service.hook: service for service in SERVICES}


def _json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _bundle_of(scenario: Any) -> dict | None:
    """The patient Bundle of a scenario file: the file itself, or its `bundle` member."""
    if isinstance(scenario, dict) and scenario.get("resourceType") == "Bundle":
        return scenario
    bundle = scenario.get("bundle") if isinstance(scenario, dict) else None
    return bundle if isinstance(bundle, dict) else None


def _patients(bundle: dict) -> list[str]:
    return [
        entry["resource"]["id"]
        for entry in bundle.get("entry", [])
        if entry.get("resource", {}).get("resourceType") == "Patient"
    ]


def _bundle_files() -> list[Path]:
    return [path for folder in BUNDLE_DIRS for path in sorted((FIXTURES / folder).glob("*.json"))]


def _hook(hook: str, patient_id: str) -> dict:
    """A hook call about the patient; order hooks carry a draft lapatinib order."""
    context: dict[str, Any] = {"userId": "Practitioner/example", "patientId": patient_id}
    if hook != "patient-view":
        draft = {
            "resourceType": "MedicationRequest",
            "id": "draft-lapatinib",
            "status": "draft",
            "intent": "order",
            "subject": {"reference": f"Patient/{patient_id}"},
            # RxNorm 480167 lapatinib: VERIFIED in the project's terminology reference.
            "medicationCodeableConcept": {
                "coding": [
                    {
                        "system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                        "code": "480167",
                        "display": "lapatinib",
                    }
                ]
            },
        }
        context["draftOrders"] = {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{"resource": draft}],
        }
    if hook == "order-select":
        context["selections"] = ["MedicationRequest/draft-lapatinib"]
    return {"hook": hook, "hookInstance": str(uuid.uuid4()), "context": context}


def _cases() -> list[Any]:
    hook_files = [_json(path) for path in sorted(HOOKS.glob("*.json"))]
    cases = []
    for path in _bundle_files():
        bundle = _bundle_of(_json(path))
        if bundle is None:
            continue
        for patient_id in _patients(bundle):
            calls = [_hook(hook, patient_id) for hook in SERVICE_FOR_HOOK] + [
                h for h in hook_files if h.get("context", {}).get("patientId") == patient_id
            ]
            for index, hook_request in enumerate(calls):
                case_id = f"{path.parent.name}/{path.stem}-{hook_request['hook']}-{index}"
                cases.append(pytest.param(path.stem, hook_request, id=case_id))
    if not cases:
        cases.append(
            pytest.param(
                None,
                None,
                marks=pytest.mark.skip(reason=f"no patient bundles in {FIXTURES}"),
                id="no-scenarios",
            )
        )
    return cases


CASES = _cases()


@pytest.fixture(scope="module")
def loaded(fhir_server):
    """The FHIR server with every scenario bundle loaded; patient ids must not collide."""
    owner: dict[str, str] = {}
    for path in _bundle_files():
        bundle = _bundle_of(_json(path))
        if bundle is None:
            continue
        for patient_id in _patients(bundle):
            assert patient_id not in owner, f"{path.stem} reuses patient {patient_id}"
            owner[patient_id] = path.stem
        fhir_server.load(bundle)
    return fhir_server


@pytest.fixture(scope="module")
def service_url(tmp_path_factory: pytest.TempPathFactory, loaded) -> Iterator[str]:
    """The CDS service, served over real HTTP on 127.0.0.1, allowed to read the FHIR server."""
    database = tmp_path_factory.mktemp("cds") / "cds-service.sqlite3"
    settings = Settings(
        auth_enabled=False,
        database_url=f"sqlite:///{database}",
        fhir_dev_servers=(loaded.base_url,),
        clock_override=True,  # hook requests may pin "today"
        fhir_deadline=10.0,  # generous: CI machines are slow; the deadline has unit tests
        fhir_read_timeout=5.0,
        fhir_connect_timeout=2.0,
    )
    app = create_app(settings, clock=lambda: TODAY)
    with live_server(app) as base:
        yield f"{base}/cds-services"


def _search_all(server, relative: str) -> dict:
    """A searchset Bundle with every page's entries (what a complete EHR prefetch holds)."""
    bundle = server.get(relative)
    entries = list(bundle.get("entry", []))
    pages = 1
    while url := next((x["url"] for x in bundle.get("link", []) if x["relation"] == "next"), None):
        pages += 1
        assert pages <= 50, f"runaway paging for {relative}"
        bundle = server.get(url.removeprefix(server.base_url + "/"))
        entries += bundle.get("entry", [])
    return {"resourceType": "Bundle", "type": "searchset", "total": len(entries), "entry": entries}


def _full_prefetch(server, service, patient_id: str) -> dict:
    prefetch: dict[str, Any] = {}
    for key, template in service.prefetch.items():
        relative = template.replace("{{context.patientId}}", patient_id)
        if "?" in relative:
            prefetch[key] = _search_all(server, relative)
        else:
            try:
                prefetch[key] = server.get(relative)
            except requests.HTTPError:
                prefetch[key] = None
    return prefetch


def _without_uuids(value: Any) -> Any:
    """Cards minus their per-call uuids (everything a clinician reads stays)."""
    if isinstance(value, dict):
        return {k: _without_uuids(v) for k, v in value.items() if k != "uuid"}
    if isinstance(value, list):
        return [_without_uuids(v) for v in value]
    return value


def _from_server(server, patient_id: str) -> dict:
    """The request fields that send the service to the FHIR server instead of prefetch."""
    return {
        "fhirServer": server.base_url,
        "fhirAuthorization": {
            "access_token": server.token,
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": "patient/*.read",
            "subject": "cds-service",
            "patient": patient_id,
        },
    }


def _call(url: str, hook_request: dict) -> requests.Response:
    return requests.post(url, json=hook_request, timeout=30)


@pytest.mark.parametrize(("scenario", "hook_request"), CASES)
def test_cards_without_prefetch_equal_cards_with_full_prefetch(
    loaded, service_url: str, scenario: str, hook_request: dict
) -> None:
    service = SERVICE_FOR_HOOK[hook_request["hook"]]
    patient_id = hook_request["context"]["patientId"]
    base = {
        k: v
        for k, v in copy.deepcopy(hook_request).items()
        if k not in ("prefetch", "fhirServer", "fhirAuthorization")
    }
    url = f"{service_url}/{service.id}"

    complete = _call(url, {**base, "prefetch": _full_prefetch(loaded, service, patient_id)})
    fetched = _call(
        url, {**base, "hookInstance": str(uuid.uuid4()), **_from_server(loaded, patient_id)}
    )

    assert complete.status_code == 200, complete.text[:500]
    assert fetched.status_code == 200, fetched.text[:500]
    assert _without_uuids(fetched.json()["cards"]) == _without_uuids(complete.json()["cards"])
    assert loaded.token not in fetched.text


def test_scenarios_are_not_vacuous(loaded, service_url: str) -> None:
    """The clinical scenarios must produce cards, or the equality above proves little."""
    scenario_cases = [case for case in CASES if case.id.startswith("scenarios/")]
    if not scenario_cases:
        pytest.skip(f"no scenario bundles in {FIXTURES / 'scenarios'}")
    cards = 0
    for case in scenario_cases:
        _, hook_request = case.values
        service = SERVICE_FOR_HOOK[hook_request["hook"]]
        body = dict(hook_request)
        body["prefetch"] = _full_prefetch(loaded, service, hook_request["context"]["patientId"])
        response = _call(f"{service_url}/{service.id}", body)
        assert response.status_code == 200, response.text[:500]
        cards += len(response.json()["cards"])
    assert cards > 0, "no clinical scenario produced a card"


GOLDEN = ROOT / "fixtures" / "golden"
GOLDEN_HOOKS = sorted(p for p in HOOKS.glob("*.json") if (GOLDEN / p.name).exists())


@pytest.mark.parametrize("path", GOLDEN_HOOKS, ids=lambda p: p.stem)
def test_cards_fetched_from_the_fhir_server_match_the_golden_file(
    loaded, service_url: str, path: Path
) -> None:
    """Ties the real server to the goldens, which were built from in-memory prefetch: a search
    parameter the server ignored or dropped (e.g. DiagnosticReport category) shows up here."""
    request = {k: v for k, v in _json(path).items() if k != "prefetch"}
    request.update(_from_server(loaded, request["context"]["patientId"]))
    service = SERVICE_FOR_HOOK[request["hook"]]
    response = _call(f"{service_url}/{service.id}", request)
    assert response.status_code == 200, response.text[:500]
    differences = compare_golden(response.json()["cards"], _json(GOLDEN / path.name))
    assert differences == [], "\n".join(differences)
