"""Audit rows on local disk until the store has them: the hook never waits for the store.

Each process appends its rows, one JSON line each (fdatasync'd: a row survives a crash of the
process or the machine), to its own file, locked (flock) while the process lives. A background
thread delivers them to the store in batches and empties the file once all are in; while the
store is down it retries with a growing pause. A file whose lock is free belongs to a process
that died: any process adopts it, delivers it and deletes it. Delivery is idempotent (each row
carries a unique key), so a row delivered twice after a crash is stored once.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from cds_service.store.database import describe_store_error

log = logging.getLogger(__name__)

_PREFIX = "audit-"
_SUFFIX = ".jsonl"
# Rows the store refused as data: kept for a person, never retried (they would block the rest).
_REJECTED = "rejected-audit.jsonl"
# Orphans are looked for this often (and at once when the thread starts).
_ADOPT_EVERY_SECONDS = 5.0
# Pause after a failed delivery, doubled up to the maximum while the store stays down.
_RETRY_FIRST_SECONDS = 0.25
_RETRY_MAX_SECONDS = 5.0
# An orphan is delivered in batches of this many rows.
_ORPHAN_BATCH = 500
# Rows appended within this long of each other go to the store in one transaction. One
# transaction per hook cost about 0.5 ms of CPU beside each hook (in-process, 30-resource hooks),
# taken from the hooks that followed; the rows are on disk (fdatasync'd) before any waiting.
_BATCH_SECONDS = 0.2

Deliver = Callable[[list[dict[str, Any]]], None]


class AuditSpool:
    """Durable local queue of audit rows in `directory`, delivered by `deliver(rows)`.

    `deliver` writes the rows to the store in one transaction or raises; it must store a row
    already stored (same key) once."""

    def __init__(self, directory: Path, deliver: Deliver) -> None:
        self.directory = directory
        self._deliver = deliver
        self._pid = -1  # the process whose state this is (a forked child starts afresh)
        self._reset()

    def _reset(self) -> None:
        self._pid = os.getpid()
        self._lock = threading.Lock()
        # One delivery at a time (the thread, or flush() from a caller): a row counts once.
        self._delivering = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._fd: int | None = None
        self._path: Path | None = None
        self._delivered_bytes = 0
        self._pending = 0
        self._thread: threading.Thread | None = None
        self._closed = False
        self._failing_since: float | None = None

    def _this_process(self) -> None:
        if self._pid != os.getpid():
            # After a fork the parent's file, lock and thread are not ours.
            self._reset()

    def append(self, row: dict[str, Any]) -> None:
        """Write one row durably to this process's file (raises OSError if the disk can't)."""
        self._this_process()
        line = orjson.dumps(row) + b"\n"
        with self._lock:
            fd = self._own_file()
            size = os.fstat(fd).st_size
            try:
                written = os.write(fd, line)
                if written != len(line):
                    raise OSError(f"short write to the audit spool ({written} of {len(line)})")
                os.fdatasync(fd)
            except OSError:
                os.ftruncate(fd, size)  # no torn line for the next row to be glued to
                raise
            self._pending += 1
        self.start()
        self._wake.set()

    def open(self) -> None:
        """Open this process's file and start its delivery thread now (a worker's warm-up), not
        on its first row: that hook would pay for both (raises OSError if the disk can't)."""
        self._this_process()
        with self._lock:
            self._own_file()
        self.start()

    def set_aside(self, row: dict[str, Any]) -> Path:
        """Keep a row the store refused in the spool's rejected file (not delivered again)."""
        path = self.directory / _REJECTED
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, orjson.dumps(row) + b"\n")
            os.fdatasync(fd)
        finally:
            os.close(fd)
        return path

    def pending(self) -> int:
        """Rows on this machine's spool not yet in the store (this process's and orphans')."""
        self._this_process()
        self.start()
        with self._lock:
            count = self._pending
        for path in self._others():
            with contextlib.suppress(OSError):
                count += path.read_bytes().count(b"\n")
        return count

    def flush(self, timeout: float = 5.0) -> bool:
        """Deliver this process's rows now (from the caller's thread); True when none is left."""
        self._this_process()
        deadline = time.monotonic() + timeout
        while True:
            try:
                if self._deliver_own() == 0 and self._pending == 0:
                    return True
            except Exception:
                if time.monotonic() >= deadline:
                    return False
                time.sleep(0.05)
            if time.monotonic() >= deadline:
                return self._pending == 0

    def close(self, timeout: float = 2.0) -> None:
        """Stop the thread after a last delivery; undelivered rows stay on disk for later."""
        if self._pid != os.getpid():
            return
        self._closed = True
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        with contextlib.suppress(Exception):
            self._deliver_own()
        with self._delivering, self._lock:
            if self._fd is None or self._path is None:
                return
            if os.fstat(self._fd).st_size == 0:
                self._path.unlink(missing_ok=True)  # all delivered: nothing to leave behind
            # Closing releases the lock: what is left is an orphan any process may deliver.
            os.close(self._fd)
            self._fd, self._path, self._pending = None, None, 0

    # -- this process's file -------------------------------------------------------------------

    def _own_file(self) -> int:
        if self._fd is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            name = f"{_PREFIX}{os.getpid()}-{secrets.token_hex(4)}{_SUFFIX}"
            path = self.directory / name
            # Read back through the same descriptor (pread), so rows stay deliverable even if
            # the path is removed under us.
            fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # held while we live: not an orphan
            self._fd, self._path, self._delivered_bytes = fd, path, 0
        return self._fd

    def _deliver_own(self) -> int:
        """Deliver what this process has spooled; how many rows went to the store."""
        with self._delivering:
            return self._deliver_own_now()

    def _deliver_own_now(self) -> int:
        with self._lock:
            if self._fd is None:
                return 0
            fd, start = self._fd, self._delivered_bytes
        rows, end, lines = _read_rows(fd, start)
        if end == start:
            return 0
        if rows:
            self._deliver(rows)
        with self._lock:
            self._delivered_bytes = end
            self._pending -= lines
            if self._fd is not None and os.fstat(self._fd).st_size == end:
                # Everything is in the store: start the file again (appends hold this lock).
                os.ftruncate(self._fd, 0)
                self._delivered_bytes = 0
        return len(rows)

    # -- the background thread -------------------------------------------------------------------

    def start(self) -> None:
        """Start this process's delivery thread (once; never in a closed spool)."""
        self._this_process()  # a forked worker starts its own, whatever its parent did
        if self._thread is not None or self._closed:
            return
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="audit-spool", daemon=True)
                self._thread.start()
                # A process that exits cleanly (a gunicorn worker on SIGTERM) delivers its last
                # rows; one that can't leaves them on disk for the next process.
                atexit.register(self.close)

    def _run(self) -> None:
        pause = _RETRY_FIRST_SECONDS
        next_adoption = 0.0
        while not self._closed:
            # Cleared before looking: a row appended from now on wakes the wait below.
            self._wake.clear()
            self._stopping.wait(_BATCH_SECONDS)  # close() cuts it short
            try:
                delivered = self._deliver_own()
                if time.monotonic() >= next_adoption:
                    self._adopt_orphans()
                    next_adoption = time.monotonic() + _ADOPT_EVERY_SECONDS
            except Exception as exc:
                self._note_failure(exc)
                # New rows do not cut the pause short: the store is not asked once per hook.
                self._stopping.wait(pause)
                pause = min(pause * 2, _RETRY_MAX_SECONDS)
                continue
            self._note_recovery()
            pause = _RETRY_FIRST_SECONDS
            if delivered == 0:
                # Until a row is appended (or, with rows still counted, shortly: never spin).
                self._wake.wait(_ADOPT_EVERY_SECONDS if self._pending == 0 else pause)

    def _note_failure(self, exc: Exception) -> None:
        if self._failing_since is None:
            self._failing_since = time.monotonic()
            # One line per outage, without the rows or the SQL (no patient data in logs).
            log.warning(
                "audit rows are spooled on local disk until the store is back: %s",
                describe_store_error(exc),
            )

    def _note_recovery(self) -> None:
        if self._failing_since is not None:
            log.warning(
                "the store is back; spooled audit rows delivered after %.1f s",
                time.monotonic() - self._failing_since,
            )
            self._failing_since = None

    # -- orphans (files of processes that died) ------------------------------------------------

    def _others(self) -> list[Path]:
        try:
            paths = sorted(self.directory.glob(f"{_PREFIX}*{_SUFFIX}"))
        except OSError:
            return []
        return [p for p in paths if p != self._path]

    def _adopt_orphans(self) -> None:
        for path in self._others():
            try:
                fd = os.open(path, os.O_RDWR)
            except FileNotFoundError:
                continue  # another process adopted it first
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # its process is alive and delivers it itself
                if os.fstat(fd).st_nlink == 0:
                    continue  # adopted and deleted while we waited
                start = 0
                while True:
                    rows, end, _ = _read_rows(fd, start, limit=_ORPHAN_BATCH)
                    if end == start:
                        break
                    if rows:
                        self._deliver(rows)
                    start = end
                path.unlink()
            finally:
                os.close(fd)


def _read_rows(fd: int, start: int, limit: int | None = None) -> tuple[list[dict], int, int]:
    """(rows, end offset, whole lines read) from byte `start` on, up to `limit` lines. A torn
    last line (a crash mid-write) is left; an unreadable whole line is skipped and logged."""
    data = os.pread(fd, max(0, os.fstat(fd).st_size - start), start)
    rows: list[dict] = []
    end, lines = start, 0
    for line in data.splitlines(keepends=True):
        if not line.endswith(b"\n") or (limit is not None and lines >= limit):
            break
        end += len(line)
        lines += 1
        try:
            rows.append(orjson.loads(line))
        except orjson.JSONDecodeError:
            log.error("skipped an unreadable line in the audit spool")
    return rows, end, lines
