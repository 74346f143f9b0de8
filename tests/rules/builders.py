"""Small builders for PatientState, so rule tests read like the clinical situation they describe."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from cds_service.state.model import (
    UNKNOWN,
    DraftOrder,
    DrugCourse,
    Fact,
    FhirDate,
    Her2Status,
    Her2Test,
    LocalTherapy,
    PatientState,
    PerformanceStatus,
    ProgressionEvent,
    Regimen,
)

TODAY = date(2026, 11, 23)


def d(text: str) -> FhirDate:
    parsed = FhirDate.parse(text)
    assert parsed is not None
    return parsed


def progression(when: str, site: str = "intracranial") -> ProgressionEvent:
    return ProgressionEvent(
        d(when), site, "disease-status", "brain MRI: new lesions", (f"Observation/prog-{when}",)
    )  # type: ignore[arg-type]


def regimen(
    agents: str,
    start: str,
    end: str | None = None,
    stop: str | None = "progression",  # None: not recorded
    progression_event: ProgressionEvent | None = None,
    detail: str = "",
) -> Regimen:
    names = frozenset(agents.split("+"))
    active = end is None
    courses = tuple(
        DrugCourse(
            a,
            d(start),
            d(end) if end else None,
            active,
            UNKNOWN if active or stop is None else stop,
            (f"MedicationStatement/{a}-{start}",),
            stop_detail=detail,
        )  # type: ignore[arg-type]
        for a in sorted(names)
    )
    return Regimen(
        names,
        d(start),
        d(end) if end else None,
        active,
        UNKNOWN if active or stop is None else stop,
        courses,
        progression_event,
    )  # type: ignore[arg-type]


def srs(start: str, target: str = "left frontal lobe") -> LocalTherapy:
    return LocalTherapy("srs", d(start), d(start), (target,), evidence=(f"Procedure/srs-{start}",))


def draft(agent: str, ref: str = "MedicationRequest/draft-1", selected: bool = True) -> DraftOrder:
    return DraftOrder(
        ref,
        "MedicationRequest",
        selected,
        frozenset(agent.split("+")),
        display=agent.replace("+", " + "),
    )


def procedure_order(kind: str, ref: str, display: str) -> DraftOrder:
    """A draft ServiceRequest the derivation recognised as `kind` ("wbrt", "srs", ...)."""
    return DraftOrder(ref, "ServiceRequest", True, procedure=kind, display=display)


def performance(scale: str, score: int, when: str = "2026-11-10") -> Fact:
    return Fact(PerformanceStatus(scale, score, d(when)), ("Observation/ps",))  # type: ignore[arg-type]


def patient(
    *,
    her2: str | None = "positive",
    brain_mets: bool = True,
    regimens: tuple[Regimen, ...] = (),
    progressions: tuple[ProgressionEvent, ...] = (),
    local: tuple[LocalTherapy, ...] = (),
    orders: tuple[DraftOrder, ...] = (),
    mass_effect: bool | None = None,
    lesion_cm: float | None = None,
    lmd: bool = False,
) -> PatientState:
    status: Fact = Fact(her2, ("Observation/her2",)) if her2 else Fact(UNKNOWN)
    tests = (Her2Test(her2, d("2021-03-10"), "IHC 3+", ("Observation/her2",)),) if her2 else ()  # type: ignore[arg-type]
    courses = tuple(c for r in regimens for c in r.courses)
    return PatientState(
        today=TODAY,
        breast_cancer=Fact(True, ("Condition/breast",)),
        her2=Her2Status(status, False, tests),
        brain_metastases=Fact(brain_mets, ("Condition/brain",)),
        brain_metastases_onset=Fact(d("2024-05-14"), ("Condition/brain",))
        if brain_mets
        else Fact(UNKNOWN),
        leptomeningeal_disease=Fact(lmd),
        mass_effect=Fact(True, ("Condition/brain",)) if mass_effect else Fact(UNKNOWN),
        largest_brain_lesion_cm=Fact(lesion_cm) if lesion_cm is not None else Fact(UNKNOWN),
        brain_lesion_count=Fact(UNKNOWN),
        progression_events=progressions,
        extracranial_status=Fact("stable"),
        local_therapies=local,
        courses=courses,
        regimens=regimens,
        last_brain_mri=Fact(d("2026-08-20")),
        performance_status=Fact(UNKNOWN),
        hospice=Fact(UNKNOWN),
        draft_orders=orders,
        therapy_history_known=Fact(True),
        local_therapy_known=Fact(True),
    )


def with_orders(state: PatientState, *orders: DraftOrder) -> PatientState:
    return replace(state, draft_orders=orders)
