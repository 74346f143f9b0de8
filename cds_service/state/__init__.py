"""Patient state: derive(record, today, context) -> PatientState, a pure function of the record."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from cds_service.state import (
    active_orders,
    brain,
    breast_cancer,
    her2,
    imaging,
    lesions,
    orders,
    progression,
    radiotherapy,
    status,
    therapy,
)
from cds_service.state.model import UNKNOWN, Fact, PatientState
from cds_service.state.resources import RecordData, Resources, collect


def _therapy_history_known(record: RecordData, res: Resources) -> Fact[bool]:
    missing = [t for t in therapy.MEDICATION_TYPES if t in res.unavailable]
    # Dispenses alone never show a whole history (infusions are not dispensed to the patient).
    if set(missing) >= {"MedicationStatement", "MedicationRequest", "MedicationAdministration"}:
        return Fact(False, (), ("no medication data could be obtained: therapy history unknown",))
    # A medication record that could not be read may be the course that matters: the history is
    # then unknown, never "none" (only records that could have mattered are reported skipped).
    unread = [
        s.describe()
        for s in record.skipped
        if s.resource_type in therapy.MEDICATION_TYPES + ("Medication",)
    ]
    if unread:
        return Fact(
            UNKNOWN, (), ("medication records could not be read: therapy history unknown", *unread)
        )
    obtained = ", ".join(t for t in therapy.MEDICATION_TYPES if t not in missing)
    return Fact(
        True,
        (),
        tuple(f"{t} could not be obtained" for t in missing),
        basis=f"obtained and readable: {obtained}",
    )


def _local_therapy_known(res: Resources) -> Fact[bool]:
    if "Procedure" in res.unavailable:
        return Fact(False, (), ("Procedures could not be obtained: local therapy history unknown",))
    if "Procedure" in res.unreadable:
        return Fact(False, (), ("a Procedure could not be read: it may record local therapy",))
    return Fact(True, (), (), "Procedures obtained and readable")


def _record_notes(record: RecordData, res: Resources) -> tuple[str, ...]:
    notes = [s.describe() for s in record.skipped]
    notes += list(res.set_aside)
    notes += list(progression.not_final_reports(res))
    notes += [
        f"{t} could not be obtained: facts drawn from it are unknown"
        for t in sorted(res.unavailable)
    ]
    return tuple(notes)


def derive(
    record: RecordData, today: date, context: Mapping[str, Any] | None = None
) -> PatientState:
    """Every fact of the state, each from its own small function; draft orders are never history."""
    drafts = orders.draft_orders(context)
    res = collect(record, (d.reference for d in drafts))
    local = radiotherapy.local_therapies(res) if "Procedure" not in res.unavailable else ()
    recorded = progression.recorded_progressions(res)
    drug_courses = therapy.courses(res, today)
    lines = therapy.regimens(drug_courses)
    events = tuple(
        sorted(
            recorded
            + radiotherapy.srs_progressions(local, recorded)
            + therapy.first_cns_metastasis(res, lines, recorded),
            key=lambda e: (e.when.earliest, e.when.latest) if e.when else (date.max, date.max),
        )
    )
    return PatientState(
        today=today,
        breast_cancer=breast_cancer.breast_cancer(res),
        her2=her2.her2_status(res),
        brain_metastases=brain.brain_metastases(res),
        brain_metastases_onset=brain.brain_metastases_onset(res),
        leptomeningeal_disease=brain.leptomeningeal_disease(res),
        mass_effect=lesions.mass_effect(res),
        largest_brain_lesion_cm=lesions.largest_brain_lesion_cm(res),
        brain_lesion_count=lesions.brain_lesion_count(res),
        progression_events=events,
        extracranial_status=progression.extracranial_status(res),
        local_therapies=local,
        courses=drug_courses,
        regimens=therapy.link_progressions(lines, events, today),
        last_brain_mri=imaging.last_brain_mri(res),
        performance_status=status.performance_status(res),
        hospice=status.hospice(res),
        draft_orders=drafts,
        notes=_record_notes(record, res),
        brain_metastases_status=brain.brain_metastases_status(res),
        therapy_history_known=_therapy_history_known(record, res),
        local_therapy_known=_local_therapy_known(res),
        severe_mass_effect=lesions.severe_mass_effect(res),
        new_brain_lesion_count=lesions.new_brain_lesion_count(res),
        progression_known=progression.progression_known(res),
        active_orders=active_orders.active_orders(res),
    )


__all__ = ["derive"]
