"""The client against a real socket on 127.0.0.1: trickled bodies, gzip, connection refused."""

from __future__ import annotations

import gzip
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from fhir_fakes import PATIENT, make_settings, resource, searchset

from cds_service.fhir.fetch import fetch_missing
from cds_service.testing import serving


@contextmanager
def local_server(handle) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            handle(self)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    with serving(server) as port:
        yield f"http://127.0.0.1:{port}/fhir"


def fetch(base: str, **settings: object):
    return fetch_missing(
        fhir_server=base,
        fhir_authorization={"access_token": "t"},
        queries={"conditions": f"Condition?patient={PATIENT}"},
        settings=make_settings(fhir_dev_servers=(base,), **settings),
    )["conditions"]


def test_trickling_server_cannot_hold_a_worker_past_the_deadline() -> None:
    body = json.dumps(searchset(resource("Condition", "c1"))).encode()
    broke_off = threading.Event()

    def trickle(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/fhir+json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        try:
            for byte in body:  # one byte each 50 ms: each read is well inside the read timeout
                handler.wfile.write(bytes([byte]))
                handler.wfile.flush()
                time.sleep(0.05)
        except OSError:
            broke_off.set()

    with local_server(trickle) as base:
        started = time.monotonic()
        result = fetch(base, fhir_deadline=0.4, fhir_read_timeout=1.0)
        elapsed = time.monotonic() - started
        assert result.error == "Condition search: not finished within the 0.4 s fetch deadline"
        assert elapsed < 0.7, f"{elapsed:.3f}s"
        # The worker gives up too (it closes the connection), long before the body would end.
        assert broke_off.wait(3), "the worker kept reading past the deadline"


def test_gzip_bodies_are_decoded() -> None:
    body = gzip.compress(json.dumps(searchset(resource("Condition", "c1"))).encode())

    def gzipped(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/fhir+json")
        handler.send_header("Content-Encoding", "gzip")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    with local_server(gzipped) as base:
        result = fetch(base)
    assert result.error is None
    assert [r["id"] for r in result.resources] == ["c1"]


def test_nothing_listening() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: connections are refused
        result = fetch(f"http://127.0.0.1:{port}/fhir")
    assert result.error == "Condition search: could not connect to the FHIR server"


def test_debug_logging_shows_neither_token_nor_patient_id(caplog) -> None:
    caplog.set_level(logging.DEBUG)
    body = json.dumps(searchset()).encode()

    def ok(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    with local_server(ok) as base:
        result = fetch_missing(
            fhir_server=base,
            fhir_authorization={"access_token": "tok-very-secret-123"},
            queries={"conditions": "Condition?patient=pat-secret-77"},
            settings=make_settings(fhir_dev_servers=(base,)),
        )["conditions"]
    assert result.ok
    assert caplog.records
    assert "tok-very-secret-123" not in caplog.text
    assert "pat-secret-77" not in caplog.text
