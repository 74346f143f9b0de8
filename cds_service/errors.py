"""One small exception tree; each error carries an HTTP status and a stable code.

    CdsError                      500 internal-error
    ├── BadRequest                400 bad-request        malformed JSON, broken CDS Hooks contract
    ├── Unauthorized              401 unauthorized       JWT missing or invalid (no detail to caller)
    ├── UnknownService            404 unknown-service
    ├── RequestTimeout            408 request-timeout    body not sent in time
    ├── PayloadTooLarge           413 payload-too-large
    ├── UnsupportedMediaType      415 unsupported-media-type  body not declared as JSON
    ├── PreconditionFailed        412 prefetch-unavailable  required data can't be had
    ├── FhirServerNotAllowed      412 fhir-server-not-allowed  fhirServer outside the allow-list
    ├── FhirFetchError            502 fhir-fetch-failed  translated by the FHIR client; callers decide
    └── StoreUnavailable          503 store-unavailable  the feedback store can't take a write now
    ConfigError                   (start-up only) bad settings, clients file or knowledge base

Clients get `{"error": code, "message": ...}`; never a stack trace.
"""

from __future__ import annotations


class CdsError(Exception):
    """Base of errors that become an HTTP response."""

    status = 500
    code = "internal-error"

    def __init__(self, message: str = "internal error") -> None:
        super().__init__(message)
        self.message = message

    def to_json(self) -> dict[str, str]:
        return {"error": self.code, "message": self.message}


class BadRequest(CdsError):
    status = 400
    code = "bad-request"


class Unauthorized(CdsError):
    status = 401
    code = "unauthorized"

    def __init__(self, reason: str = "unauthorized") -> None:
        # The reason is for the log only; the caller never sees it (CDS Hooks best practice).
        super().__init__(reason)
        self.reason = reason

    def to_json(self) -> dict[str, str]:
        return {"error": self.code, "message": "unauthorized"}


class UnknownService(CdsError):
    status = 404
    code = "unknown-service"


class PayloadTooLarge(CdsError):
    status = 413
    code = "payload-too-large"


class RequestTimeout(CdsError):
    status = 408
    code = "request-timeout"


class UnsupportedMediaType(CdsError):
    status = 415
    code = "unsupported-media-type"


class PreconditionFailed(CdsError):
    status = 412
    code = "prefetch-unavailable"


class FhirServerNotAllowed(PreconditionFailed):
    code = "fhir-server-not-allowed"


class FhirFetchError(CdsError):
    """A FHIR query failed; `reason` is safe to show (never contains a token)."""

    status = 502
    code = "fhir-fetch-failed"

    def __init__(self, reason: str, *, http_status: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.http_status = http_status


class ConfigError(Exception):
    """Bad configuration found at start-up; the service refuses to start."""


class StoreUnavailable(CdsError):
    """The store did not answer within its timeout (down, locked, unreadable or out of date)."""

    status = 503
    code = "store-unavailable"
