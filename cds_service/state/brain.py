"""Brain metastases and leptomeningeal disease: which Conditions record them, since when, active?

Representations read (shared/reference/real-world-fhir-representations.md section 4.1):
- a brain-metastasis code: ICD-10-CM C79.31, its parent C79.3 (non-billable, still sent), SNOMED
  94225005 (value set brain-metastasis), or the words ("brain metastases") on an uncoded Condition;
- post-coordinated: SNOMED 128462008 "secondary malignant neoplastic disease" + bodySite brain
  (12738006 and its parts); 363346000 "malignant neoplastic disease" + bodySite brain only when the
  Condition is tied to its primary (condition-related): alone it may be a primary brain tumour;
- clinicalStatus active / recurrence / relapse (active) or inactive / remission / resolved;
  entered-in-error and refuted Conditions are set aside before (state/resources.is_void);
- leptomeningeal disease: ICD-10-CM C79.32, or the words ("leptomeningeal", "LMD", "carcinomatous
  meningitis"): no SNOMED concept is verified; and the words of a final brain imaging report, clause
  by clause (the MRI names it before the problem list does); a clause that only raises it
  ("suspicious for", "cannot exclude") makes it unknown, never "no";
Left out on purpose: C71.x (a primary brain tumour, value set primary-brain-tumour) is never a
metastasis, even where a radiotherapy example uses it as the reason (tested); a metastasis tied to
a primary coded (ICD-10-CM or SNOMED) as another cancer is noted and left out. A primary coded
only locally or worded unrecognisably is not "another cancer": that metastasis is kept, noted.
"""

from __future__ import annotations

from cds_service.state import breast_cancer, dates
from cds_service.state.coded import Coded, coded
from cds_service.state.imaging import NOT_FINAL, brain_reports, clauses, report_text
from cds_service.state.model import Fact, FhirDate
from cds_service.state.resources import Resources, reference
from cds_service.state.terminology import code_sets, codings, matches, mentions, text_of, valueset

RELATED_CONDITION_URL = "http://hl7.org/fhir/StructureDefinition/condition-related"
# Words that make a report's mention a question, not a finding.
_HEDGES = (
    "suspicious",
    "suspected",
    "possible",
    "possibly",
    "probable",
    "cannot exclude",
    "cannot be excluded",
    "not excluded",
    "may represent",
    "concern for",
    "concerning for",
    "question of",
    "questionable",
    "versus",
    "vs",
    "differential",
    "rule out",
    "correlate",
)
_ACTIVE = {"active", "recurrence", "relapse"}


def _related_primary(condition: dict) -> str | None:
    for ext in condition.get("extension", []):
        if ext.get("url") == RELATED_CONDITION_URL:
            return (ext.get("valueReference") or {}).get("reference")
    return None


def _on_brain(condition: dict) -> bool:
    return any(matches(site, "brain-body-site") for site in condition.get("bodySite", []))


def is_brain_metastasis(item: Coded) -> bool:
    """A brain-metastasis code or words, or a generic metastasis code on a brain bodySite."""
    if item.has_code("leptomeningeal-disease") or item.has_code("primary-brain-tumour"):
        return False
    if item.matches("brain-metastasis"):
        return True
    cond = item.resource
    if item.has_code("secondary-malignancy-generic"):
        return _on_brain(cond)
    # "Malignant neoplastic disease" of the brain is a metastasis only when tied to its primary.
    return item.has_code("malignancy-generic") and _on_brain(cond) and bool(_related_primary(cond))


# Code systems whose breast cancer codes the value sets hold (ICD-10-CM C50.*, SNOMED): a primary
# coded in them and not breast cancer is another cancer.
_STANDARD_SYSTEMS = frozenset({"http://hl7.org/fhir/sid/icd-10-cm", "http://snomed.info/sct"})


def _coded_in_standard_terms(condition: dict) -> bool:
    return any(
        system in _STANDARD_SYSTEMS and code for system, code, _ in codings(condition.get("code"))
    )


def basis_of(cond: dict) -> str:
    """How a brain-metastasis Condition recorded it, in words (for explain)."""
    concept = cond.get("code")
    shown = ", ".join(f"{code}" for _, code, _ in codings(concept) if code)
    sets = code_sets(concept)
    if sets & {"secondary-malignancy-generic", "malignancy-generic"}:
        site = text_of((cond.get("bodySite") or [{}])[0]).split(" | ")[0]
        return f"Condition {shown} with bodySite {site} (post-coordinated)"
    if "brain-metastasis" in sets:
        return f"Condition coded {shown}"
    return f"Condition text '{text_of(concept).split(' | ')[0]}'"


def brain_metastasis_conditions(res: Resources) -> tuple[tuple[dict, ...], tuple[str, ...]]:
    """Brain-metastasis Conditions, minus those tied to a recorded primary that is not breast."""
    return res.once("brain-metastasis-conditions", lambda: _brain_metastasis_conditions(res))


def _brain_metastasis_conditions(res: Resources) -> tuple[tuple[dict, ...], tuple[str, ...]]:
    kept, notes = [], []
    for item in coded(res, "Condition"):
        cond = item.resource
        if not is_brain_metastasis(item):
            if item.has_code("primary-brain-tumour"):
                notes.append(
                    f"{reference(cond)} is a primary brain tumour code (C71), not a metastasis"
                )
            continue
        primary_ref = _related_primary(cond)
        primary = res.get(primary_ref) if primary_ref else None
        if primary is not None and not breast_cancer.is_breast_cancer(primary):
            primary_text = text_of(primary.get("code")).split(" | ")[0]
            if _coded_in_standard_terms(primary):
                notes.append(
                    f"{reference(cond)} is a metastasis of {primary_ref} ({primary_text}),"
                    " not of breast cancer"
                )
                continue
            # A primary coded only locally (IMO, a lab's own codes) or worded in a way we do not
            # read may still be breast cancer: it does not make the metastasis someone else's.
            notes.append(
                f"{reference(cond)}'s primary {primary_ref} ({primary_text}) is not recognised"
                " as breast cancer, nor coded as another cancer: the metastasis is kept"
            )
        kept.append(cond)
    kept.sort(key=lambda c: dates.earliest_key(dates.clinical_date(c)))
    return tuple(kept), tuple(notes)


def brain_metastases(res: Resources) -> Fact[bool]:
    if not res.available("Condition"):
        return Fact.unknown("Conditions could not be obtained")
    found, notes = brain_metastasis_conditions(res)
    if found:
        basis = "; ".join(dict.fromkeys(basis_of(c) for c in found))
        return Fact(True, tuple(reference(c) for c in found), notes, basis)
    if "Condition" in res.unreadable:
        return Fact.unknown("a Condition could not be read: it may record brain metastases")
    return Fact(
        False,
        (),
        notes + ("no brain metastasis diagnosis recorded",),
        "Conditions obtained; none codes or names a brain metastasis",
    )


def brain_metastases_onset(res: Resources) -> Fact[FhirDate]:
    found, _ = brain_metastasis_conditions(res)
    if not found:
        return Fact.unknown("no brain metastases recorded")
    dated = [(when, c) for c in found if (when := dates.clinical_date(c)) is not None]
    if not dated:
        return Fact.unknown("brain metastasis recorded without a date")
    when, cond = min(dated, key=lambda item: dates.earliest_key(item[0]))
    notes = dates.partial_notes(reference(cond), when)
    return Fact(when, (reference(cond),), notes, f"earliest date of {basis_of(cond)}")


def brain_metastases_status(res: Resources) -> Fact[str]:
    found, _ = brain_metastasis_conditions(res)
    if not found:
        return Fact.unknown("no brain metastases recorded")
    statuses = {code for c in found for _, code, _ in codings(c.get("clinicalStatus"))}
    refs = tuple(reference(c) for c in found)
    basis = f"Condition.clinicalStatus {', '.join(sorted(s for s in statuses if s)) or 'absent'}"
    if statuses & _ACTIVE or not statuses:
        notes = () if statuses else ("clinical status not recorded; read as active",)
        return Fact("active", refs, notes, basis)
    return Fact("resolved", refs, (), basis)


def leptomeningeal_conditions(res: Resources) -> tuple[dict, ...]:
    """Conditions that record leptomeningeal disease (by code, else by text)."""
    return res.once(
        "leptomeningeal-conditions",
        lambda: tuple(
            c.resource for c in coded(res, "Condition") if c.matches("leptomeningeal-disease")
        ),
    )


def _reported_leptomeningeal(res: Resources) -> tuple[list[str], list[str], list[str]]:
    """(references, clauses) of final brain imaging reports stating leptomeningeal disease, and
    the clauses that only raise it ("suspicious for", "cannot exclude")."""
    refs: list[str] = []
    stated: list[str] = []
    raised: list[str] = []
    for report in brain_reports(res):
        if report.get("status") in NOT_FINAL:
            continue  # a preliminary read is not yet a finding
        for clause in clauses(report_text(report)[0]):
            if valueset("leptomeningeal-disease").has_text(clause):
                hedged = any(mentions(clause, h) for h in _HEDGES) or "?" in clause
                (raised if hedged else stated).append(clause.strip())
                if not hedged:
                    refs.append(reference(report))
    return list(dict.fromkeys(refs)), stated, raised


def leptomeningeal_disease(res: Resources) -> Fact[bool]:
    if not res.available("Condition"):
        return Fact.unknown("Conditions could not be obtained")
    found = leptomeningeal_conditions(res)
    if found:
        basis = "; ".join(
            dict.fromkeys(
                "Condition coded C79.32"
                if "leptomeningeal-disease" in code_sets(c.get("code"))
                else f"Condition text '{text_of(c.get('code')).split(' | ')[0]}'"
                for c in found
            )
        )
        return Fact(True, tuple(reference(c) for c in found), (), basis)
    # The MRI usually names it before the problem list does.
    refs, stated, raised = _reported_leptomeningeal(res)
    if stated:
        words = "; ".join(f"'{c[:120]}'" for c in stated)
        return Fact(True, tuple(refs), (), f"words in a brain imaging report: {words}")
    if raised:
        words = "; ".join(f"'{c[:120]}'" for c in raised)
        return Fact.unknown(f"a brain imaging report raises it without stating it: {words}")
    if "Condition" in res.unreadable:
        return Fact.unknown("a Condition could not be read: it may record leptomeningeal disease")
    return Fact(
        False,
        (),
        ("no leptomeningeal disease recorded",),
        "Conditions obtained; none codes C79.32 or names leptomeningeal disease",
    )


def tied_to_brain(obs: dict, brain_refs: frozenset[str]) -> bool:
    """An Observation about the brain disease: its focus is a brain Condition, or its site brain."""
    focus = {f.get("reference") for f in obs.get("focus", [])}
    return bool(focus & brain_refs) or "brain-body-site" in code_sets(obs.get("bodySite"))


def brain_condition_refs(res: Resources) -> frozenset[str]:
    """References of the brain-metastasis and leptomeningeal Conditions."""
    return res.once(
        "brain-condition-refs",
        lambda: (
            frozenset(reference(c) for c in brain_metastasis_conditions(res)[0])
            | frozenset(reference(c) for c in leptomeningeal_conditions(res))
        ),
    )


def brain_observations(res: Resources) -> tuple[tuple[Coded, bool], ...]:
    """Each Observation, looked up once, and whether it is tied to the brain disease."""
    refs = brain_condition_refs(res)
    return res.once(
        "brain-observations",
        lambda: tuple((o, tied_to_brain(o.resource, refs)) for o in coded(res, "Observation")),
    )
