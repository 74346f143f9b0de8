"""Benchmark: four FHIR searches through fetch_missing vs the slowest one alone (parallelism check).

A local server on 127.0.0.1 answers each search after 100 ms. Each round times fetch_missing over
the four searches, and each search alone; the ratio is (four together) / (slowest alone).
Sequential fetching would give about 4; the target is at most 1.3.

    python bench/fetch.py [--rounds 15] [--delay 0.1] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cds_service.config import Settings
from cds_service.fhir.fetch import fetch_missing
from cds_service.testing import serving

QUERIES = {
    "conditions": "Condition?patient=bench-1",
    "medications": "MedicationStatement?patient=bench-1",
    "procedures": "Procedure?patient=bench-1",
    "observations": "Observation?patient=bench-1&code=http://loinc.org|85319-2",
}


def _bundle(resource_type: str, count: int = 10) -> bytes:
    entries = [
        {
            "resource": {
                "resourceType": resource_type,
                "id": f"r{i}",
                "subject": {"reference": "Patient/bench-1"},
            }
        }
        for i in range(count)
    ]
    return json.dumps({"resourceType": "Bundle", "type": "searchset", "entry": entries}).encode()


def _handler(delay: float) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as a real FHIR server
        # Headers and body go out in two writes: without this, Nagle + delayed ACK add ~40 ms.
        disable_nagle_algorithm = True

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            time.sleep(delay)
            body = _bundle(self.path.split("/")[-1].split("?")[0])
            self.send_response(200)
            self.send_header("Content-Type", "application/fhir+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    return Handler


@contextmanager
def local_server(delay: float) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(delay))
    server.daemon_threads = True
    with serving(server) as port:
        yield f"http://127.0.0.1:{port}/fhir"


def _timed(base: str, queries: dict[str, str], settings: Settings) -> float:
    started = time.perf_counter()
    result = fetch_missing(
        fhir_server=base,
        fhir_authorization={"access_token": "bench-token"},
        queries=queries,
        settings=settings,
    )
    elapsed = time.perf_counter() - started
    failed = [f.error for f in result.values() if not f.ok]
    if failed:
        raise SystemExit(f"fetch failed: {failed}")
    return elapsed


def run(rounds: int, delay: float) -> dict[str, float]:
    with local_server(delay) as base:
        settings = Settings(fhir_dev_servers=(base,), fhir_deadline=5.0, fhir_read_timeout=5.0)
        _timed(base, QUERIES, settings)  # warm the connection pool and the thread pool
        ratios, together, slowest = [], [], []
        for _ in range(rounds):
            alone = max(_timed(base, {k: q}, settings) for k, q in QUERIES.items())
            four = _timed(base, QUERIES, settings)
            ratios.append(four / alone)
            together.append(four)
            slowest.append(alone)
    return {
        "fetch_over_slowest": round(statistics.median(ratios), 3),
        "fetch_four_ms": round(statistics.median(together) * 1000, 1),
        "slowest_single_ms": round(statistics.median(slowest) * 1000, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--delay", type=float, default=0.1, help="server time per search (s)")
    parser.add_argument("--json", action="store_true", help='print {"fetch_over_slowest": x}')
    args = parser.parse_args(argv)
    result = run(max(15, args.rounds), args.delay)
    if args.json:
        print(json.dumps({"fetch_over_slowest": result["fetch_over_slowest"]}))
    else:
        print(
            f"4 searches in parallel: {result['fetch_four_ms']} ms (median); slowest single: "
            f"{result['slowest_single_ms']} ms; ratio {result['fetch_over_slowest']} "
            f"(target <= 1.3; sequential would be ~4)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
