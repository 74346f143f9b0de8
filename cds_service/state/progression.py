"""Progression events (where and when the disease progressed, and how we know) and disease status.

Representations read (shared/reference/real-world-fhir-representations.md section 3):
- mCODE CancerDiseaseStatus: LOINC 97509-4 (STU2+) or 88040-1 (STU1), value SNOMED 271299001
  worsened (or the words); intracranial when its focus is a brain-metastasis or leptomeningeal
  Condition, its bodySite is brain, or (CodeX RT) it names an irradiated brain volume; a CodeX
  progression qualifier (255470001 local) is kept in the description;
- radiology reports about the brain (state/imaging.brain_reports): a conclusionCode in
  disease-status-worsened, or conclusion / presentedForm text stating new lesions ("new left
  frontal lesion"), enlargement or progression, not negated; preliminary (registered, partial)
  reports are left out until final, entered-in-error ones before (state/resources.is_void);
- a brain-metastasis Condition with clinicalStatus recurrence / relapse;
- a brain metastasis recorded again more than 30 days after the first (the same diagnosis coded
  twice on one date is not an event). Each Condition is dated by its own onset: Epic's
  onset-filtered search returns every active Condition whatever its onset, so a search filter is
  never trusted to have dated it.
Left out on purpose: progression in a radiology report about another body part (its site cannot
be told from the words); the first brain metastasis diagnosed while on a regimen is the therapy
module's (it needs the courses).
"""

from __future__ import annotations

from cds_service.state import dates
from cds_service.state.brain import basis_of, brain_condition_refs, brain_metastasis_conditions
from cds_service.state.coded import coded
from cds_service.state.imaging import NOT_FINAL, brain_reports, clauses, report_text
from cds_service.state.lesions import (
    laterality_in_text,
    laterality_of_sites,
    new_lesions_in,
    side_of,
)
from cds_service.state.model import Fact, ProgressionEvent, Site
from cds_service.state.parameters import SAME_FINDING_DAYS
from cds_service.state.radiotherapy import brain_volumes
from cds_service.state.resources import Resources, reference
from cds_service.state.terminology import code_sets, codings, mentions, text_of, valueset

# The Observation codes this module reads (checked against the prefetch by a test).
OBSERVATION_VALUESETS = ("disease-status",)
CODEX = "http://hl7.org/fhir/us/codex-radiation-therapy/StructureDefinition/"
QUALIFIER_URL = CODEX + "codexrt-radiotherapy-disease-progression-qualifier"
VOLUME_URL = CODEX + "codexrt-radiotherapy-volume-extension"
_STATUS_VALUES = (
    ("disease-status-worsened", "progressing"),
    ("disease-status-stable", "stable"),
    ("disease-status-improved", "responding"),
)
# Words of a report that mean the lesions grew (negation "no ... progression" is honoured).
GROWTH_WORDS = (
    "enlarging",
    "enlarged",
    "enlargement",
    "increased in size",
    "increase in size",
    "interval increase",
    "interval growth",
    "interval progression",
    "progression",
    "progressive disease",
    "progressing",
)


def _status_value(obs: dict) -> str | None:
    value = obs.get("valueCodeableConcept")
    sets = code_sets(value)
    for vs_id, status in _STATUS_VALUES:
        if vs_id in sets or valueset(vs_id).has_text(text_of(value)):
            return status
    return None


def _extensions(obs: dict) -> list[dict]:
    value = obs.get("valueCodeableConcept")
    inner = value.get("extension", []) if isinstance(value, dict) else []
    return list(obs.get("extension", [])) + list(inner)


def _qualifier(obs: dict) -> str:
    for ext in _extensions(obs):
        if ext.get("url") == QUALIFIER_URL:
            concept = ext.get("valueCodeableConcept")
            if "progression-qualifier-local" in code_sets(concept):
                return "local"
            return text_of(concept).split(" | ")[0].lower()
    return ""


def _volumes(obs: dict) -> set[str]:
    return {
        (ext.get("valueReference") or {}).get("reference") or ""
        for ext in _extensions(obs)
        if ext.get("url") == VOLUME_URL
    } | {f.get("reference") or "" for f in obs.get("focus", [])}


def disease_status_observations(res: Resources) -> tuple[tuple[dict, str, Site], ...]:
    """(observation, status, site) of each cancer disease status Observation with a usable value."""
    return res.once("disease-status-observations", lambda: _disease_status_observations(res))


def _disease_status_observations(res: Resources) -> tuple[tuple[dict, str, Site], ...]:
    brain_refs = brain_condition_refs(res)
    volumes = brain_volumes(res)
    found = []
    for item in coded(res, "Observation"):
        obs = item.resource
        if not item.has_code("disease-status"):
            continue
        status = _status_value(obs)
        if status is None:
            continue
        site: Site
        focus = {f.get("reference") for f in obs.get("focus", [])}
        on_brain = focus & brain_refs or "brain-body-site" in code_sets(obs.get("bodySite"))
        if on_brain or _volumes(obs) & volumes:
            site = "intracranial"
        else:
            site = "extracranial" if obs.get("focus") else "unspecified"
        found.append((obs, status, site))
    return tuple(found)


def _sites(resource: dict) -> list:
    """bodySite as a list (an Observation has one, a Condition several)."""
    site = resource.get("bodySite")
    return site if isinstance(site, list) else [site] if site else []


def _status_code(obs: dict) -> str:
    return next((c for _, c, _ in codings(obs.get("code")) if c), "?")


def _status_events(res: Resources) -> list[ProgressionEvent]:
    events = []
    volumes = brain_volumes(res)
    for obs, status, site in disease_status_observations(res):
        if status != "progressing":
            continue
        where = {"intracranial": "brain metastases", "extracranial": "extracranial disease"}.get(
            site, "site not recorded"
        )
        qualifier = _qualifier(obs)
        if qualifier == "local" and _volumes(obs) & volumes:
            where = "local progression of an irradiated brain volume"
        elif qualifier:
            where += f", {qualifier}"
        events.append(
            ProgressionEvent(
                dates.clinical_date(obs),
                site,
                "disease-status",
                f"disease status worsened ({where})",
                (reference(obs),),
                laterality_of_sites(_sites(obs)),
            )
        )
    return events


def _condition_events(res: Resources) -> list[ProgressionEvent]:
    events = []
    conds, _ = brain_metastasis_conditions(res)
    for cond in conds:
        statuses = {code for _, code, _ in codings(cond.get("clinicalStatus"))}
        if statuses & {"recurrence", "relapse"}:
            when = dates.first(cond, "recordedDate") or dates.clinical_date(cond)
            events.append(
                ProgressionEvent(
                    when,
                    "intracranial",
                    "recurrence",
                    f"brain metastases recurred ({basis_of(cond)}, clinicalStatus recurrence)",
                    (reference(cond),),
                    laterality_of_sites(_sites(cond)),
                )
            )
    first = dates.clinical_date(conds[0]) if conds else None
    for cond in conds[1:]:
        when = dates.clinical_date(cond)
        # The same diagnosis coded twice (ICD and SNOMED) on one date is not a new event.
        if first and when and dates.days_between(first, when) > 30:
            events.append(
                ProgressionEvent(
                    when,
                    "intracranial",
                    "re-recorded-metastasis",
                    "brain metastasis recorded again",
                    (reference(cond),),
                    laterality_of_sites(_sites(cond)),
                )
            )
    return events


def report_progression(report: dict) -> tuple[str, str | None] | None:
    """What a final brain report says progressed, in its own words, and on which side (None when
    the words name no side for every finding); None when it says nothing."""
    if "disease-status-worsened" in {
        s for c in report.get("conclusionCode", []) for s in code_sets(c)
    }:
        return "coded conclusion: worsened", None
    text, _ = report_text(report)
    new = new_lesions_in(text) or ()
    grown = [
        (word, laterality_in_text(clause))
        for clause in clauses(text)
        for word in GROWTH_WORDS
        if mentions(clause, word)
    ]
    if not new and not grown:
        return None
    # Every finding's side counts: a new left lesion beside an enlarging right one is both sides.
    side = side_of([m.laterality for m in new] + [s for _, s in grown])
    return ("; ".join(m.words for m in new) if new else grown[0][0]), side


def _report_events(res: Resources) -> list[ProgressionEvent]:
    events = []
    for report in brain_reports(res):
        if report.get("status") in NOT_FINAL:
            continue  # a preliminary read is not yet a finding
        said = report_progression(report)
        if said is not None:
            words, side = said
            events.append(
                ProgressionEvent(
                    dates.clinical_date(report),
                    "intracranial",
                    "radiology-report",
                    f"brain imaging report: {words}",
                    (reference(report),),
                    side,
                )
            )
    return events


def _same_finding(report: ProgressionEvent, statuses: list[ProgressionEvent]) -> bool:
    """A coded intracranial disease status on the report's day or within SAME_FINDING_DAYS
    after it records the same progression."""
    return report.when is not None and any(
        s.site == "intracranial"
        and s.when is not None
        and 0 <= dates.days_between(report.when, s.when) <= SAME_FINDING_DAYS
        for s in statuses
    )


def recorded_progressions(res: Resources) -> tuple[ProgressionEvent, ...]:
    """Progression from disease status, brain imaging reports, recurrence or a re-recorded
    brain metastasis; a report and the disease status recorded from it count once."""
    statuses = _status_events(res)
    reports = [e for e in _report_events(res) if not _same_finding(e, statuses)]
    return tuple(statuses + reports + _condition_events(res))


def not_final_reports(res: Resources) -> tuple[str, ...]:
    """Notes for brain reports left out of progression because they are not final."""
    return tuple(
        f"{reference(r)}: report status {r.get('status')}, not read for progression until final"
        for r in brain_reports(res)
        if r.get("status") in NOT_FINAL
    )


def progression_known(res: Resources) -> Fact[bool]:
    """Whether the data that would show a progression (disease status, reports) was obtained and
    readable: without it an empty list of events is "unknown", never "no progression"."""
    gaps = [
        f"{t} {'could not be obtained' if t in res.unavailable else 'could not all be read'}"
        for t in ("Observation", "DiagnosticReport", "Condition")
        if t in res.unavailable or t in res.unreadable
    ]
    if gaps:
        return Fact(False, (), tuple(gaps), "progression data incomplete")
    return Fact(
        True, (), (), "Conditions, Observations and DiagnosticReports obtained and readable"
    )


def extracranial_status(res: Resources) -> Fact[str]:
    """The latest disease status not tied to the brain."""
    if not res.available("Observation"):
        return Fact.unknown("Observations could not be obtained")
    candidates = [
        (o, s, site) for o, s, site in disease_status_observations(res) if site != "intracranial"
    ]
    if not candidates:
        return Fact.unknown("no extracranial disease status recorded")
    obs, status, site = max(candidates, key=lambda c: dates.latest_key(dates.clinical_date(c[0])))
    notes = dates.partial_notes(reference(obs), dates.clinical_date(obs))
    if site == "unspecified":
        notes += (f"{reference(obs)} names no site; read as extracranial",)
    basis = f"disease status Observation LOINC {_status_code(obs)}: {status}"
    return Fact(status, (reference(obs),), notes, basis)
