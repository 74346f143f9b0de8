"""Breast cancer, and HER2 status: positive if any valid result says so; discordance flagged."""

from __future__ import annotations

import re
from datetime import date

from cds_service.state import dates
from cds_service.state.coded import coded
from cds_service.state.model import Fact, HER2Result, Her2Status, Her2Test
from cds_service.state.resources import Resources, reference
from cds_service.state.terminology import code_sets, text_of

# Free-text results: IHC scores and ISH wording (checked only on HER2 test Observations).
_TEXT_RESULTS: tuple[tuple[re.Pattern[str], HER2Result, str], ...] = (
    (re.compile(r"\b(not|non)[- ]amplified\b"), "negative", "ISH not amplified"),
    (re.compile(r"\bamplified\b"), "positive", "ISH amplified"),
    (re.compile(r"(?<![\d.])3\s*\+"), "positive", "IHC 3+"),
    (re.compile(r"(?<![\d.])2\s*\+"), "equivocal", "IHC 2+"),
    (re.compile(r"(?<![\d.])(1\s*\+|0)(?![\d.])"), "negative", "IHC 0-1+"),
    (re.compile(r"\bequivocal\b"), "equivocal", "equivocal"),
    (re.compile(r"\bpositive\b"), "positive", "positive"),
    (re.compile(r"\bnegative\b"), "negative", "negative"),
)


DIAGNOSES: tuple[tuple[str, HER2Result], ...] = (
    ("her2-positive-carcinoma", "positive"),
    ("her2-negative-carcinoma", "negative"),
)


def breast_cancer(res: Resources) -> Fact[bool]:
    """A breast cancer diagnosis (ICD-10-CM C50.*, SNOMED breast cancer concepts)."""
    if not res.available("Condition"):
        return Fact.unknown("Conditions could not be obtained")
    found = [c.resource for c in coded(res, "Condition") if c.has_code("breast-cancer")]
    if found:
        return Fact(True, tuple(reference(c) for c in found))
    return Fact(False, (), ("no breast cancer diagnosis recorded",))


def _observation_result(obs: dict) -> tuple[HER2Result, str] | None:
    """(result, method) of a HER2 Observation, from its coded value first, then its text."""
    value = obs.get("valueCodeableConcept")
    answers: tuple[tuple[str, HER2Result], ...] = (
        ("her2-answer-positive", "positive"),
        ("her2-answer-negative", "negative"),
        ("her2-answer-equivocal", "equivocal"),
    )
    sets = code_sets(value)
    for vs_id, result in answers:
        if vs_id in sets:
            return result, f"{text_of(obs.get('code')).split(' | ')[0] or 'HER2 test'}: {result}"
    interpretation = " ".join(text_of(i) for i in obs.get("interpretation", []))
    text = " ".join(
        t for t in (text_of(value), obs.get("valueString") or "", interpretation) if t
    ).lower()
    for pattern, result, method in _TEXT_RESULTS:
        if pattern.search(text):
            return result, method
    return None


def _observation_tests(res: Resources) -> list[Her2Test]:
    tests = []
    for item in coded(res, "Observation"):
        obs = item.resource
        if not item.has_code("her2-test"):
            continue
        found = _observation_result(obs)
        if found:
            tests.append(Her2Test(found[0], dates.clinical_date(obs), found[1], (reference(obs),)))
    return tests


def _diagnosis_tests(res: Resources) -> list[Her2Test]:
    tests = []
    for item in coded(res, "Condition"):
        cond = item.resource
        for vs_id, result in DIAGNOSES:
            if item.matches(vs_id):
                method = f"diagnosis: {text_of(cond.get('code')).split(' | ')[0]}"
                tests.append(
                    Her2Test(result, dates.clinical_date(cond), method, (reference(cond),))
                )
    return tests


def her2_status(res: Resources) -> Her2Status:
    """Positive when any valid result is positive; a later negative never switches that off."""
    if not res.available("Observation", "Condition"):
        return Her2Status(Fact.unknown("Observations and Conditions could not be obtained"))
    tests = tuple(sorted(_observation_tests(res) + _diagnosis_tests(res), key=_test_order))
    if not tests:
        return Her2Status(Fact.unknown("no HER2 result recorded"))
    results = {t.result for t in tests}
    discordant = "positive" in results and "negative" in results
    status = next(r for r in ("positive", "negative", "equivocal") if r in results)
    # A positive result stands; negatives alone mean negative; only equivocal stays equivocal.
    chosen = [t for t in tests if t.result == status]
    notes = tuple(n for t in tests for n in dates.partial_notes(t.evidence[0], t.when))
    if discordant:
        listed = "; ".join(f"{t.method} ({t.when or 'undated'})" for t in tests)
        notes = (f"discordant HER2 results, positive retained: {listed}",) + notes
    evidence = tuple(ref for t in (tests if discordant else chosen) for ref in t.evidence)
    return Her2Status(Fact(status, evidence, notes), discordant, tests)


def _test_order(test: Her2Test) -> tuple[date, str]:
    return (test.when.earliest if test.when else date.min, test.method)
