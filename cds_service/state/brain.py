"""Brain metastases, leptomeningeal disease, mass effect, lesion size and count, disease status."""

from __future__ import annotations

import re
from dataclasses import dataclass

from cds_service.state import breast_cancer, dates
from cds_service.state.coded import Coded, coded
from cds_service.state.imaging import brain_mris
from cds_service.state.model import Fact, FhirDate, ProgressionEvent, Site
from cds_service.state.parameters import LARGE_LESION_CM
from cds_service.state.resources import Resources, reference
from cds_service.state.terminology import (
    code_sets,
    codings,
    mentions_any,
    text_of,
    valueset,
)

RELATED_CONDITION_URL = "http://hl7.org/fhir/StructureDefinition/condition-related"
MASS_EFFECT_TERMS = (
    "mass effect",
    "midline shift",
    "hydrocephalus",
    "compression",
    "vasogenic oedema",
    "vasogenic edema",
    "effacement",
    "herniation",
)
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*(cm|mm)\b")
_NUMBERS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
}
_COUNT = re.compile(
    r"\b(\d+|one|two|three|four|five|six|seven|eight|nine|ten)\s+(?:[a-z]+\s+){0,2}?"
    r"(?:lesions|metastases|mets)\b"
)
_SOLITARY = re.compile(r"\b(solitary|single)\s+(?:[\w.]+\s+){0,5}?(?:lesion|metastasis|met|mass)\b")
_ACTIVE = {"active", "recurrence", "relapse"}
_STATUS_VALUES = (
    ("disease-status-worsened", "progressing"),
    ("disease-status-stable", "stable"),
    ("disease-status-improved", "responding"),
)


@dataclass(frozen=True, slots=True)
class BrainText:
    """A piece of free text about the brain, and where it came from."""

    text: str
    when: FhirDate | None
    ref: str


def _related_primary(condition: dict) -> str | None:
    for ext in condition.get("extension", []):
        if ext.get("url") == RELATED_CONDITION_URL:
            return (ext.get("valueReference") or {}).get("reference")
    return None


def brain_metastasis_conditions(res: Resources) -> tuple[tuple[dict, ...], tuple[str, ...]]:
    """Brain-metastasis Conditions, minus those tied to a recorded primary that is not breast."""
    return res.once("brain-metastasis-conditions", lambda: _brain_metastasis_conditions(res))


def _brain_metastasis_conditions(res: Resources) -> tuple[tuple[dict, ...], tuple[str, ...]]:
    kept, notes = [], []
    for item in coded(res, "Condition"):
        cond = item.resource
        if item.has_code("leptomeningeal-disease") or not item.matches("brain-metastasis"):
            continue
        primary_ref = _related_primary(cond)
        primary = res.get(primary_ref) if primary_ref else None
        if primary is not None and not breast_cancer.is_breast_cancer(primary):
            primary_text = text_of(primary.get("code")).split(" | ")[0]
            notes.append(
                f"{reference(cond)} is a metastasis of {primary_ref} ({primary_text}),"
                " not of breast cancer"
            )
            continue
        kept.append(cond)
    kept.sort(key=lambda c: dates.earliest_key(dates.clinical_date(c)))
    return tuple(kept), tuple(notes)


def brain_metastases(res: Resources) -> Fact[bool]:
    if not res.available("Condition"):
        return Fact.unknown("Conditions could not be obtained")
    found, notes = brain_metastasis_conditions(res)
    if found:
        return Fact(True, tuple(reference(c) for c in found), notes)
    return Fact(False, (), notes + ("no brain metastasis diagnosis recorded",))


def brain_metastases_onset(res: Resources) -> Fact[FhirDate]:
    found, _ = brain_metastasis_conditions(res)
    if not found:
        return Fact.unknown("no brain metastases recorded")
    dated = [(when, c) for c in found if (when := dates.clinical_date(c)) is not None]
    if not dated:
        return Fact.unknown("brain metastasis recorded without a date")
    when, cond = min(dated, key=lambda item: dates.earliest_key(item[0]))
    return Fact(when, (reference(cond),), dates.partial_notes(reference(cond), when))


def brain_metastases_status(res: Resources) -> Fact[str]:
    found, _ = brain_metastasis_conditions(res)
    if not found:
        return Fact.unknown("no brain metastases recorded")
    statuses = {code for c in found for _, code, _ in codings(c.get("clinicalStatus"))}
    refs = tuple(reference(c) for c in found)
    if statuses & _ACTIVE or not statuses:
        return Fact(
            "active", refs, () if statuses else ("clinical status not recorded; read as active",)
        )
    return Fact("resolved", refs)


def leptomeningeal_conditions(res: Resources) -> tuple[dict, ...]:
    """Conditions that record leptomeningeal disease (by code, else by text)."""
    return res.once(
        "leptomeningeal-conditions",
        lambda: tuple(
            c.resource for c in coded(res, "Condition") if c.matches("leptomeningeal-disease")
        ),
    )


def leptomeningeal_disease(res: Resources) -> Fact[bool]:
    if not res.available("Condition"):
        return Fact.unknown("Conditions could not be obtained")
    found = leptomeningeal_conditions(res)
    if found:
        return Fact(True, tuple(reference(c) for c in found))
    return Fact(False, (), ("no leptomeningeal disease recorded",))


def _tied_to_brain(obs: dict, brain_refs: frozenset[str]) -> bool:
    focus = {f.get("reference") for f in obs.get("focus", [])}
    return bool(focus & brain_refs) or "brain-body-site" in code_sets(obs.get("bodySite"))


def _metastasis_refs(res: Resources) -> frozenset[str]:
    """References of the brain-metastasis Conditions."""
    return res.once(
        "brain-metastasis-refs",
        lambda: frozenset(reference(c) for c in brain_metastasis_conditions(res)[0]),
    )


def _observations(res: Resources) -> tuple[tuple[Coded, bool], ...]:
    """Each Observation, looked up once, and whether it is tied to the brain metastases."""
    refs = _metastasis_refs(res)
    return res.once(
        "brain-observations",
        lambda: tuple((o, _tied_to_brain(o.resource, refs)) for o in coded(res, "Observation")),
    )


def brain_texts(res: Resources) -> tuple[BrainText, ...]:
    """Free text about the brain: brain-metastasis Conditions, brain MRI reports and findings."""
    return res.once("brain-texts", lambda: _brain_texts(res))


def _brain_texts(res: Resources) -> tuple[BrainText, ...]:
    conds, _ = brain_metastasis_conditions(res)
    texts: list[BrainText] = []
    for cond in conds:
        parts = [(cond.get("code") or {}).get("text", "")] + [
            n.get("text", "") for n in cond.get("note", [])
        ]
        texts.append(
            BrainText(" ".join(p for p in parts if p), dates.clinical_date(cond), reference(cond))
        )
    for rep in brain_mris(res, "DiagnosticReport", "ImagingStudy", "Procedure"):
        parts = [rep.get("conclusion", ""), rep.get("description", "")]
        parts += [n.get("text", "") for n in rep.get("note", [])]
        texts.append(
            BrainText(" ".join(p for p in parts if p), dates.clinical_date(rep), reference(rep))
        )
    for item, tied in _observations(res):
        obs = item.resource
        if tied and not item.has_code("disease-status"):
            parts = [obs.get("valueString", "")] + [n.get("text", "") for n in obs.get("note", [])]
            texts.append(
                BrainText(" ".join(p for p in parts if p), dates.clinical_date(obs), reference(obs))
            )
    return tuple(t for t in texts if t.text.strip())


def _sizes_cm(res: Resources) -> tuple[tuple[float, str], ...]:
    return res.once("brain-lesion-sizes", lambda: tuple(_measure_sizes(res)))


def _measure_sizes(res: Resources) -> list[tuple[float, str]]:
    sizes: list[tuple[float, str]] = []
    for item, tied in _observations(res):
        obs = item.resource
        quantity = obs.get("valueQuantity") or {}
        if item.has_code("tumor-size") and tied:
            unit = (quantity.get("code") or quantity.get("unit") or "").lower()
            if isinstance(quantity.get("value"), (int, float)) and unit in {"cm", "mm"}:
                value = float(quantity["value"]) / (10 if unit == "mm" else 1)
                sizes.append((value, reference(obs)))
    for brain_text in brain_texts(res):
        for number, unit in _SIZE.findall(brain_text.text.lower()):
            sizes.append((float(number) / (10 if unit == "mm" else 1), brain_text.ref))
    return sizes


def largest_brain_lesion_cm(res: Resources) -> Fact[float]:
    sizes = _sizes_cm(res)
    if not sizes:
        return Fact.unknown("no brain lesion size recorded")
    size, ref = max(sizes)
    return Fact(size, (ref,))


def brain_lesion_count(res: Resources) -> Fact[int]:
    """The count in the most recent brain text that states one."""
    counted = []
    for item in brain_texts(res):
        lowered = item.text.lower()
        match = _COUNT.search(lowered)
        count = None
        if match:
            word = match.group(1)
            count = int(word) if word.isdigit() else _NUMBERS[word]
        elif _SOLITARY.search(lowered):
            count = 1
        if count is not None:
            counted.append((item.when, count, item.ref))
    if not counted:
        return Fact.unknown("number of brain lesions not recorded")
    dated = [c for c in counted if c[0] is not None] or counted
    _, count, ref = max(dated, key=lambda c: dates.latest_key(c[0]))
    return Fact(count, (ref,))


def mass_effect(res: Resources) -> Fact[bool]:
    """Mass effect in brain text, or a lesion of LARGE_LESION_CM or more; UNKNOWN when silent."""
    positive = [t for t in brain_texts(res) if mentions_any(t.text, MASS_EFFECT_TERMS)]
    large = [(s, ref) for s, ref in _sizes_cm(res) if s >= LARGE_LESION_CM]
    if positive or large:
        notes = tuple(f"lesion of {s:g} cm ({ref})" for s, ref in large)
        notes += tuple(f"text in {t.ref}: {t.text[:160]}" for t in positive)
        return Fact(
            True, tuple(dict.fromkeys([t.ref for t in positive] + [r for _, r in large])), notes
        )
    denied = [t for t in brain_texts(res) if "mass effect" in t.text.lower()]
    if denied:
        latest = max(denied, key=lambda t: dates.latest_key(t.when))
        return Fact(False, (latest.ref,), (f"{latest.ref}: {latest.text[:160]}",))
    return Fact.unknown("no statement about mass effect or lesion size")


def _status_value(obs: dict) -> str | None:
    value = obs.get("valueCodeableConcept")
    sets = code_sets(value)
    for vs_id, status in _STATUS_VALUES:
        if vs_id in sets or valueset(vs_id).has_text(text_of(value)):
            return status
    return None


def disease_status_observations(res: Resources) -> tuple[tuple[dict, str, Site], ...]:
    """(observation, status, site) of each cancer disease status Observation with a usable value."""
    return res.once("disease-status-observations", lambda: _disease_status_observations(res))


def _disease_status_observations(res: Resources) -> tuple[tuple[dict, str, Site], ...]:
    brain_refs = _metastasis_refs(res) | {reference(c) for c in leptomeningeal_conditions(res)}
    found = []
    for item in coded(res, "Observation"):
        obs = item.resource
        if not item.has_code("disease-status"):
            continue
        status = _status_value(obs)
        if status is None:
            continue
        site: Site
        if _tied_to_brain(obs, brain_refs):
            site = "intracranial"
        else:
            site = "extracranial" if obs.get("focus") else "unspecified"
        found.append((obs, status, site))
    return tuple(found)


def recorded_progressions(res: Resources) -> tuple[ProgressionEvent, ...]:
    """Progression from disease status, recurrence of brain metastases or a re-recorded one."""
    events = []
    for obs, status, site in disease_status_observations(res):
        if status == "progressing":
            where = {
                "intracranial": "brain metastases",
                "extracranial": "extracranial disease",
            }.get(site, "site not recorded")
            events.append(
                ProgressionEvent(
                    dates.clinical_date(obs),
                    site,
                    "disease-status",
                    f"disease status worsened ({where})",
                    (reference(obs),),
                )
            )
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
                    "brain metastases recurred",
                    (reference(cond),),
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
                )
            )
    return tuple(events)


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
    return Fact(status, (reference(obs),), notes)
