"""The CDS Hooks endpoints: discovery, service calls, feedback, and health (live and ready)."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, Response, request

from cds_service import __version__
from cds_service.errors import BadRequest, CdsError
from cds_service.observability import metrics
from cds_service.services import SERVICES, find_service
from cds_service.web.auth import Caller
from cds_service.web.calls import answer_call
from cds_service.web.http import body_slot, json_response, read_json
from cds_service.web.replays import claim_token
from cds_service.web.runtime import Runtime, runtime
from cds_service.web.validation import as_of_date, validate_hook_request

bp = Blueprint("cds", __name__)


def _caller() -> Caller:
    return runtime().authenticator.authenticate(request.headers.get("Authorization"), request.url)


@bp.get("/cds-services")
def discovery() -> Response:
    return json_response({"services": [service.discovery() for service in SERVICES]})


@bp.post("/cds-services/<service_id>")
def call_service(service_id: str) -> Response:
    rt = runtime()
    caller = _caller()
    service = find_service(service_id)
    with body_slot(request):
        body = read_json(request, rt.settings.max_body_bytes)
        hook_request = validate_hook_request(service, body)
        today = rt.clock()
        if rt.settings.clock_override:
            today = as_of_date(hook_request, today)
        # Where this service is reached: the public URL behind a proxy, else the URL called.
        base_url = rt.settings.public_base_url or request.host_url
        answer = answer_call(rt, service, hook_request, caller, today, base_url.rstrip("/"))
        del body, hook_request  # the parsed record goes before the next large body comes in
    claim_token(rt.authenticator.replays)
    return json_response(answer)


@bp.post("/cds-services/<service_id>/feedback")
def feedback(service_id: str) -> Response:
    rt = runtime()
    _caller()
    service = find_service(service_id)
    with body_slot(request):
        body = read_json(request, rt.settings.max_body_bytes)
        if not isinstance(body, dict):
            raise BadRequest("body: expected a JSON object with a feedback array")
        claim_token(rt.authenticator.replays)
        try:
            new = rt.feedback.record_feedback(service.id, body, received_at=datetime.now(UTC))
        except CdsError:
            raise
        except Exception:
            metrics.count_store_error("feedback")
            raise
    items = body.get("feedback")
    metrics.count_feedback_items(
        [str(item.get("outcome")) for item in items if isinstance(item, dict)]
        if isinstance(items, list)
        else []
    )
    return json_response({"new": new})


@bp.get("/health")
def health() -> Response:
    """Kept for load balancers configured before /health/live and /health/ready."""
    return json_response({"status": "ok", "version": __version__})


@bp.get("/health/live")
def live() -> Response:
    """The process answers: restart it if not. Touches nothing else (a slow store must not get
    a healthy replica restarted)."""
    return json_response({"status": "ok", "version": __version__})


@bp.get("/health/ready")
def ready() -> Response:
    """Can answer hooks as intended: the store takes audit rows and feedback, and the knowledge
    base is loaded. 503 names each part that is not ready; the proxy then sends traffic elsewhere."""
    rt = runtime()
    problems = {}
    store_problem = _store_problem(rt)
    if store_problem:
        problems["store"] = store_problem
    if not rt.engine.knowledge.rules:
        problems["knowledge"] = "no rules loaded"
    if problems:
        return json_response(
            {
                "status": "not ready",
                "error": "not-ready",
                "message": "not ready: " + "; ".join(f"{k}: {v}" for k, v in problems.items()),
                "problems": problems,
            },
            503,
        )
    return json_response(
        {"status": "ready", "version": __version__, "knowledge": rt.engine.knowledge.version}
    )


def _store_problem(rt: Runtime) -> str | None:
    """What is wrong with the store, or None (FeedbackStore.check() never raises); said once
    under the "store" heading ("store: unavailable: ...", not "store: store unavailable")."""
    problem = rt.feedback.check()
    if problem is not None:
        metrics.count_store_error("ready")
        return problem.removeprefix("store ")
    return None
