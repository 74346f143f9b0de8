"""Patient state: derive(record, today, context) -> PatientState, a pure function of the record."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from cds_service.fhir.record import PatientRecord
from cds_service.state.model import UNKNOWN, Fact, Her2Status, PatientState


def derive(record: PatientRecord, today: date, context: Mapping | None = None) -> PatientState:
    """Placeholder until the derivation lands: everything unknown."""
    unknown: Fact = Fact(UNKNOWN)
    return PatientState(
        today=today,
        breast_cancer=unknown,
        her2=Her2Status(unknown),
        brain_metastases=unknown,
        brain_metastases_onset=unknown,
        leptomeningeal_disease=unknown,
        mass_effect=unknown,
        largest_brain_lesion_cm=unknown,
        brain_lesion_count=unknown,
        progression_events=(),
        extracranial_status=unknown,
        local_therapies=(),
        courses=(),
        regimens=(),
        last_brain_mri=unknown,
        performance_status=unknown,
        hospice=unknown,
    )
