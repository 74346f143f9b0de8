"""GET /health/live, /health/ready and /metrics, as a load balancer and Prometheus see them."""

from __future__ import annotations

import shutil
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from cds_service.testing import load_json, post_hook

ROOT = Path(__file__).resolve().parents[2]
HOOK = ROOT / "hooks/scenario-01-patient-view.json"
SPEC_FEEDBACK = ROOT / "tests/external/cds-hooks-spec/feedback-overridden-with-reason.json"


def samples(client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.get_data(as_text=True))
        for s in family.samples
    }


def test_live_and_ready_answer_200_and_health_stays(client):
    for path in ("/health", "/health/live", "/health/ready"):
        response = client.get(path)
        assert response.status_code == 200, path
    assert client.get("/health/ready").get_json()["status"] == "ready"


def test_ready_answers_503_naming_the_store_when_its_database_cannot_be_opened(make_app, tmp_path):
    app = make_app()
    client = app.test_client()
    database = Path(tmp_path / "cds-service.sqlite3")
    for path in tmp_path.glob("cds-service.sqlite3*"):
        path.unlink()
    database.mkdir()  # a directory where the file was: SQLite cannot open it
    try:
        ready = client.get("/health/ready")
        live = client.get("/health/live")
    finally:
        shutil.rmtree(database)

    assert ready.status_code == 503
    body = ready.get_json()
    assert body["error"] == "not-ready"
    assert list(body["problems"]) == ["store"]
    assert body["message"].startswith("not ready: store: unavailable")
    assert live.status_code == 200  # a sick store must not get the process restarted


def test_ready_uses_the_stores_own_check_where_it_has_one(app):
    store = app.extensions["cds"].feedback
    store.check = lambda: "schema is at revision 1, expected 2: run `cds-service db upgrade`"

    response = app.test_client().get("/health/ready")

    assert response.status_code == 503
    assert response.get_json()["problems"] == {
        "store": "schema is at revision 1, expected 2: run `cds-service db upgrade`"
    }


def test_metrics_count_hooks_by_service_and_status_and_cards_by_rule_and_indicator(client):
    before = samples(client)
    result = post_hook(client, load_json(HOOK))
    bad = client.post("/cds-services/her2-cns-patient-view", json={"hook": "patient-view"})
    unknown = client.post("/cds-services/no-such-service", json={})
    after = samples(client)

    def delta(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0.0) - before.get(key, 0.0)

    view = "her2-cns-patient-view"
    assert (bad.status_code, unknown.status_code) == (400, 404)
    assert delta("cds_hook_requests_total", service=view, status="200") == 1
    assert delta("cds_hook_requests_total", service=view, status="400") == 1
    assert delta("cds_hook_requests_total", service="unknown", status="404") == 1
    assert delta("cds_hook_duration_seconds_count", service=view) == 2
    assert result.cards
    for card in result.cards:
        rule = card["source"]["topic"]["code"]
        expected = sum(
            1
            for c in result.cards
            if c["source"]["topic"]["code"] == rule and c["indicator"] == card["indicator"]
        )
        assert delta("cds_cards_total", rule=rule, indicator=card["indicator"]) == expected


def test_metrics_count_feedback_outcomes_and_requests(app):
    client = app.test_client()
    before = samples(client)
    body = load_json(SPEC_FEEDBACK)
    client.post("/cds-services/her2-cns-order-select/feedback", json=body)
    client.post("/cds-services/her2-cns-order-select/feedback", json={"feedback": "no"})
    after = samples(client)

    def delta(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert delta("cds_feedback_requests_total", status="200") == 1
    assert delta("cds_feedback_requests_total", status="400") == 1
    assert delta("cds_feedback_items_total", outcome="overridden") == len(body["feedback"])


def test_a_failed_audit_write_is_counted_as_a_store_error_and_advice_still_goes_out(app):
    client = app.test_client()
    store = app.extensions["cds"].feedback

    def broken(_record):
        raise OSError("disk full")

    store.record_audit = broken
    hook = load_json(HOOK)
    before = samples(client).get(("cds_store_errors_total", (("operation", "audit"),)), 0.0)
    result = post_hook(client, hook)
    after = samples(client).get(("cds_store_errors_total", (("operation", "audit"),)), 0.0)

    assert result.cards
    assert after - before == 1


def test_metrics_of_a_served_replica_sum_every_gunicorn_worker(tmp_path, services):
    import threading

    import requests
    from service_process import start_service

    directory = tmp_path / "metrics"
    service = start_service(
        19650,
        tmp_path / "service.log",
        {
            "CDS_AUTH": "off",
            "CDS_DATABASE_URL": f"sqlite:///{tmp_path / 'store.sqlite3'}",
            "PROMETHEUS_MULTIPROC_DIR": str(directory),
        },
        workers=2,
    )
    services.append(service)
    hook = load_json(HOOK)
    statuses: list[int] = []

    def post(count: int) -> None:
        for _ in range(count):
            url = f"{service.url}/cds-services/her2-cns-patient-view"
            statuses.append(requests.post(url, json=hook, timeout=30).status_code)

    threads = [threading.Thread(target=post, args=(6,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    text = requests.get(f"{service.url}/metrics", timeout=10).text
    counted = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }

    assert statuses == [200] * 24
    key = ("cds_hook_requests_total", (("service", "her2-cns-patient-view"), ("status", "200")))
    assert counted[key] == 24  # whichever worker answered /metrics, and none of the warm-up
    writers = {path.stem.rsplit("_", 1)[-1] for path in directory.glob("counter_*.db")}
    assert len(writers) == 2, writers  # both workers counted some
