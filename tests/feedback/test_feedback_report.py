"""`cds-service report`: what a CDS committee reads, from audit rows and the spec's feedback."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime

import pytest

from cds_service import cli
from cds_service.commands import report
from cds_service.config import Settings
from cds_service.feedback import AuditRecord, FeedbackStore

PATIENT_VIEW = "her2-cns-patient-view"
ORDER_SIGN = "her2-cns-order-sign"
CNS = ("CNS-ACTIVE-THERAPY", "2026.1")
LAPATINIB = ("LAPATINIB-RECHALLENGE", "2026.1")
REASON_SYSTEM = "https://example.com/cds-hooks/override-reason-system"
UNAUDITED_CARD = "0b7d2c1a-9e8f-4d6c-b5a4-3f2e1d0c9b8a"


def _call(
    at: str, service: str, hook: str, cards: list[tuple[tuple[str, str], str]]
) -> AuditRecord:
    return AuditRecord(
        at=datetime.fromisoformat(at),
        service_id=service,
        hook=hook,
        hook_instance=f"hook-{at}",
        patient_id="Patient/example",
        cards=tuple((rule, version, uuid) for (rule, version), uuid in cards),
        knowledge_version="knowledge-2026.11",
        timings_ms={"total": 120.0},
    )


@pytest.fixture
def filled(
    store: FeedbackStore, settings: Settings, spec_feedback: dict, monkeypatch: pytest.MonkeyPatch
) -> FeedbackStore:
    """Four answered calls (five cards) and four feedback bodies (one for a card never audited)."""
    for call in [
        _call(
            "2021-12-11T10:00:00+00:00",
            PATIENT_VIEW,
            "patient-view",
            [(CNS, "4e0a3a1e-3283-4575-ab82-028d55fe2719")],
        ),
        _call(
            "2021-06-01T08:00:00+00:00",
            PATIENT_VIEW,
            "patient-view",
            [(CNS, "a1b2c3d4-0000-4000-8000-000000000001")],
        ),  # shown, never answered
        _call(
            "2020-12-10T15:00:00+00:00",
            ORDER_SIGN,
            "order-sign",
            [(LAPATINIB, "9368d37b-283f-44a0-93ea-547cebab93ed")],
        ),
        _call(
            "2020-12-10T16:00:00+00:00",
            ORDER_SIGN,
            "order-sign",
            [(LAPATINIB, "f6b95768-b1c8-40dc-8385-bf3504b82ffb")],
        ),
    ]:
        store.record_audit(call)
    received = datetime(2026, 11, 23, tzinfo=UTC)
    store.record_feedback(PATIENT_VIEW, spec_feedback["feedback-accepted"], received_at=received)
    store.record_feedback(
        ORDER_SIGN, spec_feedback["feedback-overridden-with-reason"], received_at=received
    )
    store.record_feedback(ORDER_SIGN, spec_feedback["feedback-overridden"], received_at=received)
    unaudited = {
        "feedback": [
            {
                "card": UNAUDITED_CARD,
                "outcome": "overridden",
                "outcomeTimestamp": "2021-03-01T12:00:00Z",
            }
        ]
    }
    store.record_feedback(PATIENT_VIEW, unaudited, received_at=received)
    assert store.flush()  # the audit rows reach the store from its spool
    monkeypatch.setenv("CDS_DATABASE_URL", settings.database_url)
    monkeypatch.delenv("CDS_AUDIT_KEY", raising=False)
    return store


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    parser = argparse.ArgumentParser()
    report.register(parser)
    assert report.run(parser.parse_args(argv)) == 0
    return capsys.readouterr().out


def _rows(text: str, section: str) -> list[list[str]]:
    """The table rows (header excluded) and reason lines under 'Per rule' or 'Per service'."""
    lines = text.split(section + "\n", 1)[1].split("\n\n", 1)[0].splitlines()
    return [line.split() if not line.startswith("    ") else [line.strip()] for line in lines[1:]]


def test_report_table_over_all_time(
    filled: FeedbackStore, capsys: pytest.CaptureFixture[str]
) -> None:
    text = _run(capsys)
    assert _rows(text, "Per rule") == [
        ["CNS-ACTIVE-THERAPY", "2026.1", "2", "1", "0", "100.0%"],
        ["LAPATINIB-RECHALLENGE", "2026.1", "2", "0", "2", "0.0%"],
        [f"overridden 1x: d7ecf885 ({REASON_SYSTEM})"],
        ["overridden 1x: (no coded reason)"],
    ]
    # The override of a card never issued is in no rate, the service's included: counted apart.
    assert _rows(text, "Per service") == [
        [ORDER_SIGN, "2", "0", "2", "0.0%"],
        [f"overridden 1x: d7ecf885 ({REASON_SYSTEM})"],
        ["overridden 1x: (no coded reason)"],
        [PATIENT_VIEW, "2", "1", "0", "100.0%"],
    ]
    assert "acceptance = accepted / (accepted + overridden)" in text
    assert (
        "Unmatched: 1 (feedback for cards this service never issued (per the audit), "
        "left out of the rates)"
    ) in text


def test_report_json_for_2021(filled: FeedbackStore, capsys: pytest.CaptureFixture[str]) -> None:
    # 2021 holds the accepted card and the unaudited override; the 2020 overrides fall outside.
    data = json.loads(_run(capsys, "--since", "2021-01-01", "--until", "2021-12-31", "--json"))
    assert (data["since"], data["until"]) == ("2021-01-01", "2021-12-31")
    assert data["rules"] == [
        {
            "rule_id": "CNS-ACTIVE-THERAPY",
            "rule_version": "2026.1",
            "shown": 2,
            "accepted": 1,
            "overridden": 0,
            "acceptance_rate": 1.0,
            "override_reasons": [],
        },
    ]
    assert data["services"] == [
        {
            "service_id": PATIENT_VIEW,
            "shown": 2,
            "accepted": 1,
            "overridden": 0,
            "acceptance_rate": 1.0,
            "override_reasons": [],
        },
    ]
    assert data["unmatched_feedback"] == 1


def test_report_json_all_time_counts_override_reasons(
    filled: FeedbackStore, capsys: pytest.CaptureFixture[str]
) -> None:
    data = json.loads(_run(capsys, "--json"))
    lapatinib = next(r for r in data["rules"] if r["rule_id"] == "LAPATINIB-RECHALLENGE")
    assert lapatinib["override_reasons"] == [
        {"system": REASON_SYSTEM, "code": "d7ecf885", "display": None, "count": 1},
        {"system": None, "code": None, "display": None, "count": 1},
    ]
    assert lapatinib["acceptance_rate"] == 0.0


@pytest.mark.parametrize(
    ("until", "accepted"),
    [("2021-12-10", 0), ("2021-12-11", 1)],  # the acceptance happened 2021-12-11T10:05:31Z
)
def test_until_includes_the_whole_last_day(
    filled: FeedbackStore, capsys: pytest.CaptureFixture[str], until: str, accepted: int
) -> None:
    data = json.loads(_run(capsys, "--since", "2021-12-01", "--until", until, "--json"))
    assert [(r["rule_id"], r["accepted"]) for r in data["rules"]] == (
        [("CNS-ACTIVE-THERAPY", 1)] if accepted else []
    )


def test_a_period_without_activity_says_so(
    filled: FeedbackStore, capsys: pytest.CaptureFixture[str]
) -> None:
    text = _run(capsys, "--since", "2019-01-01", "--until", "2019-12-31")
    assert text.count("(no cards shown and no feedback in this period)") == 2


def test_feedback_sent_twice_does_not_inflate_the_report(
    filled: FeedbackStore, spec_feedback: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    filled.record_feedback(
        PATIENT_VIEW,
        spec_feedback["feedback-accepted"],
        received_at=datetime(2026, 11, 24, tzinfo=UTC),
    )
    data = json.loads(_run(capsys, "--json"))
    assert data["rules"][0]["accepted"] == 1


def test_report_runs_from_the_command_line(
    filled: FeedbackStore, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["report", "--since", "2020-12-01", "--until", "2020-12-31", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [(r["rule_id"], r["shown"], r["overridden"]) for r in data["rules"]] == [
        ("LAPATINIB-RECHALLENGE", 2, 2)
    ]


def test_since_after_until_is_refused(
    filled: FeedbackStore, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = argparse.ArgumentParser()
    report.register(parser)
    assert report.run(parser.parse_args(["--since", "2021-02-01", "--until", "2021-01-01"])) == 2
    assert "--since is after --until" in capsys.readouterr().err
