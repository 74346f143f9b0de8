"""Memory stays bounded: over real gunicorn, while an allowed FHIR server answers every search with
a ~45 MB page, a worker's peak RSS stays under 400 MB, during the calls and after them."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import orjson
import pytest
import requests

from cds_service.fhir import budget
from cds_service.testing import gunicorn_service, serving

PORT = 19411
PATIENT = "pat-1"


def huge_searchset(size: int) -> bytes:
    condition = {
        "resourceType": "Condition",
        "subject": {"reference": f"Patient/{PATIENT}"},
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "94225005"}]},
        "onsetDateTime": "2024-01-01",
    }
    one = len(orjson.dumps({"resource": {**condition, "id": "c000000"}})) + 1
    entries = [{"resource": {**condition, "id": f"c{i:06d}"}} for i in range(size // one)]
    return orjson.dumps({"resourceType": "Bundle", "type": "searchset", "entry": entries})


@pytest.fixture(scope="module")
def huge_fhir_server() -> Iterator[str]:
    page = huge_searchset(45_000_000)
    assert 44_000_000 < len(page) < 46_000_000

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            self.send_response(200)
            self.send_header("Content-Type", "application/fhir+json")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            # The service may stop reading: what this test is about.
            with contextlib.suppress(OSError):
                self.wfile.write(page)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    with serving(server) as port:
        yield f"http://127.0.0.1:{port}/fhir"


def kilobytes(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} for {pid}")


def worker_pid() -> int:
    """The one worker of the gunicorn master serving on PORT."""
    masters = [p for p in Path("/proc").iterdir() if p.name.isdigit() and _serves_on_port(p)]
    children = {int(child) for master in masters for child in _children(master)}
    (pid,) = children
    return pid


def _serves_on_port(proc: Path) -> bool:
    try:
        command = (proc / "cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"serve" in command and str(PORT).encode() in command and _children(proc) != []


def _children(proc: Path) -> list[str]:
    try:
        return (proc / "task" / proc.name / "children").read_text().split()
    except OSError:
        return []


@pytest.mark.integration
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc")
def test_a_worker_stays_under_400_mb_while_every_search_answers_45_mb(huge_fhir_server, tmp_path):
    env = {
        "CDS_AUTH": "off",
        "CDS_DATABASE_URL": f"sqlite:///{tmp_path / 'cds.sqlite3'}",
        "CDS_FHIR_DEV_SERVERS": huge_fhir_server,
        # Time enough to read every page (the default 1.5 s would cut most of them short).
        "CDS_FHIR_DEADLINE": "20",
        "CDS_FHIR_READ_TIMEOUT": "10",
        "CDS_LOG_LEVEL": "WARNING",
    }
    request = {
        "hook": "patient-view",
        "hookInstance": "5c0b1c57-3c1a-4a0e-9f0c-6f6f0a1a1a1a",
        "fhirServer": huge_fhir_server,
        "context": {"userId": "Practitioner/1", "patientId": PATIENT},
    }
    url = "/cds-services/her2-cns-patient-view"
    with gunicorn_service(PORT, env, workers=1, log=tmp_path / "serve.log") as base:
        pid = worker_pid()
        answers: list[requests.Response] = []

        def call() -> None:
            answers.append(requests.post(base + url, json=request, timeout=60))

        calls = [threading.Thread(target=call) for _ in range(3)]
        for thread in calls:
            thread.start()
        for thread in calls:
            thread.join()
        peak_mb = kilobytes(pid, "VmHWM") / 1024
        after_mb = kilobytes(pid, "VmRSS") / 1024

    # Every answer is over the budget: the required keys can't be had, a 412 naming them.
    assert [answer.status_code for answer in answers] == [412, 412, 412]
    assert "memory budget" in answers[0].json()["message"]
    # Before: 85 MB grew to 1.26 GB and stayed there.
    assert peak_mb < 400, f"peak RSS {peak_mb:.0f} MB"
    assert after_mb < 400, f"RSS after {after_mb:.0f} MB"


def test_answers_being_read_together_share_one_budget():
    half = budget.BUDGET.limit // 2 + 1
    assert budget.take(half)
    try:
        assert not budget.take(half), "a second answer fit into a budget the first half-filled"
    finally:
        budget.give(half)
    assert budget.BUDGET.used == 0


def test_an_answer_parsed_in_a_hook_stays_counted_until_the_record_is_built():
    with budget.answers_held():
        assert budget.take(1000)
        budget.parsed(1000)
        assert budget.BUDGET.used == 1000
    assert budget.BUDGET.used == 0
