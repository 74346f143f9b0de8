"""Progression events, one case per row of the catalogue (shared/reference/real-world-fhir-
representations.md section 3): disease status old and new, CodeX qualifier, radiology reports in
their shapes, recurrence and re-recorded metastases; negative controls and unreadable variants."""

from __future__ import annotations

import base64

import pytest

from cds_service.state.model import UNKNOWN, ProgressionEvent
from tests.state.build_fixtures import BRAIN, LOINC, SCT, Patient, cc
from tests.state.support import state_of

WORSENED = {"system": SCT, "code": "271299001", "display": "Patient's condition worsened"}
CODEX = "http://hl7.org/fhir/us/codex-radiation-therapy/StructureDefinition/"
RAD = cc({"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "RAD"})


def _patient(pid: str = "pg") -> tuple[Patient, dict, dict]:
    p = Patient(pid, "1970-01-01")
    primary = p.breast_cancer("2022-01-10")
    return p, primary, p.brain_mets("2024-03-01", primary)


def _events(p: Patient) -> tuple[ProgressionEvent, ...]:
    return state_of(p.bundle("progression")).progression_events


def _status(p: Patient, loinc: str, focus: dict | None, **extra) -> dict:
    body: dict = {
        "status": "final",
        "code": cc({"system": LOINC, "code": loinc}),
        "effectiveDateTime": "2024-09-01",
        "valueCodeableConcept": cc(WORSENED),
        **extra,
    }
    if focus is not None:
        body["focus"] = [p.ref(focus)]
    return p.add("Observation", "status", body)


@pytest.mark.parametrize("loinc", ["97509-4", "88040-1"], ids=["mCODE STU2+", "mCODE STU1"])
def test_disease_status_worsened_on_the_brain_metastases(loinc: str) -> None:
    p, _, met = _patient()
    _status(p, loinc, met)
    (event,) = _events(p)
    assert (event.site, event.kind, event.when.text) == (
        "intracranial",
        "disease-status",
        "2024-09-01",
    )


def test_disease_status_tied_by_body_site_and_elsewhere() -> None:
    p, primary, _ = _patient()
    _status(p, "97509-4", None, bodySite=cc(BRAIN))
    _status(p, "97509-4", primary)
    sites = sorted(e.site for e in _events(p))
    assert sites == ["extracranial", "intracranial"]


def test_codex_local_progression_of_an_irradiated_brain_volume() -> None:
    p, _, met = _patient()
    p.add(
        "Procedure",
        "rt",
        {
            "status": "completed",
            "code": cc({"system": SCT, "code": "1217123003"}),
            "performedPeriod": {"start": "2024-04-01", "end": "2024-04-05"},
            "bodySite": [cc(BRAIN)],
            "extension": [
                {
                    "url": "http://hl7.org/fhir/us/mcode/StructureDefinition/"
                    "mcode-radiotherapy-dose-delivered-to-volume",
                    "extension": [
                        {"url": "volume", "valueReference": {"reference": "BodyStructure/v1"}},
                        {"url": "fractionsDelivered", "valueUnsignedInt": 3},
                    ],
                }
            ],
        },
    )
    worsened = cc(WORSENED)
    worsened["extension"] = [
        {
            "url": CODEX + "codexrt-radiotherapy-disease-progression-qualifier",
            "valueCodeableConcept": cc({"system": SCT, "code": "255470001"}),
        }
    ]
    p.add(
        "Observation",
        "status",
        {
            "status": "final",
            "code": cc({"system": LOINC, "code": "97509-4"}),
            "effectiveDateTime": "2024-09-01",
            "valueCodeableConcept": worsened,
            "extension": [
                {
                    "url": CODEX + "codexrt-radiotherapy-volume-extension",
                    "valueReference": {"reference": "BodyStructure/v1"},
                }
            ],
        },
    )
    (event,) = [e for e in _events(p) if e.kind == "disease-status"]
    assert event.site == "intracranial"
    assert "local progression of an irradiated brain volume" in event.description


def _report(p: Patient, status: str = "final", **content) -> dict:
    return p.add(
        "DiagnosticReport",
        "report",
        {
            "status": status,
            "category": [RAD],
            "code": cc({"system": LOINC, "code": "24587-8"}),
            "effectiveDateTime": "2024-09-01",
            **content,
        },
    )


def _text(words: str, content_type: str = "text/plain") -> list[dict]:
    return [{"contentType": content_type, "data": base64.b64encode(words.encode()).decode()}]


@pytest.mark.parametrize(
    "content",
    [
        {"conclusion": "New left frontal lesion; treated right lesion smaller."},
        {"conclusion": "Interval enlargement of the right parietal metastasis."},
        {"conclusionCode": [cc(WORSENED)]},
        {"presentedForm": _text("IMPRESSION: two new enhancing lesions.")},
    ],
    ids=["conclusion new lesion", "conclusion enlarging", "conclusionCode", "presentedForm"],
)
def test_radiology_report_stating_progression(content: dict) -> None:
    p, _, _ = _patient()
    report = _report(p, **content)
    (event,) = _events(p)
    assert (event.site, event.kind) == ("intracranial", "radiology-report")
    assert event.evidence == (f"DiagnosticReport/{report['id']}",)


@pytest.mark.parametrize(
    ("conclusion", "side"),
    [
        ("New left frontal lesion; treated right lesion smaller.", "left"),
        ("Interval enlargement of the right parietal metastasis.", "right"),
        ("New left frontal lesion. Enlarging right parietal lesion.", "bilateral"),
        ("Two new enhancing lesions.", None),  # no side named: it may be any lesion
        ("New left frontal lesion and two new lesions.", None),
    ],
    ids=["new lesion", "enlarging", "new and enlarging", "no side", "one side of two findings"],
)
def test_a_report_progression_carries_the_side_its_words_name(
    conclusion: str, side: str | None
) -> None:
    p, _, _ = _patient()
    _report(p, conclusion=conclusion)
    (event,) = _events(p)
    assert event.laterality == side


def test_status_and_condition_progressions_carry_their_site_side() -> None:
    p, primary, _ = _patient()
    _status(p, "97509-4", None, bodySite=cc(BRAIN, text="Right frontal lobe"))
    recurred = p.brain_mets("2025-02-01", primary, site=cc(BRAIN, text="L cerebellum"))
    recurred["clinicalStatus"] = cc({"code": "recurrence"})
    sides = {e.kind: e.laterality for e in _events(p)}
    assert sides == {
        "disease-status": "right",
        "recurrence": "left",
        "re-recorded-metastasis": "left",  # the same Condition, recorded again after 30 days
    }


def test_a_ct_head_radiology_report_with_a_local_code() -> None:
    p, _, _ = _patient()
    p.add(
        "DiagnosticReport",
        "ct",
        {
            "status": "final",
            "category": [RAD],
            "code": cc({"system": "urn:local", "code": "CTH"}, text="CT head without contrast"),
            "effectiveDateTime": "2024-09-01",
            "conclusion": "New right cerebellar lesion.",
        },
    )
    assert [e.kind for e in _events(p)] == ["radiology-report"]


@pytest.mark.parametrize(
    ("status", "content"),
    [
        ("final", {"conclusion": "No new lesions. No evidence of progression."}),
        ("preliminary", {"conclusion": "New left frontal lesion."}),
        ("entered-in-error", {"conclusion": "New left frontal lesion."}),
        ("final", {"presentedForm": _text("new lesion", content_type="application/pdf")}),
    ],
    ids=["negative control", "preliminary", "entered-in-error", "unreadable PDF"],
)
def test_reports_that_state_no_progression(status: str, content: dict) -> None:
    p, _, _ = _patient()
    _report(p, status, **content)
    state = state_of(p.bundle("no progression"))
    assert state.progression_events == ()
    if status == "preliminary":
        assert any("not read for progression until final" in n for n in state.notes)


def test_recurrence_and_re_recorded_metastasis() -> None:
    p, primary, _ = _patient()
    p.brain_mets("2024-10-01", primary)  # recorded again seven months later
    recurred = p.brain_mets("2025-02-01", primary)
    recurred["clinicalStatus"] = cc({"code": "recurrence"})
    kinds = sorted(e.kind for e in _events(p))
    assert kinds == ["re-recorded-metastasis", "re-recorded-metastasis", "recurrence"]


def test_conditions_are_dated_by_their_own_onset_not_the_search() -> None:
    """Epic's onset-filtered search returns every active Condition: the same diagnosis coded
    again within 30 days of the first is no new event, whatever the search asked for."""
    p, primary, _ = _patient()
    p.brain_mets("2024-03-20", primary)
    assert _events(p) == ()


def test_extracranial_status_unknown_without_observations() -> None:
    p, _, _ = _patient()
    state = state_of(p.bundle("no observations"), unavailable=("Observation",))
    assert state.extracranial_status.value is UNKNOWN


@pytest.mark.parametrize("missing", ["Observation", "DiagnosticReport"])
def test_no_event_without_reports_or_status_is_unknown_not_none(missing: str) -> None:
    p, _, _ = _patient()
    state = state_of(p.bundle("gap"), unavailable=(missing,))
    assert state.progression_events == ()
    assert state.progression_known.value is False
    assert state_of(p.bundle("complete")).progression_known.value is True
