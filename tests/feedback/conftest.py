"""Feedback store fixtures: one store per backend (SQLite file; PostgreSQL when configured)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from cds_service.config import Settings
from cds_service.feedback import FeedbackStore
from cds_service.testing import empty_store

EXTERNAL = Path(__file__).parent / "external"
SPEC_EXAMPLES = ("feedback-accepted", "feedback-overridden", "feedback-overridden-with-reason")
NO_POSTGRES = (
    "CDS_TEST_DATABASE_URL is not set: the PostgreSQL variant needs a server "
    '(export CDS_TEST_DATABASE_URL="$(.ci/postgres.sh)")'
)


@pytest.fixture(scope="session")
def spec_feedback() -> dict[str, dict]:
    """The spec's three feedback bodies, by file name without .json."""
    return {name: json.loads((EXTERNAL / f"{name}.json").read_text()) for name in SPEC_EXAMPLES}


def _empty_postgres() -> str:
    url = os.environ.get("CDS_TEST_DATABASE_URL", "")
    if not url:
        pytest.skip(NO_POSTGRES)
    return empty_store(url)


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
    ]
)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        # A directory that does not exist yet: the store must create it, as for var/.
        return f"sqlite:///{tmp_path / 'var' / 'cds-service.sqlite3'}"
    return _empty_postgres()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    # The spool is per store: a PostgreSQL test's must not be the default var/ one.
    return Settings(database_url=database_url, auth_enabled=False, spool_dir=tmp_path / "spool")


@pytest.fixture
def store(settings: Settings) -> Iterator[FeedbackStore]:
    opened = FeedbackStore.from_settings(settings)
    yield opened
    opened.close()
