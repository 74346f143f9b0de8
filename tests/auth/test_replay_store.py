"""A token is accepted once by the whole deployment: the jti replay store is shared by every
worker and replica (the store, unique (iss, jti), purged after expiry)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from cds_service.app import create_app
from cds_service.config import Settings
from cds_service.errors import Unauthorized
from cds_service.feedback import FeedbackStore
from cds_service.store.tables import replay_jti
from cds_service.testing import empty_store, sqlite_locked

BASE = "http://localhost"
SERVICE_PATH = "/cds-services/her2-cns-patient-view"
EMPTY_BUNDLE = {"resourceType": "Bundle", "type": "searchset", "entry": []}
HOOK_CALL = {
    "hook": "patient-view",
    "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
    "context": {"userId": "Practitioner/example", "patientId": "1288992"},
    "prefetch": {"conditions": EMPTY_BUNDLE, "medicationRequests": EMPTY_BUNDLE},
}
REFUSED = {"error": "unauthorized", "message": "unauthorized"}


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
    ]
)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'shared.sqlite3'}"
    url = os.environ.get("CDS_TEST_DATABASE_URL", "")
    if not url:
        pytest.skip("CDS_TEST_DATABASE_URL is not set (export it from .ci/postgres.sh)")
    return empty_store(url)


@pytest.fixture
def replica(
    write_trust: Callable[..., Path], database_url: str, tmp_path: Path
) -> Iterator[Callable[[str], Flask]]:
    """replica(name): one more service process's app on the shared store (its own jti cache)."""
    clients = write_trust()
    made: list[Flask] = []

    def build(name: str) -> Flask:
        settings = Settings(
            clients_file=clients,
            database_url=database_url,
            spool_dir=tmp_path / f"spool-{name}",
            public_base_url=BASE,
        )
        made.append(create_app(settings))
        return made[-1]

    yield build
    for app in made:
        app.extensions["cds"].feedback.close()


def _headers(kit: Any, key: Any, **claims: Any) -> dict[str, str]:
    return {"Authorization": kit.bearer(kit.token(key, aud=BASE + SERVICE_PATH, **claims))}


def test_a_token_replayed_to_another_replica_is_refused(
    kit: Any, es384_key: Any, replica: Callable[[str], Flask]
) -> None:
    first, second = replica("a").test_client(), replica("b").test_client()
    headers = _headers(kit, es384_key)
    assert first.post(SERVICE_PATH, json=HOOK_CALL, headers=headers).status_code == 200
    refused = second.post(SERVICE_PATH, json=HOOK_CALL, headers=headers)
    assert (refused.status_code, refused.get_json()) == (401, REFUSED)
    # A fresh token is still welcome on either.
    fresh = _headers(kit, es384_key)
    assert second.post(SERVICE_PATH, json=HOOK_CALL, headers=fresh).status_code == 200
    assert first.post(SERVICE_PATH, json=HOOK_CALL, headers=headers).status_code == 401


def test_a_call_whose_replica_died_before_answering_may_be_retried_on_another(
    kit: Any, es384_key: Any, replica: Callable[[str], Flask]
) -> None:
    # Replica a verifies the token and dies before it answers (no claim): the proxy retries the
    # same call on replica b, which answers it. After that the token is spent everywhere.
    dying, second, third = replica("a"), replica("b"), replica("c")
    headers = _headers(kit, es384_key)
    with dying.test_request_context(SERVICE_PATH, method="POST", headers=headers):
        dying.extensions["cds"].authenticator.authenticate(
            headers["Authorization"], BASE + SERVICE_PATH
        )
    retried = second.test_client().post(SERVICE_PATH, json=HOOK_CALL, headers=headers)
    assert retried.status_code == 200
    refused = third.test_client().post(SERVICE_PATH, json=HOOK_CALL, headers=headers)
    assert (refused.status_code, refused.get_json()) == (401, REFUSED)


def test_of_two_calls_with_one_token_only_the_first_answered_gets_its_cards(
    kit: Any, es384_key: Any, replica: Callable[[str], Flask]
) -> None:
    # Both arrive before either is answered (both pass the check); the claim decides.
    first, second = replica("a"), replica("b")
    headers = _headers(kit, es384_key)
    with second.test_request_context(SERVICE_PATH, method="POST", headers=headers):
        replays = second.extensions["cds"].authenticator.replays
        second.extensions["cds"].authenticator.authenticate(
            headers["Authorization"], BASE + SERVICE_PATH
        )
        assert (
            first.test_client().post(SERVICE_PATH, json=HOOK_CALL, headers=headers).status_code
            == 200
        )
        with pytest.raises(Unauthorized):
            replays.claim()


def test_a_token_used_by_another_process_is_refused_here(
    kit: Any,
    es384_key: Any,
    write_trust: Callable[..., Path],
    database_url: str,
    tmp_path: Path,
    replica: Callable[[str], Flask],
) -> None:
    headers = _headers(kit, es384_key)
    here = replica("here").test_client()  # the store exists before the other process starts
    other_process = (
        "import json, sys\n"
        "from cds_service.app import create_app\n"
        "from cds_service.config import Settings\n"
        "from pathlib import Path\n"
        "args = json.loads(sys.argv[1])\n"
        "app = create_app(Settings(clients_file=Path(args['clients']),\n"
        "    database_url=args['url'], spool_dir=Path(args['spool']),\n"
        "    public_base_url=args['base']))\n"
        "r = app.test_client().post(args['path'], json=args['call'], headers=args['headers'])\n"
        "app.extensions['cds'].feedback.close()\n"
        "print(r.status_code)\n"
    )
    arguments = {
        "clients": str(write_trust()),
        "base": BASE,
        "url": database_url,
        "spool": str(tmp_path / "spool-other"),
        "path": SERVICE_PATH,
        "call": HOOK_CALL,
        "headers": headers,
    }
    done = subprocess.run(
        [sys.executable, "-c", other_process, json.dumps(arguments)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.stdout.strip() == "200", done.stderr[-2000:]
    assert here.post(SERVICE_PATH, json=HOOK_CALL, headers=headers).status_code == 401


def test_with_the_store_down_each_process_still_refuses_its_own_replays(
    kit: Any, es384_key: Any, write_trust: Callable[..., Path], tmp_path: Path
) -> None:
    # Nothing listens on port 9 of 127.0.0.1: the store is unreachable from the start.
    settings = Settings(
        clients_file=write_trust(),
        database_url="postgresql+psycopg://cds:cds@127.0.0.1:9/cds",
        spool_dir=tmp_path / "spool",
        public_base_url=BASE,
    )
    app = create_app(settings)
    try:
        client = app.test_client()
        headers = _headers(kit, es384_key)
        # A valid hook is answered: a sick store never refuses advice ...
        assert client.post(SERVICE_PATH, json=HOOK_CALL, headers=headers).status_code == 200
        # ... and this process's own cache still refuses the replay.
        assert client.post(SERVICE_PATH, json=HOOK_CALL, headers=headers).status_code == 401
    finally:
        app.extensions["cds"].feedback.close()


def test_with_the_sqlite_store_locked_authenticated_hooks_are_answered_at_once(
    kit: Any, es384_key: Any, replica: Callable[[str], Flask], tmp_path: Path, database_url: str
) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("a lock held by another process on the SQLite file (PostgreSQL: see feedback/)")
    client = replica("a").test_client()
    first = client.post(SERVICE_PATH, json=HOOK_CALL, headers=_headers(kit, es384_key))
    assert first.status_code == 200
    with sqlite_locked(tmp_path / "shared.sqlite3"):
        seconds = []
        for _ in range(5):
            started = time.perf_counter()
            response = client.post(SERVICE_PATH, json=HOOK_CALL, headers=_headers(kit, es384_key))
            seconds.append(time.perf_counter() - started)
            assert response.status_code == 200
        replayed = _headers(kit, es384_key)
        assert client.post(SERVICE_PATH, json=HOOK_CALL, headers=replayed).status_code == 200
        assert client.post(SERVICE_PATH, json=HOOK_CALL, headers=replayed).status_code == 401
    # The first waits at most the store timeout (0.25 s) for the lock; the next skip the store.
    assert seconds[0] < 1.0 and max(seconds[1:]) < 0.25


def test_seen_jtis_are_purged_after_expiry_and_may_then_be_reused(
    database_url: str, tmp_path: Path
) -> None:
    store = FeedbackStore.from_settings(
        Settings(database_url=database_url, spool_dir=tmp_path / "spool")
    )
    try:
        now = time.time()
        assert store.remember_jti("https://ehr.example", "old", now - 10) is True
        assert store.remember_jti("https://ehr.example", "live", now + 300) is True
        assert store.remember_jti("https://ehr.example", "live", now + 300) is False
        # The same jti from another issuer is another token.
        assert store.remember_jti("https://other.example", "live", now + 300) is True
        # Expired: taken over by a new token with that jti (the old one can't be replayed).
        assert store.remember_jti("https://ehr.example", "old", now + 300) is True
        # An absurd exp is kept as a far date, not an error that would disable the guard.
        assert store.remember_jti("https://ehr.example", "far", 1e308) is True
        assert store.remember_jti("https://ehr.example", "far", 1e308) is False
        store._jti_purge_at = 0.0  # the next call purges (else at most once a minute)
        assert store.remember_jti("https://ehr.example", "expired", now - 1) is True
        with store._engine.connect() as connection:
            count = connection.execute(select(func.count()).select_from(replay_jti)).scalar()
        assert count == 4  # live x2, old (renewed), far; "expired" was purged on its own call
    finally:
        store.close()
