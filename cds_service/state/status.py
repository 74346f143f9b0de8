"""Performance status (the latest ECOG or Karnofsky) and hospice care.

Reads performance status Observations coded ECOG (LOINC 89247-1, or 89262-0 which the mCODE ECOG
profile cites) or Karnofsky (89243-0), or an EHR-local flowsheet code whose name says ECOG /
Karnofsky / KPS (or whose value does: "ECOG 1"). The score comes from, in order: valueInteger
(mCODE); valueQuantity (a whole number); a verified LOINC answer code (ECOG 0 LA9622-7, 1
LA9623-5, 3 LA9625-0; KPS 90 LA29176-7) in valueCodeableConcept or interpretation; the words of
the value or interpretation: "1", "ECOG 1", or the scale's own grade description (how answers coded
with unverified LA codes are read). The most recent effective[x] wins. A score out of range, not a
whole number, or not readable makes that Observation unreadable; when the latest one is
unreadable, performance status is unknown (an older score is not today's).
"""

from __future__ import annotations

import re
from functools import cache
from typing import Literal

from cds_service.state import dates
from cds_service.state.coded import Coded, coded
from cds_service.state.model import Fact, FhirDate, PerformanceStatus
from cds_service.state.resources import Resources, reference
from cds_service.state.terminology import code_sets, matches, text_of, valuesets

Scale = Literal["ECOG", "KPS"]
_MAXIMUM = {"ECOG": 5, "KPS": 100}
_SCALE_WORDS = re.compile(r"\b(ecog|zubrod|who)\b|\b(karnofsky|kps)\b", re.IGNORECASE)
# "1", "ECOG 1", "ECOG: 2", "Score 80", "KPS 70%", "1 - Restricted in ...": a whole number alone
# or first, not part of a date or a decimal.
_SCORE_TEXT = re.compile(
    r"^\s*(?:(?:ecog|zubrod|who|karnofsky|kps)\s*(?:ps|performance status)?\s*)?(?:score)?"
    r"\s*[:=]?\s*(\d{1,3})(?![\d.,/])\s*%?(?:\s*[-:(]|\s*$)",
    re.IGNORECASE,
)


@cache
def _answer_sets() -> tuple[tuple[str, Scale, int], ...]:
    """(value set id, scale, score) of each answer value set: "ecog-answer-1" is ECOG 1."""
    out: list[tuple[str, Scale, int]] = []
    for vs_id in valuesets():
        for prefix, scale in (("ecog-answer-", "ECOG"), ("karnofsky-answer-", "KPS")):
            if vs_id.startswith(prefix):
                out.append((vs_id, scale, int(vs_id[len(prefix) :])))  # type: ignore[arg-type]
    return tuple(out)


def _scale(item: Coded) -> Scale | None:
    if item.has_code("ecog"):
        return "ECOG"
    if item.has_code("karnofsky"):
        return "KPS"
    if item.sets:  # coded as another concept: its display is not a flowsheet row's name
        return None
    if item.matches("ecog"):
        return "ECOG"
    if item.matches("karnofsky"):
        return "KPS"
    return None


def _scale_of_text(text: str) -> Scale | None:
    found = _SCALE_WORDS.search(text)
    if found is None:
        return None
    return "ECOG" if found.group(1) else "KPS"


def _answer(concept: object, scale: Scale) -> tuple[int, str] | None:
    """(score, "code" or "text") from an answer concept: a verified code, else its words."""
    sets = code_sets(concept)
    for vs_id, answer_scale, score in _answer_sets():
        if answer_scale == scale and vs_id in sets:
            return score, "code"
    text = text_of(concept)
    found = _SCORE_TEXT.match(text)
    if found:
        return int(found.group(1)), "text"
    for vs_id, answer_scale, score in _answer_sets():
        if answer_scale == scale and matches({"text": text}, vs_id):
            return score, "text"
    return None


def _score(obs: dict, scale: Scale) -> tuple[float, str] | None:
    """The recorded score and the element it came from; None when none is recorded."""
    if "valueInteger" in obs:
        return obs["valueInteger"], "valueInteger"
    if "valueQuantity" in obs:
        value = (obs["valueQuantity"] or {}).get("value")
        return (value, "valueQuantity") if isinstance(value, (int, float)) else None
    if "valueCodeableConcept" in obs:
        found = _answer(obs["valueCodeableConcept"], scale)
        if found:
            return found[0], f"valueCodeableConcept {found[1]}"
    if isinstance(obs.get("valueString"), str):
        found_text = _SCORE_TEXT.match(obs["valueString"])
        if found_text:
            return int(found_text.group(1)), "valueString"
        found = _answer({"text": obs["valueString"]}, scale)
        if found:
            return found[0], "valueString"
    for concept in obs.get("interpretation") or []:
        found = _answer(concept, scale)
        if found:
            return found[0], f"interpretation {found[1]}"
    return None


def _valid(score: float, scale: Scale) -> bool:
    if scale == "KPS" and score % 10:
        return False  # Karnofsky runs 0-100 in steps of 10
    return float(score).is_integer() and 0 <= score <= _MAXIMUM[scale]


def performance_status(res: Resources) -> Fact[PerformanceStatus]:
    if not res.available("Observation"):
        return Fact.unknown("Observations could not be obtained")
    readings: list[tuple[FhirDate | None, dict, PerformanceStatus | None, str]] = []
    for item in coded(res, "Observation"):
        obs = item.resource
        value_text = obs.get("valueString")
        # A local row named only "Performance status" says its scale in its value ("ECOG 1").
        by_value = None
        if isinstance(value_text, str) and "performance" in item.text.lower():
            by_value = _scale_of_text(value_text)
        scale = _scale(item) or by_value
        if scale is None:
            continue
        when = dates.clinical_date(obs)
        found = _score(obs, scale)
        if found is None or not _valid(found[0], scale):
            readings.append((when, obs, None, ""))
            continue
        code = "code " + (
            "LOINC" if item.has_code("ecog") or item.has_code("karnofsky") else "local"
        )
        basis = f"{scale} {int(found[0])} (Observation {code}, {found[1]})"
        readings.append((when, obs, PerformanceStatus(scale, int(found[0]), when), basis))
    if not readings:
        return Fact.unknown("no performance status recorded")
    when, obs, status, basis = max(
        readings, key=lambda r: (dates.latest_key(r[0]), r[2] is not None)
    )
    ref = reference(obs)
    if status is None:
        return Fact.unknown(
            f"{ref}: the latest performance status ({when or 'undated'}) is not readable"
        )
    return Fact(status, (ref,), dates.partial_notes(ref, when), basis)


_HOSPICE_SOURCES = ("Condition", "Procedure")


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
        return Fact(True, tuple(reference(r) for r in found), (), "hospice named in the record")
    # Hospice is recorded as a problem or a procedure: without both, its absence is not known.
    gaps = [f"{t}s could not be obtained" for t in _HOSPICE_SOURCES if not res.available(t)]
    gaps += [f"a {t} could not be read" for t in _HOSPICE_SOURCES if t in res.unreadable]
    if gaps:
        return Fact.unknown("no hospice named in what could be read", *gaps)
    return Fact(
        False,
        (),
        ("no hospice care recorded",),
        "Conditions and Procedures obtained and readable; none names hospice",
    )
