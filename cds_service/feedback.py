"""Feedback and audit store: what the service said, and what clinicians did with it."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import math
import secrets
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    RowMapping,
    Table,
    TextClause,
    bindparam,
    delete,
    func,
    make_url,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DataError, IntegrityError, SQLAlchemyError

from cds_service.config import DEFAULT_DATABASE_URL, Settings
from cds_service.errors import BadRequest, StoreUnavailable
from cds_service.migrations import SchemaOutOfDate, prepare_schema
from cds_service.store.database import (
    READ_ONLY,
    describe_store_error,
    open_database,
    sqlite_path,
)
from cds_service.store.spool import AuditSpool
from cds_service.store.summary import UNKNOWN_RULE, ReasonCount, Summary, Tally, summarise
from cds_service.store.tables import audit, audit_card, feedback, replay_jti, store_settings
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

log = logging.getLogger(__name__)

_AUDIT_KEY_NAME = "audit_key"
_FEEDBACK_NOT_STORED = (
    "the feedback store is unavailable: nothing was stored; send the feedback again later"
)
# After a failure the replay guard leaves the store alone this long (a hook must not wait on
# a store that just failed); expired jtis are purged at most this often per process.
_JTI_SKIP_SECONDS = 5.0
# What a store refusing one row raises (an outage raises OperationalError and the like).
_REFUSED_AS_DATA = (DataError, IntegrityError, KeyError, ValueError, TypeError)
_JTI_PURGE_SECONDS = 60.0


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
    """Feedback, audit rows and seen JWT ids in one SQL database, shared by threads, workers and
    replicas. It never holds up a hook: audit rows go through a local spool, every wait is
    bounded, and a store that is down, locked or out of date is reported, not raised at start."""

    def __init__(self, engine: Engine, audit_key: bytes | None, spool_dir: Path) -> None:
        self._engine = engine
        # Configured, or read from the store once it answers.
        self._audit_key = audit_key
        self._ready = False
        self._problem: str | None = None
        self._prepare_lock = threading.Lock()
        self._spool = AuditSpool(spool_dir, self._deliver_audit)
        # The replay guard skips a failing store until then (monotonic), and purges at intervals.
        self._jti_skip_until = 0.0
        self._jti_purge_at = 0.0

    @classmethod
    def from_settings(cls, settings: Settings) -> FeedbackStore:
        """The store; raises ConfigError only for a database URL that can never work."""
        engine = open_database(settings.database_url, settings.store_timeout)
        key = settings.audit_key.encode("utf-8") if settings.audit_key else None
        store = cls(engine, key, spool_directory(settings))
        store._prepare()
        # No connection survives start-up: a pre-forking server (gunicorn --preload) must not
        # hand one database connection to several workers.
        engine.dispose()
        return store

    def close(self) -> None:
        """Deliver what this process spooled (if the store answers) and drop its connections."""
        self._spool.close()
        self._engine.dispose()

    def check(self) -> str | None:
        """None when the store answers within its timeout; else a short reason (no secrets)."""
        self._spool.start()  # a probed process also delivers what dead ones left behind
        problem = self._prepare()
        if problem is not None:
            return problem
        try:
            # Not marked read-only: on SQLite that takes the write lock, so a file another
            # process holds locked is reported, not only one that can't be read.
            with self._engine.connect() as connection:
                connection.execute(select(store_settings.c.name).limit(1)).all()
        except SQLAlchemyError as exc:
            return f"store unavailable: {describe_store_error(exc)}"
        return None

    def spooled(self) -> int:
        """Audit rows on this machine's spool that the store does not have yet."""
        return self._spool.pending()

    def _prepare(self) -> str | None:
        """None once the schema is current and the audit key known; else why not (tried again
        on the next call, never on the hook path)."""
        if self._ready:
            return None
        with self._prepare_lock:
            if self._ready:
                return None
            try:
                prepare_schema(self._engine)
                if self._audit_key is None:
                    self._audit_key = _stored_audit_key(self._engine).encode("utf-8")
            except SchemaOutOfDate as exc:
                problem = str(exc)
            except (SQLAlchemyError, OSError) as exc:
                problem = f"store unavailable: {describe_store_error(exc)}"
            else:
                self._ready, self._problem = True, None
                return None
            if problem != self._problem:
                # One line, no traceback: the service runs on and readiness reports it.
                log.warning("the store is not ready (hooks still answer): %s", problem)
            self._problem = problem
            return problem

    def warm(self) -> None:
        """Open this process's pooled connection now, not on the first authenticated hook or
        audit delivery, and read the pages an audit insert touches (the schema, the tables' and
        their indexes' pages). Writes nothing; does nothing while the store is not ready."""
        if self._prepare() is not None:
            return
        try:
            with self._reading() as connection:
                for table in (audit, audit_card):
                    for column in (table.c.id, *(index.columns[0] for index in table.indexes)):
                        connection.execute(select(func.max(column))).all()
        except SQLAlchemyError:
            return  # gone since: readiness and the spool say so; warming is only for speed
        # Compiling fills SQLAlchemy's per-type caches of the dialect (before a fork: shared by
        # every worker); each process still compiles its own statement cache on first use.
        for statement in (_INSERT_AUDIT, _INSERT_AUDIT_CARD):
            statement.compile(dialect=self._engine.dialect)

    def _reading(self) -> Connection:
        return self._engine.connect().execution_options(**{READ_ONLY: True})

    def record_feedback(self, service_id: str, body: Mapping, *, received_at: datetime) -> int:
        """Validate (raises BadRequest naming the field) and store; returns how many were new.

        Raises StoreUnavailable (503) when the store can't take it: nothing is stored then."""
        if not service_id:
            raise BadRequest("service id is empty")
        items = parse_feedback(body)
        problem = self._prepare()
        if problem is not None:
            raise StoreUnavailable(_FEEDBACK_NOT_STORED)
        new = 0
        try:
            with self._engine.begin() as connection:
                for item in items:
                    new += _insert_new(
                        connection, feedback, _feedback_row(service_id, item, received_at)
                    )
        except DataError as exc:
            # Validation lets through only what every backend stores; this is a last guard.
            raise BadRequest("feedback: a value could not be stored as sent") from exc
        except SQLAlchemyError as exc:
            log.warning("feedback not stored: %s", describe_store_error(exc))
            raise StoreUnavailable(_FEEDBACK_NOT_STORED) from exc
        return new

    def record_audit(self, record: AuditRecord) -> None:
        """Spool the row durably on local disk (the store gets it from a background thread);
        if the spool can't take it, write it to the store at once."""
        row = self._audit_row(record)
        try:
            self._spool.append(row)
        except OSError as exc:
            log.error("the audit spool can't be written (%s): writing to the store", exc.strerror)
            self._deliver_audit([row])

    def open_spool(self) -> None:
        """Have this process's audit spool ready before its first hook (a worker's warm-up). A
        spool the disk can't take is left: record_audit then writes to the store, as it would."""
        try:
            self._spool.open()
        except OSError as exc:
            log.error("the audit spool can't be opened (%s)", exc.strerror)

    def flush(self, timeout: float = 5.0) -> bool:
        """Deliver this process's spooled audit rows now; True when the store has them all."""
        return self._spool.flush(timeout)

    def _audit_row(self, record: AuditRecord) -> dict[str, Any]:
        # Strings the caller chose are made to fit their columns here: a row the store would
        # refuse must never reach the spool, where it would hold up every row behind it.
        row: dict[str, Any] = {
            "entry_key": uuid.uuid4().hex,
            "at": record.at.isoformat(),
            "service_id": _fit(record.service_id, audit.c.service_id),
            "hook": _fit(record.hook, audit.c.hook),
            "hook_instance": _fit(record.hook_instance, audit.c.hook_instance),
            "knowledge_version": _fit(record.knowledge_version, audit.c.knowledge_version),
            "timings_ms": dict(record.timings_ms),
            "cards": [
                [
                    _fit(rule, audit_card.c.rule_id),
                    _fit(version, audit_card.c.rule_version),
                    _fit(uuid_, audit_card.c.card_uuid),
                ]
                for rule, version, uuid_ in record.cards
            ],
        }
        if self._audit_key is not None or not record.patient_id:
            row["patient_hash"] = self.patient_hash(record.patient_id)
        else:
            # The store has never answered and CDS_AUDIT_KEY is unset: the id is hashed when
            # the row is delivered (the spool file is the service's own, mode 0600).
            row["patient_id"] = record.patient_id
        return row

    def _deliver_audit(self, rows: list[dict[str, Any]]) -> None:
        """Write spooled rows in one transaction; a row already stored (same key) is skipped.
        A row the store refuses as data (not an outage) is set aside, so it can't hold up the
        rows behind it, and kept for a person to look at."""
        try:
            self._write_audit(rows)
        except _REFUSED_AS_DATA as exc:
            if len(rows) > 1:
                for row in rows:  # find the row at fault; the others go in
                    self._deliver_audit([row])
                return
            where = self._spool.set_aside(rows[0])
            log.error(
                "an audit row the store refused is kept in %s: %s", where, describe_store_error(exc)
            )

    def _write_audit(self, rows: list[dict[str, Any]]) -> None:
        problem = self._prepare()
        if problem is not None:
            raise StoreUnavailable(problem)
        cards: list[dict[str, Any]] = []
        with self._engine.begin() as connection:
            for row in rows:
                patient_hash = (
                    self.patient_hash(row["patient_id"])
                    if "patient_id" in row
                    else row.get("patient_hash")
                )
                audit_id = connection.execute(
                    _INSERT_AUDIT,
                    {
                        "at": datetime.fromisoformat(row["at"]),
                        "service_id": row["service_id"],
                        "hook": row["hook"],
                        "hook_instance": row["hook_instance"],
                        "patient_hash": patient_hash,
                        "knowledge_version": row["knowledge_version"],
                        "timings_ms": row["timings_ms"],
                        "entry_key": row["entry_key"],
                    },
                ).scalar_one_or_none()
                if audit_id is None:
                    continue  # delivered before (a crash between commit and the spool's note)
                cards.extend(
                    {
                        "audit_id": audit_id,
                        "rule_id": rule,
                        "rule_version": version,
                        "card_uuid": uuid,
                    }
                    for rule, version, uuid in row["cards"]
                )
            if cards:
                connection.execute(_INSERT_AUDIT_CARD, cards)

    def jti_seen(self, iss: str, jti: str) -> bool | None:
        """Has any worker or replica claimed this token (and it has not expired)? None if the
        store can't say now. A read only: the claim comes with the answer (remember_jti)."""
        if not self._ready or time.monotonic() < self._jti_skip_until:
            return None
        try:
            with self._engine.connect() as connection:
                row = connection.execute(
                    select(replay_jti.c.key).where(
                        replay_jti.c.key == _jti_key(iss, jti),
                        replay_jti.c.expires_at > datetime.now(UTC),
                    )
                ).first()
        except SQLAlchemyError as exc:
            self._jti_skip_until = time.monotonic() + _JTI_SKIP_SECONDS
            log.warning(
                "replay store unavailable for %.0f s (this process's cache only): %s",
                _JTI_SKIP_SECONDS,
                describe_store_error(exc),
            )
            return None
        return row is not None

    def remember_jti(self, iss: str, jti: str, expires_at: float) -> bool | None:
        """Record a token's first use for every worker and replica: True if first, False if a
        replay, None if the store can't say now (not ready, or failed within 5 s)."""
        if not self._ready or time.monotonic() < self._jti_skip_until:
            return None
        key = _jti_key(iss, jti)
        now = datetime.now(UTC)
        try:
            with self._engine.begin() as connection:
                if connection.dialect.name == "postgresql":
                    # A seen jti lost in a database crash only reopens a replay window that
                    # closes at the token's expiry; not waiting for the WAL flush keeps hooks fast.
                    connection.execute(text("SET LOCAL synchronous_commit TO off"))
                first = connection.execute(
                    _REMEMBER_JTI,
                    {"key": key, "expires_at": _expiry(expires_at), "now": now},
                ).first()
                if time.monotonic() >= self._jti_purge_at:
                    self._jti_purge_at = time.monotonic() + _JTI_PURGE_SECONDS
                    connection.execute(delete(replay_jti).where(replay_jti.c.expires_at <= now))
        except SQLAlchemyError as exc:
            self._jti_skip_until = time.monotonic() + _JTI_SKIP_SECONDS
            log.warning(
                "replay store unavailable for %.0f s (this process's cache only): %s",
                _JTI_SKIP_SECONDS,
                describe_store_error(exc),
            )
            return None
        return first is not None

    def patient_hash(self, patient_id: str | None) -> str | None:
        """The keyed hash kept instead of a patient id (lets an auditor find a patient's calls)."""
        if not patient_id:
            return None
        if self._audit_key is None:
            raise StoreUnavailable("the audit key is unknown until the store answers")
        return hmac.new(self._audit_key, patient_id.encode("utf-8"), hashlib.sha256).hexdigest()

    def summary(self, since: datetime | None = None, until: datetime | None = None) -> Summary:
        """Per rule and per service; since inclusive, until exclusive (aware datetimes)."""
        with self._reading_after_flush() as connection:
            return summarise(connection, since, until)

    @contextlib.contextmanager
    def _reading_after_flush(self) -> Iterator[Connection]:
        """A read that sees this process's own audit rows; StoreUnavailable if it can't be had."""
        problem = self._prepare()
        if problem is not None:
            raise StoreUnavailable(problem)
        self._spool.flush()
        try:
            with self._reading() as connection:
                yield connection
        except SQLAlchemyError as exc:
            raise StoreUnavailable(f"store unavailable: {describe_store_error(exc)}") from exc

    def stored_feedback(self) -> list[StoredFeedback]:
        with self._reading_after_flush() as connection:
            rows = connection.execute(select(feedback).order_by(feedback.c.id)).mappings().all()
        return [_stored_feedback(row) for row in rows]

    def audit_entries(self) -> list[AuditEntry]:
        with self._reading_after_flush() as connection:
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


def _insert_statement(
    table: Table, returning: str | None = None, on_conflict: str | None = None
) -> TextClause:
    """INSERT of every column but the generated key, typed by the table's own columns.

    Built once, as text: SQLAlchemy compiles a Core insert() on its first use in each process
    (5-7 ms on the first hook after a worker starts); text compiles in a fraction of that and
    binds its values through the same column types (aware UTC datetimes, JSON)."""
    columns = [c for c in table.c if not c.primary_key]
    sql = (
        f"INSERT INTO {table.name} ({', '.join(c.name for c in columns)}) "
        f"VALUES ({', '.join(':' + c.name for c in columns)})"
    )
    if on_conflict is not None:
        sql += f" ON CONFLICT ({on_conflict}) DO NOTHING"
    if returning is not None:
        sql += f" RETURNING {table.c[returning].name}"
    return text(sql).bindparams(*(bindparam(c.name, type_=c.type) for c in columns))


_INSERT_AUDIT = _insert_statement(audit, returning="id", on_conflict="entry_key")
_INSERT_AUDIT_CARD = _insert_statement(audit_card)


# A jti is new unless it is stored and not yet expired (an expired one is taken over).
_REMEMBER_JTI = text(
    "INSERT INTO replay_jti (key, expires_at) VALUES (:key, :expires_at) "
    "ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at "
    "WHERE replay_jti.expires_at <= :now RETURNING key"
).bindparams(
    bindparam("key", type_=replay_jti.c.key.type),
    bindparam("expires_at", type_=replay_jti.c.expires_at.type),
    bindparam("now", type_=replay_jti.c.expires_at.type),
)


def _jti_key(iss: str, jti: str) -> str:
    return hashlib.sha256(json.dumps([iss, jti]).encode("utf-8")).hexdigest()


def _expiry(expires_at: float) -> datetime:
    """A token's expiry as the store keeps it: whatever the caller put in exp, a real date."""
    latest = datetime(9999, 1, 1, tzinfo=UTC).timestamp()
    if not math.isfinite(expires_at) or expires_at > latest:
        expires_at = latest
    return datetime.fromtimestamp(max(expires_at, 0.0), UTC)


def _fit(value: str, column: Column) -> str:
    """The string as the column can hold it: NUL (refused by PostgreSQL) replaced, then cut."""
    width: int | None = getattr(column.type, "length", None)
    cleaned = value.replace("\x00", "\ufffd")
    return cleaned[:width] if width else cleaned


def spool_directory(settings: Settings) -> Path:
    """CDS_SPOOL_DIR, else a directory of this store's own: rows spooled for one store must never
    be delivered into another. Beside a SQLite file, named after it; for a server database,
    beside the default SQLite file, named by a digest of the URL without its password (the same
    for every replica configured alike, so a killed replica's rows are delivered by another)."""
    if settings.spool_dir is not None:
        return settings.spool_dir
    database = sqlite_path(settings.database_url)
    if database is not None:
        return database.parent / f"{database.name}.audit-spool"
    default = sqlite_path(DEFAULT_DATABASE_URL)
    assert default is not None  # the default URL names a SQLite file
    url = make_url(settings.database_url).render_as_string(hide_password=True)
    digest = hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]
    return default.parent / f"audit-spool-{digest}"


def _insert_new(connection: Connection, table: Table, row: Mapping[str, Any]) -> int:
    """INSERT .. ON CONFLICT DO NOTHING: racing duplicates are stored once; returns rows added."""
    insert = postgresql_insert if connection.dialect.name == "postgresql" else sqlite_insert
    # Count RETURNING rows, not rowcount: with psycopg, rowcount came back -1 for this statement.
    statement = insert(table).values(**row).on_conflict_do_nothing().returning(*table.primary_key)
    return len(connection.execute(statement).all())


def _stored_audit_key(engine: Engine) -> str:
    # Read first: a store that has its key is ready without taking the write lock (a SQLite
    # file another process holds locked). Else whoever inserts first wins; all read it back.
    query = select(store_settings.c.value).where(store_settings.c.name == _AUDIT_KEY_NAME)
    with engine.connect().execution_options(**{READ_ONLY: True}) as connection:
        found = connection.execute(query).scalar_one_or_none()
    if found is not None:
        return str(found)
    with engine.begin() as connection:
        _insert_new(
            connection, store_settings, {"name": _AUDIT_KEY_NAME, "value": secrets.token_hex(32)}
        )
        return str(connection.execute(query).scalar_one())


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
