"""The four clinical scenarios derive what a clinician reads in them, fact by fact."""

from __future__ import annotations

from datetime import date

import pytest

from cds_service.state.model import UNKNOWN, PatientState
from tests.state.support import FIXTURES, load_bundle, state_of

SCENARIO_1 = "scenarios/01-rechallenge-after-srs"
VARIANTS = sorted(p.stem for p in (FIXTURES / "variants").glob("01*.json"))


def month(d: object) -> str:
    return str(d)[:7]


def clinical_summary(state: PatientState) -> dict:
    """What a clinician would write down from scenario 1, independent of how it was coded."""
    return {
        "breast cancer": state.breast_cancer.value,
        "HER2": state.her2.status.value,
        "brain metastases": state.brain_metastases.value,
        "brain metastases since": month(state.brain_metastases_onset.value),
        "leptomeningeal disease": state.leptomeningeal_disease.value,
        "mass effect": state.mass_effect.value,
        "SRS courses": [(month(c.start), c.targets) for c in state.srs_courses],
        "intracranial progression": [month(e.when) for e in state.intracranial_progressions],
        "extracranial": state.extracranial_status.value,
        "regimens": [
            (
                r.label,
                month(r.start),
                month(r.end),
                r.stop_reason,
                month(r.progression.when) if r.progression else None,
            )
            for r in state.regimens
        ],
        "last brain MRI": month(state.last_brain_mri.value),
        "ECOG": (state.performance_status.value.scale, state.performance_status.value.value),  # type: ignore[union-attr]
    }


SCENARIO_1_SUMMARY = {
    "breast cancer": True,
    "HER2": "positive",
    "brain metastases": True,
    "brain metastases since": "2024-05",
    "leptomeningeal disease": False,
    "mass effect": False,
    "SRS courses": [("2024-06", ("Left frontal lobe",)), ("2025-02", ("Right parietal lobe",))],
    # 2024-05: the first brain metastases were diagnosed during trastuzumab + pertuzumab.
    "intracranial progression": ["2024-05", "2025-01", "2026-08"],
    "extracranial": "stable",
    "regimens": [
        ("trastuzumab + pertuzumab + docetaxel", "2021-04", "2025-02", "progression", "2025-01"),
        ("lapatinib + capecitabine", "2025-02", "2026-08", "progression", "2026-08"),
    ],
    "last brain MRI": "2026-08",
    "ECOG": ("ECOG", 1),
}


def test_scenario_1_reads_as_two_srs_courses_each_followed_by_progression(fixture_state) -> None:
    state = fixture_state(SCENARIO_1)
    assert clinical_summary(state) == SCENARIO_1_SUMMARY
    assert [c.start.text for c in state.srs_courses] == ["2024-06-05", "2025-02-03"]
    assert state.brain_metastases_onset.value.text == "2024-05-14"
    assert state.last_brain_mri.value.text == "2026-08-20"


def test_scenario_1_lapatinib_course_ended_for_progression_with_its_evidence(fixture_state) -> None:
    state = fixture_state(SCENARIO_1)
    lapatinib = [c for c in state.courses if c.agent == "lapatinib"]
    assert len(lapatinib) == 1
    assert (
        lapatinib[0].start.text,
        lapatinib[0].end.text,
        lapatinib[0].active,
        lapatinib[0].stop_reason,
    ) == ("2025-02-10", "2026-08-25", False, "progression")
    regimen = next(r for r in state.regimens if "lapatinib" in r.agents)
    assert regimen.progression is not None
    assert regimen.progression.evidence == ("Observation/scenario-01-disease-status-2",)
    assert "MedicationStatement/scenario-01-med-lapatinib-1" in regimen.evidence
    assert not any(r.active for r in state.regimens)


@pytest.mark.parametrize("variant", VARIANTS)
def test_variant_derives_the_same_clinical_state_as_scenario_1(variant: str) -> None:
    state = state_of(load_bundle(FIXTURES / "variants" / f"{variant}.json"))
    expected = clinical_summary(state_of(load_bundle(FIXTURES / f"{SCENARIO_1}.json")))
    actual = clinical_summary(state)
    for fact, value in expected.items():
        assert actual[fact] == value, f"{variant}: {fact}"
    assert not state.notes, f"{variant}: {state.notes}"


def test_per_fraction_billing_is_grouped_into_courses_never_counted_as_courses(
    fixture_state,
) -> None:
    state = fixture_state("variants/01e-srs-billing-codes")
    assert [(c.fractions, len(c.evidence)) for c in state.srs_courses] == [(3, 3), (3, 3)]


def test_mcode_course_summaries_keep_their_fraction_counts(fixture_state) -> None:
    state = fixture_state("variants/01f-mcode-rt-course")
    assert [c.fractions for c in state.srs_courses] == [1, 5]
    assert state.wbrt_courses == ()


def test_renewals_are_one_course_and_validity_period_is_not_treatment(fixture_state) -> None:
    state = fixture_state("variants/01c-medication-requests")
    lapatinib = [c for c in state.courses if c.agent == "lapatinib"]
    assert len(lapatinib) == 1 and len(lapatinib[0].evidence) == 7
    # The last request's validity ran to 2027-08-03; treatment stopped 2026-08-25.
    assert lapatinib[0].end.text == "2026-08-25"


def test_partial_dates_are_flagged(fixture_state) -> None:
    state = fixture_state("variants/01g-partial-dates")
    assert state.brain_metastases_onset.value.precision == "month"
    assert any("recorded only to the month" in n for n in state.brain_metastases_onset.notes)


def test_scenario_2_new_brain_metastases_stable_on_trastuzumab_pertuzumab(fixture_state) -> None:
    state = fixture_state("scenarios/02-new-brain-mets-stable-on-hp")
    assert state.her2.status.value == "positive"
    assert state.her2.tests[0].method == "ISH amplified"
    assert state.brain_metastases_onset.value.text == "2026-11-02"
    assert state.brain_lesion_count.value == 2
    assert state.local_therapies == () and state.local_therapy_known.value is True
    assert state.extracranial_status.value == "stable"
    # The first brain metastases, diagnosed while on trastuzumab + pertuzumab: CNS progression.
    [event] = state.intracranial_progressions
    assert (event.kind, event.when.text) == ("first-brain-metastasis", "2026-11-02")
    assert event.description == "first brain metastasis diagnosed"
    active = [r for r in state.regimens if r.active]
    assert [(r.progression, r.progression_relation) for r in active] == [(event, "on")]
    assert [frozenset({"trastuzumab", "pertuzumab"}) <= r.agents for r in active] == [True]
    assert state.performance_status.value.value == 0  # type: ignore[union-attr]


def test_scenario_3_progressed_on_taxane_carboplatin_trastuzumab(fixture_state) -> None:
    state = fixture_state("scenarios/03-progressed-after-thp")
    (regimen,) = state.regimens
    assert regimen.agents == {"paclitaxel", "carboplatin", "trastuzumab"}
    assert regimen.stop_reason == "progression" and regimen.progression is not None
    assert state.extracranial_status.value == "progressing"
    assert [e.when.text for e in state.intracranial_progressions] == ["2026-09-10"]
    assert state.mass_effect.value is False


def test_scenario_4_solitary_cerebellar_lesion_with_mass_effect(fixture_state) -> None:
    state = fixture_state("scenarios/04-cerebellar-mass-effect")
    assert state.mass_effect.value is True
    assert state.largest_brain_lesion_cm.value == 3.8
    assert state.brain_lesion_count.value == 1
    # The size is "large", never evidence of mass effect: the words are (hydrocephalus).
    assert "Observation/scenario-04-tumor-size-1" not in state.mass_effect.evidence
    assert state.severe_mass_effect.value == ("hydrocephalus",)
    (regimen,) = state.regimens
    assert regimen.stop_reason == "completed" and regimen.end.text == "2024-02-12"
    assert regimen.progression is None
    born = date(1962, 5, 20)
    assert (
        state.today.year
        - born.year
        - ((state.today.month, state.today.day) < (born.month, born.day))
    ) == 64


@pytest.mark.parametrize(
    ("control", "her2", "brain"),
    [
        ("01-her2-negative-brain-mets", "negative", True),
        ("02-her2-positive-no-brain-mets", "positive", False),
    ],
)
def test_controls_her2_and_brain(fixture_state, control: str, her2: str, brain: bool) -> None:
    state = fixture_state(f"controls/{control}")
    assert (state.her2.status.value, state.brain_metastases.value) == (her2, brain)


def test_control_without_brain_metastases_has_no_onset_and_no_mri(fixture_state) -> None:
    state = fixture_state("controls/02-her2-positive-no-brain-mets")
    assert state.brain_metastases_onset.value is UNKNOWN
    assert state.last_brain_mri.known and state.last_brain_mri.value is None


@pytest.mark.parametrize(
    ("control", "progressed"),
    [("03-tucatinib-stable-cns", False), ("04-progressed-on-tucatinib", True)],
)
def test_tucatinib_regimen_progression(fixture_state, control: str, progressed: bool) -> None:
    state = fixture_state(f"controls/{control}")
    current = [r for r in state.regimens if r.active]
    assert [r.agents for r in current] == [frozenset({"tucatinib", "trastuzumab", "capecitabine"})]
    assert (current[0].progression is not None) is progressed
    assert state.regimens[0].agents == {"trastuzumab", "pertuzumab"}


def test_recent_brain_mri(fixture_state) -> None:
    state = fixture_state("controls/05-recent-brain-mri")
    assert state.last_brain_mri.value.text == "2026-11-01"
    # Brain metastases first diagnosed while on trastuzumab + pertuzumab: CNS progression on it.
    assert [e.kind for e in state.intracranial_progressions] == ["first-brain-metastasis"]


def test_lapatinib_stopped_for_toxicity_is_not_progression(fixture_state) -> None:
    state = fixture_state("controls/06-lapatinib-stopped-toxicity")
    (regimen,) = state.regimens
    assert regimen.stop_reason == "toxicity" and regimen.progression is None


def test_running_lapatinib_course_is_active_despite_expired_prescription(fixture_state) -> None:
    state = fixture_state("controls/07-running-lapatinib")
    lapatinib = [c for c in state.courses if c.agent == "lapatinib"]
    assert len(lapatinib) == 1 and lapatinib[0].active and lapatinib[0].end is None


def test_phenytoin_is_a_course_but_never_part_of_a_regimen(fixture_state) -> None:
    state = fixture_state("controls/08-on-phenytoin")
    assert any(c.agent == "phenytoin" and c.active for c in state.courses)
    assert all("phenytoin" not in r.agents for r in state.regimens)
    assert [r.agents for r in state.regimens] == [frozenset({"trastuzumab", "pertuzumab"})]
