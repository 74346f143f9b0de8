"""The view the derivation reads: faithful to FHIR R4 as fhir.resources defines it, and complete."""

from __future__ import annotations

import json
import sys
import typing
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from cds_service.fhir import record as record_module
from cds_service.fhir.models import MODEL_CLASSES
from cds_service.fhir.record import PatientRecord, parse_record
from cds_service.fhir.view import LEAN_TYPES, READ_ELEMENTS, fhir_type_name, view_of, views_of
from cds_service.state import derive
from tests.state.support import EXTERNAL, FIXTURES, TODAY

ROOT = Path(__file__).resolve().parent.parent
BUNDLES = [p for p in sorted(FIXTURES.glob("*/*.json")) if "golden" not in p.parts] + sorted(
    EXTERNAL.glob("*.json")
)


def _entries(bundle: dict[str, Any]) -> list[tuple[str, object]]:
    return [("fixture", e["resource"]) for e in bundle.get("entry", []) if "resource" in e]


def _bench_request(size: int) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import generate  # bench/generate.py: the Epic-like payloads the benchmark sends
    finally:
        sys.path.remove(str(ROOT / "bench"))
    return generate.generate(size)  # type: ignore[no-any-return]


def _prefetch_entries(request: dict[str, Any]) -> list[tuple[str, object]]:
    return [
        (key, e["resource"])
        for key, value in request["prefetch"].items()
        if isinstance(value, dict) and value.get("resourceType") == "Bundle"
        for e in value.get("entry", [])
    ]


def _read_whole(items: list[tuple[str, object]], monkeypatch: pytest.MonkeyPatch) -> PatientRecord:
    """The same record with each resource read whole instead of through its view (still checked:
    a resource the view rejects is rejected here too)."""

    def whole_of(resource: dict[str, Any]) -> dict[str, Any]:
        view_of(resource)
        return resource

    def wholes_of(resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
        views_of(resources)
        return resources

    with monkeypatch.context() as patched:
        patched.setattr(record_module, "view_of", whole_of)
        patched.setattr(record_module, "views_of", wholes_of)
        return parse_record(items)


@pytest.mark.parametrize("path", BUNDLES, ids=lambda p: p.stem)
def test_the_derivation_reads_nothing_outside_the_view(path: Path, monkeypatch) -> None:
    """Same state from the views as from the whole resources: every element read is checked."""
    items = _entries(json.loads(path.read_text(encoding="utf-8")))
    assert derive(parse_record(items), TODAY) == derive(_read_whole(items, monkeypatch), TODAY)


@pytest.mark.parametrize("size", [30, 200])
def test_the_benchmark_payloads_derive_the_same_from_views(size: int, monkeypatch) -> None:
    request = _bench_request(size)
    items = _prefetch_entries(request)
    whole = _read_whole(items, monkeypatch)
    assert derive(parse_record(items), TODAY, request["context"]) == derive(
        whole, TODAY, request["context"]
    )


def _lean_keys(lean: Any) -> dict[str, Any]:
    return typing.get_type_hints(lean, include_extras=True)


def _element_model(type_name: str) -> Any:
    """The fhir.resources R4B model class of a complex type, e.g. CodeableConcept."""
    for model in MODEL_CLASSES.values():
        for info in model.model_fields.values():
            found = _models_in(info.annotation, type_name)
            if found is not None:
                return found
    raise AssertionError(f"no fhir.resources model named {type_name}")


def _models_in(annotation: Any, type_name: str, depth: int = 0) -> Any:
    pending = [annotation]
    while pending:
        current = pending.pop()
        if hasattr(current, "get_model_klass"):
            klass = current.get_model_klass()
            if klass.__name__ == type_name:
                return klass
            if depth < 3:
                for info in klass.model_fields.values():
                    found = _models_in(info.annotation, type_name, depth + 1)
                    if found is not None:
                        return found
        pending.extend(typing.get_args(current))
    return None


COMPLEX = [
    name for name, lean in LEAN_TYPES.items() if isinstance(lean, type) and name != "Resource"
]


@pytest.mark.parametrize("type_name", COMPLEX)
def test_each_lean_type_is_a_part_of_the_fhir_type_of_that_name(type_name: str) -> None:
    """Element names, list or single, and types as fhir.resources R4B defines them."""
    model = _element_model(type_name)
    fields = {info.alias or name: info for name, info in model.model_fields.items()}
    for key in _lean_keys(LEAN_TYPES[type_name]):
        assert key in fields, f"{type_name}.{key} is not an element of {type_name}"
        name, is_list = fhir_type_name(fields[key].annotation)
        assert name in LEAN_TYPES, f"{type_name}.{key}: {name}"
        hint = typing.get_type_hints(LEAN_TYPES[type_name])[key]
        lean_is_list = typing.get_origin(hint) is list
        assert lean_is_list == is_list, f"{type_name}.{key}: list is {is_list} in FHIR"


def test_every_read_element_exists_in_some_resource_type() -> None:
    """A misspelt element would silently never be read."""
    known = {
        info.alias or name for m in MODEL_CLASSES.values() for name, info in m.model_fields.items()
    }
    assert known >= READ_ELEMENTS


def test_the_view_keeps_what_is_read_and_drops_the_rest() -> None:
    observation = {
        "resourceType": "Observation",
        "id": "her2",
        "meta": {"lastUpdated": "2026-01-01T00:00:00Z"},
        "text": {"status": "generated", "div": '<div xmlns="http://www.w3.org/1999/xhtml">x</div>'},
        "identifier": [{"system": "urn:oid:1.2.3", "value": "9"}],
        "status": "final",
        "code": {
            "coding": [{"system": "http://loinc.org", "code": "48676-1", "userSelected": True}]
        },
        "effectiveDateTime": "2026-03-01",
        "valueCodeableConcept": {"text": "Positive"},
    }
    assert view_of(observation) == {
        "resourceType": "Observation",
        "id": "her2",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "48676-1"}]},
        "effectiveDateTime": "2026-03-01",
        "valueCodeableConcept": {"text": "Positive"},
    }


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"effectiveDateTime": "2026-13-01"}, "effectiveDateTime"),
        ({"effectiveDateTime": "March 2026"}, "effectiveDateTime"),
        ({"status": "final "}, "status"),
        ({"code": {"coding": [{"code": 48676}]}}, "code.coding.0.code"),
        ({"code": "48676-1"}, "code"),
        ({"valueQuantity": {"value": "3"}}, "valueQuantity.value"),
        ({"focus": {"reference": "Condition/x"}}, "focus"),
        ({"note": [{"authorString": "x"}]}, "note.0.text"),
        ({"code": {"text": ""}}, "code.text"),
    ],
)
def test_a_malformed_read_element_is_rejected_naming_it(change: dict, field: str) -> None:
    observation = {"resourceType": "Observation", "id": "o", "status": "final", "code": {}}
    with pytest.raises(ValidationError) as caught:
        view_of({**observation, **change})
    located = {".".join(str(p) for p in e["loc"]) for e in caught.value.errors()}
    assert any(path == field or path.startswith(f"{field}.") for path in located), located


def test_a_required_element_is_required_even_when_not_read() -> None:
    with pytest.raises(ValidationError) as caught:
        view_of({"resourceType": "Condition", "id": "c", "code": {"text": "x"}})
    assert [e["loc"] for e in caught.value.errors()] == [("subject",)]


def test_a_null_element_reads_as_absent_as_fhir_resources_reads_it() -> None:
    observation = {"resourceType": "Observation", "id": "o", "status": "final", "code": {}}
    assert view_of({**observation, "focus": None}) == observation


def test_many_views_in_one_pass_are_each_resources_view() -> None:
    resources = [
        r
        for _, r in _prefetch_entries(_bench_request(200))
        if isinstance(r, dict) and r.get("resourceType") in MODEL_CLASSES
    ]
    assert views_of(resources) == [view_of(r) for r in resources]
    with pytest.raises(ValidationError):
        views_of([*resources, {**resources[0], "id": 3}])


@pytest.mark.parametrize("type_name", COMPLEX)
def test_each_lean_type_keeps_every_element_fhir_requires(type_name: str) -> None:
    """A view is validated by fhir.resources (confirm): it must keep every required element."""
    model = _element_model(type_name)
    hints = typing.get_type_hints(LEAN_TYPES[type_name], include_extras=True)
    required = {k for k, hint in hints.items() if typing.get_origin(hint) is typing.Required}
    for name, info in model.model_fields.items():
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        if info.is_required() or extra.get("element_required"):
            alias = info.alias or name
            assert alias in hints and alias in required, f"{type_name}.{alias} is required"
