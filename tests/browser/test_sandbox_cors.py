"""A page on another origin calls discovery and a service with fetch() and a JWT (the sandbox)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from cds_service.app import create_app
from cds_service.config import Settings
from cds_service.services import SERVICES
from cds_service.testing import free_port, hook_request, live_server, sign_jwt
from tests.conftest import TODAY
from tests.harness.bundles import lapatinib_draft, scenario_bundle

pytestmark = [pytest.mark.browser, pytest.mark.integration]
HERE = Path(__file__).resolve().parent
AUTH_DIR = HERE.parent / "auth"
SANDBOX_ISS = "https://sandbox.cds-hooks.org"
SANDBOX_KID = "44823f3d-0b01-4a6c-a80e-b9d3e8a7226f"


class Recorder:
    """WSGI middleware noting each request's method, path and Origin: preflights included."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.seen: list[tuple[str, str, str | None, str | None]] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        self.seen.append(
            (
                environ["REQUEST_METHOD"],
                environ["PATH_INFO"],
                environ.get("HTTP_ORIGIN"),
                environ.get("HTTP_ACCESS_CONTROL_REQUEST_HEADERS"),
            )
        )
        return self.app(environ, start_response)


def page_app(config: dict[str, Any]) -> Flask:
    page = Flask("sandbox-page")
    html = (HERE / "sandbox.html").read_text(encoding="utf-8")

    @page.get("/")
    def index() -> str:
        return html.replace("__CONFIG__", json.dumps(config).replace("</", "<\\/"))

    return page


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[Callable[..., tuple[str, Recorder]]]:
    """Start the CDS service (JWTs checked against the sandbox's JWKS) and the page's server."""
    clients = tmp_path / "clients.toml"
    clients.write_text(
        f'[[clients]]\niss = "{SANDBOX_ISS}"\njwks_file = "{AUTH_DIR / "sandbox-jwks.json"}"\n',
        encoding="utf-8",
    )
    key = (AUTH_DIR / "sandbox-ecprivkey.pem").read_bytes()
    with ExitStack() as stack:

        def start(hook: str, **overrides: object) -> tuple[str, Recorder]:
            port = free_port()  # known before start-up: the JWT audience names it
            settings = Settings(
                auth_enabled=True,
                clients_file=clients,
                clock_override=True,
                database_url=f"sqlite:///{tmp_path / 'cds.sqlite3'}",
                public_base_url=f"http://127.0.0.1:{port}",
            )
            service = Recorder(
                create_app(dataclasses.replace(settings, **overrides), clock=lambda: TODAY)
            )
            base = stack.enter_context(live_server(service, port=port))

            def token(url: str) -> str:
                return sign_jwt(key, iss=SANDBOX_ISS, aud=url, kid=SANDBOX_KID)

            request = hook_request(
                scenario_bundle(), hook, draft_orders=[lapatinib_draft()], as_of=TODAY.isoformat()
            )
            config = {
                "base": base,
                "request": request,
                "discoveryToken": token(f"{base}/cds-services"),
                "tokens": {s.id: token(f"{base}/cds-services/{s.id}") for s in SERVICES},
            }
            # "localhost" and "127.0.0.1" are different origins to the browser.
            page = stack.enter_context(live_server(page_app(config), host="127.0.0.1"))
            return page.replace("127.0.0.1", "localhost"), service

        yield start


def test_cards_appear_in_a_page_served_from_another_origin(
    browser: Any, servers: Callable[..., tuple[str, Recorder]]
) -> None:
    page_url, service = servers("order-select")
    page = browser.new_page()
    page.goto(page_url)
    page.wait_for_selector(".card", timeout=15_000)

    assert page.text_content("#status") == "HTTP 200"
    cards = page.query_selector_all(".card")
    assert [(c.get_attribute("data-rule"), c.get_attribute("data-indicator")) for c in cards] == [
        ("LAPATINIB-RECHALLENGE", "critical")
    ]
    assert "lapatinib" in cards[0].text_content().lower()
    origin = page_url.rstrip("/")
    preflights = [
        s
        for s in service.seen
        if s[0] == "OPTIONS" and s[1] == "/cds-services/her2-cns-order-select"
    ]
    assert preflights and preflights[0][2] == origin
    assert "authorization" in (preflights[0][3] or "").lower()
    assert ("POST", "/cds-services/her2-cns-order-select", origin, None) in service.seen
    page.close()


def test_a_browser_on_an_origin_not_allowed_gets_no_cards(
    browser: Any, servers: Callable[..., tuple[str, Recorder]]
) -> None:
    page_url, service = servers("patient-view", cors_origins=("https://ehr.example.org",))
    page = browser.new_page()
    page.goto(page_url)
    page.wait_for_function(
        "document.getElementById('status').textContent.startsWith('failed')", timeout=15_000
    )
    assert page.query_selector_all(".card") == []
    # The browser stopped at discovery: it never sent the hook call itself.
    assert not any(s[0] == "POST" for s in service.seen)
    page.close()
