"""A card's options, computed once: what the text lists is what the buttons do, and both are safe."""

from __future__ import annotations

from dataclasses import replace

from tests.rules.builders import draft, patient, performance, progression, regimen, srs
from tests.rules.rendering import cards_of, created_codes, offered_in_text, run

CNS = "CNS-ACTIVE-THERAPY"


def progressed_on_hp(*earlier, orders=(), running=False):
    event = progression("2026-10-05")
    hp = (
        regimen("trastuzumab+pertuzumab", "2025-01-10")
        if running
        else regimen("trastuzumab+pertuzumab", "2025-01-10", "2026-10-10", "progression", event)
    )
    if running:
        hp = replace(hp, progression=event)
    # SRS in 2025: not newly diagnosed, untreated metastases (LOCAL-THERAPY-FIRST's case).
    return patient(
        regimens=(*earlier, hp), progressions=(event,), orders=orders, local=(srs("2025-06-01"),)
    )


def test_t_dxd_stopped_for_interstitial_lung_disease_is_never_offered():
    tdxd = regimen(
        "t-dxd", "2024-01-10", "2024-06-01", "toxicity", detail="interstitial lung disease"
    )
    [card] = cards_of(CNS, progressed_on_hp(tdxd))
    assert created_codes(card) == [["194000", "224905", "2361285"]]
    assert (
        "Not offered: trastuzumab deruxtecan (stopped for toxicity: interstitial lung disease)."
        in (card["detail"])
    )
    assert offered_in_text(card) == ["tucatinib + trastuzumab + capecitabine"]


def test_text_never_lists_an_option_the_buttons_leave_out():
    event = progression("2026-09-01")
    tuc = regimen(
        "tucatinib+trastuzumab+capecitabine", "2025-03-01", "2026-09-10", "progression", event
    )
    [card] = cards_of(CNS, patient(regimens=(tuc,), progressions=(event,)))
    assert [s["label"] for s in card["suggestions"]] == ["Start trastuzumab deruxtecan"]
    assert "- trastuzumab deruxtecan (DESTINY-Breast12)" in card["detail"]
    assert "- tucatinib" not in card["detail"]
    assert (
        "Not offered: tucatinib + trastuzumab + capecitabine (progressed on it, 2026-09-01)"
        in (card["detail"])
    )


def test_a_regimen_given_and_stopped_for_an_unrecorded_reason_is_named_as_given():
    tdxd = regimen("t-dxd", "2023-02-01", "2023-08-01", None)
    [card] = cards_of(CNS, progressed_on_hp(tdxd))
    assert (
        "- trastuzumab deruxtecan (DESTINY-Breast12); given before "
        "(2023-02-01 to 2023-08-01); why it stopped is not recorded"
    ) in card["detail"]
    assert "not yet used" not in card["detail"]


def test_no_second_trastuzumab_order_for_a_patient_on_it():
    [card] = cards_of(CNS, progressed_on_hp(running=True))
    triplet, tdxd = card["suggestions"]
    assert triplet["label"] == "Start tucatinib + trastuzumab + capecitabine (keep trastuzumab)"
    assert created_codes(card)[0] == ["194000", "2361285"]  # tucatinib and capecitabine only
    assert "keep trastuzumab; stop pertuzumab" in card["detail"]
    assert "stop trastuzumab + pertuzumab" in card["detail"]  # switching to T-DXd
    assert tdxd["label"] == "Start trastuzumab deruxtecan"


def test_a_replace_deletes_every_draft_of_the_regimen_it_replaces():
    orders = (
        draft("lapatinib", "MedicationRequest/lap"),
        draft("capecitabine", "MedicationRequest/cape"),
    )
    event = progression("2026-08-20")
    lap = regimen("lapatinib+capecitabine", "2025-02-10", "2026-08-25", "progression", event)
    state = patient(regimens=(lap,), progressions=(event,), orders=orders)
    [card] = cards_of("LAPATINIB-RECHALLENGE", state, "order-sign")
    for suggestion in card["suggestions"]:
        deletes = {a["resourceId"] for a in suggestion["actions"] if a["type"] == "delete"}
        assert deletes == {"MedicationRequest/lap", "MedicationRequest/cape"}
        assert suggestion["label"].startswith("Replace lapatinib + capecitabine with ")
    # One capecitabine order after accepting, not two.
    assert created_codes(card)[0] == ["194000", "224905", "2361285"]


def test_poor_performance_status_keeps_the_removal_but_orders_no_drug():
    orders = (draft("lapatinib", "MedicationRequest/lap"),)
    event = progression("2026-08-20")
    lap = regimen("lapatinib+capecitabine", "2025-02-10", "2026-08-25", "progression", event)
    state = replace(
        patient(regimens=(lap,), progressions=(event,), orders=orders),
        performance_status=performance("ECOG", 3),
    )
    [card] = cards_of("LAPATINIB-RECHALLENGE", state, "order-select")
    [only] = card["suggestions"]
    assert only["label"] == "Remove the lapatinib draft"
    assert [a["type"] for a in only["actions"]] == ["delete"]
    assert "After the supportive-care discussion, if systemic therapy is wanted:" in card["detail"]


def test_two_cards_of_one_request_never_offer_the_same_option():
    # Lapatinib rechallenge and a new regimen without CNS activity in one order-sign: the
    # rechallenge card offers the alternatives; no other card repeats them.
    orders = (
        draft("lapatinib", "MedicationRequest/lap"),
        draft("trastuzumab+pertuzumab", "MedicationRequest/hp"),
    )
    event = progression("2026-08-20")
    lap = regimen("lapatinib+capecitabine", "2025-02-10", "2026-08-25", "progression", event)
    rendered, _ = run(patient(regimens=(lap,), progressions=(event,), orders=orders), "order-sign")
    offered = [s["label"].split(" with ")[-1] for c in rendered for s in c.get("suggestions", [])]
    assert len(offered) == len(set(offered)) > 0
