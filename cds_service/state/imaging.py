"""The last brain MRI: an ImagingStudy, DiagnosticReport or Procedure that is one."""

from __future__ import annotations

from cds_service.state import dates
from cds_service.state.model import Fact, FhirDate
from cds_service.state.resources import Resources, reference
from cds_service.state.terminology import codings, matches

DICOM = "http://dicom.nema.org/resources/ontology/DCM"
IMAGING_TYPES = ("ImagingStudy", "DiagnosticReport", "Procedure")


def _is_mr(study: dict) -> bool:
    modalities = list(study.get("modality", [])) + [
        s.get("modality") for s in study.get("series", [])
    ]
    return any(code == "MR" for m in modalities if m for _, code, _ in codings(m))


def _on_brain(study: dict) -> bool:
    sites = [s.get("bodySite") for s in study.get("series", []) if s.get("bodySite")]
    return any(matches(s, "brain-body-site", text=False) for s in sites)


def brain_mris(res: Resources, *types: str) -> tuple[dict, ...]:
    """The brain MRIs among the resources of `types` (in `res.of` order), each checked once."""
    return res.per_type(
        "brain-mri", types, lambda rtype: tuple(r for r in res.of(rtype) if is_brain_mri(r))
    )


def is_brain_mri(resource: dict) -> bool:
    concepts = [resource.get("code"), *resource.get("procedureCode", [])]
    if any(c and matches(c, "brain-mri") for c in concepts):
        return True
    return (
        resource.get("resourceType") == "ImagingStudy" and _is_mr(resource) and _on_brain(resource)
    )


def last_brain_mri(res: Resources) -> Fact[FhirDate]:
    """Date of the latest brain MRI; value None when the record holds none."""
    if not res.available(*IMAGING_TYPES):
        return Fact.unknown("imaging could not be obtained")
    # Where part of the imaging record could not be fetched, a later MRI may sit there: then
    # "none on record" is unknown, and a date found is only the latest we could see.
    missing = [t for t in IMAGING_TYPES if not res.available(t)]
    gap = (f"{', '.join(missing)} could not be obtained",) if missing else ()
    found = [(dates.clinical_date(r), r) for r in brain_mris(res, *IMAGING_TYPES)]
    dated = [(d, r) for d, r in found if d]
    if not dated:
        if missing:
            return Fact.unknown("no brain MRI found", *gap)
        return Fact(None, (), ("no brain MRI in the record",))  # type: ignore[arg-type]
    when = max(d for d, _ in dated)
    refs = tuple(reference(r) for d, r in dated if d == when)
    return Fact(when, refs, dates.partial_notes(refs[0], when) + gap)
