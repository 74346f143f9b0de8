"""Over real gunicorn (`cds-service serve`): broken chunked bodies, bodies not declared as JSON and
clients that send half a body and wait get a JSON 4xx, and never hold up other callers' hooks."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import orjson
import pytest
import requests
from hook_requests import hook_request, service_url

from cds_service.testing import gunicorn_service
from cds_service.web.http import BODY_READ_SECONDS

pytestmark = pytest.mark.integration
PORT = 19401
WORKERS = 2


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    directory = tmp_path_factory.mktemp("gunicorn")
    env = {
        "CDS_AUTH": "off",
        "CDS_DATABASE_URL": f"sqlite:///{directory / 'cds.sqlite3'}",
        "CDS_LOG_LEVEL": "WARNING",
    }
    with gunicorn_service(PORT, env, workers=WORKERS, log=directory / "serve.log") as url:
        yield url


def raw_exchange(request: bytes, timeout: float = 15.0) -> tuple[int, dict]:
    """Send bytes as they are; the status and JSON body of the answer."""
    with socket.create_connection(("127.0.0.1", PORT), timeout=timeout) as sock:
        sock.sendall(request)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    if b"transfer-encoding: chunked" in head.lower():
        body = _dechunk(body)
    return status, orjson.loads(body)


def _dechunk(body: bytes) -> bytes:
    out = b""
    while body:
        size_line, _, body = body.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            break
        out, body = out + body[:size], body[size + 2 :]
    return out


def test_a_chunked_body_with_a_bad_chunk_size_gets_a_json_400(base_url):
    request = (
        f"POST {service_url('patient-view')} HTTP/1.1\r\nHost: x\r\n"
        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        'zz\r\n{"hook": "patient-view"}\r\n0\r\n\r\n'
    ).encode()

    status, body = raw_exchange(request)

    assert status == 400
    assert body["error"] == "bad-request"
    assert "body: unreadable" in body["message"]


GUNICORN_REFUSALS = {
    "a malformed request line": (b"POST /cds-services\x01 HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    "a header without a colon": (b"GET /health HTTP/1.1\r\nHost: x\r\nbroken\r\n\r\n", 400),
    "a request line over 4094 bytes": (
        b"GET /health?" + b"a" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        414,
    ),
    "a transfer coding gunicorn does not decode": (
        f"POST {service_url('patient-view')} HTTP/1.1\r\nHost: x\r\n"
        "Content-Type: application/json\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
        "0\r\n\r\n".encode(),
        400,
    ),
}


@pytest.mark.parametrize(
    ("request_bytes", "status"), GUNICORN_REFUSALS.values(), ids=GUNICORN_REFUSALS.keys()
)
def test_what_gunicorn_refuses_itself_is_a_json_4xx(base_url, request_bytes, status):
    answered, body = raw_exchange(request_bytes)

    assert answered == status
    assert set(body) == {"error", "message"}


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]
)
def test_a_json_body_not_declared_as_json_gets_415(base_url, content_type):
    response = requests.post(
        base_url + service_url("patient-view"),
        data=orjson.dumps(hook_request("patient-view")),
        headers={"Content-Type": content_type},
        timeout=10,
    )

    assert response.status_code == 415
    assert response.json()["error"] == "unsupported-media-type"
    assert content_type in response.json()["message"]


def hook_seconds(base_url: str) -> float:
    started = time.perf_counter()
    response = requests.post(
        base_url + service_url("patient-view"), json=hook_request("patient-view"), timeout=30
    )
    assert response.status_code == 200, response.text
    return time.perf_counter() - started


def stalled_client() -> socket.socket:
    """A client that announces a 2,000-byte body, sends half of it and waits."""
    sock = socket.create_connection(("127.0.0.1", PORT), timeout=30)
    sock.sendall(
        f"POST {service_url('patient-view')} HTTP/1.1\r\nHost: x\r\n"
        "Content-Type: application/json\r\nContent-Length: 2000\r\n\r\n".encode()
        + b"{"
        + b" " * 999
    )
    return sock


def test_clients_holding_half_a_body_do_not_hold_up_a_normal_hook(base_url):
    baseline = sorted(hook_seconds(base_url) for _ in range(5))[2]
    stalled = [stalled_client() for _ in range(4 * WORKERS)]
    try:
        time.sleep(0.5)  # every stalled request is in a worker, reading its body
        during = sorted(hook_seconds(base_url) for _ in range(5))[2]
        # Before: sync workers, each blocked on a half body, answered after 19 s.
        assert during < max(3 * baseline, 1.0), (baseline, during)
        # And the stalled clients are told, once the body deadline passes, and let go.
        stalled[0].settimeout(BODY_READ_SECONDS + 10)
        answer = b""
        while chunk := stalled[0].recv(65536):  # until gunicorn closes the connection
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 408"), answer[:100]
        assert orjson.loads(answer.partition(b"\r\n\r\n")[2])["error"] == "request-timeout"
    finally:
        for sock in stalled:
            sock.close()
