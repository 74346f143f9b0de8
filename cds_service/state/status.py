"""Performance status (latest ECOG or Karnofsky) and hospice care."""

from __future__ import annotations

import re
from typing import Literal

from cds_service.state import dates
from cds_service.state.coded import Coded, coded
from cds_service.state.model import Fact, PerformanceStatus
from cds_service.state.resources import Resources, reference
from cds_service.state.terminology import matches, text_of

_DIGITS = re.compile(r"\b(\d{1,3})\b")


def _score(obs: dict) -> int | None:
    if isinstance(obs.get("valueInteger"), int):
        return int(obs["valueInteger"])
    quantity = obs.get("valueQuantity") or {}
    if isinstance(quantity.get("value"), (int, float)):
        return int(quantity["value"])
    match = _DIGITS.search(obs.get("valueString") or text_of(obs.get("valueCodeableConcept")))
    return int(match.group(1)) if match else None


def _scale(obs: Coded) -> Literal["ECOG", "KPS"] | None:
    if obs.has_code("ecog"):
        return "ECOG"
    if obs.has_code("karnofsky"):
        return "KPS"
    return None


def performance_status(res: Resources) -> Fact[PerformanceStatus]:
    if not res.available("Observation"):
        return Fact.unknown("Observations could not be obtained")
    scored = []
    for item in coded(res, "Observation"):
        obs = item.resource
        scale = _scale(item)
        score = _score(obs) if scale else None
        if scale is None or score is None:
            continue
        if 0 <= score <= (5 if scale == "ECOG" else 100):
            when = dates.clinical_date(obs)
            scored.append((when, PerformanceStatus(scale, score, when), obs))
    if not scored:
        return Fact.unknown("no performance status recorded")
    when, status, obs = max(scored, key=lambda item: dates.latest_key(item[0]))
    return Fact(status, (reference(obs),), dates.partial_notes(reference(obs), when))


def hospice(res: Resources) -> Fact[bool]:
    """Hospice recorded by name (no verified code); False when searchable and absent."""
    if not res.available("Condition", "Procedure", "ServiceRequest"):
        return Fact.unknown("Conditions and Procedures could not be obtained")
    found = [
        r.resource
        for r in coded(res, "Condition", "Procedure", "ServiceRequest", "Observation")
        if r.matches("hospice") or matches(r.resource.get("valueCodeableConcept"), "hospice")
    ]
    if found:
        return Fact(True, tuple(reference(r) for r in found))
    return Fact(False, (), ("no hospice care recorded",))
