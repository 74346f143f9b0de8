"""The store's tables as create_all made them before migrations (cds_service/store/tables.py as
of commit 029da92), kept to test that `cds-service db upgrade` loses no row of such a store."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class UtcDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime on every backend (SQLite keeps it naive, so we put the zone back)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("the store only takes timezone-aware datetimes")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData()

# Store-wide values, e.g. the generated audit key, so that hashes stay stable across restarts.
store_settings = Table(
    "store_settings",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

feedback = Table(
    "feedback",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # sha256 of the feedback's identity: a re-sent copy collides here and is not stored twice.
    Column("dedup_key", String(64), nullable=False),
    Column("service_id", String(200), nullable=False),
    Column("card_uuid", String(200), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("outcome_at", UtcDateTime, nullable=False),
    Column("accepted_suggestions", JSON, nullable=False),
    Column("reason_system", Text),
    Column("reason_code", Text),
    Column("reason_display", Text),
    Column("user_comment", Text),
    Column("received_at", UtcDateTime, nullable=False),
    UniqueConstraint("dedup_key", name="uq_feedback_dedup_key"),
    Index("ix_feedback_card_uuid", "card_uuid"),
    Index("ix_feedback_outcome_at", "outcome_at"),
)

audit = Table(
    "audit",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime, nullable=False),
    Column("service_id", String(200), nullable=False),
    Column("hook", String(200), nullable=False),
    Column("hook_instance", String(200), nullable=False),
    # HMAC-SHA256 of the patient id under the audit key; the id itself is never stored.
    Column("patient_hash", String(64)),
    Column("knowledge_version", String(200), nullable=False),
    Column("timings_ms", JSON, nullable=False),
    Index("ix_audit_at", "at"),
    Index("ix_audit_hook_instance", "hook_instance"),
)

# One row per card returned, so feedback (which names only the card uuid) can be tied to a rule.
audit_card = Table(
    "audit_card",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("audit_id", Integer, ForeignKey("audit.id", ondelete="CASCADE"), nullable=False),
    Column("rule_id", String(200), nullable=False),
    Column("rule_version", String(100), nullable=False),
    Column("card_uuid", String(200), nullable=False),
    Index("ix_audit_card_card_uuid", "card_uuid"),
    Index("ix_audit_card_audit_id", "audit_id"),
)
