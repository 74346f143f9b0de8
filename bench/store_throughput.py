"""Throughput at concurrency 16 with PostgreSQL as the store over the same with SQLite, and
whether every answered hook left its audit row (nothing lost on the way through the spool).

Two `cds-service serve` servers run side by side, one per store, each with its own spool; load
blocks alternate between them so that machine noise hits both. After the load each server is
stopped (SIGTERM), and a store handle on the same spool delivers whatever a worker left behind;
the audit rows added must equal the hooks answered 200.

    python bench/store_throughput.py      # needs CDS_TEST_DATABASE_URL (e.g. from .ci/postgres.sh)

bench/run.py calls compare() in one line; without a PostgreSQL it reports why it skipped.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from load import closed_loop  # bench/load.py (bench/ is on the path: run.py, or this script)

ROOT = Path(__file__).resolve().parent.parent
TARGET = 0.8  # issue 15: PostgreSQL at least 80% of SQLite's throughput


def compare(
    payload: Any,
    workdir: Path,
    concurrency: int = 16,
    seconds: float = 2.0,
    blocks: int = 3,
    database_url: str | None = None,
) -> dict[str, Any]:
    """{sqlite_rps, postgresql_rps, postgresql_over_sqlite, answered, audited, lost} for
    `payload` (bench/run.py's Payload: .path and .body()); {"skipped": why} without PostgreSQL."""
    postgres = database_url or os.environ.get("CDS_TEST_DATABASE_URL")
    if not postgres:
        return {"skipped": "no PostgreSQL: set CDS_TEST_DATABASE_URL (e.g. from .ci/postgres.sh)"}
    stores = {
        "sqlite": f"sqlite:///{workdir / 'store-bench.sqlite3'}",
        "postgresql": postgres,
    }
    spools = {name: workdir / f"spool-{name}" for name in stores}
    before = {name: _audit_rows(url, spools[name]) for name, url in stores.items()}
    answered = dict.fromkeys(stores, 0)
    spent = dict.fromkeys(stores, 0.0)
    with (
        _server(workdir, stores["sqlite"], spools["sqlite"], "sqlite") as sqlite_port,
        _server(workdir, stores["postgresql"], spools["postgresql"], "postgresql") as postgres_port,
    ):
        ports = {"sqlite": sqlite_port, "postgresql": postgres_port}
        for block in range(2 * blocks):
            name = ("sqlite", "postgresql")[block % 2]
            count, elapsed = _load(ports[name], payload, concurrency, seconds)
            answered[name] += count
            spent[name] += elapsed
    audited = {
        name: _audit_rows(url, spools[name], deliver=True) - before[name]
        for name, url in stores.items()
    }
    rps = {name: answered[name] / spent[name] for name in stores}
    return {
        "sqlite_rps": round(rps["sqlite"], 1),
        "postgresql_rps": round(rps["postgresql"], 1),
        "postgresql_over_sqlite": round(rps["postgresql"] / rps["sqlite"], 3),
        "answered": answered,
        "audited": audited,
        "lost": {name: answered[name] - audited[name] for name in stores},
    }


def _load(port: int, payload: Any, concurrency: int, seconds: float) -> tuple[int, float]:
    """Hooks answered 200 by `concurrency` clients for `seconds`; (count, seconds spent)."""
    failures: list[str] = []
    answered = closed_loop(port, payload.path, payload.body(), concurrency, seconds, failures)
    if failures:
        print(f"  {len(failures)} failed requests, e.g. {failures[0]}", file=sys.stderr)
    return answered


def _audit_rows(database_url: str, spool: Path, deliver: bool = False) -> int:
    """Audit rows in the store; with `deliver`, after delivering what the spool still holds."""
    sys.path.insert(0, str(ROOT))
    from cds_service.config import Settings
    from cds_service.feedback import FeedbackStore

    store = FeedbackStore.from_settings(Settings(database_url=database_url, spool_dir=spool))
    try:
        if deliver:
            deadline = time.monotonic() + 60
            while store.spooled() and time.monotonic() < deadline:
                time.sleep(0.1)
        return len(store.audit_entries())
    finally:
        store.close()


@contextmanager
def _server(workdir: Path, database_url: str, spool: Path, tag: str) -> Iterator[int]:
    """`cds-service serve` (make serve's environment) on a free port, until every worker is
    ready; stopped with SIGTERM as an operator would."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    log_path = workdir / f"store-{tag}.log"
    env = {
        **os.environ,
        "CDS_AUTH": "off",
        "CDS_CLOCK_OVERRIDE": "on",
        "CDS_DATABASE_URL": database_url,
        "CDS_SPOOL_DIR": str(spool),
    }
    command = [sys.executable, "-m", "cds_service", "serve", "--port", str(port)]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=ROOT
        )
    try:
        _wait_until(
            lambda: (
                log_path.read_text(errors="replace").count(" ready (warm-up ")
                >= (os.cpu_count() or 1)
            ),
            process,
            log_path,
        )
        yield port
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)


def _wait_until(ready: Callable[[], bool], process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited: see {log}\n{log.read_text()[-3000:]}")
        if ready():
            return
        time.sleep(0.05)
    raise SystemExit(f"server did not start: see {log}")


def main() -> int:
    sys.path[:0] = [str(ROOT), str(ROOT / "bench")]
    from run import Payload  # bench/run.py's generated 30-resource hook

    with tempfile.TemporaryDirectory(prefix="cds-store-bench-") as workdir:
        result = compare(Payload(30), Path(workdir))
    print(json.dumps(result, indent=1))
    ratio = result.get("postgresql_over_sqlite")
    if ratio is not None:
        verdict = "ok" if ratio >= TARGET and not any(result["lost"].values()) else "FAIL"
        print(f"postgresql_over_sqlite {ratio} {verdict} (target >= {TARGET}, nothing lost)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
