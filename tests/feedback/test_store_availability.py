"""The store never withholds or delays advice: down, locked, corrupt or killed mid-load, hooks
answer at once, feedback gets a clear 503, and every audit row reaches the store when it returns."""

from __future__ import annotations

import json
import logging
import os
import socket
import socketserver
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import make_url

from cds_service.config import Settings
from cds_service.feedback import AuditRecord, FeedbackStore, spool_directory
from cds_service.testing import serving, sqlite_locked

HOOKS = Path(__file__).resolve().parents[2] / "hooks"
PATIENT_VIEW = "her2-cns-patient-view"
FEEDBACK_URL = f"/cds-services/{PATIENT_VIEW}/feedback"
# A hook answers in tens of milliseconds; the old store made it wait 10-30 s for a lock.
PROMPT_SECONDS = 1.0
OPENAPI = yaml.safe_load((HOOKS.parent / "openapi.yaml").read_text(encoding="utf-8"))
UNAVAILABLE = {
    "error": "store-unavailable",
    "message": "the feedback store is unavailable: nothing was stored; send the feedback again later",
}


def _hook(instance: str) -> dict:
    request = json.loads((HOOKS / "scenario-01-patient-view.json").read_text())
    request["hookInstance"] = instance
    return request


def _feedback(card: str = "6a1e5bd4-0d3c-4f7e-9a57-3f1c2b0d9e11", comment: str = "ok") -> dict:
    return {
        "feedback": [
            {
                "card": card,
                "outcome": "overridden",
                "overrideReason": {"userComment": comment},
                "outcomeTimestamp": "2026-11-23T10:00:00Z",
            }
        ]
    }


@pytest.fixture
def service(make_app: Callable[..., Flask]) -> Iterator[Callable[..., Flask]]:
    """make_app, with each app's store closed after the test (no connection left to the GC)."""
    made: list[Flask] = []

    def build(**overrides: object) -> Flask:
        made.append(make_app(**overrides))
        return made[-1]

    yield build
    for app in made:
        app.extensions["cds"].feedback.close()


def _timed_post(client: FlaskClient, path: str, body: dict) -> tuple[int, float, dict]:
    started = time.perf_counter()
    response = client.post(path, json=body)
    return response.status_code, time.perf_counter() - started, response.get_json()


# -- ways to make the store unavailable -------------------------------------------------------


class _Relays(socketserver.ThreadingTCPServer):
    allow_reuse_address = True  # revived on the port the service knows
    daemon_threads = True


class _KillableProxy:
    """A TCP relay in front of PostgreSQL: kill() drops every connection and refuses new ones
    (as a crashed or stopped server does); revive() serves again on the same port."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.port = 0
        self._open: set[socket.socket] = set()
        self._guard = threading.Lock()
        self._running: AbstractContextManager[int] | None = None

    def revive(self) -> None:
        proxy = self

        class Relay(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                try:
                    upstream = socket.create_connection(proxy.upstream, timeout=5)
                except OSError:
                    return
                with proxy._guard:
                    proxy._open.update((self.request, upstream))
                pump = threading.Thread(target=_pipe, args=(upstream, self.request), daemon=True)
                pump.start()
                _pipe(self.request, upstream)
                pump.join(5)

        self._running = serving(_Relays(("127.0.0.1", self.port), Relay))
        self.port = self._running.__enter__()

    def kill(self) -> None:
        if self._running is not None:
            running, self._running = self._running, None
            running.__exit__(None, None, None)
        with self._guard:
            for sock in self._open:
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                with suppress(OSError):
                    sock.close()
            self._open.clear()


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    with suppress(OSError):
        while data := source.recv(65536):
            sink.sendall(data)
    with suppress(OSError):
        sink.shutdown(socket.SHUT_WR)


# -- an outage mid-load loses nothing -----------------------------------------------------------


@pytest.fixture
def outage(
    database_url: str, tmp_path: Path
) -> Iterator[tuple[str, Callable[[], None], Callable[[], None]]]:
    """(the URL the service uses, stop the store, bring it back)."""
    if database_url.startswith("sqlite"):
        path = Path(make_url(database_url).database or "")
        held: list[Callable[[], None]] = []

        def stop() -> None:
            lock = sqlite_locked(path)
            lock.__enter__()
            held.append(lambda: lock.__exit__(None, None, None))

        def back() -> None:
            held.pop()()

        yield database_url, stop, back
        while held:
            back()
        return
    url = make_url(database_url)
    proxy = _KillableProxy((url.host or "127.0.0.1", url.port or 5432))
    proxy.revive()
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    yield proxied, proxy.kill, proxy.revive
    proxy.kill()


def test_the_store_killed_mid_load_costs_no_advice_and_no_audit_row(
    service: Callable[..., Flask],
    outage: tuple[str, Callable[[], None], Callable[[], None]],
    settings: Settings,
    tmp_path: Path,
) -> None:
    service_url, stop, back = outage
    app = service(database_url=service_url, clock_override=True, spool_dir=tmp_path / "spool")
    store: FeedbackStore = app.extensions["cds"].feedback
    clients = [app.test_client() for _ in range(4)]
    total, stop_after, back_after = 60, 15, 40
    answered: list[tuple[str, int, float, int]] = []
    progress = threading.Condition()
    # Hooks keep coming throughout; these gates only make sure some arrive while it is down.
    stopped, restored = threading.Event(), threading.Event()

    def send(worker: int) -> None:
        for n in range(worker, total, len(clients)):
            if n >= stop_after:
                assert stopped.wait(60)
            if n >= back_after:
                assert restored.wait(60)
            instance = f"00000000-0000-4000-8000-{n:012d}"
            status, seconds, body = _timed_post(
                clients[worker], f"/cds-services/{PATIENT_VIEW}", _hook(instance)
            )
            with progress:
                answered.append((instance, status, seconds, len(body.get("cards", []))))
                progress.notify_all()

    def wait_for(count: int) -> None:
        with progress:
            assert progress.wait_for(lambda: len(answered) >= count, timeout=60)

    threads = [threading.Thread(target=send, args=(w,)) for w in range(len(clients))]
    for thread in threads:
        thread.start()
    wait_for(stop_after)
    stop()
    stopped.set()
    try:
        status, seconds, body = _timed_post(clients[0], FEEDBACK_URL, _feedback())
        assert (status, body) == (503, UNAVAILABLE)
        assert seconds < PROMPT_SECONDS
        assert store.check() is not None  # readiness would say the store is not ready
        wait_for(back_after)
        time.sleep(1.0)  # long enough for the spool to fail and retry a few times
        assert store.spooled() > 0  # rows wait on local disk
    finally:
        back()
        restored.set()
    for thread in threads:
        thread.join(60)

    assert len(answered) == total
    assert {status for _, status, _, _ in answered} == {200}
    assert min(cards for *_, cards in answered) > 0  # every answer carried its cards
    assert max(seconds for _, _, seconds, _ in answered) < PROMPT_SECONDS
    assert _timed_post(clients[0], FEEDBACK_URL, _feedback())[0] == 200
    assert store.flush(timeout=30)
    assert store.spooled() == 0
    assert store.check() is None
    reader = FeedbackStore.from_settings(settings)  # straight to the database, no proxy
    try:
        stored = [entry.hook_instance for entry in reader.audit_entries()]
    finally:
        reader.close()
    assert sorted(stored) == sorted(instance for instance, *_ in answered)  # each exactly once


# -- start-up with the store unavailable ---------------------------------------------------------


def _unreachable_postgres() -> str:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"postgresql+psycopg://cds:secret-password@127.0.0.1:{port}/cds"


def _corrupt_sqlite(tmp_path: Path) -> str:
    path = tmp_path / "corrupt.sqlite3"
    path.write_bytes(b"this is not a SQLite database, whatever its name says\n" * 100)
    return f"sqlite:///{path}"


def _unwritable_sqlite(tmp_path: Path) -> str:
    blocker = tmp_path / "a-file"
    blocker.write_text("a file where the database directory should be")
    return f"sqlite:///{blocker / 'cds.sqlite3'}"


@pytest.mark.parametrize(
    ("make_url_for", "reason"),
    [
        (lambda _tmp: _unreachable_postgres(), "Connection refused"),
        (_corrupt_sqlite, "file is not a database"),
        (_unwritable_sqlite, "store unavailable"),
    ],
    ids=["postgresql-unreachable", "sqlite-corrupt", "sqlite-unwritable"],
)
def test_the_service_starts_without_its_store_and_says_so_in_one_line(
    service: Callable[..., Flask],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    make_url_for: Callable[[Path], str],
    reason: str,
) -> None:
    with caplog.at_level(logging.WARNING):
        app = service(database_url=make_url_for(tmp_path), clock_override=True)
    store: FeedbackStore = app.extensions["cds"].feedback
    [line] = [r for r in caplog.records if r.name == "cds_service.feedback"]
    assert "the store is not ready" in line.getMessage() and line.exc_info is None
    assert "secret-password" not in caplog.text
    problem = store.check()
    assert problem is not None and reason in problem and "secret-password" not in problem

    client = app.test_client()
    status, seconds, body = _timed_post(
        client, f"/cds-services/{PATIENT_VIEW}", _hook("11111111-1111-4111-8111-111111111111")
    )
    assert status == 200 and body["cards"] and seconds < PROMPT_SECONDS
    assert store.spooled() == 1  # the audit row waits on disk
    assert _timed_post(client, FEEDBACK_URL, _feedback())[::2] == (503, UNAVAILABLE)


def test_a_locked_sqlite_file_delays_neither_hooks_nor_feedback(
    service: Callable[..., Flask], tmp_path: Path
) -> None:
    app = service(clock_override=True)
    store: FeedbackStore = app.extensions["cds"].feedback
    client = app.test_client()
    path = tmp_path / "cds-service.sqlite3"
    with sqlite_locked(path):
        status, seconds, body = _timed_post(
            client, f"/cds-services/{PATIENT_VIEW}", _hook("22222222-2222-4222-8222-222222222222")
        )
        assert status == 200 and body["cards"] and seconds < PROMPT_SECONDS
        status, seconds, body = _timed_post(client, FEEDBACK_URL, _feedback())
        assert (status, body) == (503, UNAVAILABLE) and seconds < PROMPT_SECONDS
        assert store.spooled() == 1
    assert store.flush()
    assert [e.hook_instance for e in store.audit_entries()] == [
        "22222222-2222-4222-8222-222222222222"
    ]


# -- what a failed write may log -----------------------------------------------------------------


def test_the_503_is_in_the_published_contract() -> None:
    feedback_post = OPENAPI["paths"]["/cds-services/{service_id}/feedback"]["post"]
    assert feedback_post["responses"]["503"]["$ref"] == "#/components/responses/StoreUnavailable"
    error_codes = OPENAPI["components"]["schemas"]["Error"]["properties"]["error"]["enum"]
    assert UNAVAILABLE["error"] in error_codes


def test_a_failed_write_logs_no_sql_parameters(
    service: Callable[..., Flask], database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    app = service(database_url=database_url)
    store: FeedbackStore = app.extensions["cds"].feedback
    with store._engine.begin() as connection:  # the table vanishes under the running service
        connection.exec_driver_sql("DROP TABLE feedback")
    marker = "patient told me she is pregnant"
    with caplog.at_level(logging.DEBUG):
        response = app.test_client().post(FEEDBACK_URL, json=_feedback(comment=marker))
    assert (response.status_code, response.get_json()) == (503, UNAVAILABLE)
    assert "feedback not stored" in caplog.text
    assert marker not in caplog.text


# -- feedback the store can't keep, or that names no card of ours --------------------------------


@pytest.mark.parametrize(
    ("entry", "named"),
    [
        ({"card": "bad\u0000card"}, "feedback[0].card: contains a NUL character"),
        (
            {"overrideReason": {"userComment": "a\u0000b"}},
            "feedback[0].overrideReason.userComment: contains a NUL character",
        ),
        (
            {"overrideReason": {"reason": {"system": "https://x.example", "code": "c\u0000"}}},
            "feedback[0].overrideReason.reason.code: contains a NUL character",
        ),
        ({"card": "c" * 201}, "feedback[0].card: "),
        ({"outcomeTimestamp": "0001-01-01T00:00:00+14:00"}, "feedback[0].outcomeTimestamp"),
        ({"outcomeTimestamp": "9999-12-31T23:59:59-12:00"}, "feedback[0].outcomeTimestamp"),
    ],
    ids=["nul-card", "nul-comment", "nul-code", "card-too-long", "before-year-1", "after-9999"],
)
def test_feedback_the_store_cannot_keep_is_a_400_naming_the_field(
    service: Callable[..., Flask], database_url: str, entry: dict, named: str
) -> None:
    body = _feedback()
    body["feedback"][0].update(entry)
    app = service(database_url=database_url)
    response = app.test_client().post(FEEDBACK_URL, json=body)
    assert response.status_code == 400
    assert response.get_json()["error"] == "bad-request"
    assert named in response.get_json()["message"]


def test_feedback_for_a_card_never_issued_is_kept_but_left_out_of_the_rates(
    service: Callable[..., Flask], database_url: str
) -> None:
    app = service(database_url=database_url, clock_override=True)
    store: FeedbackStore = app.extensions["cds"].feedback
    client = app.test_client()
    hook = client.post(
        f"/cds-services/{PATIENT_VIEW}", json=_hook("33333333-3333-4333-8333-333333333333")
    )
    issued = hook.get_json()["cards"][0]["uuid"]
    assert client.post(FEEDBACK_URL, json=_feedback(card=issued)).status_code == 200
    never_issued = client.post(FEEDBACK_URL, json=_feedback(card="forged-card-uuid"))
    assert (never_issued.status_code, never_issued.get_json()) == (200, {"new": 1})

    summary = store.summary()
    assert summary.unmatched == 1
    [service] = summary.services
    assert (service.name, service.overridden) == (PATIENT_VIEW, 1)  # the issued card's only
    assert sum(rule.overridden for rule in summary.rules) == 1
    assert {s.item.card_uuid for s in store.stored_feedback()} == {issued, "forged-card-uuid"}


# -- a process killed with rows still on its spool ------------------------------------------------

_SPOOLING_PROCESS = """
import sys
from datetime import UTC, datetime
from dataclasses import replace
from pathlib import Path
from cds_service.config import Settings
from cds_service.feedback import AuditRecord, FeedbackStore
store = FeedbackStore.from_settings(Settings(database_url=sys.argv[1], spool_dir=Path(sys.argv[2])))
for n in range(5):
    store.record_audit(AuditRecord(datetime.now(UTC), "svc", "patient-view", f"killed-{n}",
                                   "Patient/p", (("RULE", "1", f"card-{n}"),), "k1"))
print(store.spooled(), flush=True)
sys.stdin.readline()  # killed here, rows undelivered
"""


def test_rows_of_a_process_killed_while_the_store_was_down_are_delivered_once_by_the_next(
    settings: Settings, database_url: str, tmp_path: Path
) -> None:
    spool = tmp_path / "shared-spool"
    FeedbackStore.from_settings(settings).close()  # the schema exists; then the store goes away
    with _stored_unreachable(database_url) as unreachable:
        dying = subprocess.Popen(
            [sys.executable, "-c", _SPOOLING_PROCESS, unreachable, str(spool)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert dying.stdout is not None and dying.stdout.readline().strip() == "5"
        finally:
            dying.kill()  # SIGKILL: no clean-up, no last delivery
            dying.wait(10)
            assert dying.stdout is not None and dying.stdin is not None
            dying.stdout.close()
            dying.stdin.close()
    [orphan] = spool.glob("audit-*.jsonl")
    # As if the dying process had delivered its first row just before the kill: twice on disk.
    first_line = orphan.read_bytes().splitlines(keepends=True)[0]
    with orphan.open("ab") as handle:
        handle.write(first_line + b'{"torn": ')  # and a line cut short by the crash
    successor = FeedbackStore.from_settings(replace(settings, spool_dir=spool))
    try:
        assert successor.spooled() == 6  # every whole line waiting (the torn one is not a row)
        deadline = time.monotonic() + 30
        while successor.spooled() and time.monotonic() < deadline:
            time.sleep(0.05)
        entries = successor.audit_entries()
    finally:
        successor.close()
    assert sorted(e.hook_instance for e in entries) == [f"killed-{n}" for n in range(5)]
    assert not orphan.exists()


@contextmanager
def _stored_unreachable(database_url: str) -> Iterator[str]:
    """A URL for the same store that cannot be written while the block runs."""
    if database_url.startswith("sqlite"):
        with sqlite_locked(Path(make_url(database_url).database or "")):
            yield database_url
    else:
        yield _unreachable_postgres()


def test_a_row_the_store_refuses_is_set_aside_and_holds_up_nothing(settings: Settings) -> None:
    store = FeedbackStore.from_settings(settings)
    try:
        rows = [
            store._audit_row(
                AuditRecord(
                    datetime.now(UTC), "svc", "patient-view", f"row-{n}", "Patient/p", (), "k"
                )
            )
            for n in range(3)
        ]
        rows[1]["at"] = "not a date"  # e.g. written by another version, or damaged on disk
        assert settings.spool_dir is not None
        settings.spool_dir.mkdir(parents=True, exist_ok=True)
        orphan = settings.spool_dir / "audit-999999-deadbeef.jsonl"  # its process is gone
        damaged = b"\x00\x00 not JSON at all\n"  # a line damaged on disk: logged and skipped
        orphan.write_bytes(damaged + b"".join(json.dumps(row).encode() + b"\n" for row in rows))
        assert store.spooled() == 4
        deadline = time.monotonic() + 30
        while store.spooled() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [e.hook_instance for e in store.audit_entries()] == ["row-0", "row-2"]
    finally:
        store.close()
    [kept] = (settings.spool_dir / "rejected-audit.jsonl").read_text().splitlines()
    assert json.loads(kept)["hook_instance"] == "row-1"


def test_a_worker_forked_after_the_master_closed_the_store_delivers_what_a_dead_one_left(
    settings: Settings,
) -> None:
    store = FeedbackStore.from_settings(settings)
    row = store._audit_row(
        AuditRecord(datetime.now(UTC), "svc", "patient-view", "left-behind", None, (), "k")
    )
    assert settings.spool_dir is not None
    settings.spool_dir.mkdir(parents=True, exist_ok=True)
    orphan = settings.spool_dir / "audit-999998-deadbeef.jsonl"  # a worker killed earlier
    orphan.write_bytes(json.dumps(row).encode() + b"\n")
    store.close()  # as serve.py does in the gunicorn master, just before it forks the workers
    pid = os.fork()
    if pid == 0:  # the new worker: only probed for readiness, no hook yet
        code = 1
        try:
            if store.check() is None:
                deadline = time.monotonic() + 20
                while orphan.exists() and time.monotonic() < deadline:
                    time.sleep(0.05)
                code = 0 if not orphan.exists() else 1
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    reader = FeedbackStore.from_settings(settings)
    try:
        assert [e.hook_instance for e in reader.audit_entries()] == ["left-behind"]
    finally:
        reader.close()


def test_each_store_spools_in_a_directory_of_its_own(tmp_path: Path) -> None:
    # Rows spooled for one database must never be delivered into another: the default directory
    # is the store's own (replicas configured alike share it; another database never does).
    one = Settings(database_url=f"sqlite:///{tmp_path / 'one.sqlite3'}")
    two = Settings(database_url=f"sqlite:///{tmp_path / 'two.sqlite3'}")
    pg_a = Settings(database_url="postgresql+psycopg://cds:secret@db-a/cds")
    pg_a_again = Settings(database_url="postgresql+psycopg://cds:other@db-a/cds")
    pg_b = Settings(database_url="postgresql+psycopg://cds:secret@db-b/cds")
    directories = [spool_directory(s) for s in (one, two, pg_a, pg_b)]
    assert len(set(directories)) == 4
    assert spool_directory(pg_a) == spool_directory(pg_a_again)  # the password is not its name
    assert spool_directory(one).parent == tmp_path
    assert "secret" not in str(spool_directory(pg_a))


@pytest.mark.postgres
def test_the_database_urls_own_options_are_kept_beside_the_store_timeouts() -> None:
    # An operator's `options` (here a search_path) used to be replaced by the store's timeouts.
    from sqlalchemy import text

    from cds_service.store.database import open_database

    url = os.environ.get("CDS_TEST_DATABASE_URL", "")
    if not url:
        pytest.skip("CDS_TEST_DATABASE_URL is not set (export it from .ci/postgres.sh)")
    with_path = make_url(url).update_query_dict({"options": "-csearch_path=elsewhere,public"})
    engine = open_database(with_path.render_as_string(hide_password=False), 0.25)
    try:
        with engine.connect() as connection:
            path = connection.execute(text("SHOW search_path")).scalar()
            timeout = connection.execute(text("SHOW statement_timeout")).scalar()
    finally:
        engine.dispose()
    assert (path, timeout) == ("elsewhere,public", "250ms")
