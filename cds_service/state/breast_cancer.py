"""Breast cancer from the problem list, however it is coded or worded.

Reads, on each Condition (problem-list-item, encounter-diagnosis and health-concern alike: the
category does not change what a diagnosis says):
- a code in the breast-cancer value set, in any of its codings: ICD-10-CM C50.* (C50.9xx too),
  SNOMED breast cancer concepts, Epic's SNOMED + ICD-9-CM + ICD-10-CM concepts, Cerner's IMO +
  SNOMED (the SNOMED coding decides; IMO codes are not verified, so IMO alone is read by text);
- mCODE post-coordination: 363346000 "Malignant neoplastic disease" with a breast bodySite;
- the clinician's words only ("HER2+ breast ca", "HER-2/neu 3+ breast carcinoma", "Invasive ductal
  carcinoma, left breast", ICD-10-CM displays sent under a local or IMO code), un-negated, with
  family history, screening, risk, in-situ and "secondary ... of breast" wording taken out first.
Entered-in-error and refuted Conditions never count (state/resources sets them aside).
"""

from __future__ import annotations

import re

from cds_service.state.coded import Coded, coded, coded_resource
from cds_service.state.model import Fact
from cds_service.state.resources import Resources, reference
from cds_service.state.terminology import code_words, matches, mentions, text_of, valueset

# Wording about breast cancer that does not say the patient has it. Each removes the rest of its
# clause, so "family history of breast cancer" is not read, while "HER2+ breast ca; FH of
# ovarian cancer" still is.
_NOT_A_DIAGNOSIS = re.compile(
    r"\b(?:family (?:history|hx)|fh|fhx)\b[^;,.\n]*"
    r"|\b(?:screening|surveillance|at risk|high risk|risk) (?:of|for)\b[^;,.\n]*"
    r"|\bbreast (?:cancer|ca|carcinoma) (?:screening|risk|gene|susceptibility)\b"
    r"|\b(?:ductal |lobular )?carcinoma in situ\b|\b[dl]cis\b"
    r"|\bsecondary malignant neoplasm of (?:the )?(?:(?:left|right|female|male|unspecified) )*"
    r"breast\b|\bmetasta\w* to (?:the )?(?:(?:left|right) )?breast\b",
    re.IGNORECASE,
)


# A malignancy named, then its place in the breast, as problem lists and ICD-10-CM displays word
# it: "Invasive ductal carcinoma, left breast", "Malignant neoplasm of upper-outer quadrant of
# right female breast". Only site words may come between (not "carcinoma of lung, breast cyst").
_SITE_WORDS = (
    r"of|the|in|left|right|bilateral|female|male|unspecified|site|sites|upper|lower|inner|outer"
    r"|upper-outer|upper-inner|lower-outer|lower-inner|central|portion|quadrant|nipple|and"
    r"|areola|axillary|tail|overlapping|invasive|ductal|lobular|infiltrating"
)
_MALIGNANCY_OF_BREAST = re.compile(
    rf"\b(?:(?:adeno)?carcinoma|cancer|malignant neoplasm|malignancy)"
    rf"(?:[\s,]+(?:{_SITE_WORDS}))*[\s,]+breast\b",
    re.IGNORECASE,
)


def worded(text: str) -> bool:
    """True when `text` states a breast cancer diagnosis in words."""
    words = valueset("breast-cancer")
    # The cheap test first: most problems name no breast cancer at all.
    if "breast" not in text.lower():
        return False
    kept = _NOT_A_DIAGNOSIS.sub(" ", text)
    if words.has_text(kept):
        return True
    # Negation is honoured as for the value set's words ("no ... carcinoma of left breast").
    return any(mentions(kept, m.group(0)) for m in _MALIGNANCY_OF_BREAST.finditer(kept))


def reading(item: Coded) -> str:
    """How a Condition says breast cancer ("ICD-10-CM C50.912", "text 'HER2+ breast ca'"); ""
    when it does not."""
    concept = item.resource.get("code")
    by_code = code_words(concept, "breast-cancer")
    if by_code:
        return by_code
    if item.has_code("primary-malignancy-generic"):
        site = next(
            (s for s in item.resource.get("bodySite") or [] if matches(s, "breast-body-site")),
            None,
        )
        if site is not None:
            return f"{code_words(concept, 'primary-malignancy-generic')} + bodySite {text_of(site)}"
    if item.text and worded(item.text):
        return f"text '{(concept or {}).get('text') or item.text}'"
    return ""


def is_breast_cancer(condition: dict) -> bool:
    """True when a Condition (a metastasis's recorded primary, say) states breast cancer in any
    of the ways above."""
    return bool(reading(coded_resource(condition)))


def breast_cancer(res: Resources) -> Fact[bool]:
    """A breast cancer diagnosis on any Condition; False only when Conditions were obtained."""
    if not res.available("Condition"):
        return Fact.unknown("Conditions could not be obtained")
    found = [(item.resource, how) for item in coded(res, "Condition") if (how := reading(item))]
    if found:
        first, how = found[0]
        return Fact(True, tuple(reference(c) for c, _ in found), (), f"Condition {how}")
    if "Condition" in res.unreadable:
        return Fact.unknown("a Condition could not be read: breast cancer not known to be absent")
    return Fact(False, (), ("no breast cancer diagnosis recorded",), "Conditions searched")
