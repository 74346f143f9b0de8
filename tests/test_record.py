"""Parsing the record: a malformed resource is skipped and reported; a duplicated value[x] is repaired and reported."""

from __future__ import annotations

import logging

from cds_service.fhir.record import parse_record

CONDITION = {
    "resourceType": "Condition",
    "id": "c1",
    "subject": {"reference": "Patient/p"},
    "code": {"text": "Breast cancer"},
}
HER2 = {
    "resourceType": "Observation",
    "id": "her2",
    "status": "final",
    "code": {"coding": [{"system": "http://loinc.org", "code": "48676-1"}]},
    "valueCodeableConcept": {"coding": [{"system": "http://snomed.info/sct", "code": "10828004"}]},
    "valueQuantity": {"value": 3},
}


def test_malformed_resource_is_skipped_and_the_rest_kept(caplog):
    broken = {
        "resourceType": "Condition",
        "id": "bad",
        "subject": "Patient/p",
        "code": {"text": "x"},
    }
    with caplog.at_level(logging.WARNING):
        record = parse_record(
            [("conditions", CONDITION), ("conditions", broken), ("conditions", "not a resource")]
        )
    assert [r.id for r in record.resources] == ["c1"]
    assert [(s.resource_id, s.reason) for s in record.skipped] == [
        ("bad", "subject: json_invalid"),
        (None, "not a JSON object"),
    ]
    assert "Condition/bad from conditions skipped" in caplog.text


def test_observation_with_two_values_keeps_the_coded_one_and_says_so(caplog):
    with caplog.at_level(logging.WARNING):
        record = parse_record([("observations", HER2)])
    [observation] = record.resources
    assert observation.valueCodeableConcept.coding[0].code == "10828004"
    assert observation.valueQuantity is None
    assert record.repaired == (
        "Observation/her2 from observations repaired: kept valueCodeableConcept, dropped valueQuantity",
    )
    assert "repaired" in caplog.text


def test_duplicates_by_type_and_id_are_read_once():
    record = parse_record([("a", CONDITION), ("b", CONDITION)])
    assert len(record.resources) == 1
