"""Closed-loop HTTP load on 127.0.0.1, shared by bench/run.py and bench/store_throughput.py."""

from __future__ import annotations

import http.client
import threading
import time


def post(port: int, path: str, body: bytes) -> tuple[int, bytes, float]:
    """(status, body, seconds) of one POST on a new connection."""
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("POST", path, body, {"Content-Type": "application/json"})
        response = conn.getresponse()
        data = response.read()
    finally:
        conn.close()
    return response.status, data, time.perf_counter() - started


def closed_loop(
    port: int, path: str, body: bytes, concurrency: int, seconds: float, errors: list[str]
) -> tuple[int, float]:
    """`concurrency` clients POST `body` back to back for `seconds`: (answered 200, seconds
    spent). Anything else is appended to `errors`."""
    stop = time.perf_counter() + seconds
    counts = [0] * concurrency

    def client(slot: int) -> None:
        while time.perf_counter() < stop:
            try:
                status, _, _ = post(port, path, body)
            except OSError as exc:
                errors.append(repr(exc))
                continue
            if status == 200:
                counts[slot] += 1
            else:
                errors.append(f"status {status}")

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(n,)) for n in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts), time.perf_counter() - started
