"""HER2 status, case by case along shared/reference/real-world-fhir-representations.md section 2:
each representation, a negative control, and unreadable variants that must come out unknown."""

from __future__ import annotations

import pytest

from cds_service.state.model import UNKNOWN
from tests.state.records import (
    CERNER_LOCAL,
    LOINC,
    SCT,
    V3,
    coding,
    concept,
    condition,
    loinc,
    observation,
    state,
)

IHC = loinc("85319-2", "HER2 [Presence] in Breast cancer specimen by Immune stain")
INTERPRETATION = loinc("48676-1", "HER2 [Interpretation] in Tissue")
FISH = loinc("85318-4", "ERBB2 gene duplication [Presence] in Breast cancer specimen by FISH")
RATIO = loinc("49683-6", "ERBB2 gene copy number/Chromosome 17 copy number in Tissue by FISH")
COPIES = loinc("74860-8", "ERBB2 gene copy number/nucleus in Tissue by FISH")
PANEL = loinc("74885-5", "ERBB2 gene (HER2) duplication associated observations panel")


def ratio_value(value: float) -> dict:
    return {"valueRatio": {"numerator": {"value": value}, "denominator": {"value": 1}}}


def copies_value(value: float) -> dict:
    return {"valueQuantity": {"value": value, "unit": "signals/cell"}}


def ish(ratio: float, copies: float, when: str = "2024-03-05") -> tuple[dict, dict]:
    return (
        observation("ratio", RATIO, when, **ratio_value(ratio)),
        observation("copies", COPIES, when, **copies_value(copies)),
    )


def ihc(score: str, when: str = "2024-03-01", oid: str = "ihc") -> dict:
    return observation(oid, IHC, when, valueString=score)


def her2(*resources: dict, unavailable: tuple[str, ...] = ()):
    return state(*resources, unavailable=unavailable).her2


# --- 2.1 / 2.2: codes and value shapes of one test ------------------------------------------------

ONE_TEST = {
    "LOINC answer LA6576-8": (
        observation(
            "o", INTERPRETATION, valueCodeableConcept=concept(coding(LOINC, "LA6576-8", "Positive"))
        ),
        "positive",
        "HER2 tissue test positive (Observation, valueCodeableConcept, coded)",
    ),
    "LOINC answer LA6577-6 (mCODE example)": (
        observation("o", INTERPRETATION, valueCodeableConcept=concept(coding(LOINC, "LA6577-6"))),
        "negative",
        "HER2 tissue test negative (Observation, valueCodeableConcept, coded)",
    ),
    "SNOMED qualifier 10828004": (
        observation("o", IHC, valueCodeableConcept=concept(coding(SCT, "10828004"))),
        "positive",
        "HER2 IHC positive (Observation, valueCodeableConcept, coded)",
    ),
    "SNOMED qualifier 260385009": (
        observation("o", IHC, valueCodeableConcept=concept(coding(SCT, "260385009"))),
        "negative",
        "HER2 IHC negative (Observation, valueCodeableConcept, coded)",
    ),
    "SNOMED qualifier 280414007 equivocal": (
        observation("o", IHC, valueCodeableConcept=concept(coding(SCT, "280414007"))),
        "equivocal",
        "HER2 IHC equivocal (Observation, valueCodeableConcept, coded)",
    ),
    "interpretation POS as the only signal": (
        observation("o", INTERPRETATION, interpretation=[concept(coding(V3, "POS"))]),
        "positive",
        "HER2 tissue test interpretation positive (Observation, interpretation)",
    ),
    "interpretation NEG as the only signal": (
        observation("o", INTERPRETATION, interpretation=[concept(coding(V3, "NEG"))]),
        "negative",
        "HER2 tissue test interpretation negative (Observation, interpretation)",
    ),
    "valueString 3+": (ihc("3+"), "positive", "HER2 IHC 3+ (Observation, valueString)"),
    "valueString 2+ (equivocal)": (
        ihc("2+ (equivocal)"),
        "equivocal",
        "HER2 IHC 2+ (Observation, valueString)",
    ),
    "valueString 1+ is HER2-low, negative": (
        ihc("1+"),
        "negative",
        "HER2 IHC 1+ (HER2-low) (Observation, valueString)",
    ),
    "valueString 0 on an IHC test": (ihc("0"), "negative", "HER2 IHC 0 (Observation, valueString)"),
    "CodeableConcept with text only": (
        observation("o", IHC, valueCodeableConcept=concept(text="Positive (3+)")),
        "positive",
        "HER2 IHC 3+ (Observation, valueCodeableConcept, text)",
    ),
    "IHC score as valueInteger": (
        observation("o", IHC, valueInteger=3),
        "positive",
        "HER2 IHC 3+ (Observation, valueInteger)",
    ),
    "IHC score as valueQuantity": (
        observation("o", IHC, valueQuantity={"value": 2}),
        "equivocal",
        "HER2 IHC 2+ (Observation, valueQuantity)",
    ),
    "two LOINC codings on one Observation": (
        observation(
            "o",
            concept(coding(LOINC, "48676-1"), coding(LOINC, "85319-2")),
            valueString="3+",
        ),
        "positive",
        "HER2 IHC 3+ (Observation, valueString)",
    ),
    "Cerner local code with code.text only": (
        observation(
            "o",
            concept(coding(CERNER_LOCAL, "2923453"), text="HER2/neu IHC"),
            valueString="3+",
        ),
        "positive",
        "HER2 IHC 3+ (Observation, valueString)",
    ),
    "ISH amplified in words": (
        observation("o", FISH, valueCodeableConcept=concept(text="Amplified")),
        "positive",
        "HER2 ISH amplified (Observation, valueCodeableConcept, text)",
    ),
    "ISH not amplified": (
        observation("o", FISH, valueString="Not amplified"),
        "negative",
        "HER2 ISH not amplified (Observation, valueString)",
    ),
}


@pytest.mark.parametrize(("resource", "status", "basis"), ONE_TEST.values(), ids=ONE_TEST.keys())
def test_one_test_is_read_from_its_representation(resource: dict, status: str, basis: str) -> None:
    result = her2(resource)
    assert result.status.value == status
    assert result.status.basis == basis
    assert result.status.evidence == (f"Observation/{resource['id']}",)


def test_the_record_wording_is_kept_for_the_card() -> None:
    [test] = her2(ihc("3+")).tests
    assert test.method == "IHC 3+"
    assert test.evidence == ("Observation/ihc",)
    # A coded answer with the score in its text (mCODE fixtures): the card can say "IHC 3+".
    coded = observation(
        "o",
        IHC,
        valueCodeableConcept=concept(coding(LOINC, "LA6576-8"), text="Positive (IHC 3+)"),
    )
    assert [t.method for t in her2(coded).tests] == ["IHC 3+"]


def test_serum_her2_is_not_tumour_status() -> None:
    serum = observation(
        "s", loinc("32996-1", "HER2 Ag [Mass/volume] in Serum"), valueString="positive"
    )
    local = observation("l", concept(text="HER-2/neu, serum"), valueString="positive")
    result = her2(serum, local)
    assert result.status.value is UNKNOWN


def test_an_unreadable_result_leaves_her2_unknown_not_negative() -> None:
    result = her2(ihc("see report"))
    assert result.status.value is UNKNOWN
    assert "Observation/ihc: a HER2 test whose result could not be read" in result.status.notes


def test_a_pending_result_is_no_result() -> None:
    assert her2(observation("o", FISH, valueString="Pending")).status.value is UNKNOWN


def test_an_entered_in_error_result_is_not_a_fact() -> None:
    wrong = {**ihc("3+"), "status": "entered-in-error"}
    assert her2(wrong).status.value is UNKNOWN


def test_negative_control_nothing_recorded_is_unknown() -> None:
    result = her2(condition("htn", concept(text="Essential hypertension")))
    assert result.status.value is UNKNOWN
    assert result.status.notes == ("no readable HER2 result recorded",)


def test_nothing_obtainable_is_unknown() -> None:
    result = her2(unavailable=("Observation", "Condition", "DiagnosticReport"))
    assert result.status.value is UNKNOWN


# --- 2.3: ISH numbers, groups 1-5 with the concurrent IHC ----------------------------------------

GROUPS = {
    "group 1 alone: positive": (ish(2.4, 5.1), None, "positive", 1),
    "group 2 alone: never positive from the ratio": (ish(2.3, 3.5), None, "equivocal", 2),
    "group 2 with IHC 3+: positive": (ish(2.3, 3.5), "3+", "positive", 2),
    "group 2 with IHC 2+: negative": (ish(2.3, 3.5), "2+", "negative", 2),
    "group 3 with IHC 2+: positive": (ish(1.6, 6.5), "2+", "positive", 3),
    "group 3 with IHC 1+: negative": (ish(1.6, 6.5), "1+", "negative", 3),
    "group 3 alone: not settled": (ish(1.6, 6.5), None, "equivocal", 3),
    "group 4 with IHC 2+: negative (HER2-low)": (ish(1.5, 4.8), "2+", "negative", 4),
    "group 5: negative": (ish(1.2, 2.1), None, "negative", 5),
}


@pytest.mark.parametrize(
    ("numbers", "score", "status", "group"), GROUPS.values(), ids=GROUPS.keys()
)
def test_ish_groups_as_asco_cap_2023_resolves_them(
    numbers: tuple[dict, dict], score: str | None, status: str, group: int
) -> None:
    resources = list(numbers) + ([ihc(score)] if score else [])
    result = her2(*resources)
    [ish_test] = [t for t in result.tests if t.method.startswith("ISH group")]
    assert ish_test.method.startswith(f"ISH group {group}: ratio ")
    assert ish_test.evidence == ("Observation/ratio", "Observation/copies")
    assert ish_test.result == status


def test_issue_class_her2_by_ish_numbers() -> None:
    ratio = observation(
        "ratio", RATIO, "2024-03-05", valueQuantity={"value": 2.4, "unit": "{ratio}"}
    )
    copies = observation("copies", COPIES, "2024-03-05", **copies_value(5.1))
    result = her2(ratio, copies)
    assert result.status.value == "positive"
    assert [t.method for t in result.tests] == ["ISH group 1: ratio 2.4, 5.1 copies"]
    assert result.status.basis == (
        "ISH group 1: ratio 2.4, 5.1 copies, positive (two Observations)"
    )


def test_ish_panel_with_components() -> None:
    panel = observation(
        "panel",
        PANEL,
        component=[
            {"code": RATIO, **ratio_value(2.6)},
            {"code": COPIES, **copies_value(6.3)},
        ],
    )
    result = her2(panel)
    assert result.status.value == "positive"
    assert result.tests[0].method == "ISH group 1: ratio 2.6, 6.3 copies"
    assert "panel" in result.status.basis


def test_ish_panel_with_members() -> None:
    ratio, copies = ish(1.4, 2.0, when="2024-03-09")
    ratio = {**ratio, "effectiveDateTime": "2024-03-08"}  # members need not share a date
    panel = observation(
        "panel",
        PANEL,
        hasMember=[
            {"reference": "Observation/ratio"},
            {"reference": "https://ehr.example.org/fhir/Observation/copies/_history/2"},
        ],
    )
    result = her2(panel, ratio, copies)
    assert result.status.value == "negative"
    [test] = result.tests
    assert test.method == "ISH group 5: ratio 1.4, 2 copies"
    assert test.evidence == ("Observation/panel", "Observation/ratio", "Observation/copies")


def test_a_ratio_alone_is_no_result_and_says_why() -> None:
    ratio, _ = ish(2.4, 5.1)
    result = her2(ratio)
    assert result.status.value is UNKNOWN
    assert any("without the average copy number" in n for n in result.status.notes)


def test_a_comparator_that_leaves_the_group_open_is_no_result() -> None:
    ratio = observation(
        "ratio", RATIO, "2024-03-05", valueRatio={"numerator": {"value": 1.8, "comparator": ">"}}
    )
    _, copies = ish(2.4, 5.1)
    result = her2(ratio, copies)
    assert result.status.value is UNKNOWN
    assert any("group not determinable" in n for n in result.status.notes)


def test_an_observation_with_both_valueratio_and_a_coded_value_reads_both() -> None:
    both = observation(
        "both",
        FISH,
        valueCodeableConcept=concept(coding(LOINC, "LA6576-8", "Positive")),
        valueRatio={"numerator": {"value": 2.4}, "denominator": {"value": 1}},
    )
    result = her2(both)
    assert result.status.value == "positive"
    assert result.status.evidence == ("Observation/both",)
    # The ratio (moved to a component by the repair) is read too: alone it settles no group.
    assert any("ISH ratio 2.4 without the average copy number" in n for n in result.status.notes)


def test_her2_low_is_not_positive() -> None:
    result = her2(ihc("2+"), *ish(1.3, 2.4))
    assert result.status.value == "negative"
    assert "HER2-low: not HER2-positive" in result.status.notes
    assert not result.discordant


def test_positive_if_any_valid_test_says_so_and_discordance_is_flagged() -> None:
    later_negative = observation(
        "bone", IHC, "2025-06-01", valueCodeableConcept=concept(coding(SCT, "260385009"))
    )
    result = her2(ihc("3+", "2021-03-01"), later_negative)
    assert result.status.value == "positive"
    assert result.discordant
    assert result.status.notes[0].startswith("discordant HER2 results, positive retained")


def test_value_and_interpretation_that_disagree_are_both_kept() -> None:
    obs = observation("o", IHC, valueString="1+", interpretation=[concept(coding(V3, "POS"))])
    result = her2(obs)
    assert result.status.value == "positive"
    assert result.discordant


# --- 2.4: diagnoses and report text ---------------------------------------------------------------

DIAGNOSES = {
    "SNOMED 427685000": (
        condition("c", concept(coding(SCT, "427685000"))),
        "positive",
        "Condition SNOMED 427685000",
    ),
    "SNOMED 431396003": (
        condition("c", concept(coding(SCT, "431396003"))),
        "negative",
        "Condition SNOMED 431396003",
    ),
    "ICD-10-CM C50.9xx with HER2 only in code.text": (
        condition(
            "c",
            concept(
                coding("http://hl7.org/fhir/sid/icd-10-cm", "C50.919"),
                text="HER2 negative breast cancer",
            ),
        ),
        "negative",
        "Condition text 'HER2 negative breast cancer' (HER2 negative)",
    ),
    "free text HER2+ breast ca": (
        condition("c", concept(text="HER2+ breast ca")),
        "positive",
        "Condition text 'HER2+ breast ca' (HER2+)",
    ),
    "free text HER-2/neu 3+": (
        condition("c", concept(text="HER-2/neu 3+ breast carcinoma")),
        "positive",
        "Condition text 'HER-2/neu 3+ breast carcinoma' (HER-2/neu 3+)",
    ),
    "free text ERBB2 amplified": (
        condition("c", concept(text="ERBB2 amplified")),
        "positive",
        "Condition text 'ERBB2 amplified' (ERBB2 amplified)",
    ),
    "free text not amplified": (
        condition("c", concept(text="Breast cancer, ERBB2 not amplified")),
        "negative",
        "Condition text 'Breast cancer, ERBB2 not amplified' (ERBB2 not amplified)",
    ),
    "free text HER2-low": (
        condition("c", concept(text="HER2-low breast cancer")),
        "negative",
        "Condition text 'HER2-low breast cancer' (HER2-low)",
    ),
}


@pytest.mark.parametrize(("resource", "status", "basis"), DIAGNOSES.values(), ids=DIAGNOSES.keys())
def test_a_diagnosis_gives_her2_status(resource: dict, status: str, basis: str) -> None:
    result = her2(resource)
    assert result.status.value == status
    assert result.status.basis == basis


def test_another_cancers_her2_is_not_the_breast_cancers() -> None:
    gastric = condition("c", concept(text="HER2-positive gastric adenocarcinoma"))
    assert her2(gastric).status.value is UNKNOWN


def test_a_refuted_diagnosis_is_not_a_fact() -> None:
    refuted = condition(
        "c",
        concept(coding(SCT, "427685000")),
        verificationStatus=concept(
            coding("http://terminology.hl7.org/CodeSystem/condition-ver-status", "refuted")
        ),
    )
    assert her2(refuted).status.value is UNKNOWN


def report(rid: str, category: dict, conclusion: str, **elements: object) -> dict:
    return {
        "resourceType": "DiagnosticReport",
        "id": rid,
        "status": "final",
        "subject": {"reference": "Patient/p1"},
        "category": [category],
        "code": loinc("60568-3", "Pathology synoptic report"),
        "effectiveDateTime": "2024-03-02",
        "conclusion": conclusion,
        **elements,
    }


PATHOLOGY = concept(coding("http://terminology.hl7.org/CodeSystem/v2-0074", "SP"))
RADIOLOGY = concept(coding("http://terminology.hl7.org/CodeSystem/v2-0074", "RAD"))


def test_a_pathology_report_conclusion_states_her2() -> None:
    result = her2(report("path", PATHOLOGY, "Invasive ductal carcinoma. HER2 (IHC): 3+. ER 90%."))
    assert result.status.value == "positive"
    assert result.status.basis == "DiagnosticReport conclusion (pathology): 'HER2 (IHC): 3+'"
    assert result.tests[0].method == "pathology report: HER2 (IHC): 3+"


def test_a_radiology_reports_history_line_is_not_a_her2_result() -> None:
    mri = report("mri", RADIOLOGY, "Known HER2+ breast cancer. Two new enhancing lesions.")
    assert her2(mri).status.value is UNKNOWN


def test_her2_only_in_an_attached_report_is_left_unknown_on_purpose() -> None:
    attached = report(
        "path",
        PATHOLOGY,
        "See attached report.",
        presentedForm=[{"contentType": "application/pdf", "data": "JVBERi0xLjQ="}],
    )
    result = her2(attached)
    assert result.status.value is UNKNOWN  # not negative: the PDF is not read


def test_a_malformed_her2_observation_is_noted_beside_a_negative() -> None:
    malformed = {**ihc("3+", oid="bad"), "valueString": 3}  # a number where a string belongs
    result = her2(malformed, observation("neg", IHC, valueString="1+"))
    assert result.status.value == "negative"
    assert "an Observation could not be read: it may hold a HER2 result" in result.status.notes


def test_observations_not_obtained_are_noted_beside_a_diagnosis() -> None:
    negative = condition("c", concept(coding(SCT, "431396003")))
    result = her2(negative, unavailable=("Observation",))
    assert result.status.value == "negative"
    assert "Observations could not be obtained: a HER2 result there is not known" in (
        result.status.notes
    )
