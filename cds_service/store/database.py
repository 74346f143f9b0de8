"""Open the store's database (SQLite file or PostgreSQL) ready for concurrent writers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url, text
from sqlalchemy.engine import URL

from cds_service.errors import ConfigError
from cds_service.store.tables import metadata

# How long a SQLite writer waits for another's lock before giving up.
SQLITE_BUSY_TIMEOUT_MS = 30_000
# Execution option marking a connection that only reads.
READ_ONLY = "cds_read_only"
# Arbitrary constant naming the advisory lock that serialises schema creation on PostgreSQL.
_PG_SCHEMA_LOCK = 7_430_211_907


def open_database(url_text: str) -> Engine:
    """An engine for the URL with the schema created (safe when several processes start at once)."""
    try:
        url = make_url(url_text)
    except Exception as exc:  # SQLAlchemy raises ArgumentError and friends
        raise ConfigError("CDS_DATABASE_URL is not a database URL") from exc
    if url.get_backend_name() == "sqlite":
        engine = _sqlite_engine(url)
    elif url.get_backend_name() == "postgresql":
        engine = create_engine(url, pool_pre_ping=True)
    else:
        raise ConfigError(
            f"unsupported database {url.get_backend_name()!r}: use sqlite or postgresql"
        )
    _create_schema(engine)
    return engine


def _sqlite_engine(url: URL) -> Engine:
    if not url.database or url.database == ":memory:" or url.query.get("mode") == "memory":
        raise ConfigError("the store needs a SQLite file, not an in-memory database")
    Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url)
    event.listen(engine, "connect", _sqlite_on_connect)
    event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # We emit BEGIN ourselves (below), so the driver must not.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        # WAL lets readers run beside the one writer; it is a property of the file and sticks.
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()


def _sqlite_on_begin(connection: Any) -> None:
    # IMMEDIATE takes the write lock up front, so a transaction never has to upgrade a read
    # lock mid-way (which fails at once with SQLITE_BUSY instead of waiting busy_timeout).
    # Read-only work (reports) takes no write lock, so it never holds up the service in WAL mode.
    read_only = connection.get_execution_options().get(READ_ONLY, False)
    connection.exec_driver_sql("BEGIN DEFERRED" if read_only else "BEGIN IMMEDIATE")


def _create_schema(engine: Engine) -> None:
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            # Two replicas starting together would otherwise race on CREATE TABLE.
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_SCHEMA_LOCK})
        metadata.create_all(connection)
