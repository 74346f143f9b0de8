"""The CDS services we offer, declared once: discovery and request routing both read SERVICES."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from cds_service.errors import UnknownService
from cds_service.state.active_orders import OPEN_STATUSES

_PATIENT = "{{context.patientId}}"

# A request extension that pins "today" (ISO date) for reproducible examples and tests; the
# service honours it only when CDS_CLOCK_OVERRIDE is on.
AS_OF_EXTENSION = "org.her2cns.asOfDate"

# LOINC codes of the Observations the derivation reads: HER2 tissue tests (state/her2: IHC,
# ISH, the ISH ratio 49683-6, copy number 74860-8 and panel 74885-5), cancer disease status
# (97509-4, and 88040-1 from mCODE STU1 senders), mCODE tumour size (21889-1), ECOG (89247-1,
# 89262-0), Karnofsky (89243-0). Tests check that every LOINC code of the value sets the concept
# modules read is here. Rows coded only with an EHR-local code cannot be searched for by code:
# they are read when the EHR sends them, never asked for.
_OBSERVATION_CODES = (
    "48676-1",
    "85319-2",
    "18474-7",
    "85318-4",
    "31150-6",
    "49683-6",
    "74860-8",
    "74885-5",
    "96893-3",
    "72383-3",
    "97509-4",
    "88040-1",
    "21889-1",
    "89247-1",
    "89262-0",
    "89243-0",
)

_RADIOLOGY_CATEGORIES = (
    "http://terminology.hl7.org/CodeSystem/v2-0074|RAD",
    "http://loinc.org|LP29684-5",
)
# Pathology reports may state HER2 status in their conclusion (state/her2; value set
# pathology-report).
_PATHOLOGY_CATEGORIES = (
    "http://terminology.hl7.org/CodeSystem/v2-0074|SP",
    "http://terminology.hl7.org/CodeSystem/v2-0074|PAT",
    "http://loinc.org|LP7839-6",
)

PREFETCH: Mapping[str, str] = MappingProxyType(
    {
        "patient": f"Patient/{_PATIENT}",
        "conditions": f"Condition?patient={_PATIENT}",
        "medicationStatements": f"MedicationStatement?patient={_PATIENT}",
        # Every intent and status: the derivation sets aside what did not happen (state/exposures).
        # Epic names the drug on a separate Medication resource: _include brings it along (US
        # Core's recommended medication-list query); contained and inline drugs need nothing.
        "medicationRequests": f"MedicationRequest?patient={_PATIENT}"
        "&_include=MedicationRequest:medication",
        "medicationAdministrations": f"MedicationAdministration?patient={_PATIENT}",
        # Dispenses date a course an order leaves undated (handed over, days' supply).
        "medicationDispenses": f"MedicationDispense?patient={_PATIENT}",
        "procedures": f"Procedure?patient={_PATIENT}",
        "imagingStudies": f"ImagingStudy?patient={_PATIENT}",
        # Radiology reports carry brain MRIs recorded only as a report, lesion counts and sizes,
        # and mass effect in their text (category: HL7 v2-0074 RAD or US Core LOINC Radiology);
        # pathology reports, HER2 in their conclusion.
        "diagnosticReports": f"DiagnosticReport?patient={_PATIENT}&category="
        + ",".join(_RADIOLOGY_CATEGORIES + _PATHOLOGY_CATEGORIES),
        "observations": f"Observation?patient={_PATIENT}&code="
        + ",".join(f"http://loinc.org|{code}" for code in _OBSERVATION_CODES),
        # Signed orders still open (state/active_orders): an SRS, WBRT, resection, neurosurgery
        # referral or brain MRI already ordered answers the card that would ask for it.
        "serviceRequests": f"ServiceRequest?patient={_PATIENT}&status=" + ",".join(OPEN_STATUSES),
    }
)

# Without diagnoses and medication orders no rule can be judged; the rest only sharpens advice
# and is reported as unavailable (unknown) when it can't be had.
REQUIRED_PREFETCH: frozenset[str] = frozenset({"conditions", "medicationRequests"})


@dataclass(frozen=True)
class ServiceDefinition:
    """One CDS service: what discovery announces and what a call to it must satisfy."""

    id: str
    hook: str
    title: str
    description: str
    prefetch: Mapping[str, str]
    required: frozenset[str]

    def discovery(self) -> dict[str, object]:
        """This service as an entry of the discovery response."""
        return {
            "hook": self.hook,
            "id": self.id,
            "title": self.title,
            "description": self.description,
            "prefetch": dict(self.prefetch),
            "usageRequirements": self.usage_requirements(),
        }

    def usage_requirements(self) -> str:
        """What an EHR must arrange before calling (CDS Hooks 2.0 discovery usageRequirements)."""
        required = ", ".join(sorted(self.required))
        return (
            "The EHR's JWT issuer (iss) and its signing keys (jwks_url or jwks_file) must be "
            "registered in the service's trusted-clients file (CDS_CLIENTS). "
            f"Prefetch keys {required} are required, or a fhirServer the service is allowed to "
            "query (CDS_FHIR_SERVERS) with fhirAuthorization; without them the call is answered "
            "412. The other prefetch keys are optional: what they would show is treated as "
            "unknown when they are absent."
        )

    def resource_type(self, key: str) -> str:
        """The FHIR resource type a prefetch key reads (`Condition?patient=..` -> `Condition`)."""
        return self.prefetch[key].split("?", 1)[0].split("/", 1)[0]


_DESCRIPTION = (
    "CNS-active therapy advice for HER2-positive metastatic breast cancer with brain "
    "metastases: {what}. Cards state what the record shows and cite the guideline or trial."
)

SERVICES: tuple[ServiceDefinition, ...] = (
    ServiceDefinition(
        id="her2-cns-patient-view",
        hook="patient-view",
        title="HER2+ brain metastases: CNS-active therapy review",
        description=_DESCRIPTION.format(
            what="when the chart opens, flags intracranial progression without a CNS-active "
            "HER2 regimen"
        ),
        prefetch=PREFETCH,
        required=REQUIRED_PREFETCH,
    ),
    ServiceDefinition(
        id="her2-cns-order-select",
        hook="order-select",
        title="HER2+ brain metastases: order check at selection",
        description=_DESCRIPTION.format(
            what="checks the selected orders, e.g. a lapatinib rechallenge after progression "
            "on lapatinib"
        ),
        prefetch=PREFETCH,
        required=REQUIRED_PREFETCH,
    ),
    ServiceDefinition(
        id="her2-cns-order-sign",
        hook="order-sign",
        title="HER2+ brain metastases: order check at signing",
        description=_DESCRIPTION.format(
            what="checks the orders about to be signed, e.g. a lapatinib rechallenge after "
            "progression on lapatinib"
        ),
        prefetch=PREFETCH,
        required=REQUIRED_PREFETCH,
    ),
)

_BY_ID: Mapping[str, ServiceDefinition] = MappingProxyType({s.id: s for s in SERVICES})


def find_service(service_id: str) -> ServiceDefinition:
    """The service with this id; raises UnknownService (404)."""
    try:
        return _BY_ID[service_id]
    except KeyError:
        raise UnknownService(f"no CDS service with id {service_id[:100]!r}") from None
