"""Which drug a medication resource names, however it names it.

Representations read (real-world-fhir-representations.md 1.2):
- an inline `medicationCodeableConcept`: ingredient, product (SCD/SBD) or brand codes that the
  agent value sets list as verified, else its text and coding displays (brand names, biosimilar
  suffixes) against the value sets' text patterns;
- `medicationReference` to a contained Medication (`#id`, Cerner mixtures), whose codes may sit
  only on `ingredient[].itemCodeableConcept`;
- `medicationReference` to a Medication elsewhere in the record (`Medication/<id>`, Epic; the
  prefetch `_include`s it), read the same way;
- the reference's `display` alone, when the Medication it names is not in the record.
Left out on purpose: a drug given as the data-absent-reason code `error` (Cerner's entered-in-error
orders) names no drug at all, whatever its text says.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cds_service.state.terminology import COMPOUND_AGENTS, agents_of, codings, text_of

DATA_ABSENT_REASON = "http://terminology.hl7.org/CodeSystem/data-absent-reason"

# Looks a "Type/id" reference up in the record (None when it is not there).
Lookup = Callable[[str], dict | None]


@dataclass(frozen=True, slots=True)
class Named:
    """The agents a medication resource names, and the Medication resource that named them."""

    agents: frozenset[str]
    display: str  # the drug as the record words it, for draft orders and explain
    medication: str | None = None  # "Medication/<id>" when an external Medication named it
    absent: bool = False  # the drug is the data-absent-reason code: no drug at all


def _concepts(medication: dict) -> list[Any]:
    """A Medication's code and each ingredient's code (mixtures code only their ingredients)."""
    concepts: list[Any] = [medication.get("code") or {}]
    concepts += [
        i.get("itemCodeableConcept")
        for i in medication.get("ingredient", [])
        if isinstance(i, dict) and i.get("itemCodeableConcept")
    ]
    return concepts


def _agents(concepts: list[Any], display: str) -> frozenset[str]:
    # Each concept on its own: a code in one must not silence the text of another.
    found: set[str] = set()
    for concept in concepts:
        found |= agents_of(concept)
    for compound, parts in COMPOUND_AGENTS.items():
        if compound in found:  # T-DXd's ingredient list names trastuzumab: not plain trastuzumab
            found -= parts
    return frozenset(found) or agents_of({}, display)


def _absent(concept: Any) -> bool:
    return any(system == DATA_ABSENT_REASON for system, _, _ in codings(concept))


def named(resource: dict, lookup: Lookup | None = None) -> Named:
    """The agents `resource` (a MedicationRequest, -Statement, -Dispense or -Administration, or
    a draft order) names. `lookup` finds an external Medication in the record."""
    inline = resource.get("medicationCodeableConcept")
    if inline:
        if _absent(inline):
            return Named(frozenset(), text_of(inline), absent=True)
        return Named(agents_of(inline), text_of(inline).split(" | ")[0])
    ref = resource.get("medicationReference") or {}
    target = ref.get("reference") or ""
    display = ref.get("display") or ""
    medication: dict | None = None
    external: str | None = None
    if target.startswith("#"):
        medication = next(
            (
                c
                for c in resource.get("contained", [])
                if c.get("resourceType") == "Medication" and c.get("id") == target[1:]
            ),
            None,
        )
    elif target and lookup is not None:
        # Absolute or versioned references name the same Medication as "Medication/<id>".
        parts = target.split("/_history/")[0].rstrip("/").split("/")
        if len(parts) >= 2 and parts[-2] == "Medication":
            external = f"Medication/{parts[-1]}"
            medication = lookup(external)
    if medication is None:
        return Named(agents_of({}, display), display)
    concepts = _concepts(medication)
    if _absent(concepts[0]):
        return Named(frozenset(), display, absent=True)
    shown = text_of(concepts[0]).split(" | ")[0] or display
    return Named(_agents(concepts, display), shown, external)
