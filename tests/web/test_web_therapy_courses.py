"""Issue 17's therapy classes over HTTP: the hook request built from our own prefetch templates
(`_include`d Medications, dispenses), posted to the service, the cards read as a clinician would."""

from __future__ import annotations

import copy
from datetime import date, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient

from cds_service.commands.explain import load
from cds_service.services import PREFETCH
from cds_service.state import derive
from cds_service.state.therapy import MEDICATION_TYPES
from cds_service.testing import cards_by_rule, hook_request, post_hook
from tests.conftest import TODAY
from tests.state.build_fixtures import scenario_01
from tests.state.medications import DRUG, RX, administration, dispense, request

PATIENT = "scenario-01"


def _as_scenario_patient(resource: dict) -> dict:
    resource = copy.deepcopy(resource)
    key = "patient" if resource["resourceType"] == "MedicationDispense" else "subject"
    resource[key] = {"reference": f"Patient/{PATIENT}"}
    return resource


def _scenario_1_without(*agents: str) -> dict:
    """Scenario 1 (HER2+, brain metastases, SRS twice, progression 2026-08-20) less its
    MedicationStatements of `agents`."""
    bundle = scenario_01()
    bundle["entry"] = [
        e
        for e in bundle["entry"]
        if not (
            e["resource"]["resourceType"] == "MedicationStatement"
            and any(a in e["resource"]["id"] for a in agents)
        )
    ]
    return bundle


def _with(bundle: dict, *resources: dict) -> dict:
    bundle["entry"] += [{"resource": _as_scenario_patient(r)} for r in resources]
    return bundle


def _supply(start: str, days: int, repeats: int) -> dict[str, Any]:
    return {
        "validityPeriod": {"start": start},
        "expectedSupplyDuration": {"value": days, "unit": "Day", "code": "d"},
        "numberOfRepeatsAllowed": repeats,
    }


# Epic: the order names its drug by an external Medication (only `display` inline).
EPIC_LAPATINIB = {
    "resourceType": "Medication",
    "id": "epic-lapatinib",
    "code": {
        "coding": [
            {"system": "urn:oid:2.16.840.1.113883.6.253", "code": "38177"},
            {"system": RX, "code": "672149"},
        ],
        "text": "LAPATINIB 250 MG PO TABS",
    },
}


def _orders(with_periods: bool) -> list[dict]:
    """Lapatinib + capecitabine known only from orders: with their dispense and validity
    periods (and dispenses), or bare (authoredOn only)."""
    # No display: only the _include'd Medication can say which drug this is.
    lapatinib = {"medicationReference": {"reference": "Medication/epic-lapatinib"}}
    if not with_periods:
        return [
            request("lap-1", None, "completed", authoredOn="2025-02-10", **lapatinib),
            request("cap-1", "capecitabine", "completed", authoredOn="2025-02-10"),
            EPIC_LAPATINIB,
        ]
    return [
        request(
            "lap-1",
            None,
            "completed",
            authoredOn="2025-02-06",
            dispenseRequest=_supply("2025-02-10", 28, 5),
            **lapatinib,
        ),
        request(
            "lap-2",
            None,
            "completed",
            authoredOn="2025-07-20",
            dispenseRequest=_supply("2025-07-25", 28, 11),
            priorPrescription={"reference": "MedicationRequest/lap-1"},
            **lapatinib,
        ),
        request(
            "cap-1",
            "capecitabine",
            "completed",
            authoredOn="2025-02-06",
            dispenseRequest=_supply("2025-02-10", 21, 9),
        ),
        request(
            "cap-2",
            "capecitabine",
            "completed",
            authoredOn="2025-09-01",
            dispenseRequest=_supply("2025-09-01", 21, 17),
            priorPrescription={"reference": "MedicationRequest/cap-1"},
        ),
        dispense(
            "lap-fill-1",
            None,
            whenHandedOver="2025-02-10",
            daysSupply={"value": 28, "code": "d"},
            **lapatinib,
        ),
        dispense(
            "lap-fill-14",
            None,
            whenHandedOver="2026-07-20",
            daysSupply={"value": 28, "code": "d"},
            **lapatinib,
        ),
        EPIC_LAPATINIB,
    ]


DRAFT_LAPATINIB = {
    "resourceType": "MedicationRequest",
    "id": "draft-lapatinib",
    "status": "draft",
    "intent": "order",
    "subject": {"reference": f"Patient/{PATIENT}"},
    "medicationCodeableConcept": copy.deepcopy(DRUG["lapatinib"]),
}


@pytest.mark.parametrize(
    ("with_periods", "relation"), [(True, "on"), (False, "on or after")], ids=["periods", "bare"]
)
def test_a_course_known_only_from_its_orders_makes_lapatinib_again_a_rechallenge(
    client: FlaskClient, with_periods: bool, relation: str
) -> None:
    bundle = _with(_scenario_1_without("lapatinib", "capecitabine"), *_orders(with_periods))
    request_ = hook_request(bundle, "order-select", draft_orders=[DRAFT_LAPATINIB])
    # What the state reads, the prefetch asks for: the Medication came through the _include.
    included = request_["prefetch"]["medicationRequests"]["entry"]
    assert {"mode": "include"} in [e["search"] for e in included]
    result = post_hook(client, request_)
    assert result.status == 200
    [card] = cards_by_rule(result)["LAPATINIB-RECHALLENGE"]
    assert card["indicator"] == "critical"
    assert "lapatinib + capecitabine" in card["summary"]
    record, context = load(request_)
    regimen = next(r for r in derive(record, TODAY, context).regimens if "lapatinib" in r.agents)
    assert (regimen.label, regimen.progression_relation) == ("lapatinib + capecitabine", relation)
    assert regimen.progression is not None and regimen.progression.when.text == "2026-08-20"


def test_negative_control_lapatinib_never_given_is_no_rechallenge(client: FlaskClient) -> None:
    bundle = _scenario_1_without("lapatinib", "capecitabine")
    result = post_hook(client, hook_request(bundle, "order-select", draft_orders=[DRAFT_LAPATINIB]))
    assert result.status == 200
    assert all(
        c["indicator"] != "critical" for c in cards_by_rule(result).get("LAPATINIB-RECHALLENGE", [])
    )


def _every_21_days(prefix: str, drug: str, first: str, count: int) -> list[dict]:
    start = date.fromisoformat(first)
    return [
        administration(f"{prefix}-{i}", drug, (start + timedelta(days=21 * i)).isoformat())
        for i in range(count)
    ]


def _given_regimens() -> dict:
    """Tucatinib triplet 2025-02-10 (orders stopped, no reason; trastuzumab infusions), then
    T-DXd from 2025-11-03, and progression on T-DXd 2026-08-20."""
    return _with(
        _scenario_1_without("lapatinib", "capecitabine"),
        request("tuc", "tucatinib", "stopped", authoredOn="2025-02-10"),
        request("cap", "capecitabine", "stopped", authoredOn="2025-02-10"),
        *_every_21_days("her", "trastuzumab", "2025-02-10", 12),
        *_every_21_days("tdxd", "t-dxd", "2025-11-03", 14),
    )


def test_given_regimens_the_triplet_is_given_with_its_dates_and_tdxd_progressed(
    client: FlaskClient,
) -> None:
    request_ = hook_request(_given_regimens(), "patient-view")
    result = post_hook(client, request_)
    assert result.status == 200
    record, context = load(request_)
    state = derive(record, TODAY, context)
    triplet = next(r for r in state.regimens if "tucatinib" in r.agents)
    assert triplet.agents == {"tucatinib", "capecitabine", "trastuzumab"}
    assert (triplet.active, str(triplet.stop_reason), triplet.start.text) == (
        False,
        "unknown",
        "2025-02-10",
    )
    her = next(c for c in triplet.courses if c.agent == "trastuzumab")
    assert (her.end.text, her.end_basis) == (
        "2025-10-20",
        "estimated: last infusion 2025-09-29 + 21 days",
    )
    tdxd = next(r for r in state.regimens if r.agents == {"t-dxd"})
    assert (tdxd.progression_relation, tdxd.progression.when.text) == ("on", "2026-08-20")
    # The card engineer's part: tucatinib was given, so no card may call CNS-active HER2 therapy
    # unused (issue 17, "Given regimens"): the test below.


def test_given_regimens_no_card_calls_cns_active_therapy_unused(client: FlaskClient) -> None:
    result = post_hook(client, hook_request(_given_regimens(), "patient-view"))
    texts = " ".join(c["summary"] + " " + c.get("detail", "") for c in result.cards).lower()
    assert "not yet used" not in texts


def test_the_prefetch_asks_for_every_medication_resource_the_state_reads() -> None:
    asked = {template.split("?")[0]: template for template in PREFETCH.values()}
    assert set(MEDICATION_TYPES) <= set(asked)
    assert "_include=MedicationRequest:medication" in asked["MedicationRequest"]
