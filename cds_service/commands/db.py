"""`cds-service db upgrade`: create the store's schema, or bring it to this version (idempotent)."""

from __future__ import annotations

import argparse
import sys

from sqlalchemy.exc import SQLAlchemyError

from cds_service.config import Settings
from cds_service.errors import ConfigError
from cds_service.migrations import PRE_MIGRATIONS, SCHEMA_VERSION, upgrade
from cds_service.store.database import describe_store_error, open_database

# Schema changes may wait for a lock held by a running service: far longer than a hook may.
_UPGRADE_TIMEOUT_SECONDS = 60.0


def register(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser(
        "upgrade",
        help=f"create or upgrade the schema of CDS_DATABASE_URL to {SCHEMA_VERSION}",
        description="Create the store's schema, or upgrade it keeping every row; safe to rerun.",
    )


def run(args: argparse.Namespace) -> int:
    try:
        settings = Settings.from_env()
        engine = open_database(settings.database_url, _UPGRADE_TIMEOUT_SECONDS)
    except ConfigError as exc:
        print(f"db: {exc}", file=sys.stderr)
        return 2
    try:
        before, after = upgrade(engine)
    except SQLAlchemyError as exc:
        print(f"db upgrade: the store is unavailable: {describe_store_error(exc)}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    if before == after:
        print(f"store schema already at {after}: nothing to do")
    elif before is None:
        print(f"store schema created at {after}")
    else:
        print(f"store schema upgraded from {_named(before)} to {after}, every row kept")
    return 0


def _named(version: str) -> str:
    return "the one made before migrations" if version == PRE_MIGRATIONS else version
