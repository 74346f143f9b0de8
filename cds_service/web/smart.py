"""The SMART app behind the patient-view card: EHR launch, then the patient's CNS timeline."""

from __future__ import annotations

import functools
import logging
import re
import secrets
from dataclasses import replace
from html import escape
from typing import Any
from urllib.parse import quote

from fhirclient.client import FHIRClient
from flask import Blueprint, Flask, Response, current_app, redirect, request, url_for
from itsdangerous import BadSignature, URLSafeTimedSerializer
from werkzeug.wrappers import Response as BaseResponse

from cds_service.config import Settings
from cds_service.errors import FhirServerNotAllowed
from cds_service.fhir import budget
from cds_service.fhir.allowlist import Base, check_fhir_server
from cds_service.fhir.fetch import fetch_missing
from cds_service.fhir.record import parse_record, settle
from cds_service.services import SERVICES
from cds_service.state import derive
from cds_service.state.evidence import references
from cds_service.timeline import brain_mris, render_html
from cds_service.web.runtime import runtime

log = logging.getLogger(__name__)

smart_bp = Blueprint("smart", __name__, url_prefix="/smart")

CLIENT_ID_CONFIG = "SMART_CLIENT_ID"
DEFAULT_CLIENT_ID = "her2-cns-timeline"
# Read-only, this patient only: the record the timeline is drawn from.
SCOPE = "patient/*.read"
# The launch's OAuth state (no token) lives in a signed cookie between launch and callback, so any
# worker can take the callback. EHRs embed SMART apps in iframes: over https the cookie is
# SameSite=None and Partitioned, so the browser still sends it there.
_COOKIE = "cds_smart_launch"
_LAUNCH_SECONDS = 600
# The timeline is a page a clinician waits for, not a hook call: a more patient read timeout,
# and a deadline for all its reads together.
_READ_TIMEOUT = 10.0
_DEADLINE = 20.0
FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
# What the patient-view service prefetches, and the brain MRI reports the timeline also shows.
QUERIES = {
    **next(s for s in SERVICES if s.hook == "patient-view").prefetch,
    "diagnosticReports": "DiagnosticReport?patient={{context.patientId}}",
}
# The page is standalone: inline styles, nothing loaded from anywhere.
_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
    "Cache-Control": "no-store",
    # The callback URL carries the authorization code: never send it on as a Referer.
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


class LaunchError(Exception):
    """A launch that can't go on; the message is safe to show (no token, no patient data)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@smart_bp.record_once
def _need_a_session_key(state: Any) -> None:
    app: Flask = state.app
    if not app.secret_key:
        # Without a configured key a launch works only if its callback reaches this process.
        log.warning("no SECRET_KEY: SMART launches are signed with a per-process key")
        app.secret_key = secrets.token_bytes(32)


@smart_bp.errorhandler(LaunchError)
def _launch_error(error: LaunchError) -> Response:
    return _page("SMART launch failed", f"<p>{escape(error.message)}</p>", error.status)


@smart_bp.get("/launch")
def launch() -> BaseResponse:
    """EHR launch: `iss` must be allow-listed; then the user goes to the authorize endpoint."""
    settings = runtime().settings
    iss, launch_token = request.args.get("iss", ""), request.args.get("launch")
    if not launch_token:
        raise LaunchError("launch parameter missing: start the app from the EHR")
    base = _allowed(iss, settings)
    client = FHIRClient(
        settings={
            "app_id": current_app.config.get(CLIENT_ID_CONFIG, DEFAULT_CLIENT_ID),
            "api_base": iss,  # the SMART `aud` is the iss exactly as the EHR sent it
            "redirect_uri": _redirect_uri(settings),
            "launch_token": launch_token,
            "scope": SCOPE,
        }
    )
    _with_timeouts(client, settings)
    try:
        authorize_url = client.authorize_url  # reads the server's CapabilityStatement
    except Exception as exc:  # fhirclient raises bare Exception for every failure
        log.warning("SMART launch: no authorize endpoint from %s (%s)", base, type(exc).__name__)
        raise LaunchError("the EHR's FHIR server did not say where to authorize", 502) from None
    if not authorize_url:
        raise LaunchError("the EHR's FHIR server did not say where to authorize", 502)
    response = redirect(authorize_url, code=302)
    secure = request.is_secure
    response.set_cookie(
        _COOKIE,
        _signer().dumps(client.state),
        max_age=_LAUNCH_SECONDS,
        path=smart_bp.url_prefix,
        httponly=True,
        secure=secure,
        samesite="None" if secure else "Lax",
        partitioned=secure,
    )
    return response


@smart_bp.get("/timeline")
def timeline() -> Response:
    """The authorization redirect: exchange the code, read the record, draw the timeline."""
    rt = runtime()
    saved = _saved_launch()
    if not saved:
        raise LaunchError("no launch in progress here (expired, or already used): launch again")
    client = FHIRClient(state=saved)
    base = _allowed(client.server.base_uri, rt.settings)
    _with_timeouts(client, rt.settings)
    try:
        client.handle_callback(request.url)
    except Exception as exc:  # state mismatch, denied consent, token endpoint error: all bare
        log.warning("SMART callback rejected (%s)", type(exc).__name__)
        raise LaunchError("authorization failed: launch the app again from the EHR") from None
    if not isinstance(client.patient_id, str) or not FHIR_ID.fullmatch(client.patient_id):
        raise LaunchError("the EHR gave no usable patient id in the launch context")
    token = getattr(client.server.auth, "access_token", None)
    today = rt.clock()
    # The answers count against the FHIR memory budget until the record is built from them.
    with budget.answers_held():
        items, unavailable = _read_record(token, base, client.patient_id, rt.settings)
        record, state = settle(
            parse_record(items, unavailable), lambda r: derive(r, today), references
        )
    log.info("SMART timeline rendered (%d resources)", len(record.documents))
    response = _html(render_html(state, title="CNS history", mris=brain_mris(record)))
    response.delete_cookie(_COOKIE, path=smart_bp.url_prefix)
    return response


def _signer() -> URLSafeTimedSerializer:
    key = current_app.secret_key
    assert key, "set by _need_a_session_key when the blueprint is registered"
    return URLSafeTimedSerializer(key, salt="smart-launch")


def _saved_launch() -> dict[str, Any] | None:
    raw = request.cookies.get(_COOKIE)
    if not raw:
        return None
    try:
        saved = _signer().loads(raw, max_age=_LAUNCH_SECONDS)
    except BadSignature:  # tampered with, expired, or signed by another key
        return None
    return saved if isinstance(saved, dict) else None


def _allowed(iss: str, settings: Settings) -> Base:
    """The launch's FHIR server, only if the operator listed it: the token goes nowhere else."""
    try:
        return check_fhir_server(iss.rstrip("/"), settings)
    except FhirServerNotAllowed as exc:
        raise LaunchError(f"iss: {exc.message}", 403) from None


def _redirect_uri(settings: Settings) -> str:
    if settings.public_base_url:
        return settings.public_base_url.rstrip("/") + url_for("smart.timeline")
    return url_for("smart.timeline", _external=True)


def _with_timeouts(client: FHIRClient, settings: Settings) -> None:
    # fhirclient's session has no timeout: a stalled EHR must not hold a worker forever.
    http = client.server.session
    http.request = functools.partial(  # type: ignore[method-assign]
        http.request, timeout=(settings.fhir_connect_timeout, _READ_TIMEOUT)
    )


def _read_record(
    token: str | None, base: Base, patient_id: str, settings: Settings
) -> tuple[list[tuple[str, object]], set[str]]:
    """What the service would prefetch, read with the launch's token through the hook's own FHIR
    client (searches percent-encoded, answers size-checked within the memory budget, pages
    followed only on the server, another patient's data refused). A key that fails makes its
    resource type unavailable: the timeline then says it could not be obtained (unknown, not
    none)."""
    queries = {
        key: template.replace("{{context.patientId}}", quote(patient_id, safe=""))
        for key, template in QUERIES.items()
    }
    # A page a clinician waits for, not a hook call: more patient than the hook's deadline.
    patient = replace(settings, fhir_read_timeout=_READ_TIMEOUT, fhir_deadline=_DEADLINE)
    results = fetch_missing(
        fhir_server=str(base),
        fhir_authorization={"access_token": token} if token else None,
        queries=queries,
        settings=patient,
    )
    items: list[tuple[str, object]] = []
    unavailable: set[str] = set()
    for key, result in results.items():
        if result.ok:
            items += [(key, resource) for resource in result.resources]
        else:
            log.warning("SMART read %s failed: %s", key, result.error)
            unavailable.add(queries[key].split("?", 1)[0].split("/", 1)[0])
    return items, unavailable


def _html(body: str, status: int = 200) -> Response:
    return Response(body, status=status, mimetype="text/html", headers=_SECURITY_HEADERS)


def _page(title: str, content: str, status: int) -> Response:
    page = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f"</head><body><h1>{escape(title)}</h1>{content}</body></html>"
    )
    return _html(page, status)
