"""Check a hook request against the schema and the contract rules the schema can't express."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import cast

from cds_service.errors import BadRequest
from cds_service.fhir.prefetch import draft_order_keys
from cds_service.schemas import first_error, is_valid, validator
from cds_service.services import AS_OF_EXTENSION, ServiceDefinition


def validate_hook_request(service: ServiceDefinition, body: object) -> Mapping:
    """The request, if a well-formed call of this service; else BadRequest naming the field."""
    # The wrong hook first: then its context is judged by the wrong hook's rules anyway.
    hook = body.get("hook") if isinstance(body, dict) else None
    if isinstance(hook, str) and hook != service.hook:
        raise BadRequest(
            f"hook: {hook[:60]!r} does not match service {service.id!r}, "
            f"which answers {service.hook!r}"
        )
    # The quick verdict first; jsonschema's walk for the message only when there is one to give.
    if not is_valid("hook-request", body):
        error = first_error(validator("hook-request"), body)
        if error is not None:
            raise BadRequest(error)
    request = cast(Mapping, body)  # the schema guarantees an object
    for check in (_selections_in_draft_orders, _authorized_patient, _prefetch_shape):
        problem = check(service, request)
        if problem is not None:
            raise BadRequest(problem)
    return request


def _selections_in_draft_orders(service: ServiceDefinition, body: Mapping) -> str | None:
    context = body["context"]
    selections = context.get("selections")
    if not isinstance(selections, list):
        return None
    drafts = {
        f"{resource_type}/{resource_id}" for resource_type, resource_id in draft_order_keys(context)
    }
    for index, selection in enumerate(selections):
        if selection not in drafts:
            return f"context.selections[{index}]: {selection!r} is not in draftOrders"
    return None


def _authorized_patient(service: ServiceDefinition, body: Mapping) -> str | None:
    patient = (body.get("fhirAuthorization") or {}).get("patient")
    if patient is not None and patient != body["context"].get("patientId"):
        return "fhirAuthorization.patient: does not match context.patientId"
    return None


def _prefetch_shape(service: ServiceDefinition, body: Mapping) -> str | None:
    prefetch = body.get("prefetch") or {}
    for key in service.prefetch:
        value = prefetch.get(key)
        if value is not None and not isinstance(value, dict):
            return (
                f"prefetch.{key}: expected a FHIR resource, a Bundle, an OperationOutcome or null"
            )
    return None


def as_of_date(body: Mapping, default: date) -> date:
    """`today` pinned by the request's extension (honoured only when the clock override is on)."""
    raw = (body.get("extension") or {}).get(AS_OF_EXTENSION)
    if raw is None:
        return default
    if isinstance(raw, str):
        try:
            return date.fromisoformat(raw)
        except ValueError:
            pass
    raise BadRequest(f'extension["{AS_OF_EXTENSION}"]: expected an ISO date such as 2026-11-23')
