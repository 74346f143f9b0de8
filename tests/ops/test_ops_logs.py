"""Logs carry no patient data and cannot be forged: unit checks of the formatter, then the whole
log of a real `cds-service serve` run (CDS_LOG_FORMAT=json) scanned for planted markers."""

from __future__ import annotations

import json
import logging
import secrets
from pathlib import Path

import requests
from service_process import start_service

from cds_service.observability.logs import SafeFormatter, scrub
from cds_service.testing import load_json

ROOT = Path(__file__).resolve().parents[2]
HOOK = ROOT / "hooks/scenario-01-patient-view.json"


def _record(message: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("cds_service.test", logging.WARNING, __file__, 1, message, args, None)


def test_a_resource_id_is_replaced_by_its_keyed_hash():
    line = scrub(
        "Condition/scenario-01-brain-mets-1 from conditions skipped: belongs to another patient"
    )

    assert "scenario-01-brain-mets-1" not in line
    assert line.startswith("Condition/#") and line.endswith("belongs to another patient")
    assert scrub("Condition/scenario-01-brain-mets-1") == line.split(" ")[0]  # stable: traceable


def test_control_characters_cannot_start_a_new_line():
    forged = "x\n2026-01-01T00:00:00.000Z INFO cds_service: FORGED\r\u2028\x1b[31m"

    text = SafeFormatter("text").format(_record("id %s skipped", forged))
    as_json = SafeFormatter("json").format(_record("id %s skipped", forged))

    for line in (text, as_json):
        assert "\n" not in line and "\r" not in line and "\u2028" not in line and "\x1b" not in line
    assert "\\n2026-01-01" in text
    assert json.loads(as_json)["message"].startswith("id x\\n2026-01-01")


def test_an_exception_is_logged_as_its_type_and_code_locations_never_its_message():
    try:
        raise ValueError("INSERT INTO feedback ... [parameters: ('clinician comment secret',)]")
    except ValueError:
        record = logging.LogRecord(
            "cds_service.test",
            logging.ERROR,
            __file__,
            1,
            "store failed",
            (),
            __import__("sys").exc_info(),
        )

    line = SafeFormatter("json").format(record)

    assert "secret" not in line and "parameters" not in line
    assert "builtins.ValueError at test_ops_logs.py:" in json.loads(line)["message"]


def test_the_whole_log_of_a_json_run_holds_no_planted_marker_and_every_line_is_json(
    tmp_path, services
):

    mark = "mk" + secrets.token_hex(6)
    patient = f"{mark}-patient"
    other = f"{mark}-other-condition"
    token = f"{mark}-token"
    comment = f"{mark} clinician comment"
    service = start_service(
        19610,
        tmp_path / "service.log",
        {
            "CDS_AUTH": "off",
            "CDS_CLOCK_OVERRIDE": "on",
            "CDS_LOG_FORMAT": "json",
            "CDS_LOG_LEVEL": "debug",
            "CDS_DATABASE_URL": f"sqlite:///{tmp_path / 'store.sqlite3'}",
        },
    )
    services.append(service)

    hook = json.loads(HOOK.read_text(encoding="utf-8").replace("scenario-01", patient))
    hook["hookInstance"] = f"{mark}-hook-instance"  # not patient data: may be logged, escaped
    intruders = [
        {
            "resourceType": "Condition",
            "id": other,
            "subject": {"reference": f"Patient/{mark}-someone-else"},
        },
        # A forged log line inside an id: only ever one escaped line.
        {
            "resourceType": "Condition",
            "id": 'x\n{"level": "INFO", "message": "FORGED"}',
            "subject": {"reference": "Patient/another"},
        },
    ]
    hook["prefetch"]["conditions"]["entry"] += [{"resource": r} for r in intruders]
    answered = requests.post(
        f"{service.url}/cds-services/her2-cns-patient-view?access_token={token}&code={token}",
        json=hook,
        headers={"X-Request-Id": "bad id; FORGED"},
        timeout=30,
    )
    feedback = load_json(
        ROOT / "tests/external/cds-hooks-spec/feedback-overridden-with-reason.json"
    )
    feedback["feedback"][0]["overrideReason"]["userComment"] = comment
    stored = requests.post(
        f"{service.url}/cds-services/her2-cns-patient-view/feedback", json=feedback, timeout=10
    )
    requests.get(
        f"{service.url}/smart/launch?iss=https://{mark}.example/fhir&launch={token}", timeout=10
    )
    requests.get(f"{service.url}/cds-services/x%0aFORGED%0a?state={token}", timeout=10)
    service.stop()

    assert answered.status_code == 200 and answered.json()["cards"]
    assert stored.status_code == 200
    log = service.log_text()
    entries = [json.loads(line) for line in log.splitlines()]  # every line is one JSON object
    assert mark.lower() not in log.replace(f"{mark}-hook-instance", "").lower()
    assert not any(e["message"].startswith("FORGED") for e in entries)
    # The hook's own line and its access line carry the same request id (not the forged one).
    request_id = answered.headers["X-Request-Id"]
    assert len(request_id) == 32 and "FORGED" not in request_id
    mine = [e for e in entries if e.get("request_id") == request_id]
    assert any(
        e["logger"] == "cds_service.web.calls" and f"{mark}-hook-instance" in e["message"]
        for e in mine
    )
    access = [e for e in mine if e["logger"] == "gunicorn.access"]
    assert [(a["method"], a["path"], a["status"]) for a in access] == [
        ("POST", "/cds-services/her2-cns-patient-view", 200)
    ]
    # The other patient's resource was reported, by hash only.
    assert any(
        "belongs to another patient" in e["message"] and "Condition/#" in e["message"]
        for e in entries
    )


def test_a_query_string_in_a_message_is_removed():
    line = scrub("GET /smart/timeline?code=abc123&state=xyz failed; Condition?patient=p-42 empty")

    assert "abc123" not in line and "xyz" not in line and "p-42" not in line
    assert line == "GET /smart/timeline?(query removed) failed; Condition?(query removed) empty"
