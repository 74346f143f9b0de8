"""Many writers at once (threads, then processes) lose nothing and store duplicates once."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from cds_service.config import Settings
from cds_service.feedback import AuditRecord, FeedbackStore

THREADS = 8
PER_WRITER = 25
RECEIVED = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def _body(writer: int, n: int) -> dict:
    return {
        "feedback": [
            {
                "card": f"card-{writer}-{n}",
                "outcome": "overridden",
                "overrideReason": {"userComment": f"writer {writer}"},
                "outcomeTimestamp": "2026-11-20T09:30:00Z",
            }
        ]
    }


def _write_as_one_worker(
    settings: Settings, writer: int, start: threading.Barrier, shared: dict
) -> tuple[int, str | None]:
    start.wait()
    # Each thread opens its own store, like a fresh worker: schema and audit-key creation race too.
    store = FeedbackStore.from_settings(settings)
    try:
        new = store.record_feedback("svc", shared, received_at=RECEIVED)
        for n in range(PER_WRITER):
            new += store.record_feedback("svc", _body(writer, n), received_at=RECEIVED)
        store.record_audit(
            AuditRecord(
                RECEIVED,
                "svc",
                "patient-view",
                f"hook-{writer}",
                "Patient/p1",
                (("RULE-A", "1", f"card-{writer}-0"),),
                "k1",
            )
        )
        return new, store.patient_hash("Patient/p1")
    finally:
        store.close()


def test_eight_threads_writing_at_once_lose_nothing(
    settings: Settings, spec_feedback: dict
) -> None:
    # Contention, not timeouts, is under test: a writer kept waiting past the store timeout is
    # told so (503), never lost, but here every writer must get through on a busy machine.
    settings = replace(settings, store_timeout=10)
    shared = spec_feedback["feedback-overridden-with-reason"]  # every thread sends this one too
    start = threading.Barrier(THREADS)
    with ThreadPoolExecutor(THREADS) as pool:
        futures = [
            pool.submit(_write_as_one_worker, settings, writer, start, shared)
            for writer in range(THREADS)
        ]
        results = [f.result(timeout=120) for f in futures]

    store = FeedbackStore.from_settings(settings)
    try:
        stored = store.stored_feedback()
        audited = store.audit_entries()
    finally:
        store.close()
    expected_cards = {f"card-{w}-{n}" for w in range(THREADS) for n in range(PER_WRITER)}
    assert {s.item.card_uuid for s in stored} == expected_cards | {
        "9368d37b-283f-44a0-93ea-547cebab93ed"
    }
    assert len(stored) == THREADS * PER_WRITER + 1  # the shared item once
    assert sum(new for new, _ in results) == len(stored)  # each writer was told the truth
    assert sorted(a.hook_instance for a in audited) == sorted(f"hook-{w}" for w in range(THREADS))
    assert len({patient_hash for _, patient_hash in results}) == 1  # one audit key for all


WRITER_SCRIPT = """
import sys
from datetime import UTC, datetime
from cds_service.config import Settings
from cds_service.feedback import FeedbackStore

writer, count = int(sys.argv[1]), int(sys.argv[2])
store = FeedbackStore.from_settings(Settings.from_env())
new = 0
for n in range(count):
    for card in (f"proc-{writer}-{n}", f"shared-{n}"):
        body = {"feedback": [{"card": card, "outcome": "overridden",
                              "outcomeTimestamp": "2026-11-20T09:30:00Z"}]}
        new += store.record_feedback("svc", body, received_at=datetime.now(UTC))
store.close()
print(new)
"""


def test_several_processes_writing_at_once_lose_nothing(database_url: str) -> None:
    processes, count = 4, 20
    env = {**os.environ, "CDS_DATABASE_URL": database_url, "CDS_STORE_TIMEOUT": "10"}
    env.pop("CDS_AUDIT_KEY", None)
    running = [
        subprocess.Popen(
            [sys.executable, "-W", "error", "-c", WRITER_SCRIPT, str(writer), str(count)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for writer in range(processes)
    ]
    outputs = [p.communicate(timeout=120) for p in running]
    assert [p.returncode for p in running] == [0] * processes, [err for _, err in outputs]

    store = FeedbackStore.from_settings(Settings(database_url=database_url))
    try:
        cards = [s.item.card_uuid for s in store.stored_feedback()]
    finally:
        store.close()
    assert len(cards) == len(set(cards)) == processes * count + count
    assert sum(int(out) for out, _ in outputs) == len(cards)


def test_a_report_is_not_held_up_by_a_writer_on_sqlite(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    store = FeedbackStore.from_settings(Settings(database_url=f"sqlite:///{path}"))
    writer = sqlite3.connect(path, isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")  # another worker, mid-write, holding the write lock
        writer.execute("INSERT INTO store_settings (name, value) VALUES ('probe', 'x')")
        with ThreadPoolExecutor(1) as pool:
            summary = pool.submit(store.summary).result(timeout=5)
        assert summary.rules == ()
    finally:
        writer.rollback()
        writer.close()
        store.close()
