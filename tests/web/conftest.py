"""Web tests share one app per module: start-up (knowledge base, store) costs more than the tests.

`client` here talks to that shared app; a test that changes app state or stores something it
then counts uses `app` or `make_app` (fresh per test) instead.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient


@pytest.fixture(scope="module")
def shared_app(tmp_path_factory: pytest.TempPathFactory, build_app: Callable[..., Flask]) -> Flask:
    return build_app(tmp_path_factory.mktemp("web"))


@pytest.fixture
def client(shared_app: Flask) -> FlaskClient:
    return shared_app.test_client()
