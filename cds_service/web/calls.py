"""Answer one service call: prefetch -> engine -> cards, with an audit record and timings."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from datetime import UTC, date, datetime

from cds_service.engine import Answer
from cds_service.feedback import AuditRecord
from cds_service.fhir.prefetch import resolve
from cds_service.observability import metrics
from cds_service.services import ServiceDefinition
from cds_service.web.auth import Caller
from cds_service.web.runtime import Runtime

log = logging.getLogger(__name__)


def answer_call(
    rt: Runtime,
    service: ServiceDefinition,
    request: Mapping,
    caller: Caller,
    today: date,
    base_url: str | None = None,
) -> dict[str, object]:
    """The response body for a validated hook request."""
    started = time.perf_counter()
    record = resolve(service, request, rt.settings, caller)
    resolved = time.perf_counter()
    answer = rt.engine.answer(
        service_id=service.id,
        hook=request["hook"],
        hook_instance=request["hookInstance"],
        context=request["context"],
        record=record,
        today=today,
        timeline_url=f"{base_url}/smart/launch" if base_url else None,
    )
    finished = time.perf_counter()
    timings = {
        "prefetch_ms": round((resolved - started) * 1000, 2),
        "engine_ms": round((finished - resolved) * 1000, 2),
    }
    log.info(
        "answered service=%s hookInstance=%s cards=%d rules=%s skipped=%d %s",
        service.id,
        request["hookInstance"],
        len(answer.cards),
        ",".join(rule for rule, _, _ in answer.card_rules) or "-",
        len(answer.record.skipped),
        " ".join(f"{k}={v}" for k, v in timings.items()),
    )
    _audit(rt, service, request, answer, timings)
    metrics.count_cards(answer.cards)
    return {"cards": answer.cards}


def _audit(
    rt: Runtime,
    service: ServiceDefinition,
    request: Mapping,
    answer: Answer,
    timings: Mapping[str, float],
) -> None:
    record = AuditRecord(
        at=datetime.now(UTC),
        service_id=service.id,
        hook=request["hook"],
        hook_instance=request["hookInstance"],
        patient_id=request["context"].get("patientId"),
        cards=answer.card_rules,
        knowledge_version=answer.knowledge_version,
        timings_ms=timings,
    )
    try:
        rt.feedback.record_audit(record)
    except Exception:  # an audit failure must not withhold advice from the clinician
        metrics.count_store_error("audit")
        log.exception("audit record failed for hookInstance=%s", record.hook_instance)
