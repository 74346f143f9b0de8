"""The relevance pre-filter drops only resources the derivation never uses: states are unchanged."""

from __future__ import annotations

import copy
import json
import random
from datetime import date
from pathlib import Path

import orjson
import pytest

from cds_service.fhir import record as record_module
from cds_service.fhir import relevance
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


def test_a_radiology_report_with_a_local_code_is_kept_for_its_category():
    """Its conclusion may state new brain lesions (state/progression reads brain reports)."""
    report = {
        "resourceType": "DiagnosticReport",
        "id": "ct-1",
        "status": "final",
        "category": [
            {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "RAD"}]}
        ],
        "code": {"coding": [{"system": "urn:local", "code": "CTH"}], "text": "CT head"},
        "conclusion": "New right cerebellar lesion.",
    }
    assert is_relevant(report)
    # Control: without the category, a local code and words of no concept are left out.
    local = {"coding": [{"system": "urn:local", "code": "CTH"}]}
    assert not is_relevant(dict(report, category=[], code=local, conclusion="Unremarkable."))


def test_a_condition_naming_a_mass_effect_finding_is_kept_for_its_words():
    """No code for hydrocephalus is verified: the words are what state/lesions reads."""
    hydrocephalus = dict(
        OBESITY,
        id="hc",
        code={
            "coding": [{"system": "urn:local", "code": "G9"}],
            "text": "Obstructive hydrocephalus",
        },
    )
    assert is_relevant(hydrocephalus)


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


# --- the text screen: it may let a resource through to the exact word test, never stop one ---

SCREEN_TEXTS = [
    "Tykerb 250 mg",
    "seen today\nsrs planned",  # an escape glued to the word
    "plan:\tSRS\r\nthen\u0007WBRT",
    "HER2-positive breast carcinoma",  # digits inside a pattern word
    "her 2 positive breast",  # the digit as a word of its own: no pattern word
    "\u212aadcyla started",  # the Kelvin sign lowers to "k": Kadcyla
    "\u0130ntracranial progression",  # U+0130 lowers to "i" and a combining dot
    "trastuzumab emtansine (T-DM1)",
    "fam-trastuzumab deruxtecan-nxki",
    "dm1 t",
    "8201a DS",
    "café brain MRI",  # non-ASCII beside the words
    "brains",  # not the word brain
    "MRI of the brain\\nreviewed",  # a backslash typed by a user, then n
    "no evidence of disease",
]


def _exact(blob: bytes) -> bool:
    # The exact word test alone, on the same unescaped JSON as _text_matches reads.

    if relevance._GLUING_ESCAPE.search(blob):
        blob = relevance._ESCAPE.sub(b" ", blob)
    return relevance._patterns_match(relevance._words(blob), relevance._index())


@pytest.mark.parametrize("text", SCREEN_TEXTS)
def test_the_text_screen_agrees_with_the_exact_word_test(text):
    resource = dict(BODY_WEIGHT, note=[{"text": text}])
    blob = orjson.dumps(resource)
    assert relevance._text_matches(blob, relevance._index()) is _exact(blob)


def test_the_text_screen_never_drops_what_the_exact_test_keeps():
    index = relevance._index()
    words = sorted({w.decode() for sets in index.patterns.values() for p in sets for w in p})
    glue = ["", " ", "\n", "\t", "\\", "-", "é", "\u212a", "\u0130", "2", "x", "\u0007", '"']
    rng = random.Random(8)
    kept = 0
    for _ in range(3000):
        parts = []
        for word in rng.sample(words, rng.randint(1, 4)):
            if rng.random() < 0.3:
                word = word.upper()
            parts.append(rng.choice(glue) + word + rng.choice(glue))
        blob = orjson.dumps(dict(BODY_WEIGHT, note=[{"text": "".join(parts)}]))
        expected = _exact(blob)
        assert relevance._text_matches(blob, index) is expected, blob
        kept += expected
    assert 300 < kept < 2700  # both answers were exercised


def test_only_two_characters_beyond_ascii_lower_to_an_ascii_letter_or_digit():
    # The screen reads bytes; these two are the only characters it could miss a word in.

    found = {
        chr(c).encode()
        for c in range(0x80, 0x110000)
        if not 0xD800 <= c < 0xE000 and any(ch.isascii() and ch.isalnum() for ch in chr(c).lower())
    }
    assert found == set(relevance._HIDDEN_LETTERS)


def test_vitals_are_screened_out_before_the_exact_word_test():
    assert relevance._screened_out(orjson.dumps(BODY_WEIGHT), relevance._index())


# --- the code screen: one scan for a code in a value set, the exact way for any odd code ---


def _exact_coded(blob: bytes) -> bool | None:
    codes = relevance._codes(blob)
    return relevance._in_valuesets(codes, relevance._index()) if codes else None


def _code_variants(rng: random.Random) -> list[object]:
    index = relevance._index()
    code = rng.choice(sorted(index.codes)).decode()
    prefix = rng.choice(sorted(index.prefixes)).decode() if index.prefixes else "c50"
    space = rng.choice([" ", "\t", "\n", "\u00a0", "\u2003", "\x0b", ""])
    return [
        code,
        code.upper(),
        space + code + space,
        code + "x",
        code[:-1],
        "x" + code,
        prefix + ".9",
        prefix.upper() + "1",
        space + prefix,
        prefix[:-1],
        code + "é",
        "\u212a" + code,
        code + '"',
        code + "\\",
        "",
        "  ",
        int(code) if code.isdigit() else 123,
        -5,
        1.5e20,
        "29463-7",  # body weight: in no value set
    ]


def test_the_code_screen_agrees_with_reading_every_code():
    rng = random.Random(8)
    answers = set()
    for _ in range(2000):
        resource = copy.deepcopy(BODY_WEIGHT)
        codings = resource["code"]["coding"]
        codings[0]["code"] = rng.choice(_code_variants(rng))
        if rng.random() < 0.5:
            codings.append({"system": "urn:oid:1.2.3", "code": rng.choice(_code_variants(rng))})
        if rng.random() < 0.3:
            del resource["valueQuantity"]["code"]
        blob = orjson.dumps(resource)
        expected = _exact_coded(blob)
        assert relevance._coded(blob, relevance._index()) is expected, blob
        answers.add(expected)
    assert answers == {True, False}


def test_a_resource_whose_only_codes_are_objects_is_uncoded():
    blob = orjson.dumps({"resourceType": "Condition", "code": {"text": "x"}})
    assert relevance._coded(blob, relevance._index()) is None


def test_the_joint_text_screen_decides_as_each_resource_alone():
    """One screen over all undecided resources together gives each the answer it gets alone."""
    from cds_service.fhir.relevance import _judge_all

    mentioned = dict(OBESITY, id="o2", note=[{"text": "new brain metastasis on MRI"}])
    resources = [BODY_WEIGHT, OBESITY, mentioned, dict(BODY_WEIGHT, id="w2")]
    alone = [_judge_all([r])[0][0] for r in resources]
    assert [decision for decision, _ in _judge_all(resources)] == alone
    assert alone == [False, False, True, False]


# --- out of sight: resources ruled out on their JSON, before any view is built ---------------


@pytest.fixture
def screen_every_record(monkeypatch):
    """Rule resources out before their views however small the record (the tests' are small)."""
    monkeypatch.setattr(record_module, "SCREEN_BEFORE_VIEWS_FROM", 0)


def _record_judging_every_view(items, monkeypatch) -> object:
    with monkeypatch.context() as patched:
        patched.setattr(relevance, "out_of_sight", lambda resources: set())
        return parse_record(items)


def test_vitals_and_unrelated_problems_are_ruled_out_before_their_views_are_built():
    assert relevance.out_of_sight([BODY_WEIGHT, OBESITY, BRAIN_METS_OF_LUNG]) == {0, 1}


def test_a_resource_whose_view_keeps_no_code_is_not_ruled_out(screen_every_record):
    # Coded only in an element its view drops (category): its view is uncoded, and kept.
    coded_elsewhere = {
        "resourceType": "Condition",
        "id": "c-1",
        "category": OBESITY["code"],
        "code": {"text": "restless legs"},
        "subject": {"reference": "Patient/p"},
    }
    assert not is_relevant(coded_elsewhere)
    assert relevance.out_of_sight([coded_elsewhere]) == set()
    assert [d["id"] for d in parse_record([("conditions", coded_elsewhere)]).documents] == ["c-1"]


def test_a_ruled_out_resource_a_kept_one_refers_to_is_read(screen_every_record, monkeypatch):
    # A weight tied by focus to the obesity Condition (kept: focus) makes that Condition count.
    weight_of = dict(BODY_WEIGHT, id="wt-2", focus=[{"reference": "Condition/ob-1"}])
    items = [("observations", BODY_WEIGHT), ("conditions", OBESITY), ("observations", weight_of)]
    record = parse_record(items)
    assert [d["id"] for d in record.documents] == ["ob-1", "wt-2"]
    assert record == _record_judging_every_view(items, monkeypatch)


def test_a_ruled_out_copy_of_a_kept_resource_is_read_as_before(screen_every_record, monkeypatch):
    mentioned = dict(OBESITY, note=[{"text": "new brain metastasis on MRI"}])
    items = [("conditions", OBESITY), ("conditions", mentioned)]
    record = parse_record(items)
    assert record == _record_judging_every_view(items, monkeypatch)
    assert [d.get("note") for d in record.documents] == [None]  # the first copy, as before


@pytest.mark.parametrize("path", BUNDLES, ids=lambda p: p.stem)
def test_every_fixture_gives_the_record_judging_every_view_gives(
    path, screen_every_record, monkeypatch
):
    items = _items(path)
    assert parse_record(items) == _record_judging_every_view(items, monkeypatch)


def test_the_heavy_benchmark_record_gives_the_record_judging_every_view_gives(monkeypatch):
    import sys

    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import generate  # bench/generate.py
    finally:
        sys.path.remove(str(ROOT / "bench"))
    request = generate.ehr_record(3_000)
    items = [
        (key, entry["resource"])
        for key, bundle in request["prefetch"].items()
        if isinstance(bundle, dict) and bundle.get("resourceType") == "Bundle"
        for entry in bundle["entry"]
    ]
    # Some filler points at a kept resource, some kept ones at filler: both ways exercised.
    rng = random.Random(8)
    for _, raw in rng.sample(items, 300):
        target = rng.choice(items)[1]
        raw["reasonReference"] = [{"reference": f"{target['resourceType']}/{target['id']}"}]
    record = parse_record(items)
    assert len(relevance.out_of_sight([raw for _, raw in items])) > len(items) // 2
    assert record == _record_judging_every_view(items, monkeypatch)


def test_a_record_with_escapes_or_non_ascii_text_is_judged_as_each_resource_alone():
    # One such resource sends the whole record's word screen the careful way, per resource.
    resources = [
        BODY_WEIGHT,
        dict(OBESITY, id="o2", note=[{"text": "\u212aadcyla started"}]),  # Kelvin sign: Kadcyla
        dict(OBESITY, id="o3", note=[{"text": "seen\u0007srs planned"}]),  # a \u escape
        dict(OBESITY, id="o4", note=[{"text": "café, weight stable"}]),
        dict(BODY_WEIGHT, id="w2"),
    ]
    alone = [relevance._judge_all([r])[0][0] for r in resources]
    assert [decision for decision, _ in relevance._judge_all(resources)] == alone
    assert alone == [False, True, True, True, False]
