"""Log lines that carry no patient data and cannot be forged, as text or as one JSON object each.

Every line passes through `SafeFormatter`: query strings are removed, FHIR references (`Condition/abc`) become a keyed hash
(`Condition/#3f2a...`, the first 16 hex digits of the audit's hash of the id), control characters
are escaped, and the request id of the request being served is attached. gunicorn's own lines and
its access lines go through the same formatter (see `GunicornLogger`)."""

from __future__ import annotations

import contextvars
import hashlib
import hmac
import json
import logging
import re
import secrets
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from gunicorn.glogging import Logger as _GunicornBaseLogger

from cds_service.config import LOG_FORMATS

# The id of the request being served in this thread (set by RequestIdMiddleware).
request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)

ENVIRON_KEY = "cds.request_id"
REQUEST_ID_HEADER = "X-Request-Id"
# A caller's own request id is kept only if it is this plain (else a fresh one is made).
_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")

# `Type/id`: a FHIR resource type (CamelCase) and a FHIR id (1-64 of [A-Za-z0-9-.]).
_REFERENCE = re.compile(r"\b([A-Z][a-z]+(?:[A-Z][a-z]+)*)/([A-Za-z0-9.\-]{1,64})")
# A query string (`?name=value...`): it can carry a token, a SMART code or a patient id.
_QUERY = re.compile(r"\?[A-Za-z_][A-Za-z0-9_.:\-]*=[^\s\"'<>]*")
# C0 and C1 controls, DEL, and the Unicode line and paragraph separators.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")

_random_key = secrets.token_bytes(32)


def _random_keyed_hash(identifier: str) -> str:
    return hmac.new(_random_key, identifier.encode("utf-8"), hashlib.sha256).hexdigest()


# Hashes ids with the store's audit key once the app has it (`use_hasher`); until then with a
# per-process random key, so that an id never reaches a log line in clear.
_hasher: Callable[[str], str | None] = _random_keyed_hash


def use_hasher(hasher: Callable[[str], str | None]) -> None:
    """Hash ids in log lines as the audit does (FeedbackStore.patient_hash): an auditor can match
    a line's hash with the audit's by its first 16 hex digits."""
    global _hasher
    _hasher = hasher


def id_hash(identifier: str) -> str:
    """The first 16 hex digits of the audit's keyed hash of `identifier`."""
    return (_hasher(identifier) or "")[:16]


def _hash_reference(match: re.Match[str]) -> str:
    return f"{match.group(1)}/#{id_hash(match.group(2))}"


def _escape_control(match: re.Match[str]) -> str:
    char = match.group(0)
    return {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(char, f"\\u{ord(char):04x}")


def scrub(text: str) -> str:
    """`text` with query strings removed, FHIR references hashed and control characters escaped
    (one physical line)."""
    text = _QUERY.sub("?(query removed)", text)
    return _CONTROL.sub(_escape_control, _REFERENCE.sub(_hash_reference, text))


class SafeFormatter(logging.Formatter):
    """Text (`time level logger [request id]: message`) or JSON (one object per line)."""

    def __init__(self, fmt: str = "text") -> None:
        super().__init__()
        if fmt not in LOG_FORMATS:
            raise ValueError(f"log format must be one of {', '.join(LOG_FORMATS)}")
        self.json = fmt == "json"

    def format(self, record: logging.LogRecord) -> str:
        message = scrub(record.getMessage())
        if record.exc_info:
            # Exception text can quote data (an SQL error its parameters): only its type and
            # where it was raised are kept, one line.
            message += " | " + scrub(_exception_summary(record.exc_info))
        rid = getattr(record, "request_id", None) or request_id.get()
        fields: dict[str, Any] = getattr(record, "fields", None) or {}
        when = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        when += f".{int(record.msecs):03d}Z"
        if self.json:
            entry: dict[str, Any] = {
                "time": when,
                "level": record.levelname,
                "logger": record.name,
                "message": message,
            }
            if rid:
                entry["request_id"] = scrub(rid)
            entry.update({k: _json_safe(v) for k, v in fields.items()})
            return json.dumps(entry, ensure_ascii=True)
        # Text lines carry the fields in their message already (the access line's, for one).
        tag = f" [{scrub(rid)}]" if rid else ""
        return f"{when} {record.levelname} {record.name}{tag}: {message}"


def _json_safe(value: object) -> object:
    if isinstance(value, (int, float, bool)) or value is None:
        return value
    return scrub(str(value))


def _exception_summary(exc_info: Any) -> str:
    """The exception's type and the code locations it passed through, innermost first."""
    kind, _, tb = exc_info
    frames: list[str] = []
    while tb is not None:
        code = tb.tb_frame.f_code
        frames.append(f"{code.co_filename.rsplit('/', 1)[-1]}:{tb.tb_lineno} {code.co_name}")
        tb = tb.tb_next
    name = f"{getattr(kind, '__module__', '')}.{getattr(kind, '__qualname__', kind)}"
    return f"{name} at {' < '.join(reversed(frames)) or '?'}"


def configure(level: str, fmt: str) -> None:
    """Route every logger through one stderr handler with the safe formatter."""
    handler = logging.StreamHandler()
    handler.setFormatter(SafeFormatter(fmt))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())


class RequestIdMiddleware:
    """WSGI: gives each request an id (the caller's X-Request-Id if plain, else a new one), sets
    it for the log lines written while serving it, keeps it in the environ for the access line,
    and returns it in the X-Request-Id response header."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        given = environ.get("HTTP_X_REQUEST_ID", "")
        rid = given if _SAFE_REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        environ[ENVIRON_KEY] = rid
        token = request_id.set(rid)

        def start(status: str, headers: list[tuple[str, str]], *args: Any) -> Any:
            headers = [(k, v) for k, v in headers if k.lower() != "x-request-id"]
            return start_response(status, [*headers, (REQUEST_ID_HEADER, rid)], *args)

        try:
            return self.app(environ, start)
        finally:
            request_id.reset(token)


class GunicornLogger(_GunicornBaseLogger):  # type: ignore[misc]  # gunicorn ships no type hints
    """gunicorn's error and access logs through SafeFormatter. The access line holds the method,
    the path without its query string (tokens, SMART codes), the status, the size, the time and
    the request id: never a header, a body or a query."""

    format_name = "text"  # set by `cds-service serve` before gunicorn starts

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        formatter = SafeFormatter(self.format_name)
        for logger in (self.error_log, self.access_log):
            for handler in logger.handlers:
                handler.setFormatter(formatter)

    def access(self, resp: Any, req: Any, environ: Mapping[str, Any], request_time: Any) -> None:
        if not (self.cfg.accesslog or self.cfg.logconfig or self.cfg.syslog):
            return
        status = str(getattr(resp, "status", "") or "").split(" ", 1)[0]
        duration_ms = round(request_time.total_seconds() * 1000, 1)
        fields = {
            "method": environ.get("REQUEST_METHOD", "-"),
            "path": environ.get("PATH_INFO", "-"),
            "status": int(status) if status.isdigit() else status,
            "bytes": getattr(resp, "sent", None),
            "duration_ms": duration_ms,
        }
        message = f"{fields['method']} {fields['path']} {fields['status']} {duration_ms}ms"
        self.access_log.info(
            message, extra={"fields": fields, "request_id": environ.get(ENVIRON_KEY)}
        )
