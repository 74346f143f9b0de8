"""Issue 13 over HTTP: a patient-view card stops once an open signed order answers its event.

Each request is one of hooks/ (its golden cards known) with a `serviceRequests` prefetch holding
the orders under test, posted through the whole pipeline. The orders go in unfiltered, as from an
EHR that ignores the template's `status=active,on-hold`: the service must judge status itself.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from cds_service.testing import cards_by_rule, hook_request, load_json, post_hook

ROOT = Path(__file__).resolve().parents[2]
CPT = "http://www.ama-assn.org/go/cpt"
LOINC = "http://loinc.org"

CNS = "CNS-ACTIVE-THERAPY"
MRI = "BRAIN-MRI-SURVEILLANCE"
LOCAL = "LOCAL-THERAPY-FIRST"
DIFFUSE = "DIFFUSE-PROGRESSION-AFTER-SRS"

SRS = {"coding": [{"system": CPT, "code": "77372", "display": "SRS, linear accelerator"}]}
WBRT = {"text": "Whole brain radiotherapy 30 Gy in 10 fractions"}
RESECTION = {"coding": [{"system": CPT, "code": "61510", "display": "Craniotomy, brain tumor"}]}
NEUROSURGERY = {"text": "Ambulatory referral to Neurosurgery"}
BRAIN_MRI = {"coding": [{"system": LOINC, "code": "24587-8", "display": "MR Brain WO and W"}]}
CARDIOLOGY = {"text": "Ambulatory referral to Cardiology"}


def order(
    patient: str,
    code: dict,
    authored: str | None,
    status: str = "active",
    intent: str = "order",
    rid: str = "open-order",
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "id": rid,
        "status": status,
        "intent": intent,
        "subject": {"reference": f"Patient/{patient}"},
        "code": code,
    }
    if authored is not None:
        resource["authoredOn"] = authored
    return resource


def request_with(name: str, *orders: dict) -> dict[str, Any]:
    """hooks/<name>.json with `orders` as its serviceRequests prefetch."""
    request = copy.deepcopy(load_json(ROOT / "hooks" / f"{name}.json"))
    request["prefetch"]["serviceRequests"] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"resource": o} for o in orders],
    }
    return request


def rules_shown(client: FlaskClient, request: dict[str, Any]) -> dict[str, list[dict]]:
    result = post_hook(client, request)
    assert result.status == 200, result.body
    return cards_by_rule(result)


# --- scenario 3: brain progression 2026-09-10, no local therapy: the CNS-active card ----------

S3 = "scenario-03-patient-view"


def test_without_open_orders_the_cns_active_card_shows(client: FlaskClient) -> None:
    shown = rules_shown(client, request_with(S3))
    [card] = shown[CNS]
    assert card["summary"] == "Brain progression 2026-09-10 on trastuzumab: CNS-active HER2 options"


@pytest.mark.parametrize(
    "code",
    [SRS, WBRT, RESECTION, NEUROSURGERY],
    ids=["srs", "wbrt", "resection", "neurosurgery-referral"],
)
@pytest.mark.parametrize("status", ["active", "on-hold"])
def test_an_open_order_after_the_progression_answers_it(
    client: FlaskClient, code: dict, status: str
) -> None:
    request = request_with(S3, order("scenario-03", code, "2026-09-20", status=status))
    assert CNS not in rules_shown(client, request)


def test_an_order_the_day_of_the_progression_answers_it(client: FlaskClient) -> None:
    assert CNS not in rules_shown(client, request_with(S3, order("scenario-03", SRS, "2026-09-10")))


@pytest.mark.parametrize(
    "srs_order",
    [
        order("scenario-03", SRS, "2026-08-01"),  # placed before the progression
        order("scenario-03", SRS, None),  # undated: may predate it
        order("scenario-03", SRS, "2026-09-20", status="draft"),  # never signed
        order("scenario-03", SRS, "2026-09-20", status="cancelled"),
        order("scenario-03", SRS, "2026-09-20", status="entered-in-error"),
        order("scenario-03", SRS, "2026-09-20", status="revoked"),
        order("scenario-03", SRS, "2026-09-20", status="completed"),  # done: a Procedure says so
        order("scenario-03", SRS, "2026-09-20", intent="proposal"),  # not an order
        order("scenario-03", CARDIOLOGY, "2026-09-20"),  # an order for something else
        order("scenario-03", BRAIN_MRI, "2026-09-20"),  # an MRI is no treatment
    ],
    ids=[
        "before-progression",
        "undated",
        "draft",
        "cancelled",
        "entered-in-error",
        "revoked",
        "completed",
        "proposal",
        "cardiology-referral",
        "brain-mri",
    ],
)
def test_orders_that_do_not_answer_the_progression_leave_the_card(
    client: FlaskClient, srs_order: dict
) -> None:
    [card] = rules_shown(client, request_with(S3, srs_order))[CNS]
    assert card["summary"].startswith("Brain progression 2026-09-10")


def test_unknown_open_orders_leave_the_card(client: FlaskClient) -> None:
    """Orders that could not be obtained or read may or may not exist: the card stays."""
    absent = request_with(S3)
    del absent["prefetch"]["serviceRequests"]
    outcome = request_with(S3)
    outcome["prefetch"]["serviceRequests"] = {"resourceType": "OperationOutcome", "issue": []}
    malformed = request_with(S3, order("scenario-03", SRS, "2026-09-20"))
    malformed["prefetch"]["serviceRequests"]["entry"].append(
        {"resource": {**order("scenario-03", SRS, "2026-09-20", rid="bad"), "authoredOn": 7}}
    )
    for request in (absent, outcome, malformed):
        assert [c["summary"][:28] for c in rules_shown(client, request)[CNS]] == [
            "Brain progression 2026-09-10"
        ]


def test_order_select_cards_are_about_the_order_and_stay(client: FlaskClient) -> None:
    """The non-CNS-active regimen being ordered still draws its warning beside an open SRS order."""
    request = request_with(
        "scenario-03-order-select-trastuzumab-pertuzumab-docetaxel",
        order("scenario-03", SRS, "2026-09-20"),
    )
    [card] = rules_shown(client, request)[CNS]
    assert card["indicator"] == "warning"
    assert "lacks proven CNS activity" in card["summary"]


def test_the_prefetch_template_brings_the_open_order(client: FlaskClient) -> None:
    """The record through our own serviceRequests template (status=active,on-hold): a cancelled
    order is not asked for, the open one is, and answers the progression."""
    bundle = copy.deepcopy(load_json(ROOT / "fixtures/scenarios/03-progressed-after-thp.json"))
    cancelled = order("scenario-03", SRS, "2026-09-15", status="cancelled", rid="cancelled")
    bundle["entry"].append({"resource": cancelled})
    request = hook_request(bundle, "patient-view", as_of="2026-11-23")
    assert request["prefetch"]["serviceRequests"]["entry"] == []
    assert CNS in rules_shown(client, request)
    bundle["entry"].append({"resource": order("scenario-03", NEUROSURGERY, "2026-09-15")})
    request = hook_request(bundle, "patient-view", as_of="2026-11-23")
    assert CNS not in rules_shown(client, request)


# --- scenario 2: new brain metastases 2026-11-02, local therapy first -------------------------


def test_an_srs_order_after_the_diagnosis_answers_local_therapy_first(client: FlaskClient) -> None:
    name = "scenario-02-patient-view"
    [card] = rules_shown(client, request_with(name))[LOCAL]
    assert card["summary"].startswith("2 new brain metastases")
    assert LOCAL not in rules_shown(
        client, request_with(name, order("scenario-02", SRS, "2026-11-05"))
    )
    earlier = request_with(name, order("scenario-02", SRS, "2026-10-01"))
    assert LOCAL in rules_shown(client, earlier)


# --- card 10: brain progression 2026-06-10 after 2 SRS courses, ECOG 3 -------------------------


def test_a_wbrt_order_after_the_progression_answers_the_diffuse_card(client: FlaskClient) -> None:
    name = "card-10-ecog-3-after-repeated-srs-patient-view"
    assert DIFFUSE in rules_shown(client, request_with(name))
    assert DIFFUSE not in rules_shown(
        client, request_with(name, order("card-10", WBRT, "2026-06-15"))
    )
    assert DIFFUSE in rules_shown(client, request_with(name, order("card-10", WBRT, "2026-05-01")))


# --- scenario 1: last brain MRI 2026-08-20, 95 days before; brain progression the same day -----

S1 = "scenario-01-patient-view"


def test_a_brain_mri_ordered_answers_only_the_mri_reminder(client: FlaskClient) -> None:
    before = rules_shown(client, request_with(S1))
    assert before[MRI][0]["summary"].startswith("Known brain metastases: last brain MRI 2026-08-20")
    assert CNS in before
    after = rules_shown(client, request_with(S1, order("scenario-01", BRAIN_MRI, "2026-11-20")))
    assert MRI not in after
    assert CNS in after


def test_an_mri_order_from_the_day_of_the_last_mri_is_the_one_it_fulfilled(
    client: FlaskClient,
) -> None:
    stale = request_with(S1, order("scenario-01", BRAIN_MRI, "2026-08-20"))
    assert MRI in rules_shown(client, stale)


def test_an_srs_order_answers_the_progression_not_the_mri_reminder(client: FlaskClient) -> None:
    shown = rules_shown(client, request_with(S1, order("scenario-01", SRS, "2026-09-01")))
    assert CNS not in shown
    assert MRI in shown


def test_a_brain_mri_study_registered_for_a_later_day_silences_the_reminder(
    client: FlaskClient,
) -> None:
    """A scheduled study (ImagingStudy `registered`: known, nothing available yet) on a later day
    is read as the next brain MRI (state/imaging), so the reminder is not shown; one registered
    on an earlier day than the last MRI changes nothing. Appointments are not read."""
    request = request_with(S1)

    def study(started: str) -> dict[str, Any]:
        return {
            "resourceType": "ImagingStudy",
            "id": f"scheduled-{started}",
            "status": "registered",
            "subject": {"reference": "Patient/scenario-01"},
            "started": started,
            "procedureCode": [BRAIN_MRI],
        }

    request["prefetch"]["imagingStudies"]["entry"].append({"resource": study("2026-12-01")})
    shown = rules_shown(client, request)
    assert MRI not in shown and CNS in shown
    request = request_with(S1)
    request["prefetch"]["imagingStudies"]["entry"].append({"resource": study("2026-08-01")})
    assert MRI in rules_shown(client, request)
