"""The relevance pre-filter drops only resources the derivation never uses: states are unchanged."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from cds_service.fhir.record import parse_record
from cds_service.fhir.relevance import is_relevant, relevant_items
from cds_service.state import derive

ROOT = Path(__file__).resolve().parents[1]
BUNDLES = sorted(
    p
    for p in [*ROOT.glob("fixtures/**/*.json"), *ROOT.glob("tests/state/external/*.json")]
    if json.loads(p.read_text(encoding="utf-8")).get("resourceType") == "Bundle"
)
TODAY = date(2026, 11, 23)

# Codes below: public example data (HL7 R4 examples, mCODE STU4) or the service's value sets.
BODY_WEIGHT = {
    "resourceType": "Observation",
    "id": "wt-1",
    "status": "final",
    "code": {
        "coding": [{"system": "http://loinc.org", "code": "29463-7", "display": "Body Weight"}]
    },
    "subject": {"reference": "Patient/p"},
    "valueQuantity": {
        "value": 61.2,
        "unit": "kg",
        "system": "http://unitsofmeasure.org",
        "code": "kg",
    },
}
OBESITY = {
    "resourceType": "Condition",
    "id": "ob-1",
    "code": {
        "coding": [
            {
                "system": "http://snomed.info/sct",
                "code": "414916001",
                "display": "Obesity (disorder)",
            }
        ]
    },
    "subject": {"reference": "Patient/p"},
}
NSCLC = {
    "resourceType": "Condition",
    "id": "lung-1",
    "code": {
        "coding": [
            {
                "system": "http://snomed.info/sct",
                "code": "254637007",
                "display": "Non-small cell lung cancer",
            }
        ]
    },
    "subject": {"reference": "Patient/p"},
}
BRAIN_METS_OF_LUNG = {
    "resourceType": "Condition",
    "id": "bm-1",
    "code": {"coding": [{"system": "http://snomed.info/sct", "code": "94225005"}]},
    "subject": {"reference": "Patient/p"},
    "extension": [
        {
            "url": "http://hl7.org/fhir/StructureDefinition/condition-related",
            "valueReference": {"reference": "Condition/lung-1"},
        }
    ],
}


def _items(path: Path) -> list[tuple[str, object]]:
    bundle = json.loads(path.read_text(encoding="utf-8"))
    return [
        ("fixture", e["resource"])
        for e in bundle.get("entry", [])
        if isinstance(e, dict) and "resource" in e
    ]


@pytest.mark.parametrize("path", BUNDLES, ids=lambda p: p.stem)
def test_every_fixture_derives_the_same_state_with_and_without_the_filter(path):
    items = _items(path)
    full = derive(parse_record(items, relevant_only=False), TODAY)
    filtered = derive(parse_record(items), TODAY)
    assert filtered == full


def test_vitals_and_unrelated_problems_are_left_out():
    assert not is_relevant(BODY_WEIGHT)
    assert not is_relevant(OBESITY)


def test_a_drug_named_only_in_text_is_kept():
    statement = {
        "resourceType": "MedicationStatement",
        "id": "ms-1",
        "status": "completed",
        "medicationCodeableConcept": {
            "coding": [{"system": "urn:oid:1.2.3.4", "code": "998877"}],
            "text": "Tykerb 250 mg",
        },
        "subject": {"reference": "Patient/p"},
    }
    assert is_relevant(statement)


def test_words_split_by_an_escaped_newline_still_count():
    report = dict(BODY_WEIGHT, id="wt-2", note=[{"text": "seen today\nsrs planned"}])
    assert is_relevant(report)


def test_uncoded_and_void_resources_are_kept():
    assert is_relevant({"resourceType": "Condition", "id": "c", "code": {"text": "x"}})
    assert is_relevant(dict(OBESITY, verificationStatus={"coding": [{"code": "entered-in-error"}]}))


def test_an_observation_tied_to_a_lesion_by_focus_is_kept():
    assert is_relevant(dict(BODY_WEIGHT, focus=[{"reference": "Condition/bm-1"}]))


def test_the_primary_a_kept_metastasis_refers_to_is_kept():
    items = [
        ("conditions", NSCLC),
        ("conditions", BRAIN_METS_OF_LUNG),
        ("observations", BODY_WEIGHT),
    ]
    kept = [raw["id"] for _, raw in relevant_items(items)]
    assert kept == ["lung-1", "bm-1"]
    state = derive(parse_record(items), TODAY)
    assert (
        state.brain_metastases.value is False
    )  # a lung primary's metastasis, as without the filter
    assert state == derive(parse_record(items, relevant_only=False), TODAY)


def test_a_malformed_resource_that_may_matter_is_still_reported():
    broken = {
        "resourceType": "Condition",
        "id": "bad",
        "subject": "Patient/p",
        "code": {"coding": [{"code": "C79.31"}]},
    }
    record = parse_record([("conditions", broken)])
    assert [s.resource_id for s in record.skipped] == ["bad"]
