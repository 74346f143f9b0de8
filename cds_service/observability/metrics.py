"""Prometheus metrics (GET /metrics), correct across gunicorn workers.

`cds-service serve` points PROMETHEUS_MULTIPROC_DIR at a fresh directory before the app is built:
each worker then writes its counts to its own files there, and /metrics, whichever worker answers
it, sums them all (prometheus-client's multiprocess mode). Without it (tests, `flask run`) the
counts live in this process. prometheus_client is imported only when the metrics are first built,
because it chooses between the two modes when it is imported.

Every label takes values from a closed set (service ids, rule ids, indicators, prefetch keys,
HTTP statuses): nothing a caller sends can add a time series."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, g, request

from cds_service.services import SERVICES

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
_SERVICE_IDS = frozenset(s.id for s in SERVICES)
# Hook latency buckets (seconds): the hook budget is well under a second, the FHIR deadline 1.5 s.
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0)


@dataclass(frozen=True)
class _Metrics:
    registry: Any
    hooks: Any
    hook_seconds: Any
    cards: Any
    fhir_fetches: Any
    store_errors: Any
    audit_spooled: Any
    feedback_requests: Any
    feedback_items: Any


_metrics: _Metrics | None = None
# Set while the warm-up posts its synthetic hooks: they are not traffic.
_suppressed = False


def _build() -> _Metrics:
    global _metrics
    if _metrics is None:
        from prometheus_client import CollectorRegistry, Counter, Histogram

        registry = CollectorRegistry(auto_describe=True)

        def counter(name: str, doc: str, labels: tuple[str, ...]) -> Any:
            return Counter(name, doc, labels, registry=registry)

        _metrics = _Metrics(
            registry=registry,
            hooks=counter(
                "cds_hook_requests",
                "Hook calls answered, by service and HTTP status",
                ("service", "status"),
            ),
            hook_seconds=Histogram(
                "cds_hook_duration_seconds",
                "Time to answer a hook call, by service",
                ("service",),
                buckets=_LATENCY_BUCKETS,
                registry=registry,
            ),
            cards=counter(
                "cds_cards", "Cards returned, by rule and indicator", ("rule", "indicator")
            ),
            fhir_fetches=counter(
                "cds_fhir_fetches",
                "FHIR fetches of a prefetch key, by key and outcome",
                ("key", "outcome"),
            ),
            store_errors=counter(
                "cds_store_errors", "Feedback/audit store operations that failed", ("operation",)
            ),
            audit_spooled=counter(
                "cds_audit_spooled_rows",
                "Audit rows spooled to local disk (store unavailable)",
                ("state",),
            ),
            feedback_requests=counter(
                "cds_feedback_requests", "Feedback requests, by HTTP status", ("status",)
            ),
            feedback_items=counter(
                "cds_feedback_items", "Feedback items stored, by outcome", ("outcome",)
            ),
        )
    return _metrics


@contextmanager
def suppressed() -> Iterator[None]:
    """Nothing is counted inside (the warm-up's synthetic hooks)."""
    global _suppressed
    before, _suppressed = _suppressed, True
    try:
        yield
    finally:
        _suppressed = before


def _counting() -> _Metrics | None:
    return None if _suppressed else _build()


def count_cards(cards: list[dict[str, Any]]) -> None:
    from cds_service.cards import rule_id_of  # here: cards imports the knowledge base

    if (m := _counting()) is not None:
        for card in cards:
            m.cards.labels(rule_id_of(card) or "unknown", card.get("indicator", "unknown")).inc()


def count_fetches(outcomes: Mapping[str, bool]) -> None:
    """One count per prefetch key fetched from the FHIR server: ok or failed."""
    if (m := _counting()) is not None:
        for key, ok in outcomes.items():
            m.fhir_fetches.labels(key, "ok" if ok else "failed").inc()


def count_store_error(operation: str) -> None:
    if (m := _counting()) is not None:
        m.store_errors.labels(operation).inc()


def count_audit_spooled(state: str, rows: int = 1) -> None:
    """For the store's spool: state "spooled" when a row goes to disk, "flushed" when written."""
    if (m := _counting()) is not None:
        m.audit_spooled.labels(state).inc(rows)


def count_feedback_items(outcomes: list[str]) -> None:
    if (m := _counting()) is not None:
        for outcome in outcomes:
            m.feedback_items.labels(
                outcome if outcome in ("accepted", "overridden") else "other"
            ).inc()


def install(app: Flask) -> None:
    """Time and count every hook and feedback call, and serve GET /metrics."""
    _build()
    app.before_request(_start_timer)
    app.after_request(_count_request)
    app.add_url_rule("/metrics", "metrics", _exposition, methods=["GET"])


def _start_timer() -> None:
    g.cds_started = time.perf_counter()


def _count_request(response: Response) -> Response:
    m = _counting()
    rule = request.url_rule.rule if request.url_rule is not None else None
    if m is None or rule is None or request.method != "POST":
        return response
    service_id = (request.view_args or {}).get("service_id")
    service = service_id if service_id in _SERVICE_IDS else "unknown"
    status = str(response.status_code)
    if rule == "/cds-services/<service_id>":
        m.hooks.labels(service, status).inc()
        started = g.get("cds_started")
        if started is not None:
            m.hook_seconds.labels(service).observe(time.perf_counter() - started)
    elif rule == "/cds-services/<service_id>/feedback":
        m.feedback_requests.labels(status).inc()
    return response


def _exposition() -> Response:
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
    from prometheus_client.multiprocess import MultiProcessCollector

    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    else:
        registry = _build().registry
    return Response(generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST})


def prepare_multiprocess_dir(path: str) -> None:
    """Empty the directory the workers will write to (counts of a previous run must not add)."""
    os.makedirs(path, exist_ok=True)
    for name in os.listdir(path):
        if name.endswith(".db"):
            os.remove(os.path.join(path, name))


def worker_exited(pid: int) -> None:
    """gunicorn child_exit: drop the dead worker's live gauges (counters are kept)."""
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)
