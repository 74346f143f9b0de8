"""Issue 17 acceptance: records written the way other EHRs write them, over HTTP, with the card an
oncologist expects. Each test is a mechanism found by the review (not a class of the issue's own
list, which the concept tests cover): the card, and the state fact behind it."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from cds_service.commands.explain import load
from cds_service.state import derive
from cds_service.state.model import UNKNOWN
from cds_service.testing import cards_by_rule, hook_request, load_json, post_hook
from tests.conftest import TODAY
from tests.state.build_fixtures import BRAIN, Patient, cc
from tests.state.medications import DRUG
from tests.web.lesion_records import her2_patient, srs_order, treated_right_frontal

RECHALLENGE = "LAPATINIB-RECHALLENGE"
ROOT = Path(__file__).resolve().parents[2]
SCENARIOS, CONTROLS, HOOKS = ROOT / "fixtures/scenarios", ROOT / "fixtures/controls", ROOT / "hooks"


def _order(p: Patient, agent: str, authored: str, status: str = "completed") -> dict:
    """An order known by its authoredOn only: nothing records or estimates its end."""
    body = {
        "status": status,
        "intent": "order",
        "medicationCodeableConcept": DRUG[agent],
        "authoredOn": authored,
    }
    return p.add("MedicationRequest", f"rx-{agent}", body)


def _draft_lapatinib(pid: str) -> dict:
    return {
        "resourceType": "MedicationRequest",
        "id": "draft-lapatinib",
        "status": "draft",
        "intent": "order",
        "subject": {"reference": f"Patient/{pid}"},
        "medicationCodeableConcept": DRUG["lapatinib"],
    }


def _first_brain_mets_after_orders(with_end: bool) -> dict:
    p, primary = her2_patient("first-mets")
    _order(p, "lapatinib", "2025-02-10")
    _order(p, "capecitabine", "2025-02-10")
    if with_end:  # control: the record says the regimen ended long before
        p.medication("lapatinib", "2025-02-10", "2025-04-01", "completed")
        p.medication("capecitabine", "2025-02-10", "2025-04-01", "completed")
    p.brain_mets("2026-02-20", primary)
    return p.bundle("first brain metastases after a regimen whose end is not recorded")


def test_first_brain_metastases_after_a_regimen_of_unknown_end_is_progression_on_or_after_it(
    client: FlaskClient,
) -> None:
    request = hook_request(
        _first_brain_mets_after_orders(with_end=False),
        "order-select",
        draft_orders=[_draft_lapatinib("first-mets")],
    )
    result = post_hook(client, request)
    assert result.status == 200
    [card] = cards_by_rule(result)[RECHALLENGE]
    assert card["indicator"] == "critical"
    assert "lapatinib + capecitabine" in card["summary"]
    record, context = load(request)
    (regimen,) = derive(record, TODAY, context).regimens
    assert regimen.progression_relation == "on or after"
    assert regimen.progression is not None
    assert regimen.progression.description == ("first brain metastasis diagnosed")


def test_negative_control_first_brain_metastases_long_after_a_recorded_end(
    client: FlaskClient,
) -> None:
    request = hook_request(
        _first_brain_mets_after_orders(with_end=True),
        "order-select",
        draft_orders=[_draft_lapatinib("first-mets")],
    )
    result = post_hook(client, request)
    assert result.status == 200
    assert all(c["indicator"] != "critical" for c in cards_by_rule(result).get(RECHALLENGE, []))
    record, context = load(request)
    assert derive(record, TODAY, context).intracranial_progressions == ()


def _snapshots(p: Patient, *stamps: str | None) -> None:
    """One lapatinib order sent twice (a search page and a later copy): first as running, then
    stopped for progression; `stamps` are their meta.lastUpdated (None: not sent)."""
    running = {"status": "active"}
    stopped = {"status": "stopped", "statusReason": cc(text="Disease progression in the brain")}
    for change, stamp in zip((running, stopped), stamps, strict=True):
        body = {
            "intent": "order",
            "medicationCodeableConcept": DRUG["lapatinib"],
            "authoredOn": "2025-02-10",
            **change,
        }
        if stamp:
            body["meta"] = {"lastUpdated": stamp}
        resource = {"resourceType": "MedicationRequest", "id": "rx-lapatinib", **body}
        resource["subject"] = {"reference": f"Patient/{p.pid}"}
        p.resources.append(resource)


@pytest.mark.parametrize(
    "stamps",
    [
        ("2025-03-01T10:00:00Z", "2025-09-01T10:00:00+02:00"),
        (None, None),
        ("2025-13-01T10:00:00Z", "2025-03-01"),  # unreadable, and an instant without a zone
    ],
    ids=["newer by lastUpdated", "undated: the settled status", "malformed: the settled status"],
)
def test_the_newer_copy_of_a_resource_sent_twice_is_the_record(
    client: FlaskClient, stamps: tuple[str | None, str | None]
) -> None:
    p, _ = her2_patient("copies")
    _snapshots(p, *stamps)
    request = hook_request(
        p.bundle("one order sent twice"),
        "order-select",
        draft_orders=[_draft_lapatinib("copies")],
    )
    result = post_hook(client, request)
    assert result.status == 200
    [card] = cards_by_rule(result)[RECHALLENGE]
    assert card["indicator"] == "critical"
    record, context = load(request)
    (course,) = derive(record, TODAY, context).courses
    assert (course.active, course.stop_reason) == (False, "progression")


def test_negative_control_an_older_stopped_copy_does_not_end_a_running_order() -> None:
    p, _ = her2_patient("copies")
    _snapshots(p, "2025-09-01T10:00:00Z", "2025-03-01T10:00:00Z")  # the running copy is newer
    record, context = load(hook_request(p.bundle("one order sent twice"), "patient-view"))
    (course,) = derive(record, TODAY, context).courses
    assert course.active is True


INTERACTIONS = "TUCATINIB-INTERACTIONS"
PHENYTOIN = {"text": "phenytoin 100 MG Extended Release Oral Capsule"}  # named by text only


def _phenytoin_dispensed(handed: str, dose: dict) -> dict:
    """Phenytoin dispensed without daysSupply (not must-support in US Core): 90 capsules, on an
    order (completed once sent to the pharmacy) for `dose` three times a day."""
    p, _ = her2_patient("dispense")
    order = p.add(
        "MedicationRequest",
        "rx-phenytoin",
        {
            "status": "completed",
            "intent": "order",
            "medicationCodeableConcept": PHENYTOIN,
            "authoredOn": handed,
            "dosageInstruction": [
                {
                    "text": "1 capsule by mouth three times a day",
                    "timing": {"repeat": {"frequency": 3, "period": 1, "periodUnit": "d"}},
                    "doseAndRate": [{"doseQuantity": dose}],
                }
            ],
        },
    )
    fill = p.add(
        "MedicationDispense",
        "fill-phenytoin",
        {
            "status": "completed",
            "medicationCodeableConcept": PHENYTOIN,
            "whenHandedOver": handed,
            "quantity": {"value": 90, "unit": "capsule", "code": "{capsule}"},
            "authorizingPrescription": [p.ref(order)],
        },
    )
    fill["patient"] = fill.pop("subject")
    return p.bundle("phenytoin dispensed without days' supply")


def _draft_tucatinib() -> dict:
    return {
        "resourceType": "MedicationRequest",
        "id": "draft-tucatinib",
        "status": "draft",
        "intent": "order",
        "subject": {"reference": "Patient/dispense"},
        "medicationCodeableConcept": DRUG["tucatinib"],
    }


def _phenytoin_course(request: dict):  # type: ignore[no-untyped-def]
    record, context = load(request)
    (course,) = derive(record, TODAY, context).courses
    return course


CAPSULE = {"value": 1, "unit": "capsule", "code": "{capsule}"}


def test_a_dispense_without_days_supply_lasts_its_quantity_over_the_daily_dose(
    client: FlaskClient,
) -> None:
    request = hook_request(
        _phenytoin_dispensed("2026-11-10", CAPSULE),
        "order-select",
        draft_orders=[_draft_tucatinib()],
    )
    result = post_hook(client, request)
    assert result.status == 200
    [card] = cards_by_rule(result)[INTERACTIONS]
    assert card["indicator"] == "warning" and "phenytoin" in card["summary"]
    course = _phenytoin_course(request)
    assert (course.active, course.representation) == (True, "order, dispense")
    past = _phenytoin_course(
        hook_request(_phenytoin_dispensed("2026-09-01", CAPSULE), "patient-view")
    )
    assert (past.end.text, past.end_basis) == (
        "2026-10-01",
        "estimated: dispensed 2026-09-01 + 30 days"
        " (90 capsule / 3 capsule a day, dose of MedicationRequest/dispense-rx-phenytoin-1)",
    )


def test_negative_control_a_supply_run_out_before_today_is_not_taken(client: FlaskClient) -> None:
    request = hook_request(
        _phenytoin_dispensed("2026-09-01", CAPSULE),
        "order-select",
        draft_orders=[_draft_tucatinib()],
    )
    result = post_hook(client, request)
    assert result.status == 200
    assert INTERACTIONS not in cards_by_rule(result)


def test_a_dose_in_another_unit_than_the_quantity_leaves_the_supply_unknown() -> None:
    # 100 mg three times a day against 90 capsules: the capsule's strength would be a guess.
    mg = {"value": 100, "unit": "mg", "code": "mg"}
    course = _phenytoin_course(hook_request(_phenytoin_dispensed("2026-09-01", mg), "patient-view"))
    assert (course.active, course.end, course.end_basis) == (False, None, "")


REPEAT_SRS = "REPEAT-SRS-SAME-LESION"


def _treated_right_then(report: str) -> dict:
    """SRS to a right frontal metastasis, then a brain MRI saying `report`."""
    return treated_right_frontal(cc(BRAIN, text="Right frontal lobe"), report, pid="sides")


def _srs_to_the_right() -> dict:
    return srs_order(cc(BRAIN, text="Right frontal lobe"), pid="sides")


def _progression_side(request: dict) -> str | None:
    record, context = load(request)
    (event,) = derive(record, TODAY, context).intracranial_progressions
    return event.laterality


def test_control_the_treated_lesion_enlarging_warns_before_repeat_srs(client: FlaskClient) -> None:
    bundle = _treated_right_then("Enlarging treated right frontal lesion. No new lesions.")
    request = hook_request(bundle, "order-select", draft_orders=[_srs_to_the_right()])
    result = post_hook(client, request)
    (card,) = cards_by_rule(result)[REPEAT_SRS]
    assert "radionecrosis" in card["summary"]
    assert _progression_side(request) == "right"


def test_a_new_lesion_on_the_other_side_is_progression_on_that_side() -> None:
    bundle = _treated_right_then("New left frontal lesion; treated right lesion smaller.")
    assert _progression_side(hook_request(bundle, "patient-view")) == "left"


def test_a_new_lesion_on_the_other_side_is_no_progression_of_the_treated_lesion(
    client: FlaskClient,
) -> None:
    bundle = _treated_right_then("New left frontal lesion; treated right lesion smaller.")
    result = post_hook(
        client, hook_request(bundle, "order-select", draft_orders=[_srs_to_the_right()])
    )
    assert result.status == 200
    assert REPEAT_SRS not in cards_by_rule(result)


IMO = "http://www.imohealth.com/codes/imo/lexical"  # Cerner's problem terminology (not verified)


def _imo_coded(bundle: dict) -> dict:
    """Cerner: every problem coded only in IMO (a code we cannot verify), its words as display
    and text: "Invasive ductal carcinoma, right breast", "Brain metastases from breast cancer"."""
    for entry in bundle["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] == "Condition":
            text = resource["code"]["text"]
            resource["code"] = {
                "coding": [{"system": IMO, "code": "30506012", "display": text}],
                "text": text,
            }
    return bundle


def test_cerner_problems_coded_in_imo_only_read_by_their_words(client: FlaskClient) -> None:
    """Scenario 2 as Cerner sends it: the primary's words were not read as breast cancer, so its
    brain metastasis was taken for another cancer's and brain metastases were stated absent."""
    bundle = _imo_coded(load_json(SCENARIOS / "02-new-brain-mets-stable-on-hp.json"))
    request = hook_request(bundle, "patient-view")
    result = post_hook(client, request)
    assert result.status == 200
    [card] = cards_by_rule(result)["LOCAL-THERAPY-FIRST"]
    assert card["indicator"] == "info"
    record, context = load(request)
    state = derive(record, TODAY, context)
    assert state.breast_cancer.value is True
    assert state.brain_metastases.value is True
    assert "Condition/scenario-02-brain-mets-1" in state.brain_metastases.evidence


def test_a_metastasis_of_a_primary_coded_only_locally_and_not_read_is_kept() -> None:
    p, _ = her2_patient("local-primary")
    primary = p.condition(
        "primary", cc({"system": IMO, "code": "1"}, text="Tumour, see pathology"), "2022-01-10", "x"
    )
    p.brain_mets("2026-10-01", primary)
    record, context = load(hook_request(p.bundle("local primary"), "patient-view"))
    state = derive(record, TODAY, context)
    assert state.brain_metastases.value is True
    assert any("not recognised as breast cancer" in n for n in state.brain_metastases.notes)


def _given_as_infusions(bundle: dict, *agents: str) -> dict:
    """The MedicationStatements of `agents` replaced by what a MAR sends: one administration every
    21 days from the statement's start to its end (or to ten days ago while still given)."""
    entries = []
    for entry in bundle["entry"]:
        resource = entry["resource"]
        drug = resource.get("medicationCodeableConcept", {}).get("text", "").lower()
        if resource["resourceType"] != "MedicationStatement" or not drug.startswith(agents):
            entries.append(entry)
            continue
        period = resource["effectivePeriod"]
        day = date.fromisoformat(period["start"])
        last = date.fromisoformat(period["end"]) if "end" in period else TODAY - timedelta(10)
        while day <= last:
            dose = {
                "resourceType": "MedicationAdministration",
                "id": f"{resource['id']}-{day.isoformat()}",
                "status": "completed",
                "medicationCodeableConcept": resource["medicationCodeableConcept"],
                "subject": resource["subject"],
                "effectiveDateTime": f"{day.isoformat()}T10:00:00Z",
            }
            entries.append({"resource": dose})
            day += timedelta(days=21)
    bundle["entry"] = entries
    return bundle


def test_an_antibody_infused_across_two_lines_does_not_date_the_new_line(
    client: FlaskClient,
) -> None:
    """Control 3 (stable on the tucatinib triplet since 2025-04-14, after progression on HP in
    2025-03) with trastuzumab and pertuzumab as infusions: trastuzumab runs on from HP into the
    triplet as one course. Its 2022 start made the triplet's line start in 2022 (a spurious
    'trastuzumab + capecitabine' line, and the 2025-03 progression read as on tucatinib)."""
    bundle = _given_as_infusions(
        load_json(CONTROLS / "03-tucatinib-stable-cns.json"), "trastuzumab", "pertuzumab"
    )
    hook = load_json(HOOKS / "control-03-tucatinib-stable-order-sign-tucatinib-refill.json")
    drafts = [e["resource"] for e in hook["context"]["draftOrders"]["entry"]]
    request = hook_request(bundle, "order-sign", draft_orders=drafts)
    result = post_hook(client, request)
    assert result.status == 200
    assert result.cards == []  # as the golden: a refill of a running, stable course
    record, context = load(request)
    hp, triplet = derive(record, TODAY, context).regimens
    assert (hp.label, hp.progression_relation) == ("trastuzumab + pertuzumab", "on")
    assert triplet.label == "tucatinib + trastuzumab + capecitabine"
    assert (triplet.start.text, triplet.active, triplet.progression) == ("2025-04-14", True, None)


LMD = "LEPTOMENINGEAL-DISEASE"


def _lmd_on_mri(conclusion: str) -> dict:
    p, primary = her2_patient("lmd")
    p.brain_mets("2025-03-01", primary)
    p.brain_mri("2026-11-02", conclusion)
    return p.bundle("leptomeningeal disease on the MRI, not yet on the problem list")


@pytest.mark.parametrize(
    ("conclusion", "card", "value"),
    [
        (
            "Diffuse leptomeningeal enhancement along the cerebellar folia, consistent with"
            " leptomeningeal disease.",
            True,
            True,
        ),
        ("Stable treated lesions. No leptomeningeal enhancement.", False, False),
        ("Faint sulcal enhancement, suspicious for leptomeningeal disease.", False, UNKNOWN),
    ],
    ids=["stated", "negative control", "only raised"],
)
def test_leptomeningeal_disease_named_by_the_mri_before_the_problem_list(
    client: FlaskClient, conclusion: str, card: bool, value: object
) -> None:
    request = hook_request(_lmd_on_mri(conclusion), "patient-view")
    result = post_hook(client, request)
    assert result.status == 200
    assert (LMD in cards_by_rule(result)) is card
    record, context = load(request)
    fact = derive(record, TODAY, context).leptomeningeal_disease
    assert fact.value is value
    if value is True:
        assert fact.evidence == ("DiagnosticReport/lmd-brain-mri-report-1",)
        assert "words in a brain imaging report" in fact.basis
