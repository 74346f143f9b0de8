"""Parse FHIR JSON into R4B models; a malformed resource is skipped and reported, never fatal."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from pydantic import ValidationError

from cds_service.fhir.models import MODEL_CLASSES, FHIRResourceModel

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Skipped:
    """A resource we could not use, and why (field paths and error types only: no values or PHI)."""

    source: str  # prefetch key or query the resource came from
    resource_type: str | None
    resource_id: str | None
    reason: str

    def describe(self) -> str:
        what = f"{self.resource_type or 'resource'}/{self.resource_id or '?'}"
        return f"{what} from {self.source} skipped: {self.reason}"


@dataclass(frozen=True, slots=True)
class PatientRecord:
    """The patient's resources as R4B models, in the order received, duplicates removed."""

    resources: tuple[FHIRResourceModel, ...]
    skipped: tuple[Skipped, ...] = ()
    # Resource types we could not obtain at all (prefetch key absent and no fetch possible).
    # Facts drawn from them are UNKNOWN, never "none recorded".
    unavailable: frozenset[str] = frozenset()
    # Resources read after a narrow, logged repair (see _single_value).
    repaired: tuple[str, ...] = ()
    # The JSON each resource was validated from, in the same order as `resources`. The
    # derivation reads these: dumping the models back to JSON would cost more than validating.
    documents: tuple[dict, ...] = ()

    def json_pairs(self) -> Iterator[tuple[FHIRResourceModel, dict]]:
        """Each model with its JSON (dumped from the model where the JSON was not kept)."""
        if len(self.documents) == len(self.resources):
            yield from zip(self.resources, self.documents, strict=True)
        else:
            for model in self.resources:
                yield model, model.model_dump(mode="json", exclude_none=True)

    def of_type(self, resource_type: str) -> tuple[FHIRResourceModel, ...]:
        return tuple(r for r in self.resources if r.get_resource_type() == resource_type)


def _reason(error: ValidationError) -> str:
    parts = []
    for item in error.errors(include_input=False, include_url=False)[:3]:
        location = ".".join(str(p) for p in item.get("loc", ()))
        parts.append(f"{location or 'resource'}: {item.get('type', 'invalid')}")
    more = error.error_count() - len(parts)
    return "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")


def parse_resource(source: str, raw: object) -> FHIRResourceModel | Skipped | None:
    """One JSON resource -> model; Skipped when malformed; None for types we do not read."""
    if not isinstance(raw, dict):
        return Skipped(source, None, None, "not a JSON object")
    resource_type = raw.get("resourceType")
    resource_id = raw.get("id") if isinstance(raw.get("id"), str) else None
    if not isinstance(resource_type, str):
        return Skipped(source, None, resource_id, "no resourceType")
    model = MODEL_CLASSES.get(resource_type)
    if model is None:
        return None
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        return Skipped(source, resource_type, resource_id, _reason(exc))
    except RecursionError:  # only a resource nested far deeper than any real one
        return Skipped(source, resource_type, resource_id, "nested too deeply")
    except (TypeError, ValueError) as exc:  # fhir_core raises these for some malformed input
        return Skipped(source, resource_type, resource_id, type(exc).__name__)


# Real EHR exports sometimes carry two value[x] choices on one Observation (a coded "Positive"
# beside "valueQuantity 3"), which FHIR forbids. The coded interpretation is kept; the rest is
# dropped and the repair reported, rather than losing the whole result.
_VALUE_PRIORITY = (
    "valueCodeableConcept",
    "valueQuantity",
    "valueString",
    "valueBoolean",
    "valueInteger",
)


def _single_value(raw: object) -> tuple[dict, str] | None:
    if not isinstance(raw, dict) or raw.get("resourceType") != "Observation":
        return None
    values = [k for k in raw if k.startswith("value") and k[5:6].isupper()]
    if len(values) < 2:
        return None
    keep = next((k for k in _VALUE_PRIORITY if k in values), values[0])
    repaired = {k: v for k, v in raw.items() if k not in values or k == keep}
    return repaired, f"kept {keep}, dropped {', '.join(k for k in values if k != keep)}"


def _repair(
    source: str, raw: object, skipped: Skipped
) -> tuple[FHIRResourceModel, dict, str] | None:
    """The resource read after dropping all but one value[x], its JSON and the note; else None."""
    fix = _single_value(raw)
    if fix is None:
        return None
    retried = parse_resource(source, fix[0])
    if retried is None or isinstance(retried, Skipped):
        return None
    what = f"{skipped.resource_type}/{skipped.resource_id or '?'}"
    return retried, fix[0], f"{what} from {source} repaired: {fix[1]}"


def parse_record(
    items: Iterable[tuple[str, object]],
    unavailable: Iterable[str] = (),
    *,
    relevant_only: bool = True,
) -> PatientRecord:
    """Parse (source, resource JSON) pairs; report what was skipped in the log and the record.

    With `relevant_only`, resources that certainly mean nothing to the derivation (fhir/relevance)
    are left out before any model is built: they are neither parsed nor reported."""
    if relevant_only:
        # Imported here: relevance reads the value sets in cds_service.state, which imports us.
        from cds_service.fhir.relevance import relevant_items

        items = relevant_items(items)
    resources: list[FHIRResourceModel] = []
    documents: list[dict] = []
    skipped: list[Skipped] = []
    repaired: list[str] = []
    seen: set[tuple[str, str]] = set()
    for source, raw in items:
        parsed = parse_resource(source, raw)
        if parsed is None:
            continue
        repair = _repair(source, raw, parsed) if isinstance(parsed, Skipped) else None
        if repair is not None:
            parsed, raw, note = repair
            log.warning("%s", note)
            repaired.append(note)
        if isinstance(parsed, Skipped):
            log.warning("%s", parsed.describe())
            skipped.append(parsed)
            continue
        key = (parsed.get_resource_type(), parsed.id or f"#{len(resources)}")
        if key in seen:
            continue
        seen.add(key)
        resources.append(parsed)
        documents.append(raw)  # type: ignore[arg-type]  # validated above: a JSON object
    return PatientRecord(
        tuple(resources), tuple(skipped), frozenset(unavailable), tuple(repaired), tuple(documents)
    )
