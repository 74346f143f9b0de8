"""Reading dates from resources and comparing partial FHIR dates (`2024`, `2024-05`) safely."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from functools import cache
from typing import Any

from cds_service.state.model import FhirDate


def parse(raw: object) -> FhirDate | None:
    return FhirDate.parse(raw)


def _follow(resource: dict, steps: tuple[str, ...]) -> Any:
    value: Any = resource
    for part in steps:
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


@cache
def _steps(paths: tuple[str, ...]) -> tuple[tuple[str, ...], ...]:
    # Paths are the few literals of this package, never patient data.
    return tuple(tuple(path.split(".")) for path in paths)


def first(resource: dict, *paths: str) -> FhirDate | None:
    """The first readable date among dotted `paths` of a resource."""
    for steps in _steps(paths):
        value = _follow(resource, steps)
        if value is not None:  # parse(None) is None: skip the call for absent elements
            parsed = FhirDate.parse(value)
            if parsed is not None:
                return parsed
    return None


def clinical_date(resource: dict) -> FhirDate | None:
    """When what a resource records happened (not when it was typed in, unless nothing else)."""
    return first(
        resource,
        "onsetDateTime",
        "onsetPeriod.start",
        "effectiveDateTime",
        "effectivePeriod.start",
        "effectiveInstant",
        "performedDateTime",
        "performedPeriod.start",
        "started",
        "occurrenceDateTime",
        "occurrencePeriod.start",
        "recordedDate",
        "issued",
        "authoredOn",
    )


def end_date(resource: dict) -> FhirDate | None:
    return first(resource, "performedPeriod.end", "effectivePeriod.end", "abatementDateTime")


def start(d: FhirDate | None) -> date | None:
    """Earliest day a (possibly partial) date can mean."""
    return d.earliest if d else None


def end(d: FhirDate | None) -> date | None:
    """Latest day a (possibly partial) date can mean."""
    return d.latest if d else None


def days_between(a: FhirDate, b: FhirDate) -> int:
    """Days from a to b, taking the nearest reading of partial dates (0 when they overlap)."""
    if b.earliest > a.latest:
        return (b.earliest - a.latest).days
    if a.earliest > b.latest:
        return -(a.earliest - b.latest).days
    return 0


def plus(d: FhirDate, days: int) -> date:
    return d.latest + timedelta(days=days)


def shifted(d: FhirDate, days: float) -> FhirDate:
    """The day `days` after the latest day `d` can mean (an estimated end, say)."""
    day = d.latest + timedelta(days=round(days))
    return FhirDate(day, day, "day", day.isoformat())


def latest(dates: Iterable[FhirDate | None]) -> FhirDate | None:
    known = [d for d in dates if d is not None]
    return max(known, key=lambda d: (d.latest, d.earliest)) if known else None


def earliest(dates: Iterable[FhirDate | None]) -> FhirDate | None:
    known = [d for d in dates if d is not None]
    return min(known, key=lambda d: (d.earliest, d.latest)) if known else None


def partial_notes(ref: str, *dates: FhirDate | None) -> tuple[str, ...]:
    """A caveat for each partial date a fact rests on."""
    return tuple(
        f"{ref}: date recorded only to the {d.precision} ({d.text});"
        f" compared as {d.earliest}..{d.latest}"
        for d in dates
        if d is not None and d.partial
    )


def latest_key(d: FhirDate | None) -> tuple[date, date]:
    """Sort key: most recent last; undated first."""
    return (d.latest, d.earliest) if d else (date.min, date.min)


def earliest_key(d: FhirDate | None) -> tuple[date, date]:
    """Sort key: oldest first; undated last."""
    return (d.earliest, d.latest) if d else (date.max, date.max)
