"""The CDS Hooks endpoints: discovery, service calls, feedback, and a health check."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, Response, request

from cds_service import __version__
from cds_service.errors import BadRequest
from cds_service.services import SERVICES, find_service
from cds_service.web.auth import Caller
from cds_service.web.calls import answer_call
from cds_service.web.http import body_slot, json_response, read_json
from cds_service.web.runtime import runtime
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
        new = rt.feedback.record_feedback(service.id, body, received_at=datetime.now(UTC))
    return json_response({"new": new})


@bp.get("/health")
def health() -> Response:
    return json_response({"status": "ok", "version": __version__})
