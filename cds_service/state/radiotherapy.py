"""Local CNS therapy: SRS courses (fractions grouped), whole-brain radiotherapy and resections."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from cds_service.state import dates
from cds_service.state.brain import brain_metastasis_conditions
from cds_service.state.coded import Coded, coded
from cds_service.state.model import FhirDate, LocalTherapy, ProgressionEvent
from cds_service.state.parameters import SRS_COURSE_GAP_DAYS, SRS_MAX_FRACTIONS
from cds_service.state.resources import Resources, reference
from cds_service.state.terminology import code_sets, coded_keys, matches, text_of, valueset

SESSIONS_URL = "http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-radiotherapy-sessions"
DOSE_TO_VOLUME_URL = (
    "http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-radiotherapy-dose-delivered-to-volume"
)
Kind = Literal["srs", "wbrt", "resection"]


@dataclass(frozen=True, slots=True)
class Session:
    """One Procedure recognised as local CNS therapy, before grouping into courses."""

    kind: Kind
    start: FhirDate | None
    end: FhirDate | None
    targets: tuple[str, ...]
    target_codes: tuple[str, ...]
    fractions: int | None
    hippocampal_avoidance: bool | None
    status: str | None
    ref: str


def _fractions(proc: dict) -> int | None:
    """Sessions recorded on an mCODE course summary (course-level, else largest per volume)."""
    per_volume = []
    for ext in proc.get("extension", []):
        if ext.get("url") == SESSIONS_URL and isinstance(ext.get("valueUnsignedInt"), int):
            return int(ext["valueUnsignedInt"])
        if ext.get("url") == DOSE_TO_VOLUME_URL:
            per_volume += [
                e["valueUnsignedInt"]
                for e in ext.get("extension", [])
                if e.get("url") == "fractionsDelivered"
                and isinstance(e.get("valueUnsignedInt"), int)
            ]
    return max(per_volume) if per_volume else None


def _all_text(proc: dict, code_text: str) -> str:
    """`code_text` (the text of the Procedure's code), its notes and its body sites."""
    parts = [code_text] + [n.get("text", "") for n in proc.get("note", [])]
    parts += [text_of(b) for b in proc.get("bodySite", [])]
    return " | ".join(p for p in parts if p)


def _on_brain(proc: dict, brain_refs: set[str] | frozenset[str]) -> bool:
    if any(matches(site, "brain-body-site") for site in proc.get("bodySite", [])):
        return True
    reasons = {r.get("reference") for r in proc.get("reasonReference", [])}
    return bool(reasons & brain_refs) or any(
        matches(c, "brain-metastasis") for c in proc.get("reasonCode", [])
    )


def classify(proc: dict, brain_refs: set[str] | frozenset[str]) -> Kind | None:
    """'srs', 'wbrt', 'resection' or None for one Procedure."""
    code = proc.get("code")
    code_text = text_of(code)
    return _classify(
        Coded(proc, code_sets(code), code_text), _all_text(proc, code_text), brain_refs
    )


def _classify(item: Coded, text: str, brain_refs: set[str] | frozenset[str]) -> Kind | None:
    """classify() from the Procedure's code already looked up and all its text."""
    proc = item.resource
    brain = _on_brain(proc, brain_refs)
    if item.matches("brain-resection"):
        return "resection"
    if item.has_code("srs"):
        return "srs"
    if brain and item.has_code("srs-per-fraction"):
        return "srs"
    if brain and item.has_code("radiotherapy-course-summary"):
        fractions = _fractions(proc)
        if valueset("wbrt").has_text(text):
            return "wbrt"
        if fractions is not None:
            return "srs" if fractions <= SRS_MAX_FRACTIONS else "wbrt"
        return None  # a brain course of unknown fractionation: neither claimed
    if valueset("wbrt").has_text(text):
        return "wbrt"
    if brain and valueset("srs").has_text(text):
        return "srs"
    return None


def sessions(res: Resources) -> tuple[Session, ...]:
    conds, _ = brain_metastasis_conditions(res)
    brain_refs = {reference(c) for c in conds}
    found = []
    for item in coded(res, "Procedure"):
        proc = item.resource
        text = _all_text(proc, item.text)
        kind = _classify(item, text, brain_refs)
        if kind is None:
            continue
        sites = proc.get("bodySite", [])
        targets = tuple(
            dict.fromkeys(
                (s.get("text") or text_of(s).split(" | ")[0]) for s in sites if text_of(s)
            )
        )
        # Hippocampal avoidance is only ever stated in text; silence means "not recorded".
        hippocampal = True if "hippocamp" in text.lower() else None
        found.append(
            Session(
                kind,
                dates.first(proc, "performedDateTime", "performedPeriod.start"),
                dates.first(proc, "performedPeriod.end", "performedDateTime"),
                targets,
                coded_keys(sites),
                _fractions(proc),
                hippocampal if kind == "wbrt" else None,
                proc.get("status"),
                reference(proc),
            )
        )
    return tuple(sorted(found, key=lambda s: dates.earliest_key(s.start)))


def _group(items: list[Session]) -> list[list[Session]]:
    """Sessions within SRS_COURSE_GAP_DAYS of the previous one form one course."""
    groups: list[list[Session]] = []
    for item in items:
        last = groups[-1][-1] if groups else None
        anchor = (last.end or last.start) if last else None
        if (
            anchor is not None
            and item.start is not None
            and dates.days_between(anchor, item.start) <= SRS_COURSE_GAP_DAYS
        ):
            groups[-1].append(item)
        else:
            groups.append([item])
    return groups


def _course(kind: Kind, group: list[Session]) -> LocalTherapy:
    explicit = [s.fractions for s in group if s.fractions is not None]
    # Billing-style sessions carry no count: each distinct treatment day is a fraction.
    days = {s.start.text for s in group if s.start and s.fractions is None}
    fractions = (sum(explicit) + len(days)) if kind != "resection" else None
    return LocalTherapy(
        kind=kind,
        start=dates.earliest(s.start for s in group),
        end=dates.latest(s.end or s.start for s in group),
        targets=tuple(dict.fromkeys(t for s in group for t in s.targets)),
        target_codes=tuple(dict.fromkeys(c for s in group for c in s.target_codes)),
        fractions=fractions or None,
        hippocampal_avoidance=next(
            (s.hippocampal_avoidance for s in group if s.hippocampal_avoidance), None
        )
        if kind == "wbrt"
        else None,
        status=group[-1].status,
        evidence=tuple(s.ref for s in group),
    )


def local_therapies(res: Resources) -> tuple[LocalTherapy, ...]:
    """SRS and WBRT courses (sessions grouped; fractions are never courses) and resections."""
    all_sessions = sessions(res)
    courses: list[LocalTherapy] = []
    kinds: tuple[Kind, ...] = ("srs", "wbrt")
    for kind in kinds:
        courses += [_course(kind, g) for g in _group([s for s in all_sessions if s.kind == kind])]
    courses += [_course("resection", [s]) for s in all_sessions if s.kind == "resection"]
    return tuple(sorted(courses, key=lambda c: dates.earliest_key(c.start)))


def srs_progressions(
    therapies: tuple[LocalTherapy, ...], recorded: tuple[ProgressionEvent, ...]
) -> tuple[ProgressionEvent, ...]:
    """A new SRS course after an earlier one implies intracranial progression, unless recorded."""
    srs = [t for t in therapies if t.kind == "srs" and t.start]
    events = []
    for previous, course in zip(srs, srs[1:], strict=False):
        before, after = previous.start, course.start
        if before is None or after is None:
            continue
        already = any(
            e.site == "intracranial"
            and e.when
            and before.earliest <= e.when.latest
            and e.when.earliest <= after.latest
            for e in recorded
        )
        if not already:
            sites = ", ".join(course.targets) or "brain"
            events.append(
                ProgressionEvent(
                    after,
                    "intracranial",
                    "new-srs-course",
                    f"new SRS course ({sites}) after SRS of {before}",
                    course.evidence,
                )
            )
    return tuple(events)
