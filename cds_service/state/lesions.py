"""Brain lesions: laterality, size, mass effect, and how many there are (and how many are new).

Representations read (shared/reference/real-world-fhir-representations.md sections 4.2, 4.3):
- laterality: the mCODE laterality qualifier extension on a bodySite (SNOMED 7771000 left,
  24028007 right, 51440002 right and left, 399488007 midline); a pre-coordinated lateral structure
  (its display, "Structure of right frontal lobe"); bodySite text ("R frontal", "left cerebellar");
  the report's own words, clause by clause ("new left frontal lesion; treated right lesion smaller");
- size: every dimension of every measurement in brain text ("3.8 x 3.1 x 3.6 cm", "3.2 cm x 2.5
  cm x 2.8 cm", "12 mm"), the largest one counting; priors ("1.2 cm (previously 0.8 cm)") kept
  apart; an mCODE TumorSize Observation (LOINC 21889-1, components 33728-7 longest / 33729-5 other
  dimensions, or a valueQuantity; cm or mm) tied to the brain (focus or bodySite);
- mass effect: words only (value sets mass-effect, severe-mass-effect: no code is verified) in
  brain-metastasis Conditions, brain imaging reports, brain Observations and Conditions naming it;
  never inferred from size (a lesion at or above the rules' large_lesion_cm is "large", a fact of
  its own); hydrocephalus, midline shift or herniation "none recorded" only where a readable
  brain imaging report could have named them (no report, or a PDF-only one: unknown);
- counts: the latest brain text that states a number of lesions ("three lesions", "solitary
  metastasis"); new lesions: the latest brain text that speaks of new lesions ("two new lesions",
  "new left frontal lesion", "no new lesions"), treated, stable or smaller lesions not counted.
Left out on purpose: a TumorSize focused on a BodyStructure (not fetched: it cannot be tied to the
brain); words negated just before ("no mass effect") never assert a finding.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from cds_service.state import dates
from cds_service.state.brain import brain_metastasis_conditions, brain_observations
from cds_service.state.coded import coded
from cds_service.state.imaging import brain_mris, brain_reports, clauses, report_text
from cds_service.state.model import Fact, FhirDate
from cds_service.state.resources import Resources, reference
from cds_service.state.terminology import code_sets, mentions, text_of, valueset

# The Observation codes this module reads (checked against the prefetch by a test).
OBSERVATION_VALUESETS = ("tumor-size",)
Laterality = Literal["left", "right", "bilateral", "midline"]
LATERALITY_URL = "http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-laterality-qualifier"
_LATERALITY_SETS: tuple[tuple[str, Laterality], ...] = (
    ("laterality-left", "left"),
    ("laterality-right", "right"),
    ("laterality-bilateral", "bilateral"),
    ("laterality-midline", "midline"),
)
# Side words as clinicians abbreviate them in site text ("R frontal", "Lt parietal").
_LEFT = re.compile(r"\b(left|lt|l)\b")
_RIGHT = re.compile(r"\b(right|rt|r)\b")
_BOTH = re.compile(r"\b(bilateral|both)\b")
_MIDLINE = re.compile(r"\bmidline\b")

# Brain regions as site text and displays name them, for lesion identity across resources
# ("R frontal" on the SRS Procedure, "Right frontal lobe structure" on the order).
BRAIN_REGIONS = {
    "frontal": "frontal",
    "parietal": "parietal",
    "temporal": "temporal",
    "occipital": "occipital",
    "cerebellar": "cerebellum",
    "cerebellum": "cerebellum",
    "brainstem": "brainstem",
    "brain stem": "brainstem",
    "pons": "brainstem",
    "pontine": "brainstem",
    "midbrain": "brainstem",
    "medulla": "brainstem",
    "thalamus": "thalamus",
    "thalamic": "thalamus",
    "basal ganglia": "basal ganglia",
    "insula": "insula",
    "insular": "insula",
    "corpus callosum": "corpus callosum",
}
_REGION = re.compile(r"\b(" + "|".join(sorted(BRAIN_REGIONS, key=len, reverse=True)) + r")\b")
SITE_KEY_PREFIX = "brain-region:"

_NUMBER = r"\d+(?:\.\d+)?"
# A measurement: dimensions joined by "x", "×" or "by", each with or without its unit, the last
# with one ("3.8 x 3.1 x 3.6 cm", "3.2 cm x 2.5 cm x 2.8 cm", "12 mm").
_MEASUREMENT = re.compile(
    rf"(?<![\d.])((?:{_NUMBER}\s*(?:cm|mm)?\s*(?:x|×|by)\s*){{0,2}}{_NUMBER}\s*(?:cm|mm))\b"
)
_DIMENSION = re.compile(rf"({_NUMBER})\s*(cm|mm)?")
# A measurement right after one of these words is a prior one ("previously 0.8 cm").
_PRIOR = re.compile(
    r"\b(previously|previous|prior|formerly|was|from|compared (?:with|to))\s*(?:measuring\s*|of\s*)?$"
)
_WORD_NUMBERS = {
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
_LESION = r"(?:lesions?|metastas[ie]s|mets?|foci|focus|nodules?|masses|mass)"
# "two new lesions", "3 new enhancing metastases", "a new left frontal lesion", "no new lesions",
# and "three new (right occipital 1.1 cm, ...)" where the clause names the lesions elsewhere.
_NEW = re.compile(
    r"\b(?:(no|\d+|one|two|three|four|five|six|seven|eight|nine|ten|a|an|multiple|several|"
    rf"numerous|innumerable)\s+)?new\b(?:(?:\s+[\w.-]+){{0,5}}?\s+({_LESION})\b)?"
)
_LESION_NOUN = re.compile(rf"\b{_LESION}\b")
_UNCOUNTED = {"multiple", "several", "numerous", "innumerable"}


@dataclass(frozen=True, slots=True)
class BrainText:
    """A piece of free text about the brain, where it came from, and how (for explain)."""

    text: str
    when: FhirDate | None
    ref: str
    source: str  # "brain MRI report conclusion", "Condition note", ...


# --- laterality -------------------------------------------------------------------------------


def laterality_in_text(text: str) -> Laterality | None:
    """The side a piece of site text names ("R frontal" -> right); None when it names none."""
    lowered = text.lower()
    if _BOTH.search(lowered):
        return "bilateral"
    left, right = bool(_LEFT.search(lowered)), bool(_RIGHT.search(lowered))
    if left and right:
        return "bilateral"
    if left or right:
        return "left" if left else "right"
    return "midline" if _MIDLINE.search(lowered) else None


def laterality_of_site(site: object) -> Laterality | None:
    """A bodySite's side: the mCODE qualifier extension first, else its text and displays."""
    if not isinstance(site, dict):
        return None
    extensions = site.get("extension")
    # Draft orders reach here unchecked by the view: anything malformed names no side.
    for ext in extensions if isinstance(extensions, list) else ():
        if isinstance(ext, dict) and ext.get("url") == LATERALITY_URL:
            sets = code_sets(ext.get("valueCodeableConcept"))
            for vs_id, side in _LATERALITY_SETS:
                if vs_id in sets:
                    return side
            return laterality_in_text(text_of(ext.get("valueCodeableConcept")))
    return laterality_in_text(text_of(site))


def laterality_of_sites(sites: Iterable[object]) -> Laterality | None:
    """The side of several targets together: two sides make "bilateral"."""
    listed = sites if isinstance(sites, (list, tuple)) else ()
    sides = {side for site in listed if (side := laterality_of_site(site)) is not None}
    if not sides:
        return None
    if len(sides) == 1:
        return sides.pop()
    return "bilateral"


def site_keys(sites: Iterable[object]) -> tuple[str, ...]:
    """Keys naming the brain region of each site, with and without its side ("brain-region:
    frontal", "brain-region:right frontal"), so that "R frontal" and "Right frontal lobe" match;
    the sides are compared apart (lateralities_differ)."""
    keys: list[str] = []
    for site in sites if isinstance(sites, (list, tuple)) else ():
        text = text_of(site).lower()
        side = laterality_of_site(site)
        for region in dict.fromkeys(BRAIN_REGIONS[m] for m in _REGION.findall(text)):
            keys.append(SITE_KEY_PREFIX + region)
            if side is not None:
                keys.append(f"{SITE_KEY_PREFIX}{side} {region}")
    return tuple(dict.fromkeys(keys))


def lateralities_differ(a: str | None, b: str | None) -> bool:
    """True when two sites are recorded on different sides (left vs right, or either vs midline),
    so they cannot be the same lesion; False when either side is unrecorded or both are possible."""
    if a is None or b is None or "bilateral" in (a, b):
        return False
    return a != b


# --- brain text -------------------------------------------------------------------------------


def brain_texts(res: Resources) -> tuple[BrainText, ...]:
    """Free text about the brain: brain-metastasis Conditions, brain imaging reports, brain
    Observations."""
    return res.once("brain-texts", lambda: _brain_texts(res))


def _brain_texts(res: Resources) -> tuple[BrainText, ...]:
    conds, _ = brain_metastasis_conditions(res)
    texts: list[BrainText] = []
    for cond in conds:
        parts = [(cond.get("code") or {}).get("text", "")] + [
            n.get("text", "") for n in cond.get("note", [])
        ]
        texts.append(
            BrainText(
                " | ".join(p for p in parts if p),
                dates.clinical_date(cond),
                reference(cond),
                "brain-metastasis Condition text and notes",
            )
        )
    for rep in brain_reports(res):
        text, _ = report_text(rep)
        texts.append(
            BrainText(text, dates.clinical_date(rep), reference(rep), "brain imaging report text")
        )
    for rep in brain_mris(res, "ImagingStudy", "Procedure"):
        parts = [rep.get("description", "")] + [n.get("text", "") for n in rep.get("note", [])]
        texts.append(
            BrainText(
                " | ".join(p for p in parts if p),
                dates.clinical_date(rep),
                reference(rep),
                f"brain MRI {rep.get('resourceType')} description and notes",
            )
        )
    for item, tied in brain_observations(res):
        obs = item.resource
        if tied and not item.has_code("disease-status"):
            parts = [obs.get("valueString", "")] + [n.get("text", "") for n in obs.get("note", [])]
            texts.append(
                BrainText(
                    " | ".join(p for p in parts if p),
                    dates.clinical_date(obs),
                    reference(obs),
                    "Observation on the brain metastases",
                )
            )
    return tuple(t for t in texts if t.text.strip())


# --- size ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Measurement:
    """The largest dimension of one measurement, in cm; prior ones kept apart."""

    cm: float
    prior: bool
    ref: str
    basis: str


def measurements_in(text: str) -> list[tuple[float, bool, str]]:
    """(largest dimension in cm, is a prior value, the words) of each measurement in `text`."""
    lowered = text.lower()
    found = []
    for match in _MEASUREMENT.finditer(lowered):
        words = match.group(1)
        dims = _DIMENSION.findall(words)
        last_unit = next((u for _, u in reversed(dims) if u), "cm")
        sizes = [float(n) / (10 if (u or last_unit) == "mm" else 1) for n, u in dims]
        prior = bool(_PRIOR.search(lowered[max(0, match.start() - 40) : match.start()]))
        found.append((max(sizes), prior, words))
    return found


def _tumor_size(quantity: object) -> float | None:
    if not isinstance(quantity, dict) or not isinstance(quantity.get("value"), (int, float)):
        return None
    unit = (quantity.get("code") or quantity.get("unit") or "").lower()
    if unit not in {"cm", "mm"}:
        return None
    return float(quantity["value"]) / (10 if unit == "mm" else 1)


def measurements(res: Resources) -> tuple[Measurement, ...]:
    return res.once("brain-lesion-measurements", lambda: tuple(_measurements(res)))


def _measurements(res: Resources) -> list[Measurement]:
    found: list[Measurement] = []
    for item, tied in brain_observations(res):
        if not (tied and item.has_code("tumor-size")):
            continue
        obs = item.resource
        sizes = [_tumor_size(obs.get("valueQuantity"))]
        sizes += [
            _tumor_size(c.get("valueQuantity"))
            for c in obs.get("component", [])
            if "tumor-size-dimension" in code_sets(c.get("code"))
        ]
        known = [s for s in sizes if s is not None]
        if known:
            found.append(
                Measurement(
                    max(known), False, reference(obs), "mCODE TumorSize Observation (21889-1)"
                )
            )
    for text in brain_texts(res):
        for cm, prior, words in measurements_in(text.text):
            found.append(Measurement(cm, prior, text.ref, f"'{words}' in {text.source}"))
    return found


def largest_brain_lesion_cm(res: Resources) -> Fact[float]:
    current = [m for m in measurements(res) if not m.prior]
    if not current:
        return Fact.unknown("no brain lesion size recorded")
    largest = max(current, key=lambda m: m.cm)
    priors = tuple(
        f"prior size {m.cm:g} cm ({m.ref}), not counted" for m in measurements(res) if m.prior
    )
    return Fact(
        round(largest.cm, 2),
        (largest.ref,),
        priors,
        f"largest dimension of {largest.basis}",
    )


# --- mass effect ----------------------------------------------------------------------------------


def _mass_effect_texts(res: Resources) -> list[BrainText]:
    """Brain text, and Conditions whose code names a mass-effect finding ("Obstructive
    hydrocephalus"): the record saying so in words."""
    texts = list(brain_texts(res))
    for coded_cond in coded(res, "Condition"):
        if valueset("mass-effect").has_text(coded_cond.text):
            cond = coded_cond.resource
            when = dates.clinical_date(cond)
            texts.append(BrainText(coded_cond.text, when, reference(cond), "Condition code"))
    return texts


# Where hydrocephalus, midline shift or herniation would be written: a problem, or the report.
_SEVERE_SOURCES = ("Condition", "DiagnosticReport")


def _mass_effect_readable(res: Resources) -> bool:
    return res.available("Condition") or res.available("DiagnosticReport")


def mass_effect(res: Resources) -> Fact[bool]:
    """Mass effect stated in words; False where only denied ("no mass effect"); UNKNOWN when the
    record is silent. A lesion's size is never mass effect."""
    texts = _mass_effect_texts(res)
    positive = [t for t in texts if valueset("mass-effect").has_text(t.text)]
    if positive:
        notes = tuple(f"text in {t.ref}: {t.text[:160]}" for t in positive)
        basis = "; ".join(dict.fromkeys(f"words in {t.source}" for t in positive))
        return Fact(True, tuple(dict.fromkeys(t.ref for t in positive)), notes, basis)
    denied = [t for t in texts if "mass effect" in t.text.lower()]
    if denied:
        latest = max(denied, key=lambda t: dates.latest_key(t.when))
        notes = (f"{latest.ref}: {latest.text[:160]}",)
        return Fact(False, (latest.ref,), notes, f"'no mass effect' in {latest.source}")
    return Fact.unknown("no statement about mass effect")


def severe_mass_effect(res: Resources) -> Fact[tuple[str, ...]]:
    """Hydrocephalus, midline shift or herniation recorded in words; () when readable brain
    imaging reports name none; UNKNOWN when none could be read (nothing then could have named
    it: a missing report is not a report saying no hydrocephalus)."""
    if not _mass_effect_readable(res):
        return Fact.unknown("neither Conditions nor reports could be obtained")
    terms = valueset("severe-mass-effect").texts
    found: dict[str, None] = {}
    refs: dict[str, None] = {}
    sources: dict[str, None] = {}
    for text in _mass_effect_texts(res):
        for term in terms:
            if mentions(text.text, term):
                found[term] = None
                refs[text.ref] = None
                sources[f"'{term}' in {text.source}"] = None
    if found:
        return Fact(tuple(found), tuple(refs), (), "; ".join(sources))
    gaps = [f"{t} could not be obtained" for t in _SEVERE_SOURCES if not res.available(t)]
    gaps += [f"a {t} could not be read" for t in _SEVERE_SOURCES if t in res.unreadable]
    read = []
    for report in brain_reports(res):
        if report_text(report)[0].strip():
            read.append(report)
        else:  # a PDF-only report: its words may name it
            gaps.append(f"{reference(report)}: no readable words")
    if gaps or not read:
        return Fact.unknown("no brain imaging report that could name it", *gaps)
    read_refs = tuple(reference(r) for r in read)
    return Fact(
        (), read_refs, (), "no hydrocephalus, midline shift or herniation in the brain reports"
    )


# --- counts ---------------------------------------------------------------------------------------


def brain_lesion_count(res: Resources) -> Fact[int]:
    """The count in the most recent brain text that states one."""
    counted = []
    for item in brain_texts(res):
        lowered = item.text.lower()
        match = _COUNT.search(lowered)
        count = None
        if match:
            word = match.group(1)
            count = int(word) if word.isdigit() else _WORD_NUMBERS[word]
        elif _SOLITARY.search(lowered):
            count = 1
        if count is not None:
            counted.append((item.when, count, item))
    if not counted:
        return Fact.unknown("number of brain lesions not recorded")
    dated = [c for c in counted if c[0] is not None] or counted
    _, count, latest = max(dated, key=lambda c: dates.latest_key(c[0]))
    return Fact(count, (latest.ref,), (), f"count stated in {latest.source}")


@dataclass(frozen=True, slots=True)
class LesionMention:
    """A lesion as one clause of a report describes it."""

    new: bool
    laterality: Laterality | None
    count: int | None  # None: "multiple new lesions", not counted
    words: str


def side_of(sides: Iterable[Laterality | None]) -> Laterality | None:
    """The side of several findings together: None when any has no side recorded (it may be any
    lesion), "bilateral" when they lie on two sides."""
    found = list(sides)
    if not found or None in found:
        return None
    distinct = set(found)
    return distinct.pop() if len(distinct) == 1 else "bilateral"  # type: ignore[return-value]


def new_lesions_in(text: str) -> tuple[LesionMention, ...] | None:
    """The new lesions a text names, clause by clause; () for "no new lesions"; None when the
    text says nothing about new lesions."""
    mentions_found: list[LesionMention] = []
    spoke = False
    for clause in clauses(text.lower()):
        for match in _NEW.finditer(clause):
            quantifier, noun = match.group(1), match.group(2)
            if noun is None and not (
                quantifier not in (None, "a", "an") and _LESION_NOUN.search(clause)
            ):
                continue  # "new" about something else ("new headaches")
            spoke = True
            if quantifier == "no":
                continue
            if quantifier in _UNCOUNTED:
                count = None
            elif quantifier and quantifier.isdigit():
                count = int(quantifier)
            elif quantifier in _WORD_NUMBERS:
                count = _WORD_NUMBERS[quantifier]
            else:  # "a new lesion", "new left frontal lesion"; plural without a number: uncounted
                count = None if noun is None or noun.endswith(("s", "foci")) else 1
            mentions_found.append(
                LesionMention(True, laterality_in_text(match.group(0)), count, match.group(0))
            )
    return tuple(mentions_found) if spoke else None


def new_brain_lesion_count(res: Resources) -> Fact[int]:
    """New lesions on the latest brain text that speaks of new lesions; treated ones not counted."""
    spoken = [(t, m) for t in brain_texts(res) if (m := new_lesions_in(t.text)) is not None]
    if not spoken:
        return Fact.unknown("no report says whether there are new brain lesions")
    text, found = max(spoken, key=lambda item: dates.latest_key(item[0].when))
    if any(m.count is None for m in found):
        return Fact.unknown(f"{text.ref} records new lesions without a number")
    words = "; ".join(m.words for m in found) or "no new lesions"
    return Fact(
        sum(m.count or 0 for m in found),
        (text.ref,),
        (),
        f"new lesions named in {text.source} ({text.when or 'undated'}): {words}",
    )
