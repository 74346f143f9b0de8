"""Brain imaging: brain MRIs (the last one's date) and the brain imaging reports and their text.

Representations read (shared/reference/clinical-terminology-and-evidence.md section 4):
- ImagingStudy with modality MR (study or series, DICOM) and a series bodySite in brain-body-site;
- ImagingStudy.procedureCode, DiagnosticReport.code or Procedure.code in value set brain-mri: LOINC
  24587-8 / 24589-4 / 30657-1 / 24590-2 / 24588-6, CPT 70551-70553, or the words ("MRI brain");
- brain imaging reports: brain-MRI DiagnosticReports, and radiology reports (category v2-0074 RAD
  or LOINC LP29684-5) whose code names the brain or head ("CT head"); their text is the
  conclusion, conclusionCode text, notes and plain-text presentedForm (base64).
Left out on purpose: 24606-6 / 24607-4 (mammography codes some repositories mislabel as brain
MRI); a presentedForm that is not text (PDF, image) is unreadable and said so, never read as empty.
"No brain MRI" is asserted only when every imaging type was obtained and none was skipped as
malformed: otherwise the last MRI is unknown.
"""

from __future__ import annotations

import base64
import binascii
import re

from cds_service.state import dates
from cds_service.state.model import Fact, FhirDate
from cds_service.state.resources import Resources, reference
from cds_service.state.terminology import codings, matches, mentions, text_of

DICOM = "http://dicom.nema.org/resources/ontology/DCM"
IMAGING_TYPES = ("ImagingStudy", "DiagnosticReport", "Procedure")
# The report categories this module reads (checked against the prefetch by a test).
REPORT_CATEGORY_VALUESETS = ("radiology-report",)
# Report statuses whose findings are not final: a preliminary read may be revised.
NOT_FINAL = frozenset({"registered", "partial", "preliminary"})


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


def is_radiology_report(report: dict) -> bool:
    return any(matches(c, "radiology-report", text=False) for c in report.get("category", []))


def _names_brain(report: dict) -> bool:
    code = report.get("code")
    return matches(code, "brain-body-site") or mentions(text_of(code), "head")


def brain_reports(res: Resources) -> tuple[dict, ...]:
    """DiagnosticReports about the brain: brain MRIs, and radiology reports naming brain or head."""
    return res.once(
        "brain-reports",
        lambda: tuple(
            r
            for r in res.of("DiagnosticReport")
            if is_brain_mri(r) or (is_radiology_report(r) and _names_brain(r))
        ),
    )


# A report's clauses, each about one finding ("new left lesion; treated right lesion smaller").
_CLAUSES = re.compile(r"[;\n|]|\.(?!\d)")


def clauses(text: str) -> list[str]:
    """A report's text cut into clauses, each about one finding."""
    return _CLAUSES.split(text)


def attachment_text(attachment: dict) -> str | None:
    """The text of a plain-text attachment; None when it is not text or cannot be decoded."""
    content_type = (attachment.get("contentType") or "").lower()
    data = attachment.get("data")
    if not content_type.startswith("text/") or not isinstance(data, str):
        return None
    try:
        return base64.b64decode(data, validate=False).decode("utf-8")
    except (binascii.Error, ValueError):
        return None


def report_text(report: dict) -> tuple[str, tuple[str, ...]]:
    """All the words of a report (conclusion, coded conclusion, notes, plain-text presentedForm),
    and a note for each part that could not be read."""
    parts = [report.get("conclusion", ""), report.get("description", "")]
    parts += [text_of(c) for c in report.get("conclusionCode", [])]
    parts += [n.get("text", "") for n in report.get("note", [])]
    unreadable = []
    for form in report.get("presentedForm", []):
        text = attachment_text(form)
        if text is None:
            kind = form.get("contentType") or "no content type"
            unreadable.append(f"{reference(report)}: presentedForm ({kind}) could not be read")
        else:
            parts.append(text)
    return " | ".join(p for p in parts if p), tuple(unreadable)


def last_brain_mri(res: Resources) -> Fact[FhirDate]:
    """Date of the latest brain MRI; value None when the complete, readable record holds none."""
    if not res.available(*IMAGING_TYPES):
        return Fact.unknown("imaging could not be obtained")
    # Where part of the imaging record could not be fetched or read, a later MRI may sit there:
    # then "none on record" is unknown, and a date found is only the latest we could see.
    missing = [t for t in IMAGING_TYPES if not res.available(t)]
    gap = tuple(f"{t} could not be obtained" for t in missing)
    gap += tuple(f"a {t} could not be read" for t in IMAGING_TYPES if t in res.unreadable)
    found = [(dates.clinical_date(r), r) for r in brain_mris(res, *IMAGING_TYPES)]
    dated = [(d, r) for d, r in found if d]
    if not dated:
        if gap:
            return Fact.unknown("no brain MRI found", *gap)
        return Fact(
            None,  # type: ignore[arg-type]  # a known absence, not UNKNOWN
            (),
            ("no brain MRI in the record",),
            "ImagingStudy, DiagnosticReport and Procedure obtained and readable; none a brain MRI",
        )
    when = max(d for d, _ in dated)
    latest = [r for d, r in dated if d == when]
    refs = tuple(reference(r) for r in latest)
    basis = f"{latest[0].get('resourceType')} of a brain MRI, {when}"
    return Fact(when, refs, dates.partial_notes(refs[0], when) + gap, basis)
