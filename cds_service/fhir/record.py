"""The patient's record from FHIR JSON: each resource checked; a malformed one skipped and reported."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TypeVar

from pydantic import ValidationError

from cds_service.fhir.models import MODEL_CLASSES, FHIRResourceModel
from cds_service.fhir.references import identity
from cds_service.fhir.relevance import is_relevant, out_of_sight, referenced, relevant_items
from cds_service.fhir.view import ChoiceError, view_of, views_of

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
    """The patient's resources, in the order received, duplicates removed.

    `documents` are the checked views (fhir/view): all the derivation reads. `confirm()` builds
    the fhir.resources model of the views an answer rests on: what a card says was read from
    elements fhir.resources has validated."""

    documents: tuple[dict, ...] = ()
    skipped: tuple[Skipped, ...] = ()
    # Resource types we could not obtain at all (prefetch key absent and no fetch possible).
    # Facts drawn from them are UNKNOWN, never "none recorded".
    unavailable: frozenset[str] = frozenset()
    # Resources read after a narrow, logged repair (see _single_value).
    repaired: tuple[str, ...] = ()
    # Where each resource came from (prefetch key or query), in the order of `documents`.
    sources: tuple[str, ...] = ()
    # The fhir.resources R4B model of each resource confirmed so far, by reference.
    models: Mapping[str, FHIRResourceModel] = field(default_factory=dict, compare=False)

    def of_type(self, resource_type: str) -> tuple[dict, ...]:
        return tuple(d for d in self.documents if d["resourceType"] == resource_type)

    def confirm(self, references: Iterable[str]) -> PatientRecord:
        """Validate with fhir.resources the views of the resources named; those that fail are
        skipped and reported like any malformed resource. Returns self when none fails."""
        wanted = set(references) - set(self.models)
        if not wanted:
            return self
        models = dict(self.models)
        failed: dict[int, Skipped] = {}
        for index, document in enumerate(self.documents):
            ref = _reference(document)
            if ref not in wanted:
                continue
            parsed = parse_resource(self.sources[index], document)
            if isinstance(parsed, Skipped):
                log.warning("%s", parsed.describe())
                failed[index] = parsed
            elif parsed is not None:
                models[ref] = parsed
        if not failed:
            return replace(self, models=models)
        keep = [i for i in range(len(self.documents)) if i not in failed]
        return replace(
            self,
            documents=tuple(self.documents[i] for i in keep),
            sources=tuple(self.sources[i] for i in keep),
            skipped=self.skipped + tuple(failed.values()),
            models=models,
        )


def _reference(document: dict) -> str:
    return f"{document['resourceType']}/{document.get('id', '?')}"


T = TypeVar("T")
R = TypeVar("R")


def settle(
    record: PatientRecord,
    compute: Callable[[PatientRecord], T],
    evidence: Callable[[T], Iterable[str]],
) -> tuple[PatientRecord, T]:
    """`compute(record)`, then confirm the resources its result rests on; while any of them
    fails fhir.resources validation, leave it out and compute again. Each round drops at least one
    resource, so this ends."""
    while True:
        result = compute(record)
        confirmed = record.confirm(evidence(result))
        if len(confirmed.documents) == len(record.documents):
            return confirmed, result
        record = confirmed


def _reason(error: ValidationError) -> str:
    parts = []
    for item in error.errors(include_input=False, include_url=False)[:3]:
        location = ".".join(str(p) for p in item.get("loc", ()))
        parts.append(f"{location or 'resource'}: {item.get('type', 'invalid')}")
    more = error.error_count() - len(parts)
    return "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")


def check_resource(source: str, raw: object) -> dict | Skipped | None:
    """One JSON resource -> its checked view (fhir/view); Skipped when malformed; None for types
    we do not read."""
    return _read(source, raw, view_of)


def parse_resource(source: str, raw: object) -> FHIRResourceModel | Skipped | None:
    """One JSON resource -> fhir.resources model; Skipped when malformed; None for types we do
    not read."""
    return _read(source, raw, lambda r: MODEL_CLASSES[r["resourceType"]].model_validate(r))


def _read(source: str, raw: object, read: Callable[[dict], R]) -> R | Skipped | None:
    if not isinstance(raw, dict):
        return Skipped(source, None, None, "not a JSON object")
    resource_type = raw.get("resourceType")
    resource_id = raw.get("id") if isinstance(raw.get("id"), str) else None
    if not isinstance(resource_type, str):
        return Skipped(source, None, resource_id, "no resourceType")
    if resource_type not in MODEL_CLASSES:
        return None
    try:
        return read(raw)
    except ValidationError as exc:
        return Skipped(source, resource_type, resource_id, _reason(exc))
    except ChoiceError as exc:
        return Skipped(source, resource_type, resource_id, str(exc))
    except RecursionError:  # only a resource nested far deeper than any real one
        return Skipped(source, resource_type, resource_id, "nested too deeply")
    except (TypeError, ValueError) as exc:  # fhir_core raises these for some malformed input
        return Skipped(source, resource_type, resource_id, type(exc).__name__)


# Real EHR exports sometimes carry two value[x] choices on one Observation (a coded "Positive"
# beside "valueQuantity 3", a HER2 valueRatio beside valueCodeableConcept), which FHIR forbids.
# The first value by priority stays the value; each other one becomes a component with the
# Observation's own code, so it is still read (state/her2 reads components) and the resource is
# valid R4. The repair is reported rather than losing the whole result.
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
    values = [k for k in raw if k[:5] == "value" and k[5:6].isupper()]
    if len(values) < 2:
        return None
    keep = next((k for k in _VALUE_PRIORITY if k in values), values[0])
    repaired = {k: v for k, v in raw.items() if k not in values or k == keep}
    moved = [k for k in values if k != keep]
    components = raw.get("component")
    if isinstance(raw.get("code"), dict) and (components is None or isinstance(components, list)):
        extra = [{"code": raw["code"], k: raw[k]} for k in moved]
        repaired["component"] = list(components or []) + extra
        return repaired, f"kept {keep}, moved {', '.join(moved)} to a component of the same code"
    return repaired, f"kept {keep}, dropped {', '.join(moved)}"


# Statuses of a resource not yet settled (an order still running, a report not yet final, a
# procedure under way): a copy with a settled status is the later one when nothing dates them.
_UNSETTLED = frozenset(
    {"preparation", "in-progress", "registered", "preliminary", "partial", "active", "on-hold"}
)


def _last_updated(raw: object) -> float | None:
    """meta.lastUpdated as a POSIX time; None when absent or unreadable (the view does not keep
    meta: it is read from the JSON here, and only to choose between copies)."""
    meta = raw.get("meta") if isinstance(raw, dict) else None
    value = meta.get("lastUpdated") if isinstance(meta, dict) else None
    try:
        parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None
    if parsed is None or parsed.tzinfo is None:
        return None  # an instant always has a zone; without one it cannot be compared
    return parsed.timestamp()


def _newer(candidate: tuple[dict, object], kept: tuple[dict, object]) -> bool:
    """Is `candidate` (view, JSON) a later version of the resource than `kept`? By
    meta.lastUpdated when both have one; otherwise a settled status beats an unsettled one;
    otherwise the first copy stays."""
    (view, raw), (old_view, old_raw) = candidate, kept
    updated, old_updated = _last_updated(raw), _last_updated(old_raw)
    if updated is not None and old_updated is not None and updated != old_updated:
        return updated > old_updated
    return old_view.get("status") in _UNSETTLED and view.get("status") not in _UNSETTLED


def _views_in_one_pass(received: list[tuple[str, object]], looked: list[int]) -> dict[int, dict]:
    """The views of the resources at `looked` of types we read, by index, from one call into
    pydantic-core; {} when any is malformed (then each is checked, and reported, on its own)."""
    readable = [
        i
        for i in looked
        if isinstance(raw := received[i][1], dict) and raw.get("resourceType") in MODEL_CLASSES
    ]
    try:
        views = views_of([received[i][1] for i in readable])  # type: ignore[misc]  # dicts
    except (ValidationError, ValueError, TypeError, RecursionError):
        return {}
    return dict(zip(readable, views, strict=True))


def _check(
    received: list[tuple[str, object]],
    looked: list[int],
    report: Callable[[object], bool],
    skipped: list[Skipped],
) -> dict[int, tuple[str, dict]]:
    """(source, view) of the resources at `looked`, by index; a malformed one goes to `skipped`
    (and the log) when `report` says it could have mattered."""
    viewed = _views_in_one_pass(received, looked)
    checked: dict[int, tuple[str, dict]] = {}
    for index in looked:
        source, raw = received[index]
        view = viewed.get(index) or check_resource(source, raw)
        if view is None:
            continue
        if isinstance(view, Skipped):
            if report(raw):
                log.warning("%s", view.describe())
                skipped.append(view)
            continue
        checked[index] = (source, view)
    return checked


# From this many resources on, ruling some out before their views are built pays (below it, the
# extra look at each resource's JSON costs more than the views it spares: 30 resources took
# 0.5 ms with it, 0.4 without; 200 took 2.7 with it, 4.0 without).
SCREEN_BEFORE_VIEWS_FROM = 64


def parse_record(
    items: Iterable[tuple[str, object]],
    unavailable: Iterable[str] = (),
    *,
    relevant_only: bool = True,
) -> PatientRecord:
    """Check (source, resource JSON) pairs through their views; report what was skipped in the
    log and the record.

    With `relevant_only`, resources that certainly mean nothing to the derivation (fhir/relevance,
    judged on the view: the derivation reads nothing else) are left out; a malformed one is
    reported only if it could have mattered (judged on its JSON, as it has no view). Most of a
    heavy record is ruled out on its JSON before any view is built (relevance.out_of_sight); one
    of those is viewed after all when a kept resource refers to it or shares its identity, so
    the record is the one judging every view would give."""
    skipped: list[Skipped] = []
    repaired: list[str] = []
    received: list[tuple[str, object]] = []
    for source, raw in items:
        fix = _single_value(raw)
        if fix is not None:
            raw, what = fix
            note = f"{raw['resourceType']}/{raw.get('id') or '?'} from {source} repaired: {what}"
            log.warning("%s", note)
            repaired.append(note)
        received.append((source, raw))
    screen = relevant_only and len(received) >= SCREEN_BEFORE_VIEWS_FROM
    unseen = out_of_sight([raw for _, raw in received]) if screen else set()
    report = is_relevant if relevant_only else (lambda raw: True)
    checked = _check(
        received, [i for i in range(len(received)) if i not in unseen], report, skipped
    )
    if relevant_only:
        while True:
            kept = relevant_items((index, view) for index, (_, view) in sorted(checked.items()))
            wanted = {identity(view) for _, view in kept}
            wanted.update(ref for _, view in kept for ref in referenced(view))
            pulled = [i for i in sorted(unseen) if identity(received[i][1]) in wanted]
            if not pulled:
                break
            unseen.difference_update(pulled)
            checked.update(_check(received, pulled, report, skipped))
        checked = {index: checked[index] for index, _ in kept}
    documents: list[dict] = []
    sources: list[str] = []
    raws: list[object] = []
    at: dict[tuple[str, str], int] = {}
    for index, (source, view) in sorted(checked.items()):
        raw = received[index][1]
        key = (view["resourceType"], view.get("id") or f"#{len(documents)}")
        if key in at:
            # The same resource twice (a search page and an _include, or a snapshot before
            # and after an update): the newer copy is the record, at the first one's place.
            i = at[key]
            if _newer((view, raw), (documents[i], raws[i])):
                documents[i], sources[i], raws[i] = view, source, raw
            continue
        at[key] = len(documents)
        documents.append(view)
        sources.append(source)
        raws.append(raw)
    return PatientRecord(
        tuple(documents),
        tuple(skipped),
        frozenset(unavailable),
        tuple(repaired),
        tuple(sources),
    )
