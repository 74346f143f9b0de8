"""Named facts the rules may test: each reads the patient state and says what it saw, with dates."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cds_service.state.model import (
    UNKNOWN,
    DraftOrder,
    Fact,
    FhirDate,
    PatientState,
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


def regimen_text(regimen: Regimen) -> str:
    text = f"{regimen.label} ({span(regimen.start, regimen.end, regimen.active)})"
    if regimen.stop_reason is not UNKNOWN and not regimen.active:
        text += f", stopped for {regimen.stop_reason}"
    return text


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
    text = f"HER2-{'positive' if positive else her2.status.value}" + (f" ({basis})" if basis else "")
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
    """Symptomatic mass effect recorded, or a brain lesion at least `large_lesion_cm` across."""
    state = ctx.state
    threshold = float(ctx.params["large_lesion_cm"])
    size = state.largest_brain_lesion_cm
    parts, evidence = [], list(state.mass_effect.evidence)
    if state.mass_effect.known and state.mass_effect.value:
        parts.append("mass effect recorded")
    if size.known and float(size.value) >= threshold:  # type: ignore[arg-type]
        parts.append(f"brain lesion {size.value} cm")
        evidence += size.evidence
    if parts:
        return Stated(True, "Large or symptomatic brain lesion: " + ", ".join(parts), tuple(evidence))
    if size.known and not state.mass_effect.known:
        # A measured lesion below the threshold and no mass effect on record.
        return Stated(False, f"Largest brain lesion {size.value} cm", size.evidence)
    if state.mass_effect.known:
        return Stated(False, "", tuple(evidence))
    return Stated(UNKNOWN)


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
        return Stated(False)
    regimen = _regimen_of(state, event)
    on = f", on {regimen.label}" if regimen is not None else ""
    text = f"Intracranial progression {when(event.when)} ({event.description}){on}"
    return Stated(True, text, event.evidence, {"date": when(event.when)})


@fact("srs_courses")
def srs_courses(ctx: FactContext) -> Stated:
    """How many SRS courses (fractions grouped into courses), with dates and targets."""
    courses = ctx.state.srs_courses
    parts = [
        f"{when(c.start)}" + (f" ({', '.join(c.targets)})" if c.targets else "") for c in courses
    ]
    text = f"SRS: {len(courses)} course(s): " + "; ".join(parts) if courses else ""
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
    return Stated(regimen.label, f"Current therapy: {regimen_text(regimen)}", regimen.evidence)


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


def progressed_on_agents(state: PatientState, agents: Iterable[str]) -> bool:
    """Whether any regimen containing one of `agents` ended in progression (unknown -> False)."""
    ctx = FactContext(state, "", {})
    return _progressed_on(ctx, agents).value is True


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
    data: dict[str, Any] = {"regimen": regimen.label, "start": when(regimen.start)}
    data["end"] = when(regimen.end)
    lines = [f"Earlier course: {regimen_text(regimen)}"]
    evidence = list(regimen.evidence)
    if _progressed(regimen):
        event = regimen.progression
        if event is not None:
            lines.append(f"progression {when(event.when)} ({event.description})")
            evidence += event.evidence
            data["progression_date"] = when(event.when)
        else:
            data["progression_date"] = when(regimen.end)
        later = _later_regimen(state, regimen, "lapatinib")
        if later is not None:
            lines.append(f"then {regimen_text(later)}")
            data["later_regimen"] = later.label
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
    names = " + ".join(sorted(ordered))
    refs = tuple(o.reference for o in state.draft_orders if o.agents & systemic)
    text = f"New order: {names}, with no agent of proven CNS activity"
    return Stated(True, text, refs, {"ordered": names})
