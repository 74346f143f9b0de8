"""Cards say what the record says, in a clinician's words: estimated ends, "on or after", the
record's own stop reason, severe mass effect by name, and only the agents given that day."""

from __future__ import annotations

from dataclasses import replace

from cds_service.state.model import Fact
from tests.rules.builders import d, draft, patient, progression, regimen, srs
from tests.rules.rendering import cards_of


def test_progression_names_only_the_agents_active_that_day():
    # Carboplatin + paclitaxel ended two years before the progression; trastuzumab went on.
    # One line of therapy, as the derivation groups it, with its progression linked.
    event = progression("2026-09-10")
    line = regimen(
        "trastuzumab+carboplatin+paclitaxel", "2024-01-10", "2026-09-15", "progression", event
    )
    courses = tuple(
        c if c.agent == "trastuzumab" else replace(c, end=d("2024-06-01"), stop_reason="completed")
        for c in line.courses
    )
    line = replace(line, courses=courses)
    state = patient(regimens=(line,), progressions=(event,), local=(srs("2025-01-01"),))
    [card] = cards_of("CNS-ACTIVE-THERAPY", state)
    assert card["summary"].startswith("Brain progression 2026-09-10 on trastuzumab: ")
    assert "carboplatin" not in card["summary"] and "paclitaxel" not in card["detail"]


def test_an_unrecorded_end_is_said_as_on_or_after():
    event = progression("2026-08-20")
    lap = replace(
        regimen("lapatinib+capecitabine", "2025-02-10", "2026-08-25", "progression", event),
        progression_relation="on or after",
    )
    state = patient(regimens=(lap,), progressions=(event,), local=(srs("2025-01-01"),))
    [card] = cards_of("CNS-ACTIVE-THERAPY", state)
    assert card["summary"].startswith(
        "Brain progression 2026-08-20 on or after lapatinib + capecitabine: "
    )
    rechallenge = replace(state, draft_orders=(draft("lapatinib"),))
    [critical] = cards_of("LAPATINIB-RECHALLENGE", rechallenge, "order-select")
    assert "brain progression on or after it 2026-08-20" in critical["detail"]


def test_an_estimated_end_is_marked_as_estimated_with_its_basis():
    lap = regimen("lapatinib+capecitabine", "2025-02-10", "2025-06-01", "toxicity")
    courses = tuple(
        replace(c, end_estimated=True, end_basis="last dispense + 28 days' supply")
        for c in lap.courses
    )
    state = patient(regimens=(replace(lap, courses=courses),), orders=(draft("lapatinib"),))
    [card] = cards_of("LAPATINIB-RECHALLENGE", state, "order-select")
    assert "2025-06-01 (estimated: last dispense + 28 days' supply)" in card["detail"]


def test_the_stop_reason_is_said_in_the_record_words():
    lap = regimen(
        "lapatinib+capecitabine", "2025-02-10", "2025-04-01", "toxicity", detail="grade 3 diarrhoea"
    )
    [card] = cards_of(
        "LAPATINIB-RECHALLENGE",
        patient(regimens=(lap,), orders=(draft("lapatinib"),)),
        "order-select",
    )
    assert "stopped for toxicity: grade 3 diarrhoea" in card["detail"]
    assert "stopped for completed" not in card["detail"]


def test_hydrocephalus_recorded_makes_the_mass_effect_card_critical_and_names_it():
    state = replace(
        patient(mass_effect=True, lesion_cm=3.8),
        severe_mass_effect=Fact(("hydrocephalus",), ("DiagnosticReport/ct",)),
    )
    [card] = cards_of("MASS-EFFECT-LOCAL-THERAPY", state)
    assert card["indicator"] == "critical"
    assert card["summary"] == (
        "Hydrocephalus from a brain metastasis: urgent neurosurgical evaluation"
    )
    assert "- Hydrocephalus recorded; large brain lesion (3.8 cm)" in card["detail"]
    assert card["overrideReasons"]


def test_size_alone_is_large_never_mass_effect_and_never_critical():
    state = replace(patient(lesion_cm=3.2), severe_mass_effect=Fact(()))
    [card] = cards_of("MASS-EFFECT-LOCAL-THERAPY", state)
    assert card["indicator"] == "warning"
    assert card["summary"].startswith("Large brain lesion (3.2 cm): ")
    assert "mass effect recorded" not in card["detail"].lower()


def test_two_srs_courses_are_said_in_the_plural():
    from tests.rules.test_diffuse_progression_after_srs import after_two_srs

    [card] = cards_of("DIFFUSE-PROGRESSION-AFTER-SRS", after_two_srs())
    assert "SRS: 2 courses: " in card["detail"] and "course(s)" not in card["detail"]
