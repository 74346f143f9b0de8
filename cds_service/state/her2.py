"""HER2 status as ASCO/CAP 2023 defines it, from every way a record gives it; positive if any valid
test or diagnosis says so, discordance flagged, HER2-low never positive.

Reads:
- HER2 tissue-test Observations (her2-test: LOINC, or an EHR-local code named in code.text, as
  Cerner sends them; one Observation may carry two LOINC codings): a coded answer (LOINC LA6576-8
  / LA6577-6, SNOMED 10828004 / 260385009 / 280414007), the value in words ("3+", "2+
  (equivocal)", "Amplified"), an IHC score as a number (valueInteger / valueQuantity, on IHC tests
  only), and interpretation POS/NEG (also as the only signal);
- dual-probe ISH numbers: the HER2/CEP17 ratio (valueRatio, or valueQuantity) and the average HER2
  copy number (valueQuantity), alone, in one panel (component or hasMember) or as two results of
  one day, put in groups 1-5 and resolved with the concurrent IHC (state/her2_ish);
- an Observation carrying both valueRatio and valueCodeableConcept (fhir/record keeps the second
  value as a component of the same code, so both are read);
- diagnoses: SNOMED 427685000 / 431396003, and the status in a problem's words ("HER2+ breast ca",
  "ERBB2 amplified"), on a breast cancer problem or one naming no other cancer;
- pathology DiagnosticReport conclusions stating HER2 in words ("HER2 (IHC): 3+").
Leaves out, on purpose:
- serum HER2 (her2-serum, or "serum"/"plasma" in a local name): not the tumour's status;
- presentedForm attachments (PDF/RTF/text of a report): not read reliably here, so a HER2 result
  only there leaves HER2 unknown, never negative;
- ISH numbers that cannot be put in one group (one number alone, a comparator that leaves the
  threshold open): noted, never read as negative.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from cds_service.state import breast_cancer, dates, her2_ish, her2_text, parameters
from cds_service.state.coded import Coded, coded, coded_resource
from cds_service.state.her2_ish import Number
from cds_service.state.her2_text import Worded
from cds_service.state.model import Fact, FhirDate, HER2Result, Her2Status, Her2Test
from cds_service.state.resources import Resources, reference
from cds_service.state.terminology import code_sets, code_words, has_code, text_of, valueset

_ANSWERS: tuple[tuple[str, HER2Result], ...] = (
    ("her2-answer-positive", "positive"),
    ("her2-answer-negative", "negative"),
    ("her2-answer-equivocal", "equivocal"),
)
# What a test measures, by code first (a LOINC display may say "FISH" of a ratio), then by the
# local name: ratio, copy number, panel, IHC, ISH; anything else is a HER2 interpretation.
_KINDS = (
    ("her2-ish-ratio", "ratio"),
    ("her2-ish-copy-number", "copies"),
    ("her2-ish-panel", "ISH"),
    ("her2-ihc", "IHC"),
    ("her2-ish", "ISH"),
)
_SERUM = re.compile(r"\b(?:serum|plasma|ser/plas)\b", re.IGNORECASE)
# Words naming another cancer: a problem naming one and not breast cancer says nothing of the
# breast cancer's HER2 ("HER2-positive gastric adenocarcinoma").
_OTHER_CANCER = re.compile(
    r"\b(?:carcinoma|cancer|ca|adenocarcinoma|neoplasm|malignan\w*|tumou?r|sarcoma)\b", re.I
)


@dataclass(frozen=True, slots=True)
class _Part:
    """An Observation or one of its components: its coded `code` and its value elements."""

    item: Coded
    kind: str  # "ratio", "copies", "IHC", "ISH", "HER2"
    shape: str  # "Observation" or "component"


@dataclass(frozen=True, slots=True)
class _Numbers:
    """The ISH numbers of one result (a panel, or one Observation), and where they came from."""

    ratio: Number | None
    copies: Number | None
    when: FhirDate | None
    evidence: tuple[str, ...]
    shape: str


def _kind(item: Coded) -> str:
    for vs_id, kind in _KINDS:
        if item.has_code(vs_id):
            return kind
    for vs_id, kind in _KINDS:
        if valueset(vs_id).has_text(item.text):
            return kind
    return "HER2"


_TEST_SETS = ("her2-test", "her2-ish-ratio", "her2-ish-copy-number")


def _is_her2_test(item: Coded) -> bool:
    if item.has_code("her2-serum"):
        return False
    # By its name only when no code says what it is (a local code; a code of another concept,
    # such as disease status or ECOG, is not a HER2 test whatever its display says). The
    # her2-test names ("her2", "erbb2", ...) are part of every ratio and copy number name.
    if item.sets.isdisjoint(_TEST_SETS) and (item.sets or not item.matches("her2-test")):
        return False
    return not _SERUM.search(item.text)


def _part(component: dict) -> _Part:
    item = coded_resource(component)
    return _Part(item, _kind(item), "component")


def _parts(obs: Coded) -> list[_Part]:
    parts = [_Part(obs, _kind(obs), "Observation")]
    return parts + [_part(c) for c in obs.resource.get("component") or [] if isinstance(c, dict)]


def _numbers_of(parts: list[_Part]) -> tuple[Number | None, Number | None, str]:
    """(ratio, copy number, value elements) recorded on these parts."""
    ratio = copies = None
    shapes = []
    for part in parts:
        value = part.item.resource
        quantity = her2_ish.quantity(value.get("valueQuantity"))
        unit = str((value.get("valueQuantity") or {}).get("unit") or "").lower()
        # Under an ISH code, a Ratio (or a quantity in "ratio" units) is the HER2/CEP17 ratio.
        if part.kind == "ratio" or (
            part.kind == "ISH" and (value.get("valueRatio") or "ratio" in unit)
        ):
            found = her2_ish.ratio(value.get("valueRatio")) or quantity
            if found is not None and ratio is None:
                ratio = found
                shapes.append(
                    f"{part.shape} {'valueRatio' if value.get('valueRatio') else 'valueQuantity'}"
                )
        elif part.kind == "copies" and quantity is not None and copies is None:
            copies = quantity
            shapes.append(f"{part.shape} valueQuantity")
    return ratio, copies, ", ".join(shapes)


def _value_words(part: _Part) -> tuple[Worded, str] | None:
    """The result a part's value states, and the value element it was read from."""
    value = part.item.resource
    concept = value.get("valueCodeableConcept")
    sets = code_sets(concept)
    ihc = part.kind == "IHC"
    for vs_id, result in _ANSWERS:
        if vs_id in sets:
            # The record's own words beside the code ("HER2 IHC 3+") name it when they agree.
            words = her2_text.result_words(str((concept or {}).get("text") or ""), ihc=ihc)
            if words is None or words.result != result:
                words = Worded(result, None, result)
            return words, "valueCodeableConcept, coded"
    if concept is not None:
        words = her2_text.result_words(text_of(concept), ihc=ihc)
        if words:
            return words, "valueCodeableConcept, text"
    if isinstance(value.get("valueString"), str):
        words = her2_text.result_words(value["valueString"], ihc=ihc)
        if words:
            return words, "valueString"
    if ihc:  # an IHC score recorded as a number
        for element in ("valueInteger", "valueQuantity"):
            raw = value.get(element)
            number = raw if element == "valueInteger" else (raw or {}).get("value")
            if (
                isinstance(number, (int, float))
                and not isinstance(number, bool)
                and number in (0, 1, 2, 3)
            ):
                words = her2_text.result_words(str(int(number)), ihc=True)
                return (words, element) if words else None
    return None


def _interpretation_words(part: _Part) -> Worded | None:
    for concept in part.item.resource.get("interpretation") or []:
        sets = code_sets(concept)
        for vs_id, result in _ANSWERS:
            if vs_id in sets:
                return Worded(result, None, f"interpretation {result}")
        words = her2_text.result_words(text_of(concept))
        if words:
            return words
    return None


def _method(kind: str, words: Worded) -> str:
    if words.wording.startswith("IHC"):
        return words.wording
    # A test of no known method (48676-1 "HER2 [Interpretation] in Tissue") is a tissue test.
    label = {"IHC": "IHC ", "ISH": "ISH ", "ratio": "ISH ", "copies": "ISH "}.get(
        kind, "tissue test "
    )
    return f"{label}{words.wording}"


@dataclass
class _Reading:
    """What the HER2 Observations say, gathered before ISH groups are resolved."""

    tests: list[Her2Test]
    scores: list[tuple[int, FhirDate | None]]  # IHC scores, for "concurrent IHC"
    numbers: list[_Numbers]
    notes: list[str]


def _read_observation(obs: Coded, reading: _Reading, members: list[dict]) -> None:
    ref = reference(obs.resource)
    when = dates.clinical_date(obs.resource)
    parts = _parts(obs)
    for part in parts:
        found = _value_words(part)
        interpretation = _interpretation_words(part)
        if found is None and interpretation is None:
            continue
        said = []
        if found is not None:
            said.append((found[0], found[1]))
        if interpretation is not None and (
            found is None or interpretation.result != found[0].result
        ):
            said.append((interpretation, "interpretation"))
        for words, element in said:
            method = _method(part.kind, words)
            shape = "Observation" if part.shape == "Observation" else "Observation component"
            reading.tests.append(
                Her2Test(words.result, when, method, (ref,), f"HER2 {method} ({shape}, {element})")
            )
            if words.score is not None:
                reading.scores.append((words.score, when))
    member_parts = [p for m in members for p in _parts(coded_resource(m))]
    ratio, copies, shapes = _numbers_of(parts + member_parts)
    if ratio is not None or copies is not None:
        evidence = (ref,) + tuple(reference(m) for m in members)
        shape = "panel" if len(parts) > 1 or members else "Observation"
        reading.numbers.append(_Numbers(ratio, copies, when, evidence, f"{shape}: {shapes}"))
    elif not any(t.evidence == (ref,) for t in reading.tests):
        reading.notes.append(f"{ref}: a HER2 test whose result could not be read")


def _members(obs: dict, res: Resources) -> list[dict]:
    refs = [m.get("reference") for m in obs.get("hasMember") or [] if isinstance(m, dict)]
    # Relative, absolute or versioned ("https://ehr/fhir/Observation/1/_history/2"): Type/id.
    local = ["/".join(r.split("/_history/")[0].split("/")[-2:]) for r in refs if isinstance(r, str)]
    found = [res.get(r) for r in local]
    return [m for m in found if m is not None and m.get("resourceType") == "Observation"]


def _pair_alone(numbers: list[_Numbers]) -> list[_Numbers]:
    """A ratio and a copy number recorded as two results of the same day are one ISH result."""
    whole = [n for n in numbers if n.ratio is not None and n.copies is not None]
    ratios = [n for n in numbers if n.copies is None]
    copies = [n for n in numbers if n.ratio is None]
    for r in ratios:
        match = next((c for c in copies if c.when and r.when and c.when == r.when), None)
        if match is None:
            whole.append(r)
            continue
        copies.remove(match)
        whole.append(
            _Numbers(r.ratio, match.copies, r.when, r.evidence + match.evidence, "two Observations")
        )
    return whole + copies


def _concurrent_score(
    when: FhirDate | None, scores: list[tuple[int, FhirDate | None]]
) -> int | None:
    near = [
        s
        for s, w in scores
        if when and w and abs(dates.days_between(when, w)) <= parameters.HER2_CONCURRENT_IHC_DAYS
    ]
    return max(near) if near else None


def _ish_tests(reading: _Reading) -> None:
    for n in _pair_alone(reading.numbers):
        if n.ratio is None or n.copies is None:
            given = (
                f"ratio {n.ratio}" if n.ratio is not None else f"{n.copies} HER2 copies per cell"
            )
            reading.notes.append(
                f"{', '.join(n.evidence)}: ISH {given} without the "
                f"{'average copy number' if n.ratio is not None else 'HER2/CEP17 ratio'}: "
                "no ASCO/CAP group, not read as a result"
            )
            continue
        group = her2_ish.group(n.ratio, n.copies)
        numbers = f"ratio {n.ratio}, {n.copies} copies"
        if group is None:
            reading.notes.append(f"{', '.join(n.evidence)}: ISH {numbers}: group not determinable")
            continue
        score = _concurrent_score(n.when, reading.scores)
        result, how = her2_ish.resolve(group, score)
        method = f"ISH group {group}: {numbers}"
        reading.tests.append(
            Her2Test(result, n.when, method, n.evidence, f"{method}, {how} ({n.shape})")
        )


def _observation_reading(res: Resources) -> _Reading:
    reading = _Reading([], [], [], [])
    her2_tests = [item for item in coded(res, "Observation") if _is_her2_test(item)]
    consumed: set[str] = set()
    panels = []
    for item in her2_tests:
        members = [m for m in _members(item.resource, res) if _is_her2_test(coded_resource(m))]
        consumed.update(reference(m) for m in members)
        panels.append((item, members))
    for item, members in panels:
        if reference(item.resource) not in consumed:
            _read_observation(item, reading, members)
    # Members are read with their panel for numbers; their own stated results count too.
    for item in her2_tests:
        if reference(item.resource) in consumed:
            member = _Reading(reading.tests, reading.scores, [], reading.notes)
            _read_observation(item, member, [])
    _ish_tests(reading)
    return reading


def _diagnosis_tests(res: Resources) -> list[Her2Test]:
    tests = []
    for item in coded(res, "Condition"):
        cond = item.resource
        ref, when = reference(cond), dates.clinical_date(cond)
        wording = (cond.get("code") or {}).get("text") or item.text.split(" | ")[0]
        for vs_id, result in (
            ("her2-positive-carcinoma", "positive"),
            ("her2-negative-carcinoma", "negative"),
        ):
            if item.has_code(vs_id):
                how = code_words(cond.get("code"), vs_id)
                tests.append(
                    Her2Test(result, when, f"diagnosis: {wording}", (ref,), f"Condition {how}")  # type: ignore[arg-type]
                )
        if tests and tests[-1].evidence == (ref,):
            continue
        stated = her2_text.statements(item.text)[:1] if item.text else []
        if stated and _OTHER_CANCER.search(item.text) and not breast_cancer.reading(item):
            continue
        for words in stated:
            tests.append(
                Her2Test(
                    words.result,
                    when,
                    f"diagnosis: {wording}",
                    (ref,),
                    f"Condition text '{wording}' ({words.wording})",
                )
            )
    return tests


def _report_tests(res: Resources) -> list[Her2Test]:
    tests = []
    for report in res.of("DiagnosticReport"):
        if not any(has_code(c, "pathology-report") for c in report.get("category") or []):
            continue  # a radiology report's history line is not a HER2 result
        conclusion = report.get("conclusion")
        if not isinstance(conclusion, str):
            continue
        for words in her2_text.statements(conclusion)[:1]:
            tests.append(
                Her2Test(
                    words.result,
                    dates.clinical_date(report),
                    f"pathology report: {words.wording}",
                    (reference(report),),
                    f"DiagnosticReport conclusion (pathology): '{words.wording}'",
                )
            )
    return tests


def her2_status(res: Resources) -> Her2Status:
    """Positive when any valid result is positive; a later negative never switches that off."""
    if not res.available("Observation", "Condition", "DiagnosticReport"):
        return Her2Status(Fact.unknown("HER2 results could not be obtained"))
    reading = _observation_reading(res)
    found = reading.tests + _diagnosis_tests(res) + _report_tests(res)
    tests = tuple(sorted(found, key=_test_order))
    unread = (
        tuple(reading.notes)
        + tuple(
            f"{t}s could not be obtained: a HER2 result there is not known"
            for t in ("Observation", "DiagnosticReport")
            if t in res.unavailable
        )
        + tuple(
            f"{'an' if t[0] == 'O' else 'a'} {t} could not be read: it may hold a HER2 result"
            for t in ("Observation", "Condition", "DiagnosticReport")
            if t in res.unreadable
        )
    )
    if not tests:
        return Her2Status(Fact.unknown("no readable HER2 result recorded", *unread))
    results = {t.result for t in tests}
    discordant = "positive" in results and "negative" in results
    status = next(r for r in ("positive", "negative", "equivocal") if r in results)
    # A positive result stands; negatives alone mean negative; only equivocal stays equivocal.
    chosen = [t for t in tests if t.result == status]
    notes = tuple(n for t in tests for n in dates.partial_notes(t.evidence[0], t.when)) + unread
    if discordant:
        listed = "; ".join(f"{t.method} ({t.when or 'undated'})" for t in tests)
        notes = (f"discordant HER2 results, positive retained: {listed}",) + notes
    if status == "negative" and any(_low(t) for t in tests):
        notes = ("HER2-low: not HER2-positive",) + notes
    evidence = tuple(
        dict.fromkeys(ref for t in (tests if discordant else chosen) for ref in t.evidence)
    )
    basis = "; ".join(t.basis for t in chosen)
    return Her2Status(Fact(status, evidence, notes, basis), discordant, tests)


def _low(test: Her2Test) -> bool:
    """IHC 1+, or IHC 2+ with negative ISH: HER2-low, which is not HER2-positive."""
    return "HER2-low" in test.method or "HER2-low" in test.basis or test.method == "IHC 2+"


def _test_order(test: Her2Test) -> tuple[date, str]:
    return (test.when.earliest if test.when else date.min, test.method)
