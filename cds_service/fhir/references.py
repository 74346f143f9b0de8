"""Who and what a FHIR resource is: its (type, id), and the patient it belongs to."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from urllib.parse import unquote


@lru_cache(maxsize=1024)  # a record names its patient the same way thousands of times
def patient_id(reference: str) -> str | None:
    """`Patient/123`, `https://ehr/fhir/Patient/123/_history/2` -> `123`; None if not a Patient."""
    # Split by hand, not urlsplit: it raises on e.g. `http://[` (client input: never a 500).
    segments = reference.partition("#")[0].partition("?")[0].split("/")
    for index in range(len(segments) - 1):
        if segments[index] == "Patient":
            return unquote(segments[index + 1])
    return None


def patient_of(resource: Mapping) -> str | None:
    """The id of the patient a resource is about (a Patient is about itself); None if it says not."""
    if resource.get("resourceType") == "Patient":
        value = resource.get("id")
        return value if isinstance(value, str) else None
    for field in ("subject", "patient"):
        reference = resource.get(field)
        target = reference.get("reference") if isinstance(reference, Mapping) else None
        if isinstance(target, str) and (found := patient_id(target)) is not None:
            return found
    return None


def identity(raw: object) -> tuple[str, str] | None:
    """(resourceType, id) of a JSON resource; None when either is missing."""
    if isinstance(raw, dict):
        resource_type, resource_id = raw.get("resourceType"), raw.get("id")
        if isinstance(resource_type, str) and isinstance(resource_id, str):
            return resource_type, resource_id
    return None
