"""Shared fixtures: the app (auth off, clock fixed) and its client. Subfolders add their own."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from cds_service.app import create_app
from cds_service.config import Settings

TODAY = date(2026, 11, 23)


def _build_app(directory: Path, **overrides: object) -> Flask:
    settings = Settings(
        auth_enabled=False,
        database_url=f"sqlite:///{directory / 'cds-service.sqlite3'}",
        spool_dir=directory / "audit-spool",
    )
    return create_app(dataclasses.replace(settings, **overrides), clock=lambda: TODAY)


@pytest.fixture(scope="session")
def build_app() -> Callable[..., Flask]:
    """build_app(directory, **settings overrides): auth off, SQLite in `directory`, clock TODAY."""
    return _build_app


@pytest.fixture
def make_app(tmp_path: Path, build_app: Callable[..., Flask]) -> Callable[..., Flask]:
    """A fresh app per call; keyword arguments override Settings fields."""
    return functools.partial(build_app, tmp_path)


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()
