"""Open the store's database (SQLite file or PostgreSQL) with bounded waits and quiet errors."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.engine import URL

from cds_service.errors import CdsError, ConfigError

# Execution option marking a connection that only reads.
READ_ONLY = "cds_read_only"


def open_database(url_text: str, timeout: float) -> Engine:
    """An engine for the URL (nothing connects yet); every wait is bounded by `timeout` seconds.

    Raises ConfigError only for a URL that can never work; a store that is down, locked or
    unreadable is found on use, and the caller decides what that means."""
    try:
        url = make_url(url_text)
    except Exception as exc:  # SQLAlchemy raises ArgumentError and friends
        raise ConfigError("CDS_DATABASE_URL is not a database URL") from exc
    # A failed write must not log its parameters: they hold clinicians' comments.
    common: dict[str, Any] = {"hide_parameters": True, "pool_timeout": timeout}
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url, timeout, common)
    if url.get_backend_name() == "postgresql":
        milliseconds = max(1, round(timeout * 1000))
        # Added to the URL's own `options` (e.g. a search_path), never in their place.
        given = url.query.get("options", "")
        given = " ".join(given) if isinstance(given, tuple) else given
        timeouts = f"-c statement_timeout={milliseconds} -c lock_timeout={milliseconds}"
        connect_args = {
            # libpq counts whole seconds and treats less than 2 as 2.
            "connect_timeout": max(2, math.ceil(timeout)),
            "options": f"{given} {timeouts}".strip(),
        }
        url = url.difference_update_query(["options"])
        return create_engine(url, pool_pre_ping=True, connect_args=connect_args, **common)
    raise ConfigError(f"unsupported database {url.get_backend_name()!r}: use sqlite or postgresql")


def sqlite_path(url_text: str) -> Path | None:
    """The file a SQLite URL names (None for other databases or an unreadable URL)."""
    try:
        url = make_url(url_text)
    except Exception:
        return None
    if url.get_backend_name() != "sqlite" or not url.database:
        return None
    return Path(url.database).expanduser()


def _sqlite_engine(url: URL, timeout: float, common: dict[str, Any]) -> Engine:
    if not url.database or url.database == ":memory:" or url.query.get("mode") == "memory":
        raise ConfigError("the store needs a SQLite file, not an in-memory database")
    busy_ms = max(1, round(timeout * 1000))
    # The driver's own lock wait, which applies before our busy_timeout pragma has run.
    engine = create_engine(url, connect_args={"timeout": timeout}, **common)

    def before_connect(*_args: Any) -> None:
        # The directory is made here, not at start-up: an unwritable one is then a store that is
        # unavailable (readiness says so), not a service that refuses to start.
        Path(url.database or "").expanduser().parent.mkdir(parents=True, exist_ok=True)

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # We emit BEGIN ourselves (below), so the driver must not.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {busy_ms}")
            # WAL lets readers run beside the one writer; it is a property of the file and sticks.
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    event.listen(engine, "do_connect", before_connect)
    event.listen(engine, "connect", on_connect)
    event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def _sqlite_on_begin(connection: Any) -> None:
    # IMMEDIATE takes the write lock up front, so a transaction never has to upgrade a read
    # lock mid-way (which fails at once with SQLITE_BUSY instead of waiting busy_timeout).
    # Read-only work (reports) takes no write lock, so it never holds up the service in WAL mode.
    read_only = connection.get_execution_options().get(READ_ONLY, False)
    connection.exec_driver_sql("BEGIN DEFERRED" if read_only else "BEGIN IMMEDIATE")


def describe_store_error(exc: BaseException) -> str:
    """A short, secret-free description of a store error: the driver's class and first line
    (never the SQL or its parameters, which SQLAlchemy's own message would carry)."""
    if isinstance(exc, CdsError):  # already one of ours, worded for a reader
        return exc.message[:200]
    cause = getattr(exc, "orig", None) or exc
    first = str(cause).strip().splitlines()[0] if str(cause).strip() else ""
    text = f"{cause.__class__.__name__}: {first}" if first else cause.__class__.__name__
    return text[:200]
