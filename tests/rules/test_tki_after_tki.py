"""TKI-AFTER-TKI: a HER2 TKI ordered right after progression on a regimen built on another one."""

from __future__ import annotations

from tests.rules.builders import draft, patient, progression, regimen
from tests.rules.rendering import KNOWLEDGE, cards_of, created_codes, offered_in_text, traces_of

RULE = "TKI-AFTER-TKI"


def after_neratinib(*orders, later=()):
    event = progression("2026-09-01")
    nc = regimen("neratinib+capecitabine", "2025-10-01", "2026-09-05", "progression", event)
    return patient(regimens=(nc, *later), progressions=(event,), orders=orders)


def test_lapatinib_after_neratinib_progression_is_a_warning_with_t_dxd_first():
    [card] = cards_of(
        RULE, after_neratinib(draft("lapatinib", "MedicationRequest/lap")), "order-select"
    )
    assert card["indicator"] == "warning"
    assert card["summary"] == (
        "Lapatinib right after progression on neratinib + capecitabine (2026-09-01)"
    )
    assert "No evidence supports that sequence" in card["detail"]
    assert offered_in_text(card) == [
        "trastuzumab deruxtecan",
        "tucatinib + trastuzumab + capecitabine",
    ]
    assert created_codes(card) == [["2267582"], ["194000", "224905", "2361285"]]
    for suggestion in card["suggestions"]:
        assert suggestion["label"].startswith("Replace lapatinib with ")
        assert {a["resourceId"] for a in suggestion["actions"] if a["type"] == "delete"} == {
            "MedicationRequest/lap"
        }
    assert [r["code"] for r in card["overrideReasons"]] == [
        "clinical-trial-protocol",
        "no-alternative-available",
        "other",
    ]


def test_tucatinib_triplet_after_lapatinib_progression_is_information_only():
    event = progression("2026-07-01")
    lc = regimen("lapatinib+capecitabine", "2025-10-01", "2026-07-05", "progression", event)
    orders = (
        draft("tucatinib", "MedicationRequest/tuc"),
        draft("trastuzumab", "MedicationRequest/tra"),
        draft("capecitabine", "MedicationRequest/cap"),
    )
    state = patient(regimens=(lc,), progressions=(event,), orders=orders)
    [card] = cards_of(RULE, state, "order-sign")
    assert card["indicator"] == "info"
    assert card["summary"] == (
        "Tucatinib after progression on lapatinib + capecitabine (2026-07-01): evidence limited"
    )
    assert "a TKI after a TKI, capecitabine again" in card["detail"]
    assert offered_in_text(card) == ["trastuzumab deruxtecan"]
    [suggestion] = card["suggestions"]
    assert {a["resourceId"] for a in suggestion["actions"] if a["type"] == "delete"} == {
        "MedicationRequest/tuc",
        "MedicationRequest/tra",
        "MedicationRequest/cap",
    }
    # The triplet is still supported: never a warning for it.
    assert {v.indicator for v in KNOWLEDGE.rule(RULE).variants if "tucatinib" in v.id} == {"info"}


def test_another_regimen_in_between_is_silent():
    tdm1 = regimen("t-dm1", "2026-09-20", "2026-11-01", "toxicity")
    state = after_neratinib(draft("lapatinib"), later=(tdm1,))
    assert cards_of(RULE, state, "order-select") == []


def test_the_same_tki_again_is_the_rechallenge_rule_not_this_one():
    event = progression("2026-08-20")
    lap = regimen("lapatinib+capecitabine", "2025-02-10", "2026-08-25", "progression", event)
    state = patient(regimens=(lap,), progressions=(event,), orders=(draft("lapatinib"),))
    assert cards_of(RULE, state, "order-select") == []
    assert len(cards_of("LAPATINIB-RECHALLENGE", state, "order-select")) == 1


def test_a_tki_after_a_regimen_without_progression_is_silent():
    nc = regimen("neratinib+capecitabine", "2025-10-01", "2026-09-05", "toxicity")
    state = patient(regimens=(nc,), orders=(draft("lapatinib"),))
    assert cards_of(RULE, state, "order-select") == []


def test_unknown_therapy_history_stays_silent():
    from dataclasses import replace

    from cds_service.state.model import Fact

    state = replace(after_neratinib(draft("lapatinib")), therapy_history_known=Fact(False))
    [trace] = traces_of(RULE, state, "order-select")
    assert trace.outcome == "not-fired" and "tki_after_tki is unknown" in trace.reason
