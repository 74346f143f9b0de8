"""Breast cancer, case by case along shared/reference/real-world-fhir-representations.md sections
2.4 and 4.1: each coding and wording of the diagnosis, negations, and unobtainable Conditions."""

from __future__ import annotations

import pytest

from cds_service.state.model import UNKNOWN
from tests.state.records import ICD10, IMO, SCT, coding, concept, condition, state

CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
US_CORE_CATEGORY = "http://hl7.org/fhir/us/core/CodeSystem/condition-category"


def category(system: str, code: str) -> list[dict]:
    return [concept(coding(system, code))]


READ = {
    "ICD-10-CM C50.912": (
        condition("c", concept(coding(ICD10, "C50.912"))),
        "Condition ICD-10-CM C50.912",
    ),
    "ICD-10-CM C50.919 (C50.9xx)": (
        condition("c", concept(coding(ICD10, "C50.919"), text="Breast cancer")),
        "Condition ICD-10-CM C50.919",
    ),
    "SNOMED 254837009": (
        condition("c", concept(coding(SCT, "254837009"))),
        "Condition SNOMED 254837009",
    ),
    "Cerner IMO + SNOMED": (
        condition(
            "c",
            concept(coding(IMO, "30681"), coding(SCT, "372137005"), text="Carcinoma of breast"),
        ),
        "Condition SNOMED 372137005",
    ),
    "IMO code only, clinician's text": (
        condition("c", concept(coding(IMO, "30681"), text="Invasive breast carcinoma, left")),
        "Condition text 'Invasive breast carcinoma, left'",
    ),
    "Epic SNOMED + ICD-9-CM + ICD-10-CM": (
        condition(
            "c",
            concept(
                coding(SCT, "254837009"),
                coding("http://hl7.org/fhir/sid/icd-9-cm", "174.9"),
                coding(ICD10, "C50.911"),
                text="Malignant neoplasm of right breast",
            ),
        ),
        "Condition SNOMED 254837009",  # the first coding the value set holds
    ),
    "post-coordinated 363346000 + bodySite left breast (mCODE)": (
        condition(
            "c",
            concept(coding(SCT, "363346000", "Malignant neoplastic disease (disorder)")),
            bodySite=[concept(coding(SCT, "80248007", "Left breast structure (body structure)"))],
        ),
        "Condition SNOMED 363346000 + bodySite Left breast structure (body structure)",
    ),
    "post-coordinated 363346000 + bodySite text": (
        condition("c", concept(coding(SCT, "363346000")), bodySite=[concept(text="Right breast")]),
        "Condition SNOMED 363346000 + bodySite Right breast",
    ),
    "free text HER2+ breast ca": (
        condition("c", concept(text="HER2+ breast ca")),
        "Condition text 'HER2+ breast ca'",
    ),
    "free text HER-2/neu 3+ breast carcinoma": (
        condition("c", concept(text="HER-2/neu 3+ breast carcinoma")),
        "Condition text 'HER-2/neu 3+ breast carcinoma'",
    ),
    "free text histology and side (Cerner IMO display)": (
        condition("c", concept(text="Invasive ductal carcinoma, left breast")),
        "Condition text 'Invasive ductal carcinoma, left breast'",
    ),
    "ICD-10-CM display under a local code": (
        condition(
            "c",
            concept(
                coding("urn:oid:1.2.3.4", "88"),
                text="Malignant neoplasm of upper-outer quadrant of right female breast",
            ),
        ),
        "Condition text 'Malignant neoplasm of upper-outer quadrant of right female breast'",
    ),
    "encounter-diagnosis category": (
        condition(
            "c",
            concept(coding(ICD10, "C50.912")),
            category=category(CATEGORY, "encounter-diagnosis"),
        ),
        "Condition ICD-10-CM C50.912",
    ),
    "health-concern category (US Core)": (
        condition(
            "c",
            concept(coding(ICD10, "C50.912")),
            category=category(US_CORE_CATEGORY, "health-concern"),
        ),
        "Condition ICD-10-CM C50.912",
    ),
    "problem-list-item category": (
        condition(
            "c",
            concept(coding(ICD10, "C50.912")),
            category=category(CATEGORY, "problem-list-item"),
        ),
        "Condition ICD-10-CM C50.912",
    ),
}


@pytest.mark.parametrize(("resource", "basis"), READ.values(), ids=READ.keys())
def test_breast_cancer_is_read_from_its_representation(resource: dict, basis: str) -> None:
    fact = state(resource).breast_cancer
    assert fact.value is True
    assert fact.evidence == ("Condition/c",)
    assert fact.basis == basis


NOT_BREAST_CANCER = {
    "negated": "No evidence of breast cancer",
    "family history": "Family history of breast cancer",
    "screening": "Breast cancer screening",
    "risk": "High risk for breast cancer",
    "in situ": "Ductal carcinoma in situ of breast",
    "secondary (metastatic to breast)": "Secondary malignant neoplasm of breast",
    "ERBB2 amplified names no breast cancer": "ERBB2 amplified",
    "another cancer": "HER2-positive gastric adenocarcinoma",
    "another cancer beside a breast finding": "Carcinoma of lung, breast cyst",
    "secondary, with side": "Secondary malignant neoplasm of left female breast",
    "metastatic to one breast": "Lung cancer metastatic to right breast",
    "negated histology": "No carcinoma of left breast",
    "in situ with side": "Ductal carcinoma in situ, left breast",
}


@pytest.mark.parametrize("text", NOT_BREAST_CANCER.values(), ids=NOT_BREAST_CANCER.keys())
def test_words_that_do_not_state_breast_cancer(text: str) -> None:
    fact = state(condition("c", concept(text=text))).breast_cancer
    assert fact.value is False


def test_generic_malignancy_elsewhere_is_not_breast_cancer() -> None:
    lung = condition("c", concept(coding(SCT, "363346000")), bodySite=[concept(text="Left lung")])
    assert state(lung).breast_cancer.value is False


@pytest.mark.parametrize("status", ["entered-in-error", "refuted"])
def test_entered_in_error_and_refuted_diagnoses_are_not_facts(status: str) -> None:
    wrong = condition(
        "c",
        concept(coding(ICD10, "C50.912")),
        verificationStatus=concept(
            coding("http://terminology.hl7.org/CodeSystem/condition-ver-status", status)
        ),
    )
    fact = state(wrong).breast_cancer
    assert fact.value is False
    assert fact.evidence == ()


def test_negative_control_other_problems_only() -> None:
    fact = state(condition("c", concept(coding(ICD10, "I10"), text="Hypertension"))).breast_cancer
    assert fact.value is False
    assert fact.notes == ("no breast cancer diagnosis recorded",)


def test_conditions_not_obtained_is_unknown() -> None:
    fact = state(unavailable=("Condition",)).breast_cancer
    assert fact.value is UNKNOWN


ONE_ENTRY = {
    "text only, positive": ("HER2+ breast ca", None, "positive"),
    "text only, negative": ("HER2 negative breast cancer", None, "negative"),
    "text only, HER2-low": ("HER2-low breast cancer", None, "negative"),
    "coded C50, HER2 in text": ("HER2 positive breast cancer", "C50.912", "positive"),
}


@pytest.mark.parametrize(("text", "icd", "her2"), ONE_ENTRY.values(), ids=ONE_ENTRY.keys())
def test_one_problem_entry_gives_breast_cancer_and_her2_together(
    text: str, icd: str | None, her2: str
) -> None:
    codes = [coding(ICD10, icd)] if icd else []
    result = state(condition("c", concept(*codes, text=text)))
    assert result.breast_cancer.value is True
    assert result.her2.status.value == her2
    assert result.breast_cancer.evidence == result.her2.status.evidence == ("Condition/c",)


def test_a_metastasis_of_a_free_text_breast_cancer_is_a_breast_cancer_metastasis() -> None:
    primary = condition("primary", concept(text="HER2+ breast ca"))
    related = "http://hl7.org/fhir/StructureDefinition/condition-related"
    mets = condition(
        "mets",
        concept(coding(ICD10, "C79.31")),
        extension=[{"url": related, "valueReference": {"reference": "Condition/primary"}}],
    )
    result = state(primary, mets)
    assert result.brain_metastases.value is True
    assert result.brain_metastases.evidence == ("Condition/mets",)


def test_a_malformed_condition_leaves_breast_cancer_unknown_not_absent() -> None:
    malformed = condition("bad", "C50.912")  # code must be a CodeableConcept
    fact = state(malformed, condition("htn", concept(coding(ICD10, "I10")))).breast_cancer
    assert fact.value is UNKNOWN
    assert fact.notes == ("a Condition could not be read: breast cancer not known to be absent",)
