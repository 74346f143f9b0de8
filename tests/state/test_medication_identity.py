"""Which drug a medication resource names: the rows of real-world-fhir-representations.md 1.2."""

from __future__ import annotations

from tests.state.medications import RX, course, courses, request, state

DAR = "http://terminology.hl7.org/CodeSystem/data-absent-reason"


def test_code_plus_local_synonym_cerner() -> None:
    drug = {
        "coding": [
            {"system": RX, "code": "672149", "userSelected": False},
            {
                "system": "https://fhir.cerner.com/ec2458f2/synonym",
                "code": "2761520",
                "userSelected": True,
            },
        ],
        "text": "lapatinib (Tykerb) 250 mg oral tablet",
    }
    c = course(request("r", drug, authoredOn="2025-02-10"))
    assert (c.agent, c.start.text) == ("lapatinib", "2025-02-10")


def test_contained_mixture_coded_only_on_its_ingredients() -> None:
    order = request(
        "mix",
        None,
        authoredOn="2025-03-01",
        medicationReference={"reference": "#m1"},
        contained=[
            {
                "resourceType": "Medication",
                "id": "m1",
                "code": {"text": "IV mixture 1"},
                "ingredient": [
                    {
                        "itemCodeableConcept": {
                            "coding": [{"system": RX, "code": "2267582"}],
                            "text": "Drug A",
                        }
                    },
                    {
                        "itemCodeableConcept": {
                            "coding": [
                                {"system": "https://fhir.cerner.com/x/synonym", "code": "9"}
                            ],
                            "text": "sodium chloride 0.9%",
                        }
                    },
                ],
            }
        ],
    )
    c = course(order)
    assert (c.agent, c.evidence) == ("t-dxd", ("MedicationRequest/mix",))


def test_external_medication_with_mixed_codes_epic() -> None:
    medication = {
        "resourceType": "Medication",
        "id": "epic-lap",
        "code": {
            "coding": [
                {"system": "urn:oid:2.16.840.1.113883.6.253", "code": "38177"},
                {"system": "urn:oid:2.16.840.1.113883.6.68", "code": "21536050000320"},
                {"system": RX, "code": "672149"},
            ],
            "text": "LAPATINIB 250 MG PO TABS",
        },
    }
    order = request(
        "r",
        None,
        authoredOn="2025-02-10",
        medicationReference={
            "reference": "Medication/epic-lap",
            "display": "LAPATINIB 250 MG PO TABS",
        },
    )
    c = course(order, medication)
    assert c.agent == "lapatinib"
    assert c.evidence == ("MedicationRequest/r", "Medication/epic-lap")  # the drug's own evidence


def test_external_medication_absolute_reference() -> None:
    medication = {
        "resourceType": "Medication",
        "id": "m9",
        "code": {"coding": [{"system": RX, "code": "2361290"}]},
    }
    order = request(
        "r",
        None,
        authoredOn="2025-02-10",
        medicationReference={"reference": "https://ehr.example.org/fhir/Medication/m9"},
    )
    assert course(order, medication).agent == "tucatinib"


def test_external_medication_not_in_the_record_read_by_its_display() -> None:
    order = request(
        "r",
        None,
        authoredOn="2025-02-10",
        medicationReference={"reference": "Medication/gone", "display": "Tykerb 250 mg tablet"},
    )
    assert course(order).agent == "lapatinib"


def test_brand_names_and_biosimilar_suffixes_by_name_only() -> None:
    found = courses(
        request("a", {"text": "ENHERTU 100 mg IV"}, authoredOn="2025-01-01"),
        request("b", {"text": "Ogivri (trastuzumab-dkst) 420 mg"}, authoredOn="2023-01-01"),
        request("c", {"text": "Kadcyla 160 mg"}, authoredOn="2024-01-01"),
    )
    assert [c.agent for c in found] == ["trastuzumab", "t-dm1", "t-dxd"]


def test_product_code_of_t_dxd_with_a_trastuzumab_ingredient_is_not_plain_trastuzumab() -> None:
    order = request(
        "mix",
        None,
        authoredOn="2025-03-01",
        medicationReference={"reference": "#m1"},
        contained=[
            {
                "resourceType": "Medication",
                "id": "m1",
                "code": {"coding": [{"system": RX, "code": "2267582"}]},
                "ingredient": [
                    {"itemCodeableConcept": {"coding": [{"system": RX, "code": "224905"}]}}
                ],
            }
        ],
    )
    assert [c.agent for c in courses(order)] == ["t-dxd"]


def test_data_absent_reason_error_names_no_drug_whatever_its_text() -> None:
    drug = {"coding": [{"system": DAR, "code": "error"}], "text": "Error: lapatinib"}
    assert courses(request("r", drug, status="completed", authoredOn="2025-02-10")) == ()
    contained = request(
        "c",
        None,
        authoredOn="2025-02-10",
        medicationReference={"reference": "#m", "display": "lapatinib"},
        contained=[
            {
                "resourceType": "Medication",
                "id": "m",
                "code": {"coding": [{"system": DAR, "code": "error"}]},
            }
        ],
    )
    assert courses(contained) == ()


def test_negative_control_a_drug_that_is_no_agent() -> None:
    s = state(request("r", "ondansetron", authoredOn="2025-02-10"))
    assert (s.courses, s.therapy_history_known.value) == ((), True)


def test_malformed_external_medication_makes_therapy_history_unknown() -> None:
    medication = {"resourceType": "Medication", "id": "bad", "code": "lapatinib"}  # not a concept
    order = request(
        "r", None, authoredOn="2025-02-10", medicationReference={"reference": "Medication/bad"}
    )
    s = state(order, medication)
    assert s.therapy_history_known.known is False
    assert any("Medication/bad" in n for n in s.therapy_history_known.notes)
