"""PatientState as plain JSON (for `explain --json`, traces and logs of rule inputs)."""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Any

from cds_service.state.model import UNKNOWN, FhirDate, PatientState


def to_json(value: Any) -> Any:
    """Dataclasses, facts, dates and UNKNOWN as JSON values ("unknown" for UNKNOWN)."""
    if value is UNKNOWN:
        return "unknown"
    if isinstance(value, FhirDate):
        return {"date": value.text, "precision": value.precision}
    if isinstance(value, date):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: to_json(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if f.name != "resource"
        }
    if isinstance(value, (frozenset, set)):
        return sorted(to_json(v) for v in value)
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    return value


def state_to_json(state: PatientState) -> dict[str, Any]:
    body = to_json(state)
    body["regimens"] = [{**to_json(r), "label": r.label} for r in state.regimens]
    return body
