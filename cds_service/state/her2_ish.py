"""Dual-probe HER2 ISH as ASCO/CAP 2023 reads it: the HER2/CEP17 ratio and the average HER2 copy
number per cell put a result in group 1-5; groups 2-4 are resolved with the concurrent IHC."""

from __future__ import annotations

from dataclasses import dataclass

from cds_service.state import parameters
from cds_service.state.model import HER2Result


@dataclass(frozen=True, slots=True)
class Number:
    """A recorded number with its comparator ("<", ">=", ...; "" when exact)."""

    value: float
    comparator: str = ""

    def at_least(self, threshold: float) -> bool | None:
        """Whether the number is >= threshold; None when its comparator leaves that open."""
        if self.comparator in ("", "="):
            return self.value >= threshold
        if self.comparator in (">", ">="):
            return True if self.value >= threshold else None
        if self.comparator == "<":
            return False if self.value <= threshold else None
        if self.comparator == "<=":
            return False if self.value < threshold else None
        return None

    def __str__(self) -> str:
        return f"{self.comparator}{self.value:g}"


def quantity(raw: object) -> Number | None:
    """A FHIR Quantity's value (and comparator); None when it has no number."""
    if not isinstance(raw, dict) or isinstance(raw.get("value"), bool):
        return None
    value = raw.get("value")
    if not isinstance(value, (int, float)):
        return None
    return Number(float(value), str(raw.get("comparator") or ""))


def ratio(raw: object) -> Number | None:
    """A FHIR Ratio as one number: numerator / denominator (a missing denominator reads as 1, as
    labs write "2.4 : 1"). A comparator on either part carries over when the other is exact."""
    if not isinstance(raw, dict):
        return None
    numerator = quantity(raw.get("numerator"))
    denominator = quantity(raw.get("denominator")) if raw.get("denominator") else Number(1.0)
    if numerator is None or denominator is None or denominator.value <= 0:
        return None
    if numerator.comparator and denominator.comparator:
        return None
    flipped = {"<": ">", ">": "<", "<=": ">=", ">=": "<="}
    comparator = numerator.comparator or flipped.get(denominator.comparator, "")
    return Number(numerator.value / denominator.value, comparator)


def group(her2_ratio: Number, copies: Number) -> int | None:
    """The ASCO/CAP 2023 dual-probe ISH group (1-5); None when a comparator leaves it open."""
    high_ratio = her2_ratio.at_least(parameters.HER2_ISH_RATIO)
    four = copies.at_least(parameters.HER2_ISH_COPIES_LOW)
    six = copies.at_least(parameters.HER2_ISH_COPIES_HIGH)
    if high_ratio is None or four is None:
        return None
    if high_ratio:
        return 1 if four else 2
    if not four:
        return 5
    if six is None:
        return None
    return 3 if six else 4


def resolve(ish_group: int, ihc_score: int | None) -> tuple[HER2Result, str]:
    """The result of an ISH group with the concurrent IHC score (None when none is recorded), and
    how it was reached in words. Group 2 is never positive from the ratio alone."""
    if ish_group == 1:
        return "positive", "positive"
    if ish_group == 5:
        return "negative", "negative"
    positive_scores = {2: (3,), 3: (2, 3), 4: (3,)}[ish_group]
    if ihc_score is None:
        needs = "IHC 3+" if positive_scores == (3,) else "IHC 2+ or 3+"
        return "equivocal", f"positive only with concurrent {needs}, and no concurrent IHC recorded"
    if ihc_score in positive_scores:
        return "positive", f"positive with concurrent IHC {ihc_score}+"
    low = " (HER2-low)" if ihc_score in (1, 2) else ""
    return "negative", f"negative with concurrent IHC {ihc_score}{'+' if ihc_score else ''}{low}"
