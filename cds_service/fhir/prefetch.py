"""Resolve prefetch: use what was sent, fetch what was left out, 412 when required data lacks."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING
from urllib.parse import quote

from cds_service.config import Settings
from cds_service.errors import FhirFetchError, FhirServerNotAllowed, PreconditionFailed
from cds_service.fhir import budget
from cds_service.fhir.fetch import Fetched, fetch_missing
from cds_service.fhir.record import PatientRecord, Skipped, parse_record
from cds_service.fhir.references import identity, patient_of
from cds_service.services import ServiceDefinition

if TYPE_CHECKING:  # the web layer imports this module; Caller is only a parameter type here
    from cds_service.web.auth import Caller

log = logging.getLogger(__name__)

_ABSENT = object()
_TOKEN = re.compile(r"\{\{\s*([^{}]+?)\s*\}\}")
# CDS Hooks 2.0 user tokens: the id part of context.userId when it is of that resource type.
_USER_TOKENS = {
    "userPractitionerId": "Practitioner",
    "userPractitionerRoleId": "PractitionerRole",
    "userPatientId": "Patient",
    "userRelatedPersonId": "RelatedPerson",
}


def resolve(
    service: ServiceDefinition, request: Mapping, settings: Settings, caller: Caller
) -> PatientRecord:
    """The patient's record from prefetch and the FHIR server; raises PreconditionFailed (412)."""
    # Fetched answers count against the memory budget until the record is built from them.
    with budget.answers_held():
        return _resolve(service, request, settings, caller)


def _resolve(
    service: ServiceDefinition, request: Mapping, settings: Settings, caller: Caller
) -> PatientRecord:
    context = request.get("context") or {}
    prefetch = request.get("prefetch") or {}
    items: list[tuple[str, object]] = []
    missing: dict[str, str] = {}  # key -> why the client did not give it
    first_pages: dict[str, list[object]] = {}
    for key in service.prefetch:
        value = prefetch.get(key, _ABSENT)
        if value is _ABSENT:
            missing[key] = "not in prefetch"
        elif value is None:
            continue  # the client had no data: an answer, not a gap
        elif _is_outcome(value):
            missing[key] = "the client could not get it (OperationOutcome)"
        elif (unreadable := _unreadable(service, key, value)) is not None:
            # Unknown, never none: read as an empty record, a malformed value once made
            # "no brain MRI on record" out of a key nobody could read.
            missing[key] = f"the prefetch value is unreadable ({unreadable})"
        elif _has_next_page(value):
            # Paginated prefetch (allowed since CDS Hooks 2.0): the first page alone could read
            # as "none recorded", so the whole search is fetched; if it can't be, the page is
            # kept and its resource type counts as unavailable (absence stays unknown).
            missing[key] = "prefetch is paginated"
            first_pages[key] = list(_resources(value))
        else:
            items.extend((key, resource) for resource in _resources(value))
    failures: dict[str, str] = {}
    if missing:
        fetched, failures = _fetch(service, request, context, missing, settings, caller)
        for key, result in fetched.items():
            items.extend((key, resource) for resource in result.resources)
        for key in failures:
            items.extend((key, resource) for resource in first_pages.get(key, ()))
    drafts = draft_order_keys(context)
    ours, others = _split_by_patient(
        [(source, raw) for source, raw in items if identity(raw) not in drafts],
        context.get("patientId"),
    )
    record = parse_record(ours, unavailable={service.resource_type(key) for key in failures})
    return replace(record, skipped=record.skipped + others) if others else record


def _split_by_patient(
    items: list[tuple[str, object]], patient: object
) -> tuple[list[tuple[str, object]], tuple[Skipped, ...]]:
    """Keep what belongs to the patient in context; another patient's data is never read as theirs."""
    ours: list[tuple[str, object]] = []
    others: list[Skipped] = []
    for source, raw in items:
        owner = patient_of(raw) if isinstance(raw, (dict, Mapping)) else None
        if owner is None or owner == patient:
            ours.append((source, raw))
            continue
        resource_type, resource_id = identity(raw) or (None, None)
        skipped = Skipped(source, resource_type, resource_id, "belongs to another patient")
        log.warning("%s", skipped.describe())
        others.append(skipped)
    return ours, tuple(others)


def _unreadable(service: ServiceDefinition, key: str, value: object) -> str | None:
    """Why a prefetch value is not the answer to its query (a resource, or a Bundle with an entry
    list); None when it is. Bad entries inside a readable Bundle are skipped one by one, later."""
    if not isinstance(value, dict):
        return "is not a JSON object"
    found = value.get("resourceType")
    if not isinstance(found, str) or not found:
        return "has no resourceType: it is neither a FHIR resource nor a Bundle"
    if found == "Bundle":
        entries = value.get("entry")
        return (
            None
            if entries is None or isinstance(entries, list)
            else "is a Bundle whose entry is not a list"
        )
    expected = service.resource_type(key)
    if "?" in service.prefetch[key]:
        return f"is a {found[:40]!r}, not the searchset Bundle a {expected} search answers with"
    return None if found == expected else f"is a {found[:40]!r}, not a {expected}"


def _has_next_page(value: object) -> bool:
    links = value.get("link") if isinstance(value, dict) else None
    return isinstance(links, list) and any(
        isinstance(link, dict) and link.get("relation") == "next" for link in links
    )


def _is_outcome(value: object) -> bool:
    return isinstance(value, dict) and value.get("resourceType") == "OperationOutcome"


def _resources(value: object) -> Iterator[object]:
    """A searchset Bundle's entries (empty or not), or the one resource sent."""
    if isinstance(value, dict) and value.get("resourceType") == "Bundle":
        entries = value.get("entry")
        for entry in entries if isinstance(entries, list) else ():
            if isinstance(entry, dict) and "resource" in entry:
                yield entry["resource"]
            else:
                yield entry  # reported as skipped by parse_record
    else:
        yield value


def _fetch(
    service: ServiceDefinition,
    request: Mapping,
    context: Mapping,
    missing: Mapping[str, str],
    settings: Settings,
    caller: Caller,
) -> tuple[dict[str, Fetched], dict[str, str]]:
    """Fetch missing keys when a fhirServer was given; (fetched, key -> why it is unavailable)."""
    fhir_server: str | None = request.get("fhirServer")
    failures: dict[str, str] = {}
    queries: dict[str, str] = {}
    for key, why in missing.items():
        query = substitute(service.prefetch[key], context)
        if not fhir_server:
            failures[key] = f"{why} and no fhirServer to fetch from"
        elif query is None:
            failures[key] = f"{why} and its query needs a token the context lacks"
        else:
            queries[key] = query
    fetched: dict[str, Fetched] = {}
    if queries and fhir_server:
        try:
            fetched = fetch_missing(
                fhir_server=fhir_server,
                fhir_authorization=request.get("fhirAuthorization"),
                queries=queries,
                settings=settings,
                allowed_servers=caller.fhir_servers,
            )
        except FhirServerNotAllowed as refused:
            needed = sorted(k for k in queries if k in service.required)
            if needed:
                raise FhirServerNotAllowed(
                    f"required data unavailable: {', '.join(needed)} "
                    f"(not in prefetch, and {refused.message})"
                ) from None
            failures.update({k: "fhirServer is not on the allow-list" for k in queries})
            fetched = {}
        except FhirFetchError as exc:
            failures.update({k: f"fetch failed: {exc.reason}" for k in queries})
            fetched = {}
        for key in queries:
            result = fetched.get(key)
            if result is None or not result.ok:
                failures.setdefault(key, f"fetch failed: {result.error if result else 'no answer'}")
        fetched = {k: v for k, v in fetched.items() if v.ok}
    _raise_if_required(service, failures)
    if failures:
        log.info(
            "optional prefetch unavailable, read as unknown: %s",
            "; ".join(f"{key} ({why})" for key, why in failures.items()),
        )
    return fetched, failures


def _raise_if_required(service: ServiceDefinition, failures: Mapping[str, str]) -> None:
    needed = sorted(k for k in failures if k in service.required)
    if needed:
        reasons = "; ".join(f"{k} ({service.resource_type(k)}): {failures[k]}" for k in needed)
        raise PreconditionFailed(f"required data unavailable: {reasons}")


def substitute(template: str, context: Mapping) -> str | None:
    """The template with its tokens filled from the context; None when a token has no value."""
    unresolved = False

    def value(match: re.Match[str]) -> str:
        nonlocal unresolved
        found = _token_value(match.group(1), context)
        if found is None:
            unresolved = True
            return ""
        return quote(found, safe="")

    query = _TOKEN.sub(value, template)
    return None if unresolved else query


def _token_value(token: str, context: Mapping) -> str | None:
    if token.startswith("context."):
        found = context.get(token.removeprefix("context."))
        return found if isinstance(found, str) and found else None
    resource_type = _USER_TOKENS.get(token)
    user = context.get("userId")
    if resource_type and isinstance(user, str) and user.startswith(f"{resource_type}/"):
        return user.removeprefix(f"{resource_type}/") or None
    return None


def draft_order_keys(context: Mapping) -> frozenset[tuple[str, str]]:
    """(type, id) of this session's draft orders: the derivation reads them from the context."""
    bundle = context.get("draftOrders")
    entries = bundle.get("entry") if isinstance(bundle, dict) else None
    keys = (identity(e.get("resource")) for e in entries or () if isinstance(e, dict))
    return frozenset(k for k in keys if k is not None)
