"""Brain lesions, one case per row of the catalogue (shared/reference/real-world-fhir-
representations.md sections 4.2 and 4.3): laterality, size, mass effect, new lesions; each with a
negative control and a partial or malformed variant that must come out unknown."""

from __future__ import annotations

import pytest

from cds_service.state.lesions import (
    LATERALITY_URL,
    lateralities_differ,
    laterality_of_site,
    measurements_in,
    new_lesions_in,
    site_keys,
)
from cds_service.state.model import UNKNOWN
from tests.state.build_fixtures import BRAIN, LOINC, SCT, Patient, cc
from tests.state.support import state_of


def _side(code: str) -> dict:
    return {"url": LATERALITY_URL, "valueCodeableConcept": cc({"system": SCT, "code": code})}


# --- laterality -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("site", "side"),
    [
        ({**cc(BRAIN), "extension": [_side("7771000")]}, "left"),
        ({**cc(BRAIN), "extension": [_side("24028007")]}, "right"),
        ({**cc(BRAIN), "extension": [_side("51440002")]}, "bilateral"),
        ({**cc(BRAIN), "extension": [_side("399488007")]}, "midline"),
        (cc({"system": SCT, "display": "Structure of right frontal lobe"}), "right"),
        (cc(BRAIN, text="R frontal"), "right"),
        (cc(BRAIN, text="left cerebellar"), "left"),
        (cc(BRAIN, text="Lt parietal"), "left"),
        (cc(BRAIN, text="Cerebellum"), None),
        (cc(BRAIN), None),
    ],
    ids=[
        "mCODE qualifier left",
        "mCODE qualifier right",
        "mCODE qualifier both",
        "mCODE qualifier midline",
        "pre-coordinated display",
        "site text R",
        "site text left",
        "site text Lt",
        "no side (negative)",
        "brain only (negative)",
    ],
)
def test_laterality_of_a_body_site(site: dict, side: str | None) -> None:
    assert laterality_of_site(site) == side


def test_sides_that_differ_are_not_the_same_lesion() -> None:
    assert lateralities_differ("left", "right")
    assert lateralities_differ("midline", "left")
    assert not lateralities_differ("left", "left")
    assert not lateralities_differ("bilateral", "right")
    assert not lateralities_differ(None, "right")  # unrecorded: cannot tell


def test_site_keys_match_abbreviated_and_spelt_out_regions() -> None:
    assert "brain-region:right frontal" in site_keys([cc(BRAIN, text="R frontal")])
    assert "brain-region:right frontal" in site_keys([cc(text="Right frontal lobe")])
    assert "brain-region:left cerebellum" in site_keys([cc(text="left cerebellar")])


def test_the_reports_own_words_tell_new_from_treated() -> None:
    (new,) = new_lesions_in("New left frontal lesion; treated right lesion smaller.")
    assert (new.laterality, new.count) == ("left", 1)
    assert new_lesions_in("No new lesions. Treated right frontal lesion stable.") == ()
    assert new_lesions_in("Treated right frontal lesion stable.") is None


# --- size ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "largest"),
    [
        ("3.8 x 3.1 x 3.6 cm", 3.8),
        ("3.2 x 2.5 x 2.8 cm", 3.2),
        ("3.2 cm x 2.5 cm x 2.8 cm", 3.2),
        ("12 x 9 mm", 1.2),
        ("lesion measuring 12 mm", 1.2),
        ("2.1 × 3.4 cm", 3.4),
    ],
)
def test_the_largest_dimension_of_a_measurement(text: str, largest: float) -> None:
    ((cm, prior, _),) = measurements_in(text)
    assert (cm, prior) == (pytest.approx(largest), False)


def test_prior_sizes_are_kept_apart() -> None:
    found = measurements_in("1.2 cm (previously 0.8 cm); grew from 0.5 cm to 0.9 cm")
    assert [(round(cm, 2), prior) for cm, prior, _ in found] == [
        (1.2, False),
        (0.8, True),
        (0.5, True),
        (0.9, False),
    ]


def _with_report(conclusion: str) -> dict:
    p = Patient("les", "1970-01-01")
    primary = p.breast_cancer("2022-01-10")
    p.brain_mets("2024-03-01", primary)
    p.brain_mri("2024-03-01", conclusion)
    return state_of(p.bundle("lesion"))


def test_size_from_report_text_prior_not_counted() -> None:
    state = _with_report("Right parietal metastasis 1.2 cm (previously 3.4 cm).")
    assert state.largest_brain_lesion_cm.value == 1.2
    assert any("prior size 3.4 cm" in n for n in state.largest_brain_lesion_cm.notes)
    assert "'1.2 cm' in brain imaging report text" in state.largest_brain_lesion_cm.basis


def _tumor_size(p: Patient, focus: dict | None, components: list[dict]) -> dict:
    body: dict = {
        "status": "final",
        "code": cc({"system": LOINC, "code": "21889-1", "display": "Size Tumor"}),
        "effectiveDateTime": "2024-03-01",
        "component": components,
    }
    if focus is not None:
        body["focus"] = [p.ref(focus)]
    return p.add("Observation", "tumor-size", body)


def _dimension(code: str, value: float, unit: str) -> dict:
    return {
        "code": cc({"system": LOINC, "code": code}),
        "valueQuantity": {"value": value, "unit": unit, "code": unit},
    }


def test_mcode_tumor_size_components_in_mm() -> None:
    p = Patient("ts", "1970-01-01")
    met = p.brain_mets("2024-03-01", p.breast_cancer("2022-01-10"))
    _tumor_size(p, met, [_dimension("33728-7", 41, "mm"), _dimension("33729-5", 30, "mm")])
    state = state_of(p.bundle("tumor size"))
    assert state.largest_brain_lesion_cm.value == 4.1
    assert "TumorSize" in state.largest_brain_lesion_cm.basis
    # A large lesion is large, never mass effect.
    assert state.mass_effect.value is UNKNOWN


def test_tumor_size_not_tied_to_the_brain_is_not_a_brain_lesion() -> None:
    p = Patient("ts", "1970-01-01")
    p.brain_mets("2024-03-01", p.breast_cancer("2022-01-10"))
    _tumor_size(p, None, [_dimension("33728-7", 41, "mm")])
    assert state_of(p.bundle("untied")).largest_brain_lesion_cm.value is UNKNOWN


def test_tumor_size_in_an_unknown_unit_is_unknown() -> None:
    p = Patient("ts", "1970-01-01")
    met = p.brain_mets("2024-03-01", p.breast_cancer("2022-01-10"))
    _tumor_size(p, met, [_dimension("33728-7", 1.6, "[in_i]")])
    assert state_of(p.bundle("inches")).largest_brain_lesion_cm.value is UNKNOWN


# --- mass effect -----------------------------------------------------------------------------------


def test_a_large_lesion_without_words_is_not_mass_effect() -> None:
    state = _with_report("Left cerebellar metastasis 3.8 x 3.1 x 3.6 cm.")
    assert state.largest_brain_lesion_cm.value == 3.8
    assert state.mass_effect.value is UNKNOWN
    assert state.severe_mass_effect.value == ()


def test_mass_effect_stated_and_denied() -> None:
    assert _with_report("Mild mass effect on the fourth ventricle.").mass_effect.value is True
    denied = _with_report("Right frontal lesion 1.1 cm. No mass effect.")
    assert denied.mass_effect.value is False
    assert "'no mass effect'" in denied.mass_effect.basis


def test_severe_mass_effect_from_report_words_and_from_a_condition() -> None:
    state = _with_report(
        "3 cm cerebellar mass with obstructive hydrocephalus and 4 mm midline shift."
    )
    assert set(state.severe_mass_effect.value) == {"hydrocephalus", "midline shift"}
    p = Patient("hc", "1970-01-01")
    p.brain_mets("2024-03-01", p.breast_cancer("2022-01-10"))
    p.condition("hc", cc(text="Obstructive hydrocephalus"), "2024-03-02", "x")
    condition_only = state_of(p.bundle("hydrocephalus condition"))
    assert condition_only.severe_mass_effect.value == ("hydrocephalus",)
    assert condition_only.mass_effect.value is True


def test_severe_mass_effect_unknown_when_nothing_could_be_read() -> None:
    p = Patient("hc", "1970-01-01")
    state = state_of(p.bundle("nothing"), unavailable=("Condition", "DiagnosticReport"))
    assert state.severe_mass_effect.value is UNKNOWN


def test_severe_mass_effect_none_only_where_a_readable_brain_report_could_name_it() -> None:
    named_none = _with_report("Right frontal lesion 1.1 cm.")
    assert named_none.severe_mass_effect.value == ()
    assert named_none.severe_mass_effect.evidence  # the reports read
    p = Patient("hc", "1970-01-01")
    p.brain_mets("2024-03-01", p.breast_cancer("2022-01-10"))
    no_report = state_of(p.bundle("brain metastases, no report"))
    assert no_report.severe_mass_effect.value is UNKNOWN
    report = p.brain_mri("2024-03-01", "")
    del report["conclusion"]
    report["presentedForm"] = [{"contentType": "application/pdf", "data": "JVBERi0="}]
    pdf_only = state_of(p.bundle("PDF-only report"))
    assert pdf_only.severe_mass_effect.value is UNKNOWN
    assert any("no readable words" in n for n in pdf_only.severe_mass_effect.notes)


# --- new lesions ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("conclusion", "count"),
    [
        ("Two new lesions; treated right frontal lesion stable.", 2),
        ("New left frontal lesion; treated right lesion smaller.", 1),
        ("5 new enhancing metastases.", 5),
        ("No new lesions. Treated lesions stable.", 0),
    ],
)
def test_new_lesions_on_the_latest_report(conclusion: str, count: int) -> None:
    state = _with_report(conclusion)
    assert state.new_brain_lesion_count.value == count


@pytest.mark.parametrize(
    "conclusion",
    ["Multiple new lesions.", "Treated right frontal lesion stable."],
    ids=["uncounted", "silent"],
)
def test_new_lesions_unknown_when_uncounted_or_not_said(conclusion: str) -> None:
    assert _with_report(conclusion).new_brain_lesion_count.value is UNKNOWN


def test_the_latest_report_counts() -> None:
    p = Patient("nl", "1970-01-01")
    p.brain_mets("2024-03-01", p.breast_cancer("2022-01-10"))
    p.brain_mri("2024-03-01", "Six new lesions.")
    p.brain_mri("2024-06-01", "One new left occipital lesion; others stable.")
    assert state_of(p.bundle("two reports")).new_brain_lesion_count.value == 1
