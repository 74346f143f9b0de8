"""The medication fetch queries against a real FHIR server: an order that names its drug by an
external Medication (Epic) reaches the service through `_include`, with no prefetch at all."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
import requests

from cds_service.app import create_app
from cds_service.config import Settings
from cds_service.services import PREFETCH
from cds_service.testing import cards_by_rule, hook_request, live_server
from tests.conftest import TODAY
from tests.web.test_web_therapy_courses import (
    DRAFT_LAPATINIB,
    _orders,
    _scenario_1_without,
    _with,
)

pytestmark = pytest.mark.integration

PATIENT = "rx-orders-only"


def _bundle() -> dict:
    """Issue 17's "course known only from its orders", as its own patient (ids renamed so it
    shares nothing with the scenario patients loaded into the same server)."""
    bundle = _with(_scenario_1_without("lapatinib", "capecitabine"), *_orders(True))
    return json.loads(json.dumps(bundle).replace("scenario-01", PATIENT))


@pytest.fixture(scope="module")
def server(fhir_server):
    fhir_server.load(_bundle())
    return fhir_server


@pytest.fixture(scope="module")
def service_url(tmp_path_factory: pytest.TempPathFactory, server) -> Iterator[str]:
    settings = Settings(
        auth_enabled=False,
        database_url=f"sqlite:///{tmp_path_factory.mktemp('cds') / 'cds.sqlite3'}",
        fhir_dev_servers=(server.base_url,),
        fhir_deadline=10.0,
        fhir_read_timeout=5.0,
        fhir_connect_timeout=2.0,
    )
    with live_server(create_app(settings, clock=lambda: TODAY)) as base:
        yield f"{base}/cds-services"


def test_the_medication_request_query_brings_the_medication_it_names(server) -> None:
    query = PREFETCH["medicationRequests"].replace("{{context.patientId}}", PATIENT)
    found = {
        f"{e['resource']['resourceType']}/{e['resource']['id']}"
        for e in server.get(query).get("entry", [])
    }
    assert "Medication/epic-lapatinib" in found
    assert "MedicationRequest/lap-1" in found


def test_a_course_known_only_from_fetched_orders_makes_lapatinib_again_critical(
    server, service_url: str
) -> None:
    draft = json.loads(json.dumps(DRAFT_LAPATINIB).replace("scenario-01", PATIENT))
    request = hook_request(_bundle(), "order-select", draft_orders=[draft], with_prefetch=False)
    request["hookInstance"] = str(uuid.uuid4())
    request["fhirServer"] = server.base_url
    request["fhirAuthorization"] = {
        "access_token": server.token,
        "token_type": "Bearer",
        "expires_in": 300,
        "scope": "patient/*.read",
        "subject": "cds-service",
        "patient": PATIENT,
    }
    response = requests.post(f"{service_url}/her2-cns-order-select", json=request, timeout=30)
    assert response.status_code == 200, response.text[:500]
    [card] = cards_by_rule(response.json()["cards"])["LAPATINIB-RECHALLENGE"]
    assert card["indicator"] == "critical"
    assert "lapatinib + capecitabine" in card["summary"]
