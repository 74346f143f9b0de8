"""A small FHIR Bundle for harness tests: two SRS courses, then progression on lapatinib.

Codes are taken from the service's verified value sets (cds_service/knowledge/valuesets).
"""

from __future__ import annotations

from typing import Any

PATIENT = "harness-1"
SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
CPT = "http://www.ama-assn.org/go/cpt"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
SUBJECT = {"reference": f"Patient/{PATIENT}"}


def _concept(system: str, code: str, display: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code, "display": display}], "text": display}


def _condition(rid: str, code: str, display: str, onset: str) -> dict[str, Any]:
    return {
        "resourceType": "Condition",
        "id": rid,
        "clinicalStatus": _concept(
            "http://terminology.hl7.org/CodeSystem/condition-clinical", "active", "Active"
        ),
        "verificationStatus": _concept(
            "http://terminology.hl7.org/CodeSystem/condition-ver-status", "confirmed", "Confirmed"
        ),
        "code": _concept(SNOMED, code, display),
        "subject": SUBJECT,
        "onsetDateTime": onset,
    }


def _procedure(rid: str, system: str, code: str, display: str, when: str) -> dict[str, Any]:
    return {
        "resourceType": "Procedure",
        "id": rid,
        "status": "completed",
        "code": _concept(system, code, display),
        "subject": SUBJECT,
        "performedDateTime": when,
    }


def _progression(rid: str, when: str) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": rid,
        "status": "final",
        "code": _concept(LOINC, "97509-4", "Cancer Disease Progression"),
        "subject": SUBJECT,
        "effectiveDateTime": when,
        "valueCodeableConcept": _concept(
            SNOMED, "271299001", "Patient's condition worsened (finding)"
        ),
        "bodySite": _concept(SNOMED, "12738006", "Brain structure (body structure)"),
    }


def _statement(rid: str, code: str, display: str, start: str, end: str) -> dict[str, Any]:
    return {
        "resourceType": "MedicationStatement",
        "id": rid,
        "status": "stopped",
        "statusReason": [{"text": "disease progression"}],
        "medicationCodeableConcept": _concept(RXNORM, code, display),
        "subject": SUBJECT,
        "effectivePeriod": {"start": start, "end": end},
    }


def scenario_bundle() -> dict[str, Any]:
    resources = [
        {"resourceType": "Patient", "id": PATIENT, "gender": "female", "birthDate": "1970-03-14"},
        _condition("bc", "427685000", "HER2-positive carcinoma of breast", "2022-09-01"),
        _condition("bm", "94225005", "Secondary malignant neoplasm of brain", "2024-05-20"),
        _procedure("mri-1", LOINC, "24589-4", "MR Brain W contrast IV", "2024-05-18"),
        _procedure(
            "srs-1",
            CPT,
            "77372",
            "SRS delivery, cranial, 1 session, linear accelerator",
            "2024-06-10",
        ),
        _procedure("mri-2", LOINC, "24589-4", "MR Brain W contrast IV", "2025-01-15"),
        _progression("prog-1", "2025-01-15"),
        _procedure(
            "srs-2",
            CPT,
            "77372",
            "SRS delivery, cranial, 1 session, linear accelerator",
            "2025-02-03",
        ),
        _statement("lap", "480167", "lapatinib", "2025-02-10", "2026-08-25"),
        _statement("cap", "194000", "capecitabine", "2025-02-10", "2026-08-25"),
        _procedure("mri-3", LOINC, "24589-4", "MR Brain W contrast IV", "2026-08-20"),
        _progression("prog-2", "2026-08-20"),
    ]
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": r} for r in resources],
    }


def lapatinib_draft() -> dict[str, Any]:
    return {
        "resourceType": "MedicationRequest",
        "id": "draft-lapatinib",
        "status": "draft",
        "intent": "order",
        "medicationCodeableConcept": _concept(RXNORM, "672149", "lapatinib 250 MG Oral Tablet"),
        "subject": SUBJECT,
    }
