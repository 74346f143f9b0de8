"""`cds-service explain` shows a clinician the derived state and the evidence of each fact."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from cds_service.commands import explain
from tests.state.medications import bundle, infusions
from tests.state.support import FIXTURES

SCENARIO_1 = FIXTURES / "scenarios" / "01-rechallenge-after-srs.json"


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    parser = argparse.ArgumentParser()
    explain.register(parser)
    assert explain.run(parser.parse_args(list(argv))) == 0
    return capsys.readouterr().out


def test_explain_scenario_1_shows_both_srs_courses_progressions_and_lapatinib(capsys) -> None:
    out = _run(capsys, str(SCENARIO_1), "--today", "2026-11-23")
    assert "SRS 2024-06-05: Left frontal lobe" in out
    assert "SRS 2025-02-03: Right parietal lobe" in out
    assert (
        "2025-01-20 intracranial progression" in out
        and "2026-08-20 intracranial progression" in out
    )
    assert "lapatinib + capecitabine: 2025-02-10 to 2026-08-25, stopped: progression" in out
    assert "progressed on it: 2026-08-20 intracranial progression" in out
    assert "Observation/scenario-01-disease-status-2" in out
    assert "MedicationStatement/scenario-01-med-lapatinib-1" in out
    assert (
        "lapatinib: 2025-02-10 to 2026-08-25; stopped: Disease progression (intracranial);"
        " from statement [MedicationStatement/scenario-01-med-lapatinib-1]" in out
    )


def test_explain_shows_an_estimated_end_and_how_it_was_estimated(capsys, tmp_path: Path) -> None:
    path = tmp_path / "tdxd.json"
    path.write_text(json.dumps(bundle(*infusions("a", "t-dxd", "2026-01-19", "2026-02-09"))))
    out = _run(capsys, str(path), "--today", "2026-11-23")
    assert (
        "t-dxd: 2026-01-19 to 2026-03-02 (estimated: last infusion 2026-02-09 + 21 days);"
        " from administration [MedicationAdministration/a-0, MedicationAdministration/a-1]" in out
    )


def test_explain_json_has_the_same_facts(capsys) -> None:
    body = json.loads(_run(capsys, str(SCENARIO_1), "--today", "2026-11-23", "--json"))
    labels = [r["label"] for r in body["regimens"]]
    assert "lapatinib + capecitabine" in labels
    assert body["her2"]["status"]["value"] == "positive"
    assert [c["start"]["date"] for c in body["local_therapies"]] == ["2024-06-05", "2025-02-03"]


def test_explain_a_hook_request_lists_the_draft_order_apart_from_history(
    capsys, tmp_path: Path
) -> None:
    bundle = json.loads(SCENARIO_1.read_text(encoding="utf-8"))
    draft = {
        "resourceType": "MedicationRequest",
        "id": "draft-1",
        "status": "draft",
        "intent": "order",
        "subject": {"reference": "Patient/scenario-01"},
        "medicationCodeableConcept": {"text": "Tykerb 250 mg tablet"},
    }
    request = {
        "hook": "order-sign",
        "hookInstance": "x",
        "context": {
            "userId": "Practitioner/1",
            "patientId": "scenario-01",
            "draftOrders": {"resourceType": "Bundle", "entry": [{"resource": draft}]},
        },
        "prefetch": {
            "patient": bundle["entry"][0]["resource"],
            "record": {"resourceType": "Bundle", "entry": bundle["entry"][1:]},
        },
    }
    path = tmp_path / "request.json"
    path.write_text(json.dumps(request), encoding="utf-8")
    out = _run(capsys, str(path), "--today", "2026-11-23")
    assert "MedicationRequest/draft-1: Tykerb 250 mg tablet -> lapatinib (selected)" in out
    assert "lapatinib + capecitabine: 2025-02-10 to 2026-08-25" in out


def test_explain_refuses_unreadable_input(capsys, tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text("[1, 2]", encoding="utf-8")
    parser = argparse.ArgumentParser()
    explain.register(parser)
    assert explain.run(parser.parse_args([str(path)])) == 2
    assert "expected a JSON object" in capsys.readouterr().err


def test_explain_says_where_her2_breast_cancer_and_performance_status_were_read(capsys) -> None:
    out = _run(capsys, str(SCENARIO_1), "--today", "2026-11-23")
    assert "read from: Condition ICD-10-CM C50.912" in out
    assert "read from: HER2 IHC 3+ (Observation, valueCodeableConcept, coded)" in out
    assert "read from: ECOG 1 (Observation code LOINC, valueInteger)" in out
