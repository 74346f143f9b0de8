"""Building blocks for hook requests in the web tests, and access to tests/external/."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

EXTERNAL = Path(__file__).resolve().parent.parent / "external"
PATIENT_ID = "pat-1"
SERVICE_FOR_HOOK = {
    "patient-view": "her2-cns-patient-view",
    "order-select": "her2-cns-order-select",
    "order-sign": "her2-cns-order-sign",
}
EMPTY_SEARCHSET: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset", "total": 0}
# The two required keys, answered "no data" in both ways the spec allows.
NO_DATA_PREFETCH: dict[str, Any] = {"conditions": EMPTY_SEARCHSET, "medicationRequests": None}

DRAFT_ORDER: dict[str, Any] = {
    "resourceType": "MedicationRequest",
    "id": "draft-1",
    "status": "draft",
    "intent": "order",
    "medicationCodeableConcept": {"text": "lapatinib 250 mg tablet"},
    "subject": {"reference": f"Patient/{PATIENT_ID}"},
}


def external(relative: str) -> dict[str, Any]:
    """A file from tests/external/ (copies of public examples; see PROVENANCE.md there)."""
    loaded: dict[str, Any] = json.loads((EXTERNAL / relative).read_text(encoding="utf-8"))
    return loaded


def searchset(*resources: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "entry": [{"resource": r} for r in resources],
    }


def hook_request(hook: str, *, prefetch: dict[str, Any] | None = None, **fields: Any) -> dict:
    """A valid request for `hook` about PATIENT_ID; keyword arguments replace top-level fields."""
    context: dict[str, Any] = {"userId": "Practitioner/prac-1", "patientId": PATIENT_ID}
    if hook in ("order-select", "order-sign"):
        context["draftOrders"] = {"resourceType": "Bundle", "entry": [{"resource": DRAFT_ORDER}]}
    if hook == "order-select":
        context["selections"] = ["MedicationRequest/draft-1"]
    request: dict[str, Any] = {
        "hook": hook,
        "hookInstance": "0b9ec6d6-3a43-4d1f-9b05-5d7f2b1f3a11",
        "context": context,
        "prefetch": copy.deepcopy(NO_DATA_PREFETCH if prefetch is None else prefetch),
    }
    request.update(fields)
    return request


def service_url(hook: str) -> str:
    return f"/cds-services/{SERVICE_FOR_HOOK[hook]}"
