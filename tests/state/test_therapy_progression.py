"""Which regimen a progression belongs to, regimens given and stopped for no recorded reason, the
first brain metastasis diagnosed on a regimen, and the agents active on a date (estimated ends)."""

from __future__ import annotations

from datetime import date

from cds_service.state.model import UNKNOWN
from tests.state.medications import PATIENT_ID, infusions, request, state, statement

SCT = "http://snomed.info/sct"
ICD = "http://hl7.org/fhir/sid/icd-10-cm"
BREAST = {
    "resourceType": "Condition",
    "id": "breast",
    "subject": {"reference": f"Patient/{PATIENT_ID}"},
    "code": {"coding": [{"system": ICD, "code": "C50.912"}], "text": "Breast cancer"},
    "onsetDateTime": "2020-01-10",
}


def brain_mets(onset: str, code: str = "C79.31", rid: str = "brain-mets") -> dict:
    return {
        "resourceType": "Condition",
        "id": rid,
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
        "clinicalStatus": {"coding": [{"code": "active"}]},
        "code": {"coding": [{"system": ICD, "code": code}]},
        "onsetDateTime": onset,
    }


def worsened(rid: str, when: str) -> dict:
    """Cancer disease status (LOINC 97509-4) worsened, in the brain."""
    return {
        "resourceType": "Observation",
        "id": rid,
        "status": "final",
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
        "code": {"coding": [{"system": "http://loinc.org", "code": "97509-4"}]},
        "effectiveDateTime": when,
        "valueCodeableConcept": {"coding": [{"system": SCT, "code": "271299001"}]},
        "bodySite": {"coding": [{"system": SCT, "code": "12738006"}]},
    }


def orders_only(*extra: dict) -> tuple[dict, ...]:
    """Lapatinib + capecitabine known only from orders (authoredOn, no supply, no end)."""
    return (
        request("lap", "lapatinib", "completed", authoredOn="2025-02-10"),
        request("cap", "capecitabine", "completed", authoredOn="2025-02-10"),
        *extra,
    )


def test_progression_after_a_regimen_whose_end_is_unknown_is_on_or_after_it() -> None:
    s = state(BREAST, *orders_only(worsened("p", "2026-08-20")))
    (regimen,) = s.regimens
    assert (regimen.label, regimen.active, regimen.end) == ("lapatinib + capecitabine", False, None)
    assert regimen.progression is not None and regimen.progression.when.text == "2026-08-20"
    assert regimen.progression_relation == "on or after"


def test_progression_within_an_estimated_end_is_on_it() -> None:
    supply = {"expectedSupplyDuration": {"value": 28, "code": "d"}, "numberOfRepeatsAllowed": 11}
    s = state(
        BREAST,
        request("lap", "lapatinib", "completed", authoredOn="2025-02-10", dispenseRequest=supply),
        worsened("p", "2025-09-01"),
    )
    (regimen,) = s.regimens
    assert (regimen.progression_relation, regimen.courses[0].end_estimated) == ("on", True)


def test_progression_long_after_an_estimated_end_is_on_or_after_it() -> None:
    supply = {"expectedSupplyDuration": {"value": 28, "code": "d"}}
    s = state(
        BREAST,
        request("lap", "lapatinib", "completed", authoredOn="2025-02-10", dispenseRequest=supply),
        worsened("p", "2026-08-20"),
    )
    assert s.regimens[0].progression_relation == "on or after"


def test_negative_control_progression_long_after_a_recorded_end_is_not_on_it() -> None:
    s = state(
        BREAST,
        statement(
            "s",
            "trastuzumab",
            "completed",
            effectivePeriod={"start": "2020-03-01", "end": "2021-03-01"},
        ),
        worsened("p", "2024-06-01"),
    )
    (regimen,) = s.regimens
    assert (regimen.progression, regimen.progression_relation) == (None, None)


def test_progression_belongs_to_the_last_regimen_started_before_it() -> None:
    s = state(
        BREAST,
        *orders_only(),
        *infusions("tdxd", "t-dxd", "2026-03-02", "2026-03-23", "2026-04-13"),
        worsened("p", "2026-05-01"),
    )
    by_label = {r.label: r for r in s.regimens}
    assert by_label["lapatinib + capecitabine"].progression is None
    assert by_label["t-dxd"].progression_relation == "on"


def test_a_regimen_stopped_for_an_unrecorded_reason_is_given_with_its_dates() -> None:
    s = state(
        BREAST,
        request("tuc", "tucatinib", "stopped", authoredOn="2025-01-06"),
        request("cap", "capecitabine", "stopped", authoredOn="2025-01-06"),
        *infusions("her", "trastuzumab", "2025-01-06", "2025-01-27", "2025-02-17"),
        *infusions("tdxd", "t-dxd", "2026-03-02", "2026-03-23", "2026-04-13"),
        worsened("p", "2026-05-01"),
    )
    triplet, tdxd = s.regimens
    assert triplet.agents == {"tucatinib", "capecitabine", "trastuzumab"}
    assert (triplet.active, triplet.stop_reason, triplet.start.text) == (
        False,
        UNKNOWN,
        "2025-01-06",
    )
    assert triplet.progression is None
    assert (tdxd.label, tdxd.progression_relation) == ("t-dxd", "on")


def test_first_brain_metastasis_during_a_regimen_is_cns_progression_on_it() -> None:
    s = state(
        BREAST,
        *infusions("tdm1", "t-dm1", "2025-01-06", "2025-01-27", "2025-02-17"),
        brain_mets("2025-02-20"),
    )
    (event,) = s.intracranial_progressions
    assert (event.kind, event.when.text, event.site) == (
        "first-brain-metastasis",
        "2025-02-20",
        "intracranial",
    )
    assert event.description == "first brain metastasis diagnosed"
    assert event.evidence == ("Condition/brain-mets",)
    assert (s.regimens[0].progression, s.regimens[0].progression_relation) == (event, "on")


def test_first_leptomeningeal_metastasis_during_a_regimen_is_cns_progression_on_it() -> None:
    s = state(
        BREAST,
        *infusions("tdm1", "t-dm1", "2025-01-06", "2025-01-27"),
        brain_mets("2025-02-01", "C79.32", "lmd"),
    )
    assert [e.description for e in s.intracranial_progressions] == [
        "first leptomeningeal metastasis diagnosed"
    ]


def test_negative_control_brain_metastasis_with_no_regimen_running_is_a_new_diagnosis() -> None:
    s = state(
        BREAST, *infusions("tdm1", "t-dm1", "2024-01-08", "2024-01-29"), brain_mets("2025-02-20")
    )
    assert s.intracranial_progressions == ()


def test_brain_metastasis_after_a_regimen_whose_end_is_unknown_is_progression_on_or_after_it() -> (
    None
):
    # Nothing records or estimates the regimen's end: it may have run until the diagnosis, so the
    # first brain metastasis is CNS progression "on or after" it, worded so (never silence).
    s = state(BREAST, *orders_only(), brain_mets("2026-02-20"))
    (event,) = s.intracranial_progressions
    assert (event.kind, event.when.text, event.description) == (
        "first-brain-metastasis",
        "2026-02-20",
        "first brain metastasis diagnosed",
    )
    (regimen,) = s.regimens
    assert (regimen.progression, regimen.progression_relation) == (event, "on or after")


def test_negative_control_brain_metastasis_after_a_recorded_end_is_a_new_diagnosis() -> None:
    s = state(
        BREAST,
        statement(
            "s", "t-dm1", "completed", effectivePeriod={"start": "2024-01-08", "end": "2024-06-01"}
        ),
        brain_mets("2025-02-20"),
    )
    assert s.intracranial_progressions == ()


def test_agents_active_on_a_date_read_estimated_ends() -> None:
    s = state(BREAST, *infusions("tdxd", "t-dxd", "2026-01-19", "2026-02-09", "2026-03-02"))
    assert s.agents_active_on(date(2026, 3, 20)) == {"t-dxd"}  # last infusion + 21 days
    assert s.agents_active_on(date(2026, 3, 24)) == frozenset()
    assert s.agents_active_on(date(2026, 1, 1)) == frozenset()


def test_an_estimated_end_past_a_switch_does_not_carry_the_course_into_the_new_line() -> None:
    supply = {"expectedSupplyDuration": {"value": 28, "code": "d"}, "numberOfRepeatsAllowed": 11}
    s = state(
        BREAST,
        request("lap", "lapatinib", "completed", authoredOn="2025-02-10", dispenseRequest=supply),
        *infusions("tdxd", "t-dxd", "2025-06-02", "2025-06-23", "2025-07-14"),
    )
    assert [r.label for r in s.regimens] == ["lapatinib", "t-dxd"]


def test_infusions_given_after_a_switch_carry_the_antibody_into_the_new_line() -> None:
    s = state(
        BREAST,
        *infusions("her", "trastuzumab", "2025-01-06", "2025-01-27", "2025-02-17", "2025-03-10"),
        *infusions("pac", "paclitaxel", "2025-01-06", "2025-01-13", "2025-01-20"),
        request("cap", "capecitabine", "completed", authoredOn="2025-02-17"),
    )
    assert [r.label for r in s.regimens] == [
        "trastuzumab + paclitaxel",
        "trastuzumab + capecitabine",
    ]
