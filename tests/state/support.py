"""Helpers for the patient-state tests: load a FHIR Bundle and derive its state as of 2026-11-23."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

from cds_service.fhir.record import parse_record
from cds_service.state import derive
from cds_service.state.model import PatientState

TODAY = date(2026, 11, 23)
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
EXTERNAL = Path(__file__).resolve().parent / "external"


def load_bundle(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def state_of(
    bundle: dict,
    context: Mapping[str, Any] | None = None,
    unavailable: tuple[str, ...] = (),
    today: date = TODAY,
) -> PatientState:
    record = parse_record(
        (("fixture", e["resource"]) for e in bundle.get("entry", [])), unavailable
    )
    return derive(record, today, context)
