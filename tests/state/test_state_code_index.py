"""One lookup table for all value sets recognises exactly what each value set, asked alone, does."""

from __future__ import annotations

import pytest

from cds_service.state.terminology import (
    agents_of,
    code_sets,
    has_code,
    matches,
    mentions_any,
    valuesets,
)

RX = "http://www.nlm.nih.gov/research/umls/rxnorm"
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"


def _probes() -> list[tuple[str, str]]:
    """Every listed code and is-a prefix, each also lengthened (a child code) and shortened."""
    probes: set[tuple[str, str]] = set()
    for vs in valuesets().values():
        for system, code in (*vs.codes, *vs.prefixes):
            probes |= {(system, code), (system, code + "1"), (system, code[:-1])}
            probes.add(("http://example.org/other-system", code))
    return sorted(probes)


def test_every_code_is_found_in_exactly_the_value_sets_that_list_it() -> None:
    for system, code in _probes():
        concept = {"coding": [{"system": system, "code": code}]}
        expected = {vs.id for vs in valuesets().values() if vs.has_code(system, code)}
        assert code_sets(concept) == expected, (system, code)
        for vs_id in valuesets():
            assert has_code(concept, vs_id) is (vs_id in expected)


def test_a_concept_is_in_the_union_of_what_its_codings_are_in() -> None:
    concept = {
        "coding": [
            {"system": ICD10, "code": "C50.911"},
            {"system": ICD10, "code": "C79.31"},
            {"system": "urn:oid:1.2.3", "code": "LOCAL-1"},
        ]
    }
    assert {"breast-cancer", "brain-metastasis"} <= code_sets(concept)
    assert code_sets({"coding": [{"system": ICD10}]}) == frozenset()
    assert code_sets({"system": ICD10, "code": "C50.911"}) == code_sets(
        {"coding": [{"system": ICD10, "code": "C50.911"}]}
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Midline shift of 4 mm", True),
        ("no mass effect", False),
        ("Mass effect on the fourth ventricle; no hydrocephalus", True),
        ("No midline shift; mass effect on the fourth ventricle", False),  # within 3 words
        ("compressionfracture", False),  # whole words only
        ("", False),
    ],
)
def test_text_mentions_are_whole_words_and_not_negated(text: str, expected: bool) -> None:
    terms = ("mass effect", "midline shift", "compression")
    assert mentions_any(text, terms) is expected


def test_agents_by_code_then_by_text() -> None:
    assert agents_of({"coding": [{"system": RX, "code": "672149"}], "text": "Xeloda"}) == {
        "lapatinib"
    }
    assert agents_of({"text": "no tucatinib given"}) == frozenset()
    assert agents_of({}, "Tukysa 150 mg") == {"tucatinib"}
    assert matches({"text": "Tykerb"}, "agent-lapatinib")
