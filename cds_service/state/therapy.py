"""Systemic therapy: drug courses (refills, renewals merged) grouped into regimens; progression."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta

from cds_service.state import dates
from cds_service.state.model import (
    UNKNOWN,
    DrugCourse,
    FhirDate,
    ProgressionEvent,
    Regimen,
    StopReason,
    Unknown,
)
from cds_service.state.parameters import (
    ADMINISTRATION_ACTIVE_DAYS,
    COURSE_MERGE_GAP_DAYS,
    PROGRESSION_WINDOW_DAYS,
    REGIMEN_START_WINDOW_DAYS,
    RENEWAL_INTERVAL_DAYS,
)
from cds_service.state.resources import Resources, reference
from cds_service.state.terminology import INTERACTING_AGENTS, agents_of, text_of

MEDICATION_TYPES = ("MedicationStatement", "MedicationRequest", "MedicationAdministration")
_RUNNING = {"active", "on-hold", "in-progress"}
# Stop reasons are free text in practice; word stems, checked in order.
_REASONS: tuple[tuple[StopReason, tuple[str, ...]], ...] = (
    (
        "progression",
        ("progress", "worsen", "relapse", "recurren", "new brain lesion", "new metasta"),
    ),
    (
        "toxicity",
        (
            "toxic",
            "adverse",
            "intoleran",
            "side effect",
            "diarrh",
            "rash",
            "hepatotox",
            "neuropath",
            "hand-foot",
            "palmar-plantar",
            "cardiotox",
            "ejection fraction",
            "nausea",
            "vomit",
            "fatigue",
            "allerg",
            "reaction",
        ),
    ),
    ("completed", ("completed", "course complete", "finished", "planned course")),
)


@dataclass(frozen=True, slots=True)
class Exposure:
    """One medication resource: an agent over a period, as the record states it."""

    agent: str
    start: FhirDate | None
    end: FhirDate | None
    running: bool
    stop_reason: StopReason | Unknown
    point: bool  # a single administration, not a period
    ref: str


def _medication_concept(resource: dict) -> tuple[object, str]:
    """The medication concept, resolving a contained Medication, plus any display text."""
    if resource.get("medicationCodeableConcept"):
        return resource["medicationCodeableConcept"], ""
    ref = resource.get("medicationReference") or {}
    target = (ref.get("reference") or "").lstrip("#")
    for contained in resource.get("contained", []):
        if contained.get("resourceType") == "Medication" and contained.get("id") == target:
            return contained.get("code") or {}, ref.get("display", "")
    return {}, ref.get("display", "")


def _stop_reason(resource: dict) -> StopReason | Unknown:
    texts = [text_of(r) for r in resource.get("statusReason", []) or []]
    if isinstance(resource.get("statusReason"), dict):  # MedicationRequest: a single concept
        texts = [text_of(resource["statusReason"])]
    texts += [
        text_of(r) for r in resource.get("reasonCode", []) if resource.get("status") == "stopped"
    ]
    text = " ".join(texts + [n.get("text", "") for n in resource.get("note", [])]).lower()
    for reason, stems in _REASONS:
        if any(stem in text for stem in stems):
            return reason
    if (
        resource.get("status") == "completed"
        and resource.get("resourceType") == "MedicationStatement"
    ):
        return "completed"
    return UNKNOWN


def _period(resource: dict) -> tuple[FhirDate | None, FhirDate | None, bool]:
    """(start, end, single point?) of the treatment; a request's validity period is not it."""
    rtype = resource.get("resourceType")
    if rtype == "MedicationRequest":
        bounds = [
            d.get("timing", {}).get("repeat", {}).get("boundsPeriod", {})
            for d in resource.get("dosageInstruction", [])
        ]
        start = dates.earliest(dates.parse(b.get("start")) for b in bounds) or dates.parse(
            resource.get("authoredOn")
        )
        return start, dates.latest(dates.parse(b.get("end")) for b in bounds), False
    if rtype == "MedicationAdministration":
        point = dates.first(resource, "effectiveDateTime", "effectivePeriod.start")
        return point, dates.first(resource, "effectivePeriod.end", "effectiveDateTime"), True
    start = dates.first(resource, "effectivePeriod.start", "effectiveDateTime", "dateAsserted")
    return start, dates.first(resource, "effectivePeriod.end"), False


def exposures(res: Resources) -> tuple[Exposure, ...]:
    found = []
    for resource in res.of(*MEDICATION_TYPES):
        if resource.get("intent") == "proposal" or resource.get("status") == "intended":
            continue  # a suggestion or a plan, not treatment
        concept, display = _medication_concept(resource)
        agents = agents_of(concept, display)
        if not agents:
            continue  # neither anticancer nor interacting: nothing to read
        start, end, point = _period(resource)
        running = resource.get("status") in _RUNNING
        stop, ref = _stop_reason(resource), reference(resource)
        found += [Exposure(a, start, end, running, stop, point, ref) for a in sorted(agents)]
    return tuple(sorted(found, key=lambda e: (e.agent, dates.earliest_key(e.start))))


def _continues(previous: Exposure, nxt: Exposure) -> bool:
    """Is `nxt` a refill, renewal, cycle or dose of the course `previous` belongs to?"""
    if previous.stop_reason in ("progression", "toxicity") or nxt.start is None:
        return False
    if previous.running and previous.end is None and not previous.point:
        return True  # a course still running absorbs later records of the same agent
    anchor = previous.end or previous.start
    if anchor is None:
        return False
    limit = COURSE_MERGE_GAP_DAYS if (previous.end or previous.point) else RENEWAL_INTERVAL_DAYS
    return dates.days_between(anchor, nxt.start) <= limit


def _course(group: list[Exposure], today: date) -> DrugCourse:
    last = group[-1]
    points = all(e.point for e in group)
    if points:
        # Administrations only: running while the last dose is recent.
        last_dose = dates.latest(e.start for e in group)
        active = (
            bool(
                last_dose and last_dose.latest >= today - timedelta(days=ADMINISTRATION_ACTIVE_DAYS)
            )
            and last.stop_reason is UNKNOWN
        )
        end = None if active else last_dose
    else:
        active = last.running and (last.end is None or last.end.latest >= today)
        end = None if active or last.end is None else dates.latest(e.end for e in group)
    return DrugCourse(
        agent=last.agent,
        start=dates.earliest(e.start for e in group),
        end=end,
        active=active,
        stop_reason=UNKNOWN if active else last.stop_reason,
        evidence=tuple(e.ref for e in group),
    )


def courses(res: Resources, today: date) -> tuple[DrugCourse, ...]:
    """One course per continuous use of an agent: refills and renewals of it are merged."""
    result: list[DrugCourse] = []
    group: list[Exposure] = []
    for exposure in exposures(res):
        if group and (exposure.agent != group[-1].agent or not _continues(group[-1], exposure)):
            result.append(_course(group, today))
            group = []
        group.append(exposure)
    if group:
        result.append(_course(group, today))
    return tuple(sorted(result, key=lambda c: (dates.earliest_key(c.start), c.agent)))


def _running_at(course: DrugCourse, day: date) -> bool:
    if course.active:
        return True
    return course.end is not None and course.end.latest > day


def _regimen(members: list[DrugCourse], end_cap: FhirDate | None) -> Regimen:
    active = end_cap is None and any(c.active for c in members)
    ends = [c.end for c in members if c.end]
    end = (
        None if active else (end_cap or (dates.latest(ends) if len(ends) == len(members) else None))
    )
    reasons = [c.stop_reason for c in members if not c.active]
    stop: StopReason | Unknown = UNKNOWN
    if not active:
        # Any course stopped for progression or toxicity stopped the regimen for that reason.
        if "progression" in reasons:
            stop = "progression"
        elif "toxicity" in reasons:
            stop = "toxicity"
        elif reasons and all(r == "completed" for r in reasons):
            stop = "completed"
    return Regimen(
        frozenset(c.agent for c in members),
        dates.earliest(c.start for c in members),
        end,
        active,
        stop,
        tuple(members),
    )


def regimens(drug_courses: tuple[DrugCourse, ...]) -> tuple[Regimen, ...]:
    """Lines of therapy: courses starting together form a regimen; ones still running carry over."""
    anticancer = [c for c in drug_courses if c.agent not in INTERACTING_AGENTS]
    dated = [c for c in anticancer if c.start]
    lines: list[list[DrugCourse]] = []
    for course in dated:
        line_start = lines[-1][0].start if lines else None
        if (
            line_start
            and course.start
            and course.start.earliest
            <= line_start.latest + timedelta(days=REGIMEN_START_WINDOW_DAYS)
        ):
            lines[-1].append(course)
            continue
        carried = []
        if lines and course.start:
            switch = course.start.earliest + timedelta(days=REGIMEN_START_WINDOW_DAYS)
            carried = [c for c in lines[-1] if _running_at(c, switch)]
        lines.append(carried + [course])
    built = []
    for i, line in enumerate(lines):
        nxt = lines[i + 1] if i + 1 < len(lines) else None
        carried_on = nxt is not None and any(c in nxt for c in line)
        cap = nxt[-1].start if carried_on and nxt else None
        built.append(_regimen(line, cap))
    # Courses without any start date cannot be placed in a line: each stands alone.
    built += [_regimen([c], None) for c in anticancer if not c.start]
    return tuple(built)


def link_progressions(
    lines: tuple[Regimen, ...], events: tuple[ProgressionEvent, ...], today: date
) -> tuple[Regimen, ...]:
    """Attach to each regimen the latest progression during it, or within the window after it
    ended and before the next regimen began."""
    placed = sorted((r for r in lines if r.start), key=lambda r: dates.earliest_key(r.start))
    linked = {}
    for i, reg in enumerate(placed):
        nxt = placed[i + 1].start if i + 1 < len(placed) else None
        if reg.start is None:
            continue
        if reg.active:
            window_end = today
        elif reg.end:
            window_end = reg.end.latest + timedelta(days=PROGRESSION_WINDOW_DAYS)
        else:
            window_end = (
                nxt.earliest if nxt else reg.start.latest + timedelta(days=PROGRESSION_WINDOW_DAYS)
            )
        hits = [
            e
            for e in events
            if e.when
            and e.when.latest >= reg.start.earliest
            and e.when.earliest <= window_end
            and (nxt is None or e.when.earliest < nxt.earliest)
        ]
        if hits:
            linked[id(reg)] = replace(
                reg, progression=max(hits, key=lambda e: dates.latest_key(e.when))
            )
    return tuple(linked.get(id(r), r) for r in lines)
