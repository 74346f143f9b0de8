"""The one place that imports FHIR R4 models (fhir.resources.R4B; the package default is R5)."""

from __future__ import annotations

from fhir.resources.R4B.condition import Condition
from fhir.resources.R4B.diagnosticreport import DiagnosticReport
from fhir.resources.R4B.fhirresourcemodel import FHIRResourceModel
from fhir.resources.R4B.imagingstudy import ImagingStudy
from fhir.resources.R4B.medication import Medication
from fhir.resources.R4B.medicationadministration import MedicationAdministration
from fhir.resources.R4B.medicationdispense import MedicationDispense
from fhir.resources.R4B.medicationrequest import MedicationRequest
from fhir.resources.R4B.medicationstatement import MedicationStatement
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.procedure import Procedure
from fhir.resources.R4B.servicerequest import ServiceRequest

# Imported eagerly: fhir_core otherwise imports classes lazily on first use, which makes the
# first hook after a worker starts several times slower than the rest.
MODEL_CLASSES: dict[str, type[FHIRResourceModel]] = {
    cls.__name__: cls
    for cls in (
        Condition,
        DiagnosticReport,
        ImagingStudy,
        Medication,
        MedicationAdministration,
        MedicationDispense,
        MedicationRequest,
        MedicationStatement,
        Observation,
        Patient,
        Procedure,
        ServiceRequest,
    )
}

__all__ = [
    "MODEL_CLASSES",
    "Condition",
    "DiagnosticReport",
    "FHIRResourceModel",
    "ImagingStudy",
    "Medication",
    "MedicationAdministration",
    "MedicationDispense",
    "MedicationRequest",
    "MedicationStatement",
    "Observation",
    "Patient",
    "Procedure",
    "ServiceRequest",
]
