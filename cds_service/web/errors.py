"""Every error becomes JSON `{"error": code, "message": ...}`; stack traces stay on the server."""

from __future__ import annotations

import logging

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from cds_service.errors import CdsError, PayloadTooLarge, Unauthorized
from cds_service.web.http import json_response

log = logging.getLogger(__name__)

_HTTP_CODES = {
    400: "bad-request",
    404: "not-found",
    405: "method-not-allowed",
    413: PayloadTooLarge.code,
}


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(CdsError, _cds_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)


def _cds_error(error: CdsError) -> Response:
    if isinstance(error, Unauthorized):
        # The authenticator has logged the reason; the caller learns nothing it could probe with.
        response = json_response(error.to_json(), error.status)
        response.headers["WWW-Authenticate"] = "Bearer"
        return response
    if error.status >= 500:
        log.error("%s on %s %s: %s", error.status, request.method, request.path, error.code)
    return json_response(error.to_json(), error.status)


def _http_error(error: HTTPException) -> Response:
    status = error.code or 500
    code = _HTTP_CODES.get(status, f"http-{status}")
    response = json_response({"error": code, "message": error.description or code}, status)
    for name, value in error.get_headers():
        if name.lower() != "content-type":  # keeps e.g. Allow on 405
            response.headers[name] = value
    return response


def _unexpected(error: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.path)
    return json_response(CdsError().to_json(), 500)
