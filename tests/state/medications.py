"""Medication resources shaped as EHRs send them (real-world-fhir-representations.md section 1),
for the therapy tests: one builder per resource type, drugs by verified RxNorm code or by name."""

from __future__ import annotations

import copy
from datetime import date
from typing import Any

from cds_service.state.model import DrugCourse, PatientState
from tests.state.support import TODAY, state_of

RX = "http://www.nlm.nih.gov/research/umls/rxnorm"
PATIENT_ID = "rx"
PATIENT = {
    "resourceType": "Patient",
    "id": PATIENT_ID,
    "gender": "female",
    "birthDate": "1970-01-01",
}
# Verified codes (clinical-terminology-and-evidence.md 1.1-1.2), with the text an EHR shows.
DRUG = {
    "lapatinib": {
        "coding": [{"system": RX, "code": "672149", "display": "lapatinib 250 MG Oral Tablet"}],
        "text": "lapatinib 250 MG Oral Tablet",
    },
    "capecitabine": {
        "coding": [{"system": RX, "code": "194000", "display": "capecitabine"}],
        "text": "capecitabine 500 MG Oral Tablet",
    },
    "tucatinib": {
        "coding": [{"system": RX, "code": "2361290", "display": "tucatinib 150 MG Oral Tablet"}],
        "text": "tucatinib 150 MG Oral Tablet",
    },
    "trastuzumab": {
        "coding": [{"system": RX, "code": "224905", "display": "trastuzumab"}],
        "text": "trastuzumab 440 MG injection",
    },
    "t-dxd": {
        "coding": [{"system": RX, "code": "2267582", "display": "fam-trastuzumab deruxtecan"}],
        "text": "fam-trastuzumab deruxtecan 100 MG injection",
    },
    "t-dm1": {
        "coding": [{"system": RX, "code": "1371041", "display": "ado-trastuzumab emtansine"}],
        "text": "ado-trastuzumab emtansine 100 MG injection",
    },
    "paclitaxel": {
        "coding": [{"system": RX, "code": "56946", "display": "paclitaxel"}],
        "text": "paclitaxel 6 MG/ML injection",
    },
    # Not anticancer: the negative control (text only, no code claimed).
    "ondansetron": {"text": "ondansetron 8 mg tablet"},
}


def _resource(rtype: str, rid: str, drug: str | dict | None, status: str, **fields: Any) -> dict:
    resource: dict[str, Any] = {"resourceType": rtype, "id": rid, "status": status}
    if isinstance(drug, str):
        resource["medicationCodeableConcept"] = copy.deepcopy(DRUG[drug])
    elif drug is not None:
        resource["medicationCodeableConcept"] = drug
    resource["subject"] = {"reference": f"Patient/{PATIENT_ID}"}
    resource.update(fields)
    return resource


def request(rid: str, drug: str | dict | None, status: str = "active", **fields: Any) -> dict:
    fields.setdefault("intent", "order")
    return _resource("MedicationRequest", rid, drug, status, **fields)


def statement(rid: str, drug: str | dict | None, status: str = "active", **fields: Any) -> dict:
    return _resource("MedicationStatement", rid, drug, status, **fields)


def dispense(rid: str, drug: str | dict | None, status: str = "completed", **fields: Any) -> dict:
    resource = _resource("MedicationDispense", rid, drug, status, **fields)
    resource["patient"] = resource.pop("subject")  # MedicationDispense names its patient so
    return resource


def administration(
    rid: str, drug: str | dict | None, when: str, status: str = "completed", **fields: Any
) -> dict:
    fields.setdefault("effectiveDateTime", when)
    return _resource("MedicationAdministration", rid, drug, status, **fields)


def infusions(prefix: str, drug: str, *days: str, **fields: Any) -> list[dict]:
    return [administration(f"{prefix}-{i}", drug, day, **fields) for i, day in enumerate(days)]


def bounds(
    start: str | None = None, end: str | None = None, text: str | None = None, **repeat: Any
) -> list[dict]:
    """dosageInstruction with timing.repeat.boundsPeriod (start and/or end) and other repeat parts."""
    period = {k: v for k, v in (("start", start), ("end", end)) if v}
    if period:
        repeat["boundsPeriod"] = period
    dosage: dict[str, Any] = {"timing": {"repeat": repeat}} if repeat else {}
    if text:
        dosage["text"] = text
    return [dosage]


def bundle(*resources: dict) -> dict:
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": r} for r in (PATIENT, *resources)],
    }


def state(*resources: dict, today: date = TODAY, **kwargs: Any) -> PatientState:
    return state_of(bundle(*resources), today=today, **kwargs)


def courses(*resources: dict, today: date = TODAY) -> tuple[DrugCourse, ...]:
    return state(*resources, today=today).courses


def course(*resources: dict, today: date = TODAY) -> DrugCourse:
    (only,) = courses(*resources, today=today)
    return only


def span(c: DrugCourse) -> tuple[str | None, str | None]:
    return (c.start.text if c.start else None, c.end.text if c.end else None)
