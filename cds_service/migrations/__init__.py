"""Schema versions of the store (Alembic): create or upgrade it, and check it at start-up."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Connection, Engine, inspect, text

from cds_service.store.database import READ_ONLY

# The revision this code reads and writes (tests check it is Alembic's head).
SCHEMA_VERSION = "0002"
UPGRADE_COMMAND = "cds-service db upgrade"
# What a database made by create_all before migrations holds: revision 0001's tables.
_BASE_REVISION = "0001"
_OUR_TABLES = {"store_settings", "feedback", "audit", "audit_card"}
# The schema found in a database with our tables but no version: made before migrations.
PRE_MIGRATIONS = "from before migrations"
# Arbitrary constant naming the advisory lock that serialises schema changes on PostgreSQL.
_PG_SCHEMA_LOCK = 7_430_211_907


class SchemaOutOfDate(Exception):
    """The store holds another schema version than this code needs; the message says what to run."""


def prepare_schema(engine: Engine) -> None:
    """Make the schema in an empty database; raise SchemaOutOfDate if it is at another version.

    An empty database is made at once (a new SQLite file, a new PostgreSQL database): nothing
    there can be lost. An existing schema is changed only by `cds-service db upgrade`."""
    with engine.connect().execution_options(**{READ_ONLY: True}) as connection:
        found = found_version(connection)
    if found == SCHEMA_VERSION:
        return
    if found is None:
        upgrade(engine)
        return
    raise SchemaOutOfDate(
        f"the store's schema is {found if found == PRE_MIGRATIONS else 'at ' + found}, "
        f"this service needs {SCHEMA_VERSION}: run `{UPGRADE_COMMAND}`"
    )


def found_version(connection: Connection) -> str | None:
    """The store's revision; PRE_MIGRATIONS for our tables without one; None for no tables."""
    names = set(inspect(connection).get_table_names())
    if "alembic_version" in names:
        version = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
        if version:
            return str(version)
    return PRE_MIGRATIONS if names & _OUR_TABLES else None


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Bring the schema to SCHEMA_VERSION, keeping every row; (version before, version after).

    Idempotent, and safe when several processes run it at once (one waits for the other)."""
    # Imported here: Alembic is needed to change a schema, never to serve.
    from alembic import command
    from alembic.config import Config

    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_SCHEMA_LOCK})
        before = found_version(connection)
        config = Config()
        config.set_main_option("script_location", str(Path(__file__).parent))
        config.attributes["connection"] = connection
        if before == PRE_MIGRATIONS:
            # create_all made exactly revision 0001's tables: record that, then upgrade from it.
            command.stamp(config, _BASE_REVISION)
        command.upgrade(config, "head")
        after = found_version(connection)
    assert after is not None
    return before, after
