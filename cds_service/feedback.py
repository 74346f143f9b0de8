"""Feedback and audit store: what the service said, and what clinicians did with it."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    RowMapping,
    Table,
    TextClause,
    bindparam,
    func,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from cds_service.config import Settings
from cds_service.errors import BadRequest
from cds_service.store.database import READ_ONLY, open_database
from cds_service.store.summary import UNKNOWN_RULE, ReasonCount, Summary, Tally, summarise
from cds_service.store.tables import audit, audit_card, feedback, store_settings
from cds_service.store.validation import FeedbackItem, parse_feedback

__all__ = [
    "UNKNOWN_RULE",
    "AuditEntry",
    "AuditRecord",
    "FeedbackItem",
    "FeedbackStore",
    "ReasonCount",
    "StoredFeedback",
    "Summary",
    "Tally",
]

_AUDIT_KEY_NAME = "audit_key"


@dataclass(frozen=True)
class AuditRecord:
    """What one answered hook call said; the store keeps only a keyed hash of patient_id."""

    at: datetime
    service_id: str
    hook: str
    hook_instance: str
    patient_id: str | None
    cards: tuple[tuple[str, str, str], ...]  # (rule id, rule version, card uuid)
    knowledge_version: str
    timings_ms: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class AuditEntry:
    """An audit row as stored: the patient appears only as patient_hash."""

    at: datetime
    service_id: str
    hook: str
    hook_instance: str
    patient_hash: str | None
    cards: tuple[tuple[str, str, str], ...]
    knowledge_version: str
    timings_ms: Mapping[str, float]


@dataclass(frozen=True)
class StoredFeedback:
    service_id: str
    item: FeedbackItem
    received_at: datetime


class FeedbackStore:
    """Feedback and audit rows in one SQL database, shared by threads, workers and replicas."""

    def __init__(self, engine: Engine, audit_key: bytes) -> None:
        self._engine = engine
        self._audit_key = audit_key

    @classmethod
    def from_settings(cls, settings: Settings) -> FeedbackStore:
        engine = open_database(settings.database_url)
        key = settings.audit_key or _stored_audit_key(engine)
        # No connection survives start-up: a pre-forking server (gunicorn --preload) must not
        # hand one database connection to several workers.
        engine.dispose()
        return cls(engine, key.encode("utf-8"))

    def close(self) -> None:
        self._engine.dispose()

    def warm(self) -> None:
        """Open this process's pooled connection now, not on the first audited hook, and read
        the pages an audit insert touches (the schema, the tables' and their indexes' pages).
        Writes nothing."""
        with self._reading() as connection:
            for table in (audit, audit_card):
                for column in (table.c.id, *(index.columns[0] for index in table.indexes)):
                    connection.execute(select(func.max(column))).all()
        # Compiling fills SQLAlchemy's per-type caches of the dialect (before a fork: shared by
        # every worker); each process still compiles its own statement cache on first use.
        for statement in (_INSERT_AUDIT, _INSERT_AUDIT_CARD):
            statement.compile(dialect=self._engine.dialect)

    def _reading(self) -> Connection:
        return self._engine.connect().execution_options(**{READ_ONLY: True})

    def record_feedback(self, service_id: str, body: Mapping, *, received_at: datetime) -> int:
        """Validate (raises BadRequest naming the field) and store; returns how many were new."""
        if not service_id:
            raise BadRequest("service id is empty")
        items = parse_feedback(body)
        new = 0
        with self._engine.begin() as connection:
            for item in items:
                new += _insert_new(
                    connection, feedback, _feedback_row(service_id, item, received_at)
                )
        return new

    def record_audit(self, record: AuditRecord) -> None:
        """Store the row before returning (synchronously, in one transaction): none is lost."""
        with self._engine.begin() as connection:
            audit_id = connection.execute(
                _INSERT_AUDIT,
                {
                    "at": record.at,
                    "service_id": record.service_id,
                    "hook": record.hook,
                    "hook_instance": record.hook_instance,
                    "patient_hash": self.patient_hash(record.patient_id),
                    "knowledge_version": record.knowledge_version,
                    "timings_ms": dict(record.timings_ms),
                },
            ).scalar_one()
            if record.cards:
                connection.execute(
                    _INSERT_AUDIT_CARD,
                    [
                        {
                            "audit_id": audit_id,
                            "rule_id": rule,
                            "rule_version": version,
                            "card_uuid": uuid,
                        }
                        for rule, version, uuid in record.cards
                    ],
                )

    def patient_hash(self, patient_id: str | None) -> str | None:
        """The keyed hash kept instead of a patient id (lets an auditor find a patient's calls)."""
        if not patient_id:
            return None
        return hmac.new(self._audit_key, patient_id.encode("utf-8"), hashlib.sha256).hexdigest()

    def summary(self, since: datetime | None = None, until: datetime | None = None) -> Summary:
        """Per rule and per service; since inclusive, until exclusive (aware datetimes)."""
        with self._reading() as connection:
            return summarise(connection, since, until)

    def stored_feedback(self) -> list[StoredFeedback]:
        with self._reading() as connection:
            rows = connection.execute(select(feedback).order_by(feedback.c.id)).mappings().all()
        return [_stored_feedback(row) for row in rows]

    def audit_entries(self) -> list[AuditEntry]:
        with self._reading() as connection:
            calls = connection.execute(select(audit).order_by(audit.c.id)).mappings().all()
            cards = (
                connection.execute(select(audit_card).order_by(audit_card.c.id)).mappings().all()
            )
        by_call: dict[int, list[tuple[str, str, str]]] = {}
        for card in cards:
            by_call.setdefault(card["audit_id"], []).append(
                (card["rule_id"], card["rule_version"], card["card_uuid"])
            )
        return [
            AuditEntry(
                at=call["at"],
                service_id=call["service_id"],
                hook=call["hook"],
                hook_instance=call["hook_instance"],
                patient_hash=call["patient_hash"],
                cards=tuple(by_call.get(call["id"], ())),
                knowledge_version=call["knowledge_version"],
                timings_ms=call["timings_ms"],
            )
            for call in calls
        ]


def _insert_statement(table: Table, returning: str | None = None) -> TextClause:
    """INSERT of every column but the generated key, typed by the table's own columns.

    Built once, as text: SQLAlchemy compiles a Core insert() on its first use in each process
    (5-7 ms on the first hook after a worker starts); text compiles in a fraction of that and
    binds its values through the same column types (aware UTC datetimes, JSON)."""
    columns = [c for c in table.c if not c.primary_key]
    sql = (
        f"INSERT INTO {table.name} ({', '.join(c.name for c in columns)}) "
        f"VALUES ({', '.join(':' + c.name for c in columns)})"
    )
    if returning is not None:
        sql += f" RETURNING {table.c[returning].name}"
    return text(sql).bindparams(*(bindparam(c.name, type_=c.type) for c in columns))


_INSERT_AUDIT = _insert_statement(audit, returning="id")
_INSERT_AUDIT_CARD = _insert_statement(audit_card)


def _insert_new(connection: Connection, table: Table, row: Mapping[str, Any]) -> int:
    """INSERT .. ON CONFLICT DO NOTHING: racing duplicates are stored once; returns rows added."""
    insert = postgresql_insert if connection.dialect.name == "postgresql" else sqlite_insert
    # Count RETURNING rows, not rowcount: with psycopg, rowcount came back -1 for this statement.
    statement = insert(table).values(**row).on_conflict_do_nothing().returning(*table.primary_key)
    return len(connection.execute(statement).all())


def _stored_audit_key(engine: Engine) -> str:
    # Whoever inserts first wins; every process then reads the same key back.
    with engine.begin() as connection:
        _insert_new(
            connection, store_settings, {"name": _AUDIT_KEY_NAME, "value": secrets.token_hex(32)}
        )
        return connection.execute(
            select(store_settings.c.value).where(store_settings.c.name == _AUDIT_KEY_NAME)
        ).scalar_one()


def _feedback_row(service_id: str, item: FeedbackItem, received_at: datetime) -> dict[str, Any]:
    return {
        "dedup_key": item.dedup_key(service_id),
        "service_id": service_id,
        "card_uuid": item.card_uuid,
        "outcome": item.outcome,
        "outcome_at": item.outcome_at,
        "accepted_suggestions": list(item.accepted_suggestions),
        "reason_system": item.reason_system,
        "reason_code": item.reason_code,
        "reason_display": item.reason_display,
        "user_comment": item.user_comment,
        "received_at": received_at,
    }


def _stored_feedback(row: RowMapping) -> StoredFeedback:
    item = FeedbackItem(
        card_uuid=row["card_uuid"],
        outcome=row["outcome"],
        outcome_at=row["outcome_at"],
        accepted_suggestions=tuple(row["accepted_suggestions"]),
        reason_system=row["reason_system"],
        reason_code=row["reason_code"],
        reason_display=row["reason_display"],
        user_comment=row["user_comment"],
    )
    return StoredFeedback(row["service_id"], item, row["received_at"])
