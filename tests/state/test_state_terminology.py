"""Recognition of drugs, diagnoses and procedures by code in any listed system, or by text."""

from __future__ import annotations

import json

import pytest

from cds_service.state.terminology import VALUESET_DIR, agents_of, matches, valuesets

RX = "http://www.nlm.nih.gov/research/umls/rxnorm"
ATC = "http://www.whocc.no/atc"


@pytest.mark.parametrize(
    ("concept", "agents"),
    [
        ({"text": "Tykerb 250 mg tablet"}, {"lapatinib"}),
        ({"text": "XELODA"}, {"capecitabine"}),
        ({"text": "T-DXd"}, {"t-dxd"}),
        ({"text": "Enhertu 100 mg vial"}, {"t-dxd"}),
        ({"text": "ado-trastuzumab emtansine"}, {"t-dm1"}),
        ({"text": "Phesgo 1200 mg/600 mg"}, {"phesgo"}),
        ({"text": "Herzuma (trastuzumab-pkrb)"}, {"trastuzumab"}),
        ({"coding": [{"system": RX, "code": "672149"}]}, {"lapatinib"}),
        ({"coding": [{"system": RX, "code": "2361290"}]}, {"tucatinib"}),
        ({"coding": [{"system": ATC, "code": "L01FD04"}]}, {"t-dxd"}),
        ({"coding": [{"system": ATC, "code": "L01XC14"}]}, {"t-dm1"}),
        # MITRE-style T-DM1 concept that also lists the trastuzumab ingredient: still T-DM1 only.
        (
            {"coding": [{"system": RX, "code": "1371041"}, {"system": RX, "code": "224905"}]},
            {"t-dm1"},
        ),
        ({"text": "Dilantin 100 mg capsule"}, {"phenytoin"}),
        ({"text": "ondansetron 8 mg"}, set()),
    ],
)
def test_agents_recognised(concept: dict, agents: set[str]) -> None:
    assert agents_of(concept) == agents


def test_a_known_code_wins_over_text() -> None:
    concept = {"coding": [{"system": RX, "code": "480167"}], "text": "Xeloda"}
    assert agents_of(concept) == {"lapatinib"}


@pytest.mark.parametrize(
    ("concept", "vs_id", "expected"),
    [
        (
            {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "C50.811"}]},
            "breast-cancer",
            True,
        ),
        (
            {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "C71.9"}]},
            "brain-metastasis",
            False,
        ),
        (
            {"coding": [{"system": "http://snomed.info/sct", "code": "94225005"}]},
            "brain-metastasis",
            True,
        ),
        (
            {"coding": [{"system": "urn:oid:2.16.840.1.113883.6.285", "code": "G0340"}]},
            "srs-per-fraction",
            True,
        ),
        ({"text": "MRI lumbar spine"}, "brain-mri", False),
        ({"text": "MRI of the brain with and without contrast"}, "brain-mri", True),
    ],
)
def test_value_set_membership(concept: dict, vs_id: str, expected: bool) -> None:
    assert matches(concept, vs_id) is expected


def test_every_value_set_has_url_version_date_purpose_and_verification() -> None:
    assert len(valuesets()) >= 30
    for path in VALUESET_DIR.glob("*.json"):
        body = json.loads(path.read_text(encoding="utf-8"))
        assert body["resourceType"] == "ValueSet" and body["id"] == path.stem
        assert body["url"].endswith("/" + body["id"])
        assert body["version"] and body["date"] and body["purpose"], path.name
        assert any("verification" in e["url"] and e["valueString"] for e in body["extension"]), (
            path.name
        )


def test_trastuzumab_value_set_holds_no_conjugate_or_combination_codes() -> None:
    trastuzumab = valuesets()["agent-trastuzumab"]
    for other in ("agent-t-dm1", "agent-t-dxd", "agent-phesgo"):
        assert not trastuzumab.codes & valuesets()[other].codes
