"""Systemic therapy: drug courses from every medication representation, grouped into regimens,
and the regimen each progression belongs to.

Courses are built from state/exposures (statements, orders, dispenses, administrations, however
they name the drug). Records of one agent merge into one course: renewals linked by
`priorPrescription`, refills and renewals within a gap, administrations within two of their cycles.
A course starts at its best-ranked evidence (first administration, then first dispense, statement,
bounds, validity, authoredOn) and ends at its best-ranked end (recorded, then the estimates of
real-world-fhir-representations.md 1.5.3; administrations: last infusion + cycle). An estimated end
is marked so, with its basis in words; an end the evidence cannot give stays unknown.

Progression on a regimen: each progression event (state/progression) belongs to the last regimen
started before it, "on" it within its course or PROGRESSION_WINDOW_DAYS after, "on or after" it
when its end is not recorded or only estimated. The first brain or leptomeningeal metastasis
Condition (by onset) is CNS progression on the regimen running when it was diagnosed, or "on or
after" the last one started when nothing records or estimates that one's end. Left out on purpose:
a first brain metastasis after a regimen whose end the record shows (recorded, or last infusion +
cycle): a new diagnosis, not progression on it (tested).
"""

from __future__ import annotations

import statistics
from dataclasses import replace
from datetime import date, timedelta

from cds_service.state import brain, dates
from cds_service.state.exposures import END_RANK, MEDICATION_TYPES, Exposure, exposures
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
    DEFAULT_CYCLE_DAYS,
    PROGRESSION_WINDOW_DAYS,
    REGIMEN_START_WINDOW_DAYS,
    RENEWAL_INTERVAL_DAYS,
)
from cds_service.state.resources import Resources, reference
from cds_service.state.terminology import INTERACTING_AGENTS

__all__ = ["MEDICATION_TYPES", "courses", "first_cns_metastasis", "link_progressions", "regimens"]


def _cycle_days(doses: list[Exposure]) -> int:
    """The usual interval between an agent's administrations (21 days when they do not show it)."""
    days = sorted({e.start.latest for e in doses if e.start})
    gaps = [(b - a).days for a, b in zip(days, days[1:], strict=False)]
    gaps = [g for g in gaps if 0 < g <= COURSE_MERGE_GAP_DAYS]
    return round(statistics.median(gaps)) if gaps else DEFAULT_CYCLE_DAYS


def _continues(group: list[Exposure], nxt: Exposure, cycle: int) -> bool:
    """Is `nxt` a renewal, refill, cycle or dose of the course `group` is?"""
    if nxt.renews and nxt.renews in {e.ref for e in group}:
        return True  # linked by priorPrescription, whatever the gap
    previous = group[-1]
    if previous.stop_reason in ("progression", "toxicity") or nxt.start is None:
        return False
    if previous.running and previous.end is None and not previous.point:
        return True  # a course still running absorbs later records of the same agent
    anchor = dates.latest(e.end or e.start for e in group)
    if anchor is None:
        return False
    if previous.point and nxt.point:
        limit = 2 * cycle  # one missed or delayed cycle is still the same course
    elif previous.end or previous.point:
        limit = COURSE_MERGE_GAP_DAYS
    else:
        limit = RENEWAL_INTERVAL_DAYS
    return dates.days_between(anchor, nxt.start) <= limit


def _end(group: list[Exposure], cycle: int) -> tuple[FhirDate | None, str]:
    """The course's end by 1.5.3's precedence, and how it was estimated ("" when recorded).

    Unknown (None) when records started after the best end found: the course went on past it."""
    candidates = [
        (e.end_rank, e.end, e.end_basis) for e in group if e.end and e.end_rank is not None
    ]
    last = dates.latest(e.start for e in group if e.point)
    if last is not None:
        basis = f"estimated: last infusion {last} + {cycle} days"
        candidates.append((END_RANK["administration"], dates.shifted(last, cycle), basis))
    if not candidates:
        return None, ""
    best = min(rank for rank, _, _ in candidates)
    rank_ends = [(end, basis) for rank, end, basis in candidates if rank == best]
    end, basis = max(rank_ends, key=lambda item: dates.latest_key(item[0]))
    last_start = dates.latest(e.start for e in group)
    if last_start and last_start.earliest > end.latest:
        return None, ""
    return end, basis


def _course(group: list[Exposure], today: date, cycle: int) -> DrugCourse:
    last = group[-1]
    if last.point:
        # Infusions: running while the last dose is recent and was not stopped.
        active = (
            last.start is not None
            and last.start.latest >= today - timedelta(days=ADMINISTRATION_ACTIVE_DAYS)
            and last.stop_reason is UNKNOWN
        )
    else:
        active = last.running and (last.end is None or last.end.latest >= today)
    end, basis = (None, "") if active else _end(group, cycle)
    ranked = [e for e in group if e.start]
    best = min((e.start_rank for e in ranked), default=None)
    stopped = [e for e in group if e.stop_reason is not UNKNOWN] or group
    reason: StopReason | Unknown = UNKNOWN if active else stopped[-1].stop_reason
    detail = next((e.stop_detail for e in reversed(group) if e.stop_detail), "")
    return DrugCourse(
        agent=last.agent,
        start=dates.earliest(e.start for e in ranked if e.start_rank == best),
        end=end,
        active=active,
        stop_reason=reason,
        evidence=tuple(dict.fromkeys(ref for e in group for ref in e.evidence)),
        end_estimated=bool(end and basis),
        end_basis=basis if end else "",
        stop_detail="" if active else detail,
        representation=", ".join(dict.fromkeys(e.representation for e in group)),
        last_given=dates.latest(e.start for e in group),
    )


def courses(res: Resources, today: date) -> tuple[DrugCourse, ...]:
    """One course per continuous use of an agent: renewals, refills and cycles of it merged."""
    by_agent: dict[str, list[Exposure]] = {}
    for exposure in exposures(res):
        by_agent.setdefault(exposure.agent, []).append(exposure)
    result: list[DrugCourse] = []
    for found in by_agent.values():
        cycle = _cycle_days([e for e in found if e.point])
        group: list[Exposure] = []
        for exposure in found:
            if group and not _continues(group, exposure, cycle):
                result.append(_course(group, today, cycle))
                group = []
            group.append(exposure)
        if group:
            result.append(_course(group, today, cycle))
    return tuple(sorted(result, key=lambda c: (dates.earliest_key(c.start), c.agent)))


def _carried_into(course: DrugCourse, new_start: FhirDate) -> bool:
    """Was `course` still given once a new line began (so it belongs to that line too)?"""
    if course.active:
        return True
    if course.end is None:
        return False
    if course.end_estimated:
        # An estimate (a prescription's supply x fills) can run months past a switch: only a
        # record of the agent given once the new line began carries it over.
        return course.last_given is not None and course.last_given.earliest >= new_start.earliest
    return course.end.latest > new_start.latest + timedelta(days=REGIMEN_START_WINDOW_DAYS)


def _regimen(
    members: list[DrugCourse], end_cap: FhirDate | None, start: FhirDate | None = None
) -> Regimen:
    """The regimen of a line's courses; `start` is when the line began (a course carried over
    from the previous line started before it)."""
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
        start or dates.earliest(c.start for c in members),
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
    starts: list[FhirDate | None] = []  # when each line began: its first new course
    for course in dated:
        line_start = starts[-1] if starts else None
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
            carried = [c for c in lines[-1] if _carried_into(c, course.start)]
        lines.append(carried + [course])
        # Not a carried course's start: trastuzumab given since 2022 does not make a line that
        # began in 2025 years old (its partners would each open a line of their own, and a
        # progression before 2025 would be read as on it).
        starts.append(course.start)
    built = []
    for i, line in enumerate(lines):
        nxt = lines[i + 1] if i + 1 < len(lines) else None
        carried_on = nxt is not None and any(c in nxt for c in line)
        cap = nxt[-1].start if carried_on and nxt else None
        built.append(_regimen(line, cap, starts[i]))
    # Courses without any start date cannot be placed in a line: each stands alone.
    built += [_regimen([c], None) for c in anticancer if not c.start]
    return tuple(built)


def _started_before(regimen: Regimen, when: FhirDate) -> bool:
    return regimen.start is not None and regimen.start.earliest < when.earliest


def _relation(regimen: Regimen, when: FhirDate) -> str | None:
    """How a progression after `regimen` started (no other regimen between) relates to it."""
    if regimen.active:
        return "on"
    end = regimen.end
    if end is not None and when.earliest <= end.latest + timedelta(days=PROGRESSION_WINDOW_DAYS):
        return "on"  # during the course, or within the window after it
    if end is None or any(c.end_estimated for c in regimen.courses):
        return "on or after"  # its end is not recorded: it may have run until then
    return None  # it ended, as recorded, long before: not progression on it


def link_progressions(
    lines: tuple[Regimen, ...], events: tuple[ProgressionEvent, ...], today: date
) -> tuple[Regimen, ...]:
    """Attach each progression to the last regimen started before it (no other regimen came in
    between): "on" it when it fell within its course or the window after it, "on or after" it
    when its end is not recorded. A regimen keeps the latest progression attached to it."""
    placed = sorted((r for r in lines if r.start), key=lambda r: dates.earliest_key(r.start))
    linked: dict[int, tuple[ProgressionEvent, str]] = {}
    for event in sorted((e for e in events if e.when), key=lambda e: dates.latest_key(e.when)):
        when = event.when
        assert when is not None
        if when.earliest > today:
            continue
        before = [r for r in placed if _started_before(r, when)]
        if not before:
            continue
        regimen = before[-1]
        relation = _relation(regimen, when)
        if relation is not None:
            linked[id(regimen)] = (event, relation)
    out = []
    for regimen in lines:
        found = linked.get(id(regimen))
        if found is None:
            out.append(regimen)
        else:
            event, relation = found
            out.append(replace(regimen, progression=event, progression_relation=relation))  # type: ignore[arg-type]
    return tuple(out)


def _onset(conditions: tuple[dict, ...]) -> tuple[FhirDate, str] | None:
    dated = [(when, reference(c)) for c in conditions if (when := dates.clinical_date(c))]
    return min(dated, key=lambda item: dates.earliest_key(item[0])) if dated else None


def _covers(course: DrugCourse, when: FhirDate) -> bool:
    return course.active or (course.end is not None and course.end.latest >= when.earliest)


def first_cns_metastasis(
    res: Resources, lines: tuple[Regimen, ...], recorded: tuple[ProgressionEvent, ...] = ()
) -> tuple[ProgressionEvent, ...]:
    """The first brain or leptomeningeal metastasis, when diagnosed while a regimen was running:
    CNS progression on that regimen. Diagnosed with no regimen running, it is a new diagnosis.
    None when an intracranial progression is already `recorded` on that day (the same event)."""
    found: list[tuple[FhirDate, str, str]] = []
    onset = brain.brain_metastases_onset(res)
    if isinstance(onset.value, FhirDate) and onset.evidence:
        found.append((onset.value, onset.evidence[0], "brain metastasis"))
    lmd = _onset(brain.leptomeningeal_conditions(res))
    if lmd is not None:
        found.append((lmd[0], lmd[1], "leptomeningeal metastasis"))
    if not found:
        return ()
    when, ref, what = min(found, key=lambda item: dates.earliest_key(item[0]))
    if any(
        e.site == "intracranial" and e.when and dates.days_between(e.when, when) == 0
        for e in recorded
    ):
        return ()
    before = [r for r in lines if _started_before(r, when)]
    if not any(_covers_regimen(r, when) for r in before):
        # The last regimen started before the diagnosis may still have been running: nothing
        # records or estimates its end. Then it is progression "on or after" it, as
        # link_progressions words it, never silence. A regimen whose end the record shows
        # (recorded, or last infusion + cycle) ended before: a new diagnosis, not progression.
        latest = max(before, key=lambda r: dates.earliest_key(r.start), default=None)
        if latest is None or latest.active or latest.end is not None:
            return ()
    # The event says what happened; the regimen it happened on is the card's to name (by the
    # agents active that day, "on or after" where the end is not recorded), so the sentence
    # never repeats it.
    description = f"first {what} diagnosed"
    return (ProgressionEvent(when, "intracranial", "first-brain-metastasis", description, (ref,)),)


def _covers_regimen(regimen: Regimen, when: FhirDate) -> bool:
    return regimen.active or (regimen.end is not None and regimen.end.latest >= when.earliest)
