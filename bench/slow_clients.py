"""Slow clients: p50 of a normal hook while 4 x workers clients each hold half a body, over p50
without them (target <= 1.5). Called by bench/run.py on its running server; alone:

    python bench/slow_clients.py [--workers N] [--rounds N]   # starts `cds-service serve` itself
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

PER_WORKER = 4
# The stalled clients are let go by the service after web/http.BODY_READ_SECONDS; the rounds
# with them must end before that, or they would no longer be stalled.
_STALL_WINDOW_SECONDS = 8.0


def _post(port: int, path: str, body: bytes) -> float:
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("POST", path, body, {"Content-Type": "application/json"})
        response = conn.getresponse()
        response.read()
    finally:
        conn.close()
    if response.status != 200:
        raise SystemExit(f"slow clients: the hook answered {response.status}")
    return time.perf_counter() - started


def _stalled(port: int, path: str, body: bytes) -> socket.socket:
    """A client that sends its headers and half its body, then waits."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    sock.sendall(head + body[: len(body) // 2])
    return sock


def run(
    port: int, path: str, body: Callable[[], bytes], workers: int, rounds: int = 40, blocks: int = 5
) -> dict:
    """{"p50_ms": .., "p50_stalled_ms": .., "stalled_clients": .., "ratio": ..} against the
    service on 127.0.0.1:port; `body()` gives a fresh request body each time. Blocks without
    and with the stalled clients alternate, so machine noise hits both alike."""
    for _ in range(5):
        _post(port, path, body())  # warm
    per_block = max(1, rounds // blocks)
    normal: list[float] = []
    during: list[float] = []
    for _ in range(blocks):
        normal += [_post(port, path, body()) for _ in range(per_block)]
        stalled = [_stalled(port, path, body()) for _ in range(PER_WORKER * workers)]
        try:
            time.sleep(0.2)  # every stalled request has reached a worker and waits on its body
            started = time.monotonic()
            during += [_post(port, path, body()) for _ in range(per_block)]
            # Past the window the service has let the stalled clients go (408): what a stall
            # costs is then the whole block, counted as every request's share of it.
            if (spent := time.monotonic() - started) > _STALL_WINDOW_SECONDS:
                during[-per_block:] = [spent / per_block] * per_block
        finally:
            for sock in stalled:
                sock.close()
    p50, p50_stalled = statistics.median(normal), statistics.median(during)
    return {
        "p50_ms": round(p50 * 1000, 2),
        "p50_stalled_ms": round(p50_stalled * 1000, 2),
        "stalled_clients": PER_WORKER * workers,
        "ratio": round(p50_stalled / p50, 2),
    }


def main() -> int:
    import generate  # bench/generate.py

    from cds_service.testing import free_port, gunicorn_service

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()
    request = generate.generate(30)
    path = f"/cds-services/{generate.service_id(request)}"
    payload = json.dumps(request).encode()
    with tempfile.TemporaryDirectory() as workdir:
        env = {
            "CDS_AUTH": "off",
            "CDS_CLOCK_OVERRIDE": "on",
            "CDS_DATABASE_URL": f"sqlite:///{workdir}/bench.sqlite3",
            "CDS_LOG_LEVEL": "WARNING",
        }
        port = free_port()
        with gunicorn_service(port, env, workers=args.workers):
            print(json.dumps(run(port, path, lambda: payload, args.workers, args.rounds)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
