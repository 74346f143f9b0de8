"""`cds-service db upgrade` creates or upgrades the store's schema, idempotently, keeping every
row; the service checks the schema at start and says what to run."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from pathlib import Path

import pytest
import schema_before_migrations as old
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, insert

from cds_service import cli
from cds_service.config import Settings
from cds_service.errors import StoreUnavailable
from cds_service.feedback import AuditRecord, FeedbackStore
from cds_service.migrations import SCHEMA_VERSION
from cds_service.store.database import sqlite_path
from cds_service.store.tables import metadata

AT = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
OLD_KEY = "0f" * 32
PATIENT = "Patient/jenny-m-1234"


def _old_store_with_rows(database_url: str) -> None:
    """A store as the service made it before migrations (create_all), with rows in every table."""
    path = sqlite_path(database_url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(database_url)
    try:
        with engine.begin() as connection:
            old.metadata.create_all(connection)
            connection.execute(
                insert(old.store_settings), [{"name": "audit_key", "value": OLD_KEY}]
            )
            connection.execute(
                insert(old.feedback),
                [
                    {
                        "dedup_key": f"{n:064x}",
                        "service_id": "her2-cns-patient-view",
                        "card_uuid": f"card-{n}",
                        "outcome": "overridden",
                        "outcome_at": AT,
                        "accepted_suggestions": [],
                        "reason_system": None,
                        "reason_code": None,
                        "reason_display": None,
                        "user_comment": f"comment {n}",
                        "received_at": AT,
                    }
                    for n in range(3)
                ],
            )
            patient_hash = hmac.new(OLD_KEY.encode(), PATIENT.encode(), hashlib.sha256).hexdigest()
            for n in range(2):
                audit_id = connection.execute(
                    insert(old.audit).returning(old.audit.c.id),
                    {
                        "at": AT,
                        "service_id": "her2-cns-patient-view",
                        "hook": "patient-view",
                        "hook_instance": f"old-hook-{n}",
                        "patient_hash": patient_hash,
                        "knowledge_version": "k1",
                        "timings_ms": {"engine_ms": 1.5},
                    },
                ).scalar_one()
                connection.execute(
                    insert(old.audit_card),
                    {
                        "audit_id": audit_id,
                        "rule_id": "CNS-ACTIVE-THERAPY",
                        "rule_version": "2026.1",
                        "card_uuid": f"card-{n}",
                    },
                )
    finally:
        engine.dispose()


def _upgrade(database_url: str, monkeypatch: pytest.MonkeyPatch, capsys) -> str:
    monkeypatch.setenv("CDS_DATABASE_URL", database_url)
    assert cli.main(["db", "upgrade"]) == 0
    out: str = capsys.readouterr().out
    return out.strip()


def test_upgrading_a_store_made_by_create_all_keeps_every_row(
    database_url: str, settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    _old_store_with_rows(database_url)

    # The service starts on it, but will not write to a schema it does not know; it says why.
    before = FeedbackStore.from_settings(settings)
    try:
        problem = before.check()
        assert problem == (
            "the store's schema is from before migrations, this service needs "
            f"{SCHEMA_VERSION}: run `cds-service db upgrade`"
        )
        with pytest.raises(StoreUnavailable):
            before.record_feedback(
                "svc",
                {
                    "feedback": [
                        {
                            "card": "x",
                            "outcome": "overridden",
                            "outcomeTimestamp": "2026-11-20T09:30:00Z",
                        }
                    ]
                },
                received_at=AT,
            )
    finally:
        before.close()

    assert _upgrade(database_url, monkeypatch, capsys) == (
        f"store schema upgraded from the one made before migrations to {SCHEMA_VERSION}, "
        "every row kept"
    )
    assert _upgrade(database_url, monkeypatch, capsys) == (
        f"store schema already at {SCHEMA_VERSION}: nothing to do"
    )

    store = FeedbackStore.from_settings(settings)
    try:
        assert store.check() is None
        assert [(f.item.card_uuid, f.item.user_comment) for f in store.stored_feedback()] == [
            (f"card-{n}", f"comment {n}") for n in range(3)
        ]
        entries = store.audit_entries()
        assert [(e.hook_instance, e.cards) for e in entries] == [
            (f"old-hook-{n}", (("CNS-ACTIVE-THERAPY", "2026.1", f"card-{n}"),)) for n in range(2)
        ]
        # The stored audit key survived: a patient's old and new calls hash alike.
        assert {e.patient_hash for e in entries} == {store.patient_hash(PATIENT)}
        store.record_audit(
            AuditRecord(AT, "svc", "patient-view", "new-hook", PATIENT, (), "k2", {})
        )
        assert store.flush()
        assert [e.hook_instance for e in store.audit_entries()] == [
            "old-hook-0",
            "old-hook-1",
            "new-hook",
        ]
        assert store.summary().rules[0].overridden == 2  # feedback still joins its cards
    finally:
        store.close()


def test_db_upgrade_creates_a_new_store_and_the_code_matches_the_migrations(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    assert (
        _upgrade(database_url, monkeypatch, capsys) == f"store schema created at {SCHEMA_VERSION}"
    )
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            # What the migrations made is exactly what the code reads and writes.
            assert compare_metadata(MigrationContext.configure(connection), metadata) == []
    finally:
        engine.dispose()
    config = Config()
    config.set_main_option(
        "script_location", str(Path(__file__).parents[2] / "cds_service" / "migrations")
    )
    assert ScriptDirectory.from_config(config).get_current_head() == SCHEMA_VERSION


def test_db_upgrade_says_in_one_line_when_the_store_is_unreachable(
    monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setenv("CDS_DATABASE_URL", "postgresql+psycopg://cds:pw@127.0.0.1:9/cds")
    assert cli.main(["db", "upgrade"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("db upgrade: the store is unavailable: OperationalError")
    assert len(err.strip().splitlines()) == 1 and ":pw@" not in err
