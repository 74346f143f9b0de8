"""Small records for the concept tests: one resource per representation, as EHRs send them."""

from __future__ import annotations

from typing import Any

from cds_service.state.model import PatientState
from tests.state.support import state_of

LOINC = "http://loinc.org"
SCT = "http://snomed.info/sct"
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
IMO = "http://e-imo.com/products/problem-it"
V3 = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
CERNER_LOCAL = "https://fhir.cerner.com/ec2458f2-1e24-41c8-b71b-0e701af7583d/codeSet/72"
PATIENT = {"resourceType": "Patient", "id": "p1"}


def coding(system: str, code: str, display: str | None = None) -> dict:
    return {"system": system, "code": code, **({"display": display} if display else {})}


def concept(*codings: dict, text: str | None = None) -> dict:
    return {**({"coding": list(codings)} if codings else {}), **({"text": text} if text else {})}


def observation(oid: str, code: dict, when: str = "2024-03-01", **elements: Any) -> dict:
    return {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "subject": {"reference": "Patient/p1"},
        "code": code,
        "effectiveDateTime": when,
        **elements,
    }


def condition(cid: str, code: dict, **elements: Any) -> dict:
    return {
        "resourceType": "Condition",
        "id": cid,
        "subject": {"reference": "Patient/p1"},
        "clinicalStatus": concept(
            coding("http://terminology.hl7.org/CodeSystem/condition-clinical", "active")
        ),
        "code": code,
        "onsetDateTime": "2023-05-02",
        **elements,
    }


def loinc(code: str, display: str | None = None) -> dict:
    return concept(coding(LOINC, code, display))


def state(*resources: dict, unavailable: tuple[str, ...] = ()) -> PatientState:
    bundle = {"entry": [{"resource": r} for r in (PATIENT, *resources)]}
    return state_of(bundle, unavailable=unavailable)
