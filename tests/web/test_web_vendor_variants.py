"""Every golden request, its patient re-written the way each EHR writes it, through the real HTTP
pipeline: the cards must be the golden ones. The record is rebuilt from the request's prefetch,
re-coded, and sent with our own prefetch templates (so a representation the prefetch does not
fetch fails here too).

Vendors (shared/reference/real-world-fhir-representations.md): Epic (orders naming an external
Medication, fetched by _include; report dates as periods; local report codes with text), Cerner
(IV mixtures in a contained Medication with ingredient codes; problems coded only in IMO, read by
their words), athena (start-only orders ended by ah-stop-date), mCODE STU1 (disease status 88040-1),
and common shapes (disease status in words only, Conditions dated by recordedDate, instants with a
zone offset).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from cds_service.testing import compare_golden, hook_request, load_json, post_hook

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = sorted((ROOT / "fixtures" / "golden").glob("*.json"))
ATHENA_STOP = "https://fhir.athena.io/StructureDefinition/ah-stop-date"
IMO = "http://e-imo.com/products/problem-it"
Resources = list[dict[str, Any]]


def _record_of(request: dict[str, Any]) -> Resources:
    """The patient's resources as the request's prefetch carries them, each once."""
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    for value in request["prefetch"].values():
        if not isinstance(value, dict):
            continue
        bundle = value.get("resourceType") == "Bundle"
        for resource in [e["resource"] for e in value.get("entry", [])] if bundle else [value]:
            seen.setdefault((resource["resourceType"], resource["id"]), resource)
    return list(seen.values())


def _as_orders(resources: Resources, *, contained: bool, athena: bool = False) -> Resources:
    """MedicationStatements as the orders an EHR sends: the drug in an external Medication
    (Epic), in a contained mixture's ingredient (Cerner), or inline with its end in the athena
    extension; the period as boundsPeriod."""
    out: Resources = []
    for r in resources:
        if r["resourceType"] != "MedicationStatement":
            out.append(r)
            continue
        period = r.get("effectivePeriod") or {"start": r.get("effectiveDateTime")}
        order: dict[str, Any] = {
            "resourceType": "MedicationRequest",
            "id": f"{r['id']}-rx",
            "status": r["status"],
            "intent": "order",
            "subject": r["subject"],
            "authoredOn": period["start"],
            "dosageInstruction": [{"timing": {"repeat": {"boundsPeriod": dict(period)}}}],
        }
        if r.get("statusReason"):
            order["statusReason"] = r["statusReason"][0]
        drug = r["medicationCodeableConcept"]
        if athena:
            order["medicationCodeableConcept"] = drug
            end = order["dosageInstruction"][0]["timing"]["repeat"]["boundsPeriod"].pop("end", None)
            if end:
                order["extension"] = [{"url": ATHENA_STOP, "valueDate": end[:10]}]
        elif contained:
            mixture = {"resourceType": "Medication", "id": "mix", "ingredient": []}
            mixture["ingredient"].append({"itemCodeableConcept": drug})
            order["contained"] = [mixture]
            order["medicationReference"] = {"reference": "#mix"}
        else:
            medication = {"resourceType": "Medication", "id": f"{r['id']}-med", "code": drug}
            order["medicationReference"] = {"reference": f"Medication/{medication['id']}"}
            out.append(medication)
        out.append(order)
    return out


def _each(kind: str, change: Callable[[dict[str, Any]], None]) -> Callable[[Resources], Resources]:
    def variant(resources: Resources) -> Resources:
        for resource in resources:
            if resource["resourceType"] == kind:
                change(resource)
        return resources

    return variant


def _imo(condition: dict[str, Any]) -> None:
    text = condition["code"]["text"]
    condition["code"] = {"coding": [{"system": IMO, "code": "30506012", "display": text}]}
    condition["code"]["text"] = text


def _stu1(observation: dict[str, Any]) -> None:
    for coding in observation["code"].get("coding", []):
        if coding.get("code") == "97509-4":
            coding["code"] = "88040-1"


def _status_in_words(observation: dict[str, Any]) -> None:
    if any(c.get("code") in ("97509-4",) for c in observation["code"].get("coding", [])):
        value = observation.get("valueCodeableConcept") or {}
        words = next((c["display"] for c in value.get("coding", []) if c.get("display")), None)
        observation["valueCodeableConcept"] = {"text": words or value.get("text")}


def _report_period(report: dict[str, Any]) -> None:
    day = report.pop("effectiveDateTime", None)
    if day:
        report["effectivePeriod"] = {"start": day, "end": day}


def _local_report_code(report: dict[str, Any]) -> None:
    words = report["code"]["coding"][0]["display"]
    report["code"] = {"coding": [{"system": "urn:oid:1.2.840.114350", "code": "IMG1"}]}
    report["code"]["text"] = words


def _recorded_only(condition: dict[str, Any]) -> None:
    onset = condition.pop("onsetDateTime", None)
    if onset:
        condition["recordedDate"] = onset


def _zone_offsets(resources: Resources) -> Resources:
    for resource in resources:
        for element in ("effectiveDateTime", "performedDateTime", "onsetDateTime"):
            if len(resource.get(element) or "") == 10:
                resource[element] += "T20:00:00-05:00"
    return resources


VARIANTS: dict[str, Callable[[Resources], Resources]] = {
    "Epic orders, external Medication": lambda rs: _as_orders(rs, contained=False),
    "Cerner orders, contained mixture": lambda rs: _as_orders(rs, contained=True),
    "athena orders, ah-stop-date": lambda rs: _as_orders(rs, contained=False, athena=True),
    "Cerner problems coded in IMO only": _each("Condition", _imo),
    "mCODE STU1 disease status": _each("Observation", _stu1),
    "disease status in words only": _each("Observation", _status_in_words),
    "Epic report dated by a period": _each("DiagnosticReport", _report_period),
    "Epic report with a local code and text": _each("DiagnosticReport", _local_report_code),
    "Conditions dated by recordedDate only": _each("Condition", _recorded_only),
    "instants with a zone offset": _zone_offsets,
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("golden_path", GOLDEN, ids=lambda p: p.stem)
def test_each_ehr_representation_gives_the_golden_cards(
    client: FlaskClient, golden_path: Path, variant: str
) -> None:
    golden = load_json(golden_path)
    original = load_json(ROOT / golden["request"])
    resources = VARIANTS[variant](copy.deepcopy(_record_of(original)))
    context = original["context"]
    drafts = [e["resource"] for e in (context.get("draftOrders") or {}).get("entry", [])]
    request = hook_request(
        {"entry": [{"resource": r} for r in resources]},
        original["hook"],
        patient_id=context["patientId"],
        draft_orders=drafts,
        selections=context.get("selections"),
    )
    result = post_hook(client, request)
    assert result.status == 200, result.body
    assert compare_golden(result.cards, golden) == []
