"""The derivation reads each validated resource's own JSON: same state as reading the models back."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from cds_service.fhir.record import parse_record
from cds_service.state import derive
from tests.state.support import EXTERNAL, FIXTURES, TODAY

BUNDLES = sorted(FIXTURES.glob("*/*.json")) + sorted(EXTERNAL.glob("*.json"))


def _entries(path: Path) -> list[tuple[str, object]]:
    bundle = json.loads(path.read_text(encoding="utf-8"))
    return [("fixture", e["resource"]) for e in bundle.get("entry", []) if "resource" in e]


@pytest.mark.parametrize(
    "path", [p for p in BUNDLES if "golden" not in p.parts], ids=lambda p: p.stem
)
def test_state_from_documents_equals_state_from_models(path: Path) -> None:
    record = parse_record(_entries(path))
    assert len(record.documents) == len(record.resources)
    from_models = replace(record, documents=())  # forces model_dump, the slow path
    assert derive(record, TODAY) == derive(from_models, TODAY)
