"""Named facts the rules may test: each reads the patient state and says what it saw, with dates."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from cds_service.rules.interactions import interacting_drugs
from cds_service.rules.wording import agent_name, course_stop, plural, regimen_name
from cds_service.state.lesions import lateralities_differ
from cds_service.state.model import (
    UNKNOWN,
    DraftOrder,
    Fact,
    FhirDate,
    LocalTherapy,
    PatientState,
    PerformanceStatus,
    ProgressionEvent,
    Regimen,
)


@dataclass(frozen=True)
class Stated:
    """A fact's value for one patient, the sentence a clinician reads, and its evidence."""

    value: Any  # UNKNOWN when the record cannot tell
    text: str = ""  # "" when there is nothing worth showing
    evidence: tuple[str, ...] = ()
    data: Mapping[str, Any] = field(default_factory=dict)  # fields for card templates

    @property
    def known(self) -> bool:
        return self.value is not UNKNOWN


@dataclass(frozen=True)
class FactContext:
    state: PatientState
    hook: str
    params: Mapping[str, Any]
    order: DraftOrder | None = None


@dataclass(frozen=True)
class FactDefinition:
    name: str
    compute: Callable[[FactContext], Stated]
    params: tuple[str, ...] = ()  # rule parameters it reads
    needs_order: bool = False  # only meaningful in per-order rules
    description: str = ""


REGISTRY: dict[str, FactDefinition] = {}


def fact(
    name: str, *, params: tuple[str, ...] = (), needs_order: bool = False
) -> Callable[[Callable[[FactContext], Stated]], Callable[[FactContext], Stated]]:
    def register(compute: Callable[[FactContext], Stated]) -> Callable[[FactContext], Stated]:
        doc = (compute.__doc__ or "").strip().splitlines()
        REGISTRY[name] = FactDefinition(name, compute, params, needs_order, doc[0] if doc else "")
        return compute

    return register


# --- formatting -------------------------------------------------------------------------------


def when(value: FhirDate | None) -> str:
    return str(value) if value is not None else "date not recorded"


def span(start: FhirDate | None, end: FhirDate | None, active: bool = False) -> str:
    if active:
        return f"since {when(start)}"
    return f"{when(start)} to {when(end)}"


def _from_fact(f: Fact[Any], text_if_true: str, text_if_false: str = "") -> Stated:
    if not f.known:
        return Stated(UNKNOWN, "", f.evidence)
    text = text_if_true if f.value else text_if_false
    notes = f" ({'; '.join(f.notes)})" if f.notes and text else ""
    return Stated(f.value, text + notes, f.evidence)


def _latest(events: Iterable[ProgressionEvent]) -> ProgressionEvent | None:
    dated = [e for e in events if e.when is not None]
    return max(dated, key=lambda e: e.when.latest) if dated else None  # type: ignore[union-attr]


def _therapy_known(state: PatientState) -> bool:
    # Without medication data an empty history means "unknown", never "never treated".
    return state.therapy_history_known.value is True


def _regimen_of(state: PatientState, event: ProgressionEvent) -> Regimen | None:
    return next((r for r in state.regimens if r.progression == event), None)


def _progressed(regimen: Regimen) -> bool:
    return regimen.progression is not None or regimen.stop_reason == "progression"


def _end_text(regimen: Regimen) -> str:
    """The end of a regimen, marked "estimated" (with how) when the record does not state it."""
    estimated = [c for c in regimen.courses if c.end_estimated and c.end == regimen.end]
    if estimated and regimen.end is not None:
        basis = estimated[0].end_basis
        return f"{when(regimen.end)} (estimated{': ' + basis if basis else ''})"
    return when(regimen.end) if regimen.end is not None else "end not recorded"


def regimen_dates(regimen: Regimen) -> str:
    """ "since 2025-02-10", "2025-02-10 to 2025-09-01", "2025-02-10 to end not recorded"."""
    if regimen.active:
        return f"since {when(regimen.start)}"
    return f"{when(regimen.start)} to {_end_text(regimen)}"


def regimen_text(regimen: Regimen) -> str:
    """ "lapatinib + capecitabine (2024-01-10 to 2024-09-02), stopped for toxicity: grade 3 diarrhoea"."""
    current = regimen.current_agents
    text = f"{regimen_name(current)} ({regimen_dates(regimen)})"
    completed = [c for c in regimen.courses if c.agent not in current]
    if completed:
        text += "; " + ", ".join(
            f"{agent_name(c.agent)} completed {when(c.end)}" for c in completed
        )
    if not regimen.active:
        stop = course_stop(regimen.courses)
        if stop:
            text += f", {stop}"
    return text


def progression_on(state: PatientState, event: ProgressionEvent) -> str:
    """What the patient was on at a progression: only the agents active that day.

    "on trastuzumab", "on or after lapatinib + capecitabine" (end not recorded), "after X (ended
    ...)" for a progression in the window after a regimen; "" when nothing is linked."""
    regimen = _regimen_of(state, event)
    day = event.when.latest if event.when is not None else None
    active = state.agents_active_on(day) if day is not None else frozenset()
    if regimen is not None:
        on_day = active & regimen.agents
        if regimen.progression_relation == "on or after":
            return f"on or after {regimen_name(on_day or regimen.agents)}"
        if on_day:
            return f"on {regimen_name(on_day)}"
        return f"after {regimen_name(regimen.agents)} (ended {_end_text(regimen)})"
    anticancer = {c.agent for c in state.courses if c.agent in active} & {
        a for r in state.regimens for a in r.agents
    }
    return f"on {regimen_name(anticancer)}" if anticancer else ""


# --- diagnosis --------------------------------------------------------------------------------


@fact("hook")
def hook(ctx: FactContext) -> Stated:
    """The hook being answered."""
    return Stated(ctx.hook)


@fact("breast_cancer")
def breast_cancer(ctx: FactContext) -> Stated:
    """Breast cancer is recorded."""
    return _from_fact(ctx.state.breast_cancer, "Breast cancer")


@fact("her2_positive")
def her2_positive(ctx: FactContext) -> Stated:
    """HER2-positive by any valid test or diagnosis (discordance flagged)."""
    her2 = ctx.state.her2
    if not her2.status.known:
        return Stated(UNKNOWN, "", her2.status.evidence)
    positive = her2.status.value == "positive"
    tests = [t for t in her2.tests if t.result == "positive"] if positive else list(her2.tests)
    basis = "; ".join(f"{t.method}, {when(t.when)}" for t in tests[:2])
    text = f"HER2-{'positive' if positive else her2.status.value}" + (
        f" ({basis})" if basis else ""
    )
    if her2.discordant:
        others = [t for t in her2.tests if t.result != "positive"]
        shown = "; ".join(f"{t.result} {t.method}, {when(t.when)}" for t in others[:2])
        text += f"; discordant result on record ({shown}): HER2-directed advice kept"
    return Stated(positive, text, her2.status.evidence)


@fact("brain_metastases")
def brain_metastases(ctx: FactContext) -> Stated:
    """Brain metastases are recorded, with their onset."""
    state = ctx.state
    onset = state.brain_metastases_onset
    since = f" since {onset.value}" if onset.known else ""
    stated = _from_fact(state.brain_metastases, f"Brain metastases{since}")
    return Stated(stated.value, stated.text, stated.evidence + onset.evidence)


@fact("leptomeningeal_disease")
def leptomeningeal_disease(ctx: FactContext) -> Stated:
    """Leptomeningeal disease is recorded."""
    return _from_fact(ctx.state.leptomeningeal_disease, "Leptomeningeal disease")


@fact("mass_effect_or_large_lesion", params=("large_lesion_cm",))
def mass_effect_or_large_lesion(ctx: FactContext) -> Stated:
    """Mass effect recorded, or a brain lesion at least `large_lesion_cm` across (said as "large")."""
    state = ctx.state
    threshold = float(ctx.params["large_lesion_cm"])
    size = state.largest_brain_lesion_cm
    parts, evidence = [], list(state.mass_effect.evidence)
    severe = state.severe_mass_effect
    if severe.known and severe.value:
        parts.append(", ".join(severe.value).capitalize() + " recorded")  # type: ignore[arg-type]
        evidence += severe.evidence
    elif state.mass_effect.known and state.mass_effect.value:
        parts.append("Mass effect recorded")
    large = size.known and float(size.value) >= threshold  # type: ignore[arg-type]
    if large:
        parts.append(f"{'large' if parts else 'Large'} brain lesion ({size.value:g} cm)")  # type: ignore[union-attr]
        evidence += size.evidence
    if parts:
        data = {"large_cm": size.value if large else None, "mass_effect": len(parts) > int(large)}
        return Stated(True, "; ".join(parts), tuple(evidence), data)
    if size.known and not state.mass_effect.known:
        # A measured lesion below the threshold and no mass effect on record.
        return Stated(False, f"Largest brain lesion {size.value:g} cm", size.evidence)  # type: ignore[union-attr]
    if state.mass_effect.known:
        return Stated(False, "", tuple(evidence))
    return Stated(UNKNOWN)


@fact("severe_mass_effect")
def severe_mass_effect(ctx: FactContext) -> Stated:
    """Hydrocephalus, midline shift or herniation recorded from a brain lesion (named)."""
    severe = ctx.state.severe_mass_effect
    if not severe.known:
        return Stated(UNKNOWN, "", severe.evidence)
    findings = tuple(severe.value)  # type: ignore[arg-type]
    if not findings:
        return Stated(False)
    named = ", ".join(findings)
    return Stated(True, f"{named.capitalize()} recorded", severe.evidence, {"findings": named})


# --- course of the brain disease ---------------------------------------------------------------


def unanswered_intracranial_progression(state: PatientState) -> ProgressionEvent | None:
    """The latest intracranial progression not yet followed by local therapy or a new regimen."""
    latest = _latest(state.intracranial_progressions)
    if latest is None or latest.when is None:
        return None
    since = latest.when.earliest
    treated = any(
        t.start is not None and t.start.latest >= since and t.kind in ("srs", "wbrt", "resection")
        for t in state.local_therapies
    ) or any(r.start is not None and r.start.earliest > since for r in state.regimens)
    return None if treated else latest


@fact("intracranial_progression")
def intracranial_progression(ctx: FactContext) -> Stated:
    """Intracranial progression not yet answered by local therapy or a change of systemic therapy."""
    state = ctx.state
    if not state.brain_metastases.known:
        return Stated(UNKNOWN)
    event = unanswered_intracranial_progression(state)
    if event is None:
        # "No progression" only where the data that would show one was obtained and readable.
        return Stated(False) if state.progression_known.value is True else Stated(UNKNOWN)
    if not _local_known(state):
        # Local therapy since the progression may be what the unreadable Procedures hold:
        # whether it is still unanswered is not known, and the rule does not guess.
        return Stated(UNKNOWN)
    on = progression_on(state, event)
    text = f"Brain progression {when(event.when)}" + (f" {on}" if on else "")
    text += f": {event.description}"
    data = {"date": when(event.when), "on": on}
    return Stated(True, text, event.evidence, data)


@fact("srs_courses")
def srs_courses(ctx: FactContext) -> Stated:
    """How many SRS courses (fractions grouped into courses), with dates and targets."""
    courses = ctx.state.srs_courses
    parts = [
        f"{when(c.start)}" + (f" ({', '.join(c.targets)})" if c.targets else "") for c in courses
    ]
    text = f"SRS: {plural(len(courses), 'course')}: " + "; ".join(parts) if courses else ""
    evidence = tuple(ref for c in courses for ref in c.evidence)
    return Stated(len(courses), text, evidence)


# --- systemic therapy --------------------------------------------------------------------------


@fact("current_regimen")
def current_regimen(ctx: FactContext) -> Stated:
    """The systemic regimen the patient is on now, if any."""
    if not _therapy_known(ctx.state):
        return Stated(UNKNOWN)
    active = [r for r in ctx.state.regimens if r.active]
    if not active:
        return Stated(None, "No systemic therapy active")
    regimen = active[-1]
    label = regimen_name(regimen.current_agents)
    return Stated(label, f"Current therapy: {regimen_text(regimen)}", regimen.evidence)


@fact("on_working_cns_active_regimen", params=("cns_active_regimen_agents",))
def on_working_cns_active_regimen(ctx: FactContext) -> Stated:
    """On a CNS-active HER2 regimen with no intracranial progression since it started."""
    state = ctx.state
    if not _therapy_known(state):
        return Stated(UNKNOWN)
    cns_agents = frozenset(ctx.params["cns_active_regimen_agents"])
    for regimen in (r for r in state.regimens if r.active and r.agents & cns_agents):
        started = regimen.start.earliest if regimen.start else None
        progressed = started is not None and any(
            e.when is not None and e.when.latest >= started for e in state.intracranial_progressions
        )
        if not progressed:
            text = f"On {regimen_text(regimen)} without intracranial progression since"
            return Stated(True, text, regimen.evidence)
    return Stated(False)


def _progressed_on(ctx: FactContext, agents: Iterable[str]) -> Stated:
    if not _therapy_known(ctx.state):
        return Stated(UNKNOWN)
    wanted = frozenset(agents)
    for regimen in ctx.state.regimens:
        if regimen.agents & wanted and _progressed(regimen):
            return Stated(True, f"Progressed on {regimen_text(regimen)}", regimen.evidence)
    return Stated(False)


@fact("progressed_on_tucatinib")
def progressed_on_tucatinib(ctx: FactContext) -> Stated:
    """Progressed on a tucatinib regimen."""
    return _progressed_on(ctx, ("tucatinib",))


@fact("progressed_on_t_dxd")
def progressed_on_t_dxd(ctx: FactContext) -> Stated:
    """Progressed on trastuzumab deruxtecan."""
    return _progressed_on(ctx, ("t-dxd",))


def _later_regimen(state: PatientState, regimen: Regimen, agent: str) -> Regimen | None:
    """A regimen without `agent` that started after `regimen` ended (or began)."""
    ref = regimen.end or regimen.start
    if ref is None:
        return None
    return next(
        (
            r
            for r in state.regimens
            if agent not in r.agents and r.start is not None and r.start.earliest > ref.latest
        ),
        None,
    )


@fact("prior_lapatinib")
def prior_lapatinib(ctx: FactContext) -> Stated:
    """How an earlier lapatinib course ended: none, running, progressed, toxicity, ..."""
    state = ctx.state
    if not _therapy_known(state):
        return Stated(UNKNOWN)
    courses = [c for c in state.courses if c.agent == "lapatinib"]
    if not courses:
        return Stated("none", "No earlier lapatinib course on record")
    running = next((c for c in courses if c.active), None)
    if running is not None:
        text = f"Lapatinib course running since {when(running.start)}: this order continues it"
        return Stated("running", text, running.evidence)
    regimens = [r for r in state.regimens if "lapatinib" in r.agents]
    if not regimens:
        return Stated(UNKNOWN)
    regimen = max(regimens, key=lambda r: (r.end or r.start or FhirDate.parse("1900")).latest)  # type: ignore[union-attr]
    data: dict[str, Any] = {"regimen": regimen_name(regimen.agents), "start": when(regimen.start)}
    data["end"] = when(regimen.end)
    lines = [f"Earlier course: {regimen_text(regimen)}"]
    evidence = list(regimen.evidence)
    if _progressed(regimen):
        event = regimen.progression
        name = regimen_name(regimen.agents)
        lines = [f"{name[:1].upper()}{name[1:]} {regimen_dates(regimen)}"]
        if event is not None:
            # What the record said is in the evidence (explain); the line stays short.
            where = "brain progression" if event.site == "intracranial" else "progression"
            relation = "on or after" if regimen.progression_relation == "on or after" else "on"
            lines.append(f"{where} {relation} it {when(event.when)}")
            evidence += event.evidence
            data["progression_date"] = when(event.when)
        else:
            lines.append("stopped for progression")
            data["progression_date"] = when(regimen.end)
        later = _later_regimen(state, regimen, "lapatinib")
        if later is not None:
            lines.append(f"then {regimen_name(later.agents)}")
            data["later_regimen"] = regimen_name(later.agents)
            return Stated("progressed-then-other-regimen", "; ".join(lines), tuple(evidence), data)
        return Stated("progressed", "; ".join(lines), tuple(evidence), data)
    if regimen.stop_reason == "toxicity":
        return Stated("toxicity", "; ".join(lines), tuple(evidence), data)
    lines.append("no progression recorded during or after it")
    return Stated("ended-without-progression", "; ".join(lines), tuple(evidence), data)


@fact("new_regimen_without_cns_activity", params=("cns_active_agents", "systemic_agents"))
def new_regimen_without_cns_activity(ctx: FactContext) -> Stated:
    """A new systemic regimen is being ordered and none of its agents has CNS activity."""
    state = ctx.state
    if not _therapy_known(state):
        return Stated(UNKNOWN)
    systemic = frozenset(ctx.params["systemic_agents"])
    cns_active = frozenset(ctx.params["cns_active_agents"])
    ordered = frozenset(a for o in state.draft_orders for a in o.agents) & systemic
    selected = frozenset(a for o in state.draft_orders if o.selected for a in o.agents) & systemic
    running = frozenset(c.agent for c in state.courses if c.active)
    if not selected or not (selected - running) or ordered & cns_active:
        return Stated(False)
    names = regimen_name(ordered)
    refs = tuple(o.reference for o in state.draft_orders if o.agents & systemic)
    text = f"New order: {names}, with no agent of proven CNS activity"
    return Stated(True, text, refs, {"ordered": names})


# --- local therapy, performance status, surveillance (issue 4) -------------------------------

GENERIC_BRAIN_SITE = "http://snomed.info/sct|12738006"
_LOCAL_NAMES = {"srs": "SRS", "wbrt": "Whole-brain radiotherapy", "resection": "Resection"}


def _latest_date(candidates: Iterable[FhirDate | None]) -> FhirDate | None:
    dated = [x for x in candidates if x is not None]
    return max(dated, key=lambda x: x.latest) if dated else None


def _whole_months(start: date, end: date) -> int:
    return (end.year - start.year) * 12 + end.month - start.month - (end.day < start.day)


def _local_known(state: PatientState) -> bool:
    # Without Procedures an empty list of local therapies means "unknown", never "none given".
    return state.local_therapy_known.value is True


def _local_text(therapy: LocalTherapy) -> str:
    where = f" ({', '.join(therapy.targets)})" if therapy.targets else ""
    return f"{_LOCAL_NAMES[therapy.kind]} {when(therapy.start)}{where}"


def _onset(state: PatientState) -> FhirDate | None:
    value = state.brain_metastases_onset.value
    return value if isinstance(value, FhirDate) else None


def _progressions_after(state: PatientState, day: FhirDate) -> list[ProgressionEvent]:
    events = state.intracranial_progressions
    return [e for e in events if e.when is not None and e.when.earliest > day.latest]


def last_brain_event(state: PatientState) -> FhirDate | None:
    """The latest dated brain event: diagnosis, intracranial progression or local CNS therapy."""
    events = [e.when for e in state.intracranial_progressions]
    return _latest_date([_onset(state), *events, *(t.start for t in state.local_therapies)])


@fact("local_cns_therapy")
def local_cns_therapy(ctx: FactContext) -> Stated:
    """How many local CNS therapies (SRS courses, WBRT, resections) are recorded."""
    state = ctx.state
    if not _local_known(state):
        return Stated(UNKNOWN)
    therapies = state.local_therapies
    if not therapies:
        return Stated(0, "No SRS, whole-brain radiotherapy or resection on record")
    text = "Local CNS therapy: " + "; ".join(_local_text(t) for t in therapies)
    return Stated(len(therapies), text, tuple(ref for t in therapies for ref in t.evidence))


@fact("local_therapy_since_last_brain_event")
def local_therapy_since_last_brain_event(ctx: FactContext) -> Stated:
    """Local CNS therapy on or after the latest brain diagnosis or intracranial progression."""
    state = ctx.state
    latest = _latest_date([_onset(state), *(e.when for e in state.intracranial_progressions)])
    if not _local_known(state) or latest is None:
        return Stated(UNKNOWN)
    done = [t for t in state.local_therapies if t.start and t.start.latest >= latest.earliest]
    if not done:
        return Stated(False)
    evidence = tuple(ref for t in done for ref in t.evidence)
    return Stated(True, "; ".join(_local_text(t) for t in done), evidence)


@fact("extracranial_status")
def extracranial_status(ctx: FactContext) -> Stated:
    """The latest extracranial disease status: progressing, stable or responding."""
    status = ctx.state.extracranial_status
    if not status.known:
        return Stated(UNKNOWN, "", status.evidence)
    return Stated(status.value, f"Extracranial disease {status.value}", status.evidence)


def _running_regimen_with(ctx: FactContext, agents: Iterable[str], lead: str) -> Stated:
    """Whether a running regimen still gives one of `agents`; says which, after `lead`."""
    if not _therapy_known(ctx.state):
        return Stated(UNKNOWN)
    wanted = frozenset(agents)
    running = [r for r in ctx.state.regimens if r.active and r.current_agents & wanted]
    if not running:
        return Stated(False)
    regimen = running[-1]
    current = regimen_name(regimen.current_agents)
    return Stated(True, f"{lead}: {regimen_text(regimen)}", regimen.evidence, {"regimen": current})


@fact("on_her2_therapy", params=("her2_agents",))
def on_her2_therapy(ctx: FactContext) -> Stated:
    """A running regimen contains a HER2-directed agent."""
    return _running_regimen_with(ctx, ctx.params["her2_agents"], "Current therapy")


@fact("new_systemic_therapy_ordered", params=("systemic_agents",))
def new_systemic_therapy_ordered(ctx: FactContext) -> Stated:
    """A selected draft order starts a systemic anticancer agent not already being taken."""
    state = ctx.state
    if not _therapy_known(state):
        return Stated(UNKNOWN)
    systemic = frozenset(ctx.params["systemic_agents"])
    running = frozenset(c.agent for c in state.courses if c.active)
    orders = [o for o in state.draft_orders if o.selected and (o.agents & systemic) - running]
    if not orders:
        return Stated(False)
    names = regimen_name({a for o in orders for a in o.agents & systemic})
    refs = tuple(o.reference for o in orders)
    return Stated(True, f"New order: {names}", refs, {"ordered": names})


@fact("resection_ordered")
def resection_ordered(ctx: FactContext) -> Stated:
    """A draft order for brain tumour resection: the local-therapy advice is being acted on."""
    orders = [o for o in ctx.state.draft_orders if o.procedure == "resection"]
    if not orders:
        return Stated(False)
    return Stated(True, "New order: resection", tuple(o.reference for o in orders))


@fact("brain_lesion_count")
def brain_lesion_count(ctx: FactContext) -> Stated:
    """The number of brain lesions in the latest report that states one."""
    count = ctx.state.brain_lesion_count
    if not count.known:
        return Stated(UNKNOWN, "", count.evidence)
    text = f"Brain lesions on the latest report that counts them: {count.value}"
    return Stated(count.value, text, count.evidence)


@fact("poor_performance_status", params=("ecog_poor_at_least", "kps_poor_below"))
def poor_performance_status(ctx: FactContext) -> Stated:
    """Latest ECOG at or above `ecog_poor_at_least`, or Karnofsky below `kps_poor_below`."""
    recorded = ctx.state.performance_status
    if not recorded.known or recorded.value is None:
        return Stated(UNKNOWN, "", recorded.evidence)
    status: PerformanceStatus = recorded.value  # type: ignore[assignment]
    if status.scale == "ECOG":
        poor = status.value >= int(ctx.params["ecog_poor_at_least"])
    else:
        poor = status.value < int(ctx.params["kps_poor_below"])
    text = f"Performance status: {status.scale} {status.value} ({when(status.when)})"
    return Stated(poor, text, recorded.evidence, {"scale": status.scale, "score": status.value})


@fact("progression_after_last_srs")
def progression_after_last_srs(ctx: FactContext) -> Stated:
    """Intracranial progression recorded after the last SRS course."""
    state = ctx.state
    if not _local_known(state):
        return Stated(UNKNOWN)
    courses = [c for c in state.srs_courses if c.start is not None]
    if not courses:
        return Stated(False)
    last = max(courses, key=lambda c: c.start.latest)  # type: ignore[union-attr]
    event = _latest(_progressions_after(state, last.end or last.start))  # type: ignore[arg-type]
    if event is None:
        return Stated(False)
    text = f"Brain progression {when(event.when)} after the last SRS ({when(last.start)}): "
    text += event.description
    data = {"date": when(event.when), "last_srs": when(last.start)}
    return Stated(True, text, event.evidence + last.evidence, data)


def _specific_sites(keys: Iterable[str]) -> set[str]:
    # "Brain" alone cannot tell one lesion from another; only a more specific site can match.
    return {k for k in keys if k not in (GENERIC_BRAIN_SITE, "brain", "brain structure")}


def _same_site_srs(state: PatientState, order: DraftOrder | None) -> LocalTherapy | None:
    """The latest SRS course whose target matches a specific body site of the order."""
    sites = _specific_sites(order.body_sites) if order is not None else set()
    matched = [
        c
        for c in state.srs_courses
        if c.start is not None
        and sites & _specific_sites(c.target_codes + tuple(t.lower() for t in c.targets))
        # The same structure on the other side is another lesion (lesion identity).
        and not lateralities_differ(c.laterality, order.laterality if order else None)
    ]
    return max(matched, key=lambda c: c.start.latest) if matched else None  # type: ignore[union-attr]


@fact("srs_order_site_treated_before", needs_order=True)
def srs_order_site_treated_before(ctx: FactContext) -> Stated:
    """The SRS order names a body site an earlier SRS course already treated."""
    state, order = ctx.state, ctx.order
    if not _local_known(state) or order is None or not _specific_sites(order.body_sites):
        return Stated(UNKNOWN)  # no specific target on the order: the same lesion cannot be judged
    course = _same_site_srs(state, order)
    if course is None or course.start is None:
        return Stated(False)
    months = _whole_months(course.start.latest, state.today)
    site = ", ".join(course.targets) or "the same site"
    text = f"Earlier SRS to {site} on {when(course.start)}, about {plural(months, 'month')} ago"
    data = {"date": when(course.start), "site": site, "months": months}
    return Stated(True, text, course.evidence, data)


@fact("progression_since_site_srs", needs_order=True)
def progression_since_site_srs(ctx: FactContext) -> Stated:
    """Intracranial progression recorded after the earlier SRS to the ordered site."""
    course = _same_site_srs(ctx.state, ctx.order)
    if course is None or course.start is None:
        return Stated(UNKNOWN)
    # A progression seen on the other side is another lesion's (lesion identity): not this one.
    events = [
        e
        for e in _progressions_after(ctx.state, course.start)
        if not lateralities_differ(e.laterality, course.laterality)
    ]
    event = _latest(events)
    if event is None:
        return Stated(False)
    text = f"Brain progression {when(event.when)}: {event.description}"
    return Stated(True, text, event.evidence, {"date": when(event.when)})


@fact("on_antibody_drug_conjugate", params=("adc_agents",))
def on_antibody_drug_conjugate(ctx: FactContext) -> Stated:
    """A running regimen contains an antibody-drug conjugate (T-DM1, T-DXd)."""
    return _running_regimen_with(ctx, ctx.params["adc_agents"], "On an antibody-drug conjugate")


@fact("tucatinib_interaction")
def tucatinib_interaction(ctx: FactContext) -> Stated:
    """Drugs of the TUKYSA label's interaction classes taken or co-ordered: "warning", "info", "none".

    The value is the indicator of the most serious class found (tucatinib-interactions.toml)."""
    state = ctx.state
    if not _therapy_known(state):
        return Stated(UNKNOWN)
    drugs = interacting_drugs()
    seen: dict[str, str] = {}
    refs: list[str] = []
    for course in (c for c in state.courses if c.active and c.agent in drugs):
        seen.setdefault(course.agent, f"taking since {when(course.start)}")
        refs += course.evidence
    for order in state.draft_orders:
        for agent in sorted(order.agents & drugs.keys()):
            seen.setdefault(agent, "ordered now")
            refs.append(order.reference)
    if not seen:
        return Stated("none")
    found = [drugs[a] for a in drugs if a in seen]  # most serious class first
    value = "warning" if any(d.cls.indicator == "warning" for d in found) else "info"
    names = ", ".join(d.display for d in found)
    text = "Interacting: " + "; ".join(f"{d.display} ({seen[d.id]})" for d in found)
    classes = []
    for cls in dict.fromkeys(d.cls for d in found):
        members = [d for d in found if d.cls == cls]
        classes.append(
            {
                "drugs": " and ".join(d.display for d in members),
                "name": cls.name,
                "effect": cls.effect,
                "advice": cls.advice,
                "alternative": next((d.alternative for d in members if d.alternative), ""),
            }
        )
    return Stated(value, text, tuple(refs), {"names": names, "classes": classes})


@fact("brain_mri_on_record")
def brain_mri_on_record(ctx: FactContext) -> Stated:
    """Any brain MRI is in the record."""
    mri = ctx.state.last_brain_mri
    if not mri.known:
        return Stated(UNKNOWN, "", mri.evidence)
    return Stated(mri.value is not None)


_MRI_PARAMS = ("mri_interval_days", "mri_late_interval_days", "mri_intensive_years")


@fact("brain_mri_overdue", params=_MRI_PARAMS)
def brain_mri_overdue(ctx: FactContext) -> Stated:
    """No brain MRI within the surveillance interval, shorter in the years after a brain event.

    `mri_interval_days` during the first `mri_intensive_years` after the last brain event
    (diagnosis, intracranial progression, local therapy), `mri_late_interval_days` after that."""
    state = ctx.state
    mri = state.last_brain_mri
    if not mri.known:
        return Stated(UNKNOWN, "", mri.evidence)
    if mri.value is None:
        return Stated(True, "No brain MRI in the record", (), {"interval_days": None})
    last: FhirDate = mri.value  # type: ignore[assignment]
    age = (state.today - last.latest).days
    late, early = int(ctx.params["mri_late_interval_days"]), int(ctx.params["mri_interval_days"])
    event = last_brain_event(state)
    if event is None:
        # Without a dated brain event only the longer interval can be judged safely.
        if age <= early:
            return Stated(False)
        if age <= late:
            return Stated(UNKNOWN, "", mri.evidence)
        text = f"Last brain MRI {when(last)}, {age} days ago"
        data = {"interval_days": late, "age_days": age, "last": when(last)}
        return Stated(True, text, mri.evidence, data)
    years = float(ctx.params["mri_intensive_years"])
    interval = early if (state.today - event.latest).days <= 365.25 * years else late
    text = f"Last brain MRI {when(last)}, {age} days ago (last brain event {when(event)})"
    data = {"interval_days": interval, "age_days": age, "last": when(last)}
    return Stated(age > interval, text, mri.evidence, data)


@fact("hospice")
def hospice(ctx: FactContext) -> Stated:
    """Hospice or comfort care is recorded."""
    return _from_fact(ctx.state.hospice, "Hospice care recorded")


@fact("this_order", needs_order=True)
def this_order(ctx: FactContext) -> Stated:
    """The draft order a per-order rule is looking at, as the clinician named it."""
    order = ctx.order
    if order is None:
        return Stated(UNKNOWN)
    body_sites = order.resource.get("bodySite", [])
    sites = [s["text"] for s in body_sites if isinstance(s, dict) and s.get("text")]
    where = f" to {', '.join(sites)}" if sites else ""
    return Stated(True, f"Order being placed: {order.display}{where}", (order.reference,))


@fact("new_brain_lesion_count")
def new_brain_lesion_count(ctx: FactContext) -> Stated:
    """New brain lesions on the latest report; treated stable lesions are not counted."""
    count = ctx.state.new_brain_lesion_count
    if not count.known:
        return Stated(UNKNOWN, "", count.evidence)
    text = f"New brain lesions on the latest report: {count.value}"
    return Stated(count.value, text, count.evidence)


HER2_TKIS = ("lapatinib", "neratinib", "tucatinib")


@fact("tki_after_tki", needs_order=True)
def tki_after_tki(ctx: FactContext) -> Stated:
    """The ordered HER2 TKI follows progression on a regimen built on a different HER2 TKI, with
    no other regimen in between: "tki" (lapatinib, neratinib), "tucatinib" or "none"."""
    state, order = ctx.state, ctx.order
    if not _therapy_known(state) or order is None:
        return Stated(UNKNOWN)
    ordered = [a for a in HER2_TKIS if a in order.agents]
    started = [r for r in state.regimens if r.start is not None]
    if not ordered or not started:
        return Stated("none")
    latest = max(started, key=lambda r: r.start.earliest)  # type: ignore[union-attr]
    prior = [a for a in HER2_TKIS if a in latest.agents]
    if not prior or ordered[0] in latest.agents or not _progressed(latest):
        return Stated("none")
    event = latest.progression
    date = when(event.when) if event is not None else when(latest.end)
    on = progression_on(state, event) if event is not None else f"on {regimen_name(latest.agents)}"
    text = f"Progression {date} {on or 'on ' + regimen_name(latest.agents)}"
    data = {
        "ordered": agent_name(ordered[0]),
        "prior": regimen_name(latest.agents),
        "prior_tki": agent_name(prior[0]),
        "date": date,
        # The tucatinib triplet after a TKI + capecitabine gives capecitabine again.
        "capecitabine_again": "capecitabine" in latest.agents,
    }
    value = "tucatinib" if ordered[0] == "tucatinib" else "tki"
    evidence = latest.evidence + (event.evidence if event is not None else ())
    return Stated(value, text, evidence, data)


@fact("memantine_ordered")
def memantine_ordered(ctx: FactContext) -> Stated:
    """A draft order in this request names memantine (history is not read for it)."""
    found = any("memantine" in o.display.lower() for o in ctx.state.draft_orders)
    return Stated(found)


# --- events already answered by an open order (card-policy.toml `answered_by`) ----------------

_ORDER_NAMES = {
    "srs": "SRS",
    "wbrt": "whole-brain radiotherapy",
    "resection": "resection",
    "brain-mri": "brain MRI",
    "neurosurgery-referral": "neurosurgery referral",
}


# The events an open order can answer (card-policy.toml `answered_by.since`).
ANSWER_EVENTS = ("brain-event", "brain-mri")


def _answer_since(state: PatientState, since: str) -> tuple[FhirDate | None, bool]:
    """The event an order must follow, and whether an order on the event's own day counts."""
    if since == "brain-mri":
        # An MRI order dated the day of the last MRI is the order that MRI fulfilled.
        last = state.last_brain_mri.value
        return (last if isinstance(last, FhirDate) else None), False
    # "brain-event": an order placed the day of the progression is its answer.
    return last_brain_event(state), True


@fact("answered_by_open_order", params=("answering_orders", "answered_since"))
def answered_by_open_order(ctx: FactContext) -> Stated:
    """An open signed order for SRS, WBRT, resection, neurosurgery or brain MRI follows the event.

    The card's event (card-policy.toml `answered_by`) is then already answered."""
    state = ctx.state
    open_orders = state.active_orders
    if not open_orders.known:
        return Stated(UNKNOWN, "", open_orders.evidence)
    kinds = frozenset(ctx.params["answering_orders"])
    event, same_day = _answer_since(state, str(ctx.params["answered_since"]))
    # Without a dated event (no MRI on record, say) any open order of the kind answers it; with
    # one, an undated order may predate it and is no answer.
    after = [
        o
        for o in open_orders.value  # type: ignore[union-attr]
        if o.kind in kinds
        and (
            event is None
            or o.when is not None
            and (o.when.latest >= event.earliest if same_day else o.when.earliest > event.latest)
        )
    ]
    if not after:
        return Stated(False)
    text = "; ".join(
        f"{_ORDER_NAMES[o.kind].capitalize()} ordered {when(o.when)}"
        + (" (on hold)" if o.status == "on-hold" else "")
        for o in after
    )
    return Stated(True, text, tuple(ref for o in after for ref in o.evidence))
