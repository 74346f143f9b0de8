"""Single facts on small records: history, unknown inputs, HER2 discordance, local therapy."""

from __future__ import annotations

import copy

import pytest

from cds_service.state.model import UNKNOWN
from tests.state.build_fixtures import NEGATIVE, POSITIVE, SCT, Patient, cc, scenario_01
from tests.state.support import state_of

LAPATINIB_ORDER = {
    "resourceType": "MedicationRequest",
    "id": "draft-lapatinib",
    "status": "draft",
    "intent": "order",
    "subject": {"reference": "Patient/scenario-01"},
    "authoredOn": "2026-11-23",
    "medicationCodeableConcept": {"text": "Tykerb 250 mg tablet"},
}
SRS_ORDER = {
    "resourceType": "ServiceRequest",
    "id": "draft-srs",
    "status": "draft",
    "intent": "order",
    "subject": {"reference": "Patient/scenario-01"},
    "code": cc({"system": "http://www.ama-assn.org/go/cpt", "code": "77372"}),
    "bodySite": [cc({"system": SCT, "code": "12738006"}, text="Right parietal lobe")],
}


def _context(*orders: dict, selections: list[str] | None = None) -> dict:
    context: dict = {
        "draftOrders": {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{"resource": o} for o in orders],
        }
    }
    if selections is not None:
        context["selections"] = selections
    return context


def test_draft_orders_are_recognised_and_selected_per_hook() -> None:
    bundle = scenario_01()
    select = state_of(
        bundle,
        _context(LAPATINIB_ORDER, SRS_ORDER, selections=["MedicationRequest/draft-lapatinib"]),
    )
    assert [(d.reference, d.agents, d.procedure, d.selected) for d in select.draft_orders] == [
        ("MedicationRequest/draft-lapatinib", frozenset({"lapatinib"}), None, True),
        ("ServiceRequest/draft-srs", frozenset(), "srs", False),
    ]
    assert "right parietal lobe" in select.draft_orders[1].body_sites
    sign = state_of(bundle, _context(LAPATINIB_ORDER, SRS_ORDER))
    assert all(d.selected for d in sign.draft_orders)


def test_a_draft_order_is_never_history_even_when_the_record_holds_it() -> None:
    bundle = scenario_01()
    # The EHR also returned the draft in the MedicationRequest search, as active.
    bundle["entry"].append({"resource": {**LAPATINIB_ORDER, "status": "active"}})
    state = state_of(bundle, _context(LAPATINIB_ORDER))
    lapatinib = [c for c in state.courses if c.agent == "lapatinib"]
    assert len(lapatinib) == 1 and not lapatinib[0].active
    assert "MedicationRequest/draft-lapatinib" not in lapatinib[0].evidence


@pytest.mark.parametrize("status", ["entered-in-error", "not-taken"])
def test_void_medication_statements_are_not_history(status: str) -> None:
    p = Patient("void", "1970-01-01")
    p.medication("lapatinib", "2025-01-01", "2025-06-01", status)
    state = state_of(p.bundle("void"))
    assert state.courses == () and state.regimens == ()
    assert any(status in n for n in state.notes)


def test_no_medication_data_makes_therapy_history_unknown() -> None:
    state = state_of(
        scenario_01(),
        unavailable=("MedicationStatement", "MedicationRequest", "MedicationAdministration"),
    )
    assert state.therapy_history_known.value is False
    state = state_of(scenario_01())
    assert state.therapy_history_known.value is True


def test_unavailable_conditions_make_diagnoses_unknown_not_false() -> None:
    bundle = scenario_01()
    bundle["entry"] = [e for e in bundle["entry"] if e["resource"]["resourceType"] != "Condition"]
    state = state_of(bundle, unavailable=("Condition",))
    assert state.breast_cancer.value is UNKNOWN and state.brain_metastases.value is UNKNOWN
    assert state.leptomeningeal_disease.value is UNKNOWN


def test_a_later_negative_her2_does_not_switch_positive_off_and_is_flagged() -> None:
    p = Patient("discordant", "1970-01-01")
    p.breast_cancer("2020-01-10")
    p.her2("2020-01-08", ("85319-2", "HER2 IHC"), cc(POSITIVE), "IHC 3+ on breast core biopsy")
    p.her2("2025-06-01", ("85319-2", "HER2 IHC"), cc(NEGATIVE), "IHC 0 on decalcified bone biopsy")
    her2 = state_of(p.bundle("discordant")).her2
    assert her2.status.value == "positive" and her2.discordant
    assert any("discordant" in n for n in her2.status.notes)
    assert len(her2.status.evidence) == 2


def test_her2_positive_from_ihc_text_and_from_diagnosis() -> None:
    p = Patient("text", "1970-01-01")
    p.breast_cancer("2020-01-10")
    p.her2(
        "2020-01-08", ("18474-7", "HER2 Ag [Presence] in Tissue by Immune stain"), cc(text="3+"), ""
    )
    assert state_of(p.bundle("x")).her2.status.value == "positive"
    p = Patient("dx", "1970-01-01")
    p.condition(
        "her2",
        cc({"system": SCT, "code": "427685000"}),
        "2020-01-10",
        "mcode-primary-cancer-condition",
    )
    state = state_of(p.bundle("x"))
    assert (state.breast_cancer.value, state.her2.status.value) == (True, "positive")


def test_no_her2_result_is_unknown() -> None:
    p = Patient("none", "1970-01-01")
    p.breast_cancer("2020-01-10")
    assert state_of(p.bundle("x")).her2.status.value is UNKNOWN


def test_leptomeningeal_disease_is_not_parenchymal_brain_metastasis() -> None:
    p = Patient("lmd", "1970-01-01")
    p.breast_cancer("2020-01-10")
    p.condition(
        "lmd",
        cc({"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "C79.32"}),
        "2026-10-01",
        "mcode-secondary-cancer-condition",
    )
    state = state_of(p.bundle("x"))
    assert state.leptomeningeal_disease.value is True
    assert state.brain_metastases.value is False


def test_whole_brain_radiotherapy_with_hippocampal_avoidance_from_text() -> None:
    bundle = scenario_01()
    bundle["entry"].append(
        {
            "resource": {
                "resourceType": "Procedure",
                "id": "wbrt",
                "status": "completed",
                "subject": {"reference": "Patient/scenario-01"},
                "code": {
                    "text": "HA-WBRT 30 Gy in 10 fractions with memantine (hippocampal avoidance)"
                },
                "performedPeriod": {"start": "2026-09-07", "end": "2026-09-18"},
            }
        }
    )
    state = state_of(bundle)
    (wbrt,) = state.wbrt_courses
    assert wbrt.hippocampal_avoidance is True and wbrt.start.text == "2026-09-07"
    assert len(state.srs_courses) == 2


def test_a_second_srs_course_without_recorded_progression_implies_it() -> None:
    bundle = copy.deepcopy(scenario_01())
    # Neither the disease status nor the report it was recorded from (which states the new lesion).
    left_out = {"scenario-01-disease-status-1", "scenario-01-brain-mri-report-2"}
    bundle["entry"] = [e for e in bundle["entry"] if e["resource"]["id"] not in left_out]
    events = state_of(bundle).intracranial_progressions
    assert [(e.kind, e.when.text) for e in events] == [
        ("first-brain-metastasis", "2024-05-14"),  # diagnosed during trastuzumab + pertuzumab
        ("new-srs-course", "2025-02-03"),
        ("disease-status", "2026-08-20"),
    ]


def test_sbrt_per_fraction_code_outside_the_brain_is_not_srs() -> None:
    p = Patient("sbrt", "1970-01-01")
    p.add(
        "Procedure",
        "sbrt",
        {
            "status": "completed",
            "performedDateTime": "2025-01-01",
            "code": cc({"system": "http://www.ama-assn.org/go/cpt", "code": "77373"}),
            "bodySite": [cc({"system": SCT, "code": "39607008", "display": "Lung structure"})],
        },
    )
    assert state_of(p.bundle("x")).local_therapies == ()


def test_resection_by_cpt() -> None:
    p = Patient("resection", "1970-01-01")
    p.add(
        "Procedure",
        "craniotomy",
        {
            "status": "completed",
            "performedDateTime": "2026-11-20",
            "code": cc({"system": "http://www.ama-assn.org/go/cpt", "code": "61518"}),
        },
    )
    (resection,) = state_of(p.bundle("x")).resections
    assert resection.start.text == "2026-11-20"


def test_progression_after_a_regimen_ended_and_a_new_one_began_is_not_on_the_old_one() -> None:
    p = Patient("between", "1970-01-01")
    primary = p.breast_cancer("2020-01-10")
    for agent in ("lapatinib", "capecitabine"):
        p.medication(agent, "2024-01-01", "2024-06-01", "stopped", "Patient preference")
    p.medication("tucatinib", "2024-06-15", None, "active")
    p.disease_status("2024-07-01", primary, {"system": SCT, "code": "271299001"}, "Progression")
    state = state_of(p.bundle("x"))
    lap = next(r for r in state.regimens if "lapatinib" in r.agents)
    tuc = next(r for r in state.regimens if "tucatinib" in r.agents)
    assert lap.progression is None and tuc.progression is not None


def test_administrations_of_one_agent_form_one_course() -> None:
    p = Patient("admin", "1970-01-01")
    for day in ("2026-08-03", "2026-08-24", "2026-09-14", "2026-10-05", "2026-10-26", "2026-11-16"):
        p.add(
            "MedicationAdministration",
            "tdxd",
            {
                "status": "completed",
                "effectiveDateTime": day,
                "medicationCodeableConcept": cc(text="Enhertu 100 mg"),
            },
        )
    (course,) = state_of(p.bundle("x")).courses
    assert (course.agent, course.start.text, course.active, len(course.evidence)) == (
        "t-dxd",
        "2026-08-03",
        True,
        6,
    )
