"""Reading the record: a malformed resource is skipped and reported; a duplicated value[x] is
repaired and reported; what an answer rests on is validated by fhir.resources before any card
shows it."""

from __future__ import annotations

import copy
import logging
from pathlib import Path

from cds_service.fhir.models import MedicationStatement
from cds_service.fhir.record import parse_record
from cds_service.testing import load_json, post_hook

ROOT = Path(__file__).resolve().parent.parent
RECHALLENGE = ROOT / "hooks" / "order-select-lapatinib-rechallenge.json"

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
# The view's regular expression reads the date; fhir.resources knows February has no 30th.
ODD = {**CONDITION, "id": "odd", "onsetDateTime": "2024-02-30"}
# Invalid only in an element no rule reads (identifier must be a list).
UNREAD_GLITCH = {**CONDITION, "id": "glitch", "identifier": {"value": "not a list"}}


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
    assert [r["id"] for r in record.documents] == ["c1"]
    assert [(s.resource_id, s.reason) for s in record.skipped] == [
        ("bad", "subject: dict_type"),
        (None, "not a JSON object"),
    ]
    assert "Condition/bad from conditions skipped" in caplog.text


def test_two_values_for_one_choice_element_are_not_read():
    both = {**CONDITION, "id": "both", "onsetDateTime": "2024-01-01", "onsetString": "2023"}
    record = parse_record([("conditions", both)])
    assert record.documents == ()
    assert [(s.resource_id, s.reason) for s in record.skipped] == [("both", "onset[x]: 2 values")]


def test_observation_with_two_values_keeps_the_coded_one_and_the_other_as_a_component(caplog):
    with caplog.at_level(logging.WARNING):
        record = parse_record([("observations", HER2)])
    [observation] = record.documents
    assert observation["valueCodeableConcept"]["coding"][0]["code"] == "10828004"
    assert "valueQuantity" not in observation
    # The second value is not lost: a component of the same code carries it.
    assert observation["component"] == [
        {"code": HER2["code"], "valueQuantity": HER2["valueQuantity"]}
    ]
    assert record.repaired == (
        "Observation/her2 from observations repaired: kept valueCodeableConcept, moved"
        " valueQuantity to a component of the same code",
    )
    assert "repaired" in caplog.text
    # The repaired resource is what full validation sees too.
    model = record.confirm(["Observation/her2"]).models["Observation/her2"]
    assert model.valueQuantity is None
    assert model.component[0].valueQuantity.value == HER2["valueQuantity"]["value"]


def test_duplicates_by_type_and_id_are_read_once():
    record = parse_record([("a", CONDITION), ("b", CONDITION)])
    assert len(record.documents) == 1


def test_confirm_validates_with_fhir_resources_and_leaves_out_what_fails(caplog):
    record = parse_record([("conditions", CONDITION), ("conditions", ODD)])
    assert [r["id"] for r in record.documents] == ["c1", "odd"]  # the view reads it
    with caplog.at_level(logging.WARNING):
        confirmed = record.confirm(["Condition/c1", "Condition/odd"])
    assert [r["id"] for r in confirmed.documents] == ["c1"]
    assert [(s.resource_id, s.reason) for s in confirmed.skipped] == [
        ("odd", "onsetDateTime: datetime_from_date_parsing")
    ]
    assert confirmed.models["Condition/c1"].code.text == "Breast cancer"
    assert "Condition/odd from conditions skipped: onsetDateTime" in caplog.text
    assert confirmed.confirm(["Condition/c1"]) is confirmed  # each resource validated once


def test_an_element_no_rule_reads_is_not_judged():
    """A glitch in the narrative, identifiers or meta must not hide a card resting on the rest."""
    record = parse_record([("conditions", UNREAD_GLITCH)])
    confirmed = record.confirm(["Condition/glitch"])
    assert confirmed.skipped == ()
    assert "identifier" not in confirmed.documents[0]


def _rules(result) -> list[str]:
    return [card["source"]["topic"]["code"] for card in result.cards]


def _lapatinib_statement(request: dict) -> dict:
    entries = request["prefetch"]["medicationStatements"]["entry"]
    return next(
        e["resource"]
        for e in entries
        if "lapatinib" in str(e["resource"].get("medicationCodeableConcept", "")).lower()
    )


def test_no_card_rests_on_a_resource_that_fails_fhir_resources_validation(client, caplog):
    """The lapatinib history behind the critical rechallenge card is read through the view; if
    fhir.resources rejects what was read (a date that does not exist), the card must not be
    shown on its strength."""
    request = load_json(RECHALLENGE)
    assert "LAPATINIB-RECHALLENGE" in _rules(post_hook(client, request))

    broken = copy.deepcopy(request)
    statement = _lapatinib_statement(broken)
    MedicationStatement.model_validate(statement)  # valid as sent
    dated = [k for k in ("effectiveDateTime", "effectivePeriod") if k in statement]
    if dated == ["effectivePeriod"]:
        statement["effectivePeriod"]["start"] = "2025-02-30"
    else:
        statement["effectiveDateTime"] = "2025-02-30"
    with caplog.at_level(logging.WARNING):
        result = post_hook(client, broken)
    assert result.status == 200
    assert "LAPATINIB-RECHALLENGE" not in _rules(result)
    assert f"MedicationStatement/{statement['id']} from medicationStatements skipped" in caplog.text


def test_a_valid_resource_passes_confirm_from_its_view():
    """The view keeps what fhir.resources requires, down to an ImagingStudy series' uid."""
    study = {
        "resourceType": "ImagingStudy",
        "id": "mri-1",
        "status": "available",
        "subject": {"reference": "Patient/p"},
        "started": "2026-05-01",
        "series": [
            {
                "uid": "1.2.840.113619.2.1",
                "number": 1,
                "modality": {
                    "system": "http://dicom.nema.org/resources/ontology/DCM",
                    "code": "MR",
                },
                "bodySite": {"system": "http://snomed.info/sct", "code": "12738006"},
            }
        ],
    }
    record = parse_record([("imagingStudies", study)], relevant_only=False)
    confirmed = record.confirm(["ImagingStudy/mri-1"])
    assert confirmed.skipped == ()
    assert confirmed.models["ImagingStudy/mri-1"].series[0].uid == "1.2.840.113619.2.1"
