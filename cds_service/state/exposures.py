"""Each medication resource read as exposures: agent, start, end (recorded or estimated, and how),
whether it is still given, and why it stopped, in the record's own words.

Representations read (real-world-fhir-representations.md 1.1, 1.3-1.5), dates by 1.5's precedence:
- MedicationStatement, every status: `effectiveDateTime`, or `effectivePeriod` (often start only).
  `intended` is left out (a plan, not yet taken); `not-taken` and `entered-in-error` are void.
  `dateAsserted` is not read: it is when the statement was typed in, not when the drug was taken.
- MedicationRequest, every status (`cancelled`, `draft`, `entered-in-error` are void; `unknown`,
  `completed`, `stopped` are given and not running; `active`, `on-hold` are running), `statusReason`
  (the stop's words), `intent` (`proposal` and `option` are left out: not orders; `plan` and
  `reportedBoolean` are patient-reported, kept and marked so), `doNotPerform` (left out),
  `priorPrescription` (renewal chains), `dosageInstruction[].timing.repeat.boundsPeriod` (start only,
  or before `authoredOn`), `boundsDuration`, `count` / `frequency` / `period`, "Until ..." in
  `dosageInstruction[].text`, `dispenseRequest.validityPeriod` (a start, never an end),
  `expectedSupplyDuration` x (1 + `numberOfRepeatsAllowed`), athena `ah-stop-date` /
  `ah-deactivated-date`. `courseOfTherapyType` is not read: "continuous" or "acute" (Cerner adds
  "Soft Stop") says whether a stop is planned, never when; it dates nothing. `meta.lastUpdated` is
  not read either: it is when the record was touched, and as an end it would be a guess.
  An order whose Cerner `pharmacy-verification-status` extension says "rejected" was never
  dispensed: left out. Not read, as they date nothing: `category` (inpatient, community...),
  `doseAndRate` (Epic's three typed entries), `timing.code`, `reasonCode` (why it was given).
- MedicationDispense: `whenHandedOver`, + `daysSupply` for the end; `declined` is void. Without
  `daysSupply` (not must-support in US Core), the supply is `quantity` / daily dose, the dose
  read from the dispense's own `dosageInstruction`, else from its `authorizingPrescription`
  order's: one dosage, a `doseAndRate[].doseQuantity` in the dispensed unit (tablets, capsules,
  mg, mL) and `timing.repeat` frequency / period. Left out, so the end stays unknown: a dose in
  another unit than the quantity (mg against tablets needs the tablet's strength: not guessed),
  several dosages (a taper or sequence has no one daily rate), a timing without its period.
- MedicationAdministration: `effectiveDateTime` or `effectivePeriod.start`, one dose each;
  `not-done` is void; `statusReason` of a stopped infusion. Doses are grouped into courses by
  their cycle in state/therapy. Cerner's `infuse-over-time` (minutes of one infusion) and
  mCODE's dose details in `note` date nothing and are not read.
- Why a record stopped: `statusReason`, and `note` on a stopped record; the words are kept as
  the course's stop detail.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from cds_service.state import dates
from cds_service.state.medication import Lookup, named
from cds_service.state.model import UNKNOWN, FhirDate, StopReason, Unknown
from cds_service.state.resources import Resources, reference
from cds_service.state.terminology import text_of

MEDICATION_TYPES = (
    "MedicationStatement",
    "MedicationRequest",
    "MedicationDispense",
    "MedicationAdministration",
)
_RUNNING = {"active", "on-hold", "in-progress"}
_NOT_ORDERS = {"proposal", "option"}  # MedicationRequest.intent: suggestions, not treatment
_ATHENA_STOP = (
    "https://fhir.athena.io/StructureDefinition/ah-stop-date",
    "https://fhir.athena.io/StructureDefinition/ah-deactivated-date",
)
# Cerner's extension (its URL's last segment; the value's text says "Rejected by pharmacy").
_PHARMACY_VERIFICATION = "/pharmacy-verification-status"
# Start precedence (1.5.2): a lower rank is better evidence of when the drug was first given.
START_RANK = {
    "administration": 0,
    "dispense": 1,
    "statement": 2,
    "boundsPeriod.start": 3,
    "validityPeriod.start": 4,
    "authoredOn": 5,
}
# End precedence (1.5.3), recorded ends first. Infusions (last one + cycle, set by
# state/therapy) come next: they show what was given, where orders show what was meant.
END_RANK = {
    "recorded": 0,
    "administration": 1,
    "boundsDuration": 2,
    "count": 3,
    "dispense": 4,
    "expectedSupplyDuration": 5,
    "until": 6,
}
# UCUM (and common spelt-out) time units in days.
_UNIT_DAYS = {
    "min": 1 / 1440,
    "h": 1 / 24,
    "d": 1,
    "day": 1,
    "days": 1,
    "wk": 7,
    "week": 7,
    "weeks": 7,
    "mo": 30,
    "month": 30,
    "months": 30,
    "a": 365,
    "year": 365,
    "years": 365,
}
# The unit a dispensed quantity and a dose are counted in, by its UCUM code or the words EHRs
# use: one divides the other only in the same unit.
_DOSE_UNITS = {
    "tablet": ("tab", "tabs", "tablet", "tablets", "tbl", "{tbl}", "{tablet}", "{tablets}"),
    "capsule": ("cap", "caps", "capsule", "capsules", "{cap}", "{capsule}", "{capsules}"),
    "mg": ("mg", "milligram", "milligrams"),
    "ml": ("ml", "milliliter", "milliliters", "millilitre", "millilitres"),
}
_UNIT_OF = {alias: unit for unit, aliases in _DOSE_UNITS.items() for alias in aliases}
# "Until Wed 5/27/2020" (Epic) or "until 2020-05-27".
_UNTIL = re.compile(
    r"\buntil\s+(?:[a-z]{3,9}\.?,?\s+)?(?:(\d{1,2})/(\d{1,2})/(\d{4})|(\d{4}-\d{2}-\d{2}))",
    re.IGNORECASE,
)
# Stop reasons are free text in practice; word stems, checked in order.
_REASONS: tuple[tuple[StopReason, tuple[str, ...]], ...] = (
    (
        "progression",
        ("progress", "worsen", "relapse", "recurren", "new brain lesion", "new metasta"),
    ),
    (
        "toxicity",
        (
            "toxic",
            "adverse",
            "intoleran",
            "side effect",
            "diarrh",
            "rash",
            "hepatotox",
            "neuropath",
            "hand-foot",
            "palmar-plantar",
            "cardiotox",
            "ejection fraction",
            "pneumonitis",
            "interstitial lung",
            "nausea",
            "vomit",
            "fatigue",
            "allerg",
            "reaction",
        ),
    ),
    ("completed", ("completed", "course complete", "finished", "planned course")),
)


@dataclass(frozen=True, slots=True)
class Exposure:
    """One agent of one medication resource over a period, as the record states it."""

    agent: str
    start: FhirDate | None
    start_rank: int
    end: FhirDate | None
    end_rank: int | None  # END_RANK of the end's source; None when there is no end
    end_basis: str  # "" for a recorded end; otherwise how it was estimated, in words
    running: bool  # the record says it is still given
    stop_reason: StopReason | Unknown
    stop_detail: str
    point: bool  # a single administration, not a period
    representation: str
    ref: str
    evidence: tuple[str, ...]  # the resource, and the Medication resource that named the drug
    renews: str | None = None  # priorPrescription: the order this one renews

    @property
    def end_estimated(self) -> bool:
        return self.end is not None and bool(self.end_basis)


def _days(quantity: Any) -> float | None:
    """A Duration (or daysSupply Quantity) in days; None when unreadable or not a time."""
    if not isinstance(quantity, dict) or not isinstance(quantity.get("value"), (int, float)):
        return None
    unit = str(quantity.get("code") or quantity.get("unit") or "d").strip().lower()
    factor = _UNIT_DAYS.get(unit) or _UNIT_DAYS.get(unit.rstrip("s"))
    return float(quantity["value"]) * factor if factor else None


def _stop(resource: dict) -> tuple[StopReason | Unknown, str]:
    """(reason, the record's own words) of why a medication stopped."""
    raw = resource.get("statusReason")
    concepts = raw if isinstance(raw, list) else [raw] if raw else []
    # Not `reasonCode`: that is why the drug was given (the cancer), never why it stopped.
    words = [text_of(c).split(" | ")[0] for c in concepts]
    if resource.get("status") == "stopped":
        # Notes say why only on a stopped record: elsewhere "dose reduced for diarrhoea" is
        # a course going on, not one ending.
        words += [n.get("text", "") for n in resource.get("note", [])]
    detail = "; ".join(w for w in words if w)
    lowered = detail.lower()
    for reason, stems in _REASONS:
        if any(stem in lowered for stem in stems):
            return reason, detail
    if (
        resource.get("status") == "completed"
        and resource.get("resourceType") == "MedicationStatement"
    ):
        return "completed", detail
    return UNKNOWN, detail


def _request_start(resource: dict) -> tuple[FhirDate | None, str]:
    bounds = [
        dates.parse(_repeat(d).get("boundsPeriod", {}).get("start"))
        for d in resource.get("dosageInstruction", [])
    ]
    # Epic re-documented orders: boundsPeriod.start months before authoredOn. It is the start.
    if start := dates.earliest(bounds):
        return start, "boundsPeriod.start"
    validity = dates.first(resource, "dispenseRequest.validityPeriod.start")
    if validity:
        return validity, "validityPeriod.start"
    return dates.parse(resource.get("authoredOn")), "authoredOn"


def _repeat(dosage: Any) -> dict:
    repeat = (dosage.get("timing") or {}).get("repeat") if isinstance(dosage, dict) else None
    return repeat if isinstance(repeat, dict) else {}


def _count_days(repeat: dict) -> float | None:
    """Days `count` doses last at `frequency` per `period` `periodUnit` (default once a day)."""
    count = repeat.get("count")
    if not isinstance(count, int):
        return None
    per = _days({"value": repeat.get("period", 1), "code": repeat.get("periodUnit", "d")})
    return count / repeat.get("frequency", 1) * per if per else None


def _until(dosages: list) -> FhirDate | None:
    for dosage in dosages:
        found = _UNTIL.search(str(dosage.get("text") or ""))
        if found:
            month, day, year, iso = found.groups()
            return dates.parse(iso or f"{year}-{int(month):02d}-{int(day):02d}")
    return None


def _request_end(resource: dict, start: FhirDate | None) -> tuple[FhirDate | None, int | None, str]:
    """(end, END_RANK, basis in words) of an order, first found in 1.5.3's order."""
    dosages = [d for d in resource.get("dosageInstruction", []) if isinstance(d, dict)]
    bounds_end = dates.latest(
        dates.parse(_repeat(d).get("boundsPeriod", {}).get("end")) for d in dosages
    )
    if bounds_end:
        return bounds_end, END_RANK["recorded"], ""
    for extension in resource.get("extension", []):
        if extension.get("url") in _ATHENA_STOP:
            stop = dates.first(extension, "valueDate", "valueDateTime")
            if stop:
                return stop, END_RANK["recorded"], ""
    if start is not None:
        for dosage in dosages:
            days = _days(_repeat(dosage).get("boundsDuration"))
            if days is not None:
                basis = f"estimated: start {start} + {days:g} days ordered (boundsDuration)"
                return dates.shifted(start, days), END_RANK["boundsDuration"], basis
        for dosage in dosages:
            days = _count_days(_repeat(dosage))
            if days is not None:
                count = _repeat(dosage)["count"]
                basis = f"estimated: start {start} + {count} doses ordered ({days:g} days)"
                return dates.shifted(start, days), END_RANK["count"], basis
        dispense = resource.get("dispenseRequest") or {}
        supply = _days(dispense.get("expectedSupplyDuration"))
        if supply is not None:
            repeats = dispense.get("numberOfRepeatsAllowed", 0)
            days = supply * (1 + repeats)
            basis = (
                f"estimated: start {start} + {supply:g} days' supply x {1 + repeats} fills"
                " (expectedSupplyDuration, numberOfRepeatsAllowed)"
            )
            return dates.shifted(start, days), END_RANK["expectedSupplyDuration"], basis
    until = _until(dosages)
    if until:
        return until, END_RANK["until"], f"ordered until {until} (dosage text)"
    return None, None, ""


def _dose_unit(quantity: Any) -> str | None:
    if not isinstance(quantity, dict):
        return None
    for key in ("code", "unit"):
        unit = _UNIT_OF.get(str(quantity.get(key) or "").strip().lower())
        if unit:
            return unit
    return None


def _daily_dose(dosages: Any, unit: str) -> float | None:
    """The amount a day, in `unit`, of the one dosage given; None when it cannot be read so."""
    readable = [d for d in dosages if isinstance(d, dict)] if isinstance(dosages, list) else []
    if len(readable) != 1:
        return None  # none, or several (a taper, a sequence): no one daily rate
    repeat = _repeat(readable[0])
    if "period" not in repeat or "periodUnit" not in repeat:
        return None  # how often is not recorded
    per = _days({"value": repeat["period"], "code": repeat["periodUnit"]})
    frequency = repeat.get("frequency", 1)
    amounts = {
        float(q["value"])
        for entry in readable[0].get("doseAndRate", [])
        if isinstance(entry, dict)
        and isinstance(q := entry.get("doseQuantity"), dict)
        and isinstance(q.get("value"), (int, float))
        and q["value"] > 0
        and _dose_unit(q) == unit
    }
    if not per or not isinstance(frequency, int) or len(amounts) != 1:
        return None  # no dose in the dispensed unit, or two that disagree
    return amounts.pop() * frequency / per


def _supply_from_dose(resource: dict, lookup: Lookup) -> tuple[float, str] | None:
    """(days, how) a dispense without daysSupply lasts: its quantity / the daily dose."""
    quantity = resource.get("quantity") or {}
    unit = _dose_unit(quantity)
    value = quantity.get("value")
    if unit is None or not isinstance(value, (int, float)) or value <= 0:
        return None
    sources = [("dispense dosage", resource.get("dosageInstruction"))]
    for ref in resource.get("authorizingPrescription", []):
        target = ref.get("reference") if isinstance(ref, dict) else None
        if isinstance(target, str):
            local = "/".join(target.split("/_history/")[0].rstrip("/").split("/")[-2:])
            order = lookup(local)
            if order is not None:
                sources.append((f"dose of {local}", order.get("dosageInstruction")))
    for source, dosages in sources:
        daily = _daily_dose(dosages, unit)
        if daily:
            days = value / daily
            return days, f"{value:g} {unit} / {daily:g} {unit} a day, {source}"
    return None


def _rejected_by_pharmacy(resource: dict) -> bool:
    return any(
        str(e.get("url", "")).endswith(_PHARMACY_VERIFICATION)
        and "rejected" in text_of(e.get("valueCodeableConcept")).lower()
        for e in resource.get("extension", [])
    )


def _read(resource: dict, lookup: Lookup) -> dict[str, Any] | None:
    """Start, end and status of one medication resource; None when it records no exposure."""
    rtype = resource.get("resourceType")
    status = resource.get("status")
    running = status in _RUNNING
    if rtype == "MedicationRequest":
        if resource.get("intent") in _NOT_ORDERS or resource.get("doNotPerform") is True:
            return None  # a suggestion, or an order not to give it
        if _rejected_by_pharmacy(resource):
            return None  # never dispensed
        start, how = _request_start(resource)
        end, end_rank, basis = _request_end(resource, start)
        reported = resource.get("intent") == "plan" or resource.get("reportedBoolean") is True
        prior = (resource.get("priorPrescription") or {}).get("reference")
        return {
            "start": start,
            "start_rank": START_RANK[how],
            "end": end,
            "end_rank": end_rank,
            "end_basis": basis,
            "running": running,
            "point": False,
            "representation": "patient-reported order" if reported else "order",
            "renews": prior.split("/_history/")[0] if prior else None,
        }
    if rtype == "MedicationStatement":
        if status == "intended":
            return None  # planned, not yet taken
        start = dates.first(resource, "effectivePeriod.start", "effectiveDateTime")
        end = dates.first(resource, "effectivePeriod.end")
        return {
            "start": start,
            "start_rank": START_RANK["statement"],
            "end": end,
            "end_rank": END_RANK["recorded"] if end else None,
            "end_basis": "",
            "running": running,
            "point": False,
            "representation": "statement",
        }
    if rtype == "MedicationDispense":
        handed = dates.first(resource, "whenHandedOver")
        supply = _days(resource.get("daysSupply"))
        how = "days' supply"
        if supply is None and (derived := _supply_from_dose(resource, lookup)):
            supply, how = derived[0], f"days ({derived[1]})"
        end = dates.shifted(handed, supply) if handed and supply is not None else None
        basis = f"estimated: dispensed {handed} + {supply:g} {how}" if end else ""
        return {
            "start": handed,
            "start_rank": START_RANK["dispense"],
            "end": end,
            "end_rank": END_RANK["dispense"] if end else None,
            "end_basis": basis,
            # Handed over with a known supply: the patient has it until the supply runs out.
            "running": end is not None,
            "point": False,
            "representation": "dispense",
        }
    # MedicationAdministration: one dose.
    dose = dates.first(resource, "effectiveDateTime", "effectivePeriod.start")
    return {
        "start": dose,
        "start_rank": START_RANK["administration"],
        "end": None,
        "end_rank": None,
        "end_basis": "",
        "running": running,
        "point": True,
        "representation": "administration",
    }


def _medications(res: Resources) -> dict[str, dict]:
    return res.once(
        "medications", lambda: {reference(m): m for m in res.of("Medication") if m.get("id")}
    )


def exposures(res: Resources) -> tuple[Exposure, ...]:
    """Every exposure to a known agent the medication resources record, by agent, then start."""
    return res.once("exposures", lambda: _exposures(res))


def _exposures(res: Resources) -> tuple[Exposure, ...]:
    medications = _medications(res)
    found = []
    for resource in res.of(*MEDICATION_TYPES):
        drug = named(resource, medications.get)
        if not drug.agents:
            continue  # no drug (data-absent "error"), or neither anticancer nor interacting
        read = _read(resource, res.get)
        if read is None:
            continue
        ref = reference(resource)
        stop, detail = _stop(resource)
        evidence = (ref, drug.medication) if drug.medication else (ref,)
        found += [
            Exposure(
                agent=agent,
                stop_reason=stop,
                stop_detail=detail,
                ref=ref,
                evidence=evidence,
                **read,
            )
            for agent in sorted(drug.agents)
        ]
    return tuple(sorted(found, key=lambda e: (e.agent, dates.earliest_key(e.start))))
