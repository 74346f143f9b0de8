"""Fixed-seed generator of realistic CDS Hooks requests: a few relevant resources among many others.

The clinically relevant core is a HER2-positive breast cancer patient with brain metastases who
progressed on lapatinib + capecitabine after SRS, with a draft lapatinib order (order-select): it
is read from fixtures/scenarios/01-rechallenge-after-srs.json when that file exists, else built
here. Around it go Epic-like filler resources the rules never use: vitals, labs, unrelated
conditions, medications and procedures. Every resource carries what an EHR adds (meta, a text
narrative, identifiers) and every filler CodeableConcept two codings (a standard code taken from
the public example data in /work/shared/external, plus a site-local code).

The heavy record (`ehr_record`, `--ehr`) is the same patient after five years of treatment as an
EHR exports it: every three-weekly trastuzumab + pertuzumab infusion of the scenario's course, with
its premedications and each drug's order, then the same filler up to the size asked
(10,000 resources is about 15 MB).

    python bench/generate.py 30 > request-30.json
    python bench/generate.py --ehr 10000 > request-10000.json
"""

from __future__ import annotations

import json
import random
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "fixtures" / "scenarios" / "01-rechallenge-after-srs.json"
SEED = 8
PATIENT_ID = "bench-pt-1"
AS_OF = "2025-06-01"
HOOK = "order-select"

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
CPT = "http://www.ama-assn.org/go/cpt"
# Site-local code systems, as an EHR sends beside the standard code (never matched by the rules).
LOCAL = "urn:oid:1.2.840.114350.1.13.0.1.7.2.bench"
XHTML = "http://www.w3.org/1999/xhtml"
IDENTIFIER_SYSTEM = "urn:oid:1.2.840.114350.1.13.0.1.7.3.bench"

# Filler codes, all copied from public example data (synthea breast-cancer module, mCODE STU4 and
# HL7 R4 examples in /work/shared/external); none is in a value set the rules read.
NEGATIVE = (SNOMED, "260385009", "Negative (qualifier value)")
# (weight, category, system, code, display, unit and range | coded value). ER/PR results are rare
# here and are kept by the relevance filter: their Negative is the same code as a HER2 answer.
FILLER_OBSERVATIONS = (
    (30, "vital-signs", LOINC, "29463-7", "Body Weight", ("kg", 50.0, 95.0)),
    (20, "vital-signs", LOINC, "3141-9", "Body weight Measured", ("kg", 50.0, 95.0)),
    (25, "laboratory", LOINC, "26499-4", "Neutrophils [#/volume] in Blood", ("10*3/uL", 1.5, 8.0)),
    (
        5,
        "social-history",
        SNOMED,
        "401201003",
        "Cigarette pack-years (observable entity)",
        ("{pack-years}", 0.0, 30.0),
    ),
    (
        10,
        "social-history",
        LOINC,
        "72166-2",
        "Tobacco smoking status",
        (SNOMED, "449868002", "Smokes tobacco daily (finding)"),
    ),
    (
        2,
        "laboratory",
        LOINC,
        "85337-4",
        "Estrogen receptor Ag [Presence] in Breast cancer specimen",
        NEGATIVE,
    ),
    (
        2,
        "laboratory",
        LOINC,
        "85339-0",
        "Progesterone receptor Ag [Presence] in Breast cancer specimen",
        NEGATIVE,
    ),
)
FILLER_CONDITIONS = (
    ("414916001", "Obesity (disorder)"),
    ("19829001", "Disorder of lung (disorder)"),
    ("357009", "Closed fracture of trapezoidal bone of wrist"),
    ("32914008", "Restless legs"),
    ("67750007", "Ineffective airway clearance (finding)"),
    ("166643006", "Liver enzymes abnormal"),
    ("297217002", "Rib pain (finding)"),
)
FILLER_MEDICATIONS = (
    ("315266", "Acetaminophen 500 MG"),
    ("901813", "Diphenhydramine Hydrochloride 25 mg"),
    ("358793", "Mometasone Furoate 0.05mg/Actuat"),
    ("200064", "letrozole 2.5 MG Oral Tablet"),
    ("199224", "anastrozole 1 MG Oral Tablet"),
    ("198240", "Tamoxifen 10 MG Oral Tablet"),
    ("3002", "cyclophosphamide"),
)
FILLER_PROCEDURES = (
    ("80146002", "Appendectomy (procedure)"),
    ("71651007", "Mammography (procedure)"),
    ("5880005", "Physical examination procedure (procedure)"),
    ("90105005", "Biopsy of soft tissue of forearm (procedure)"),
)
# Share of each filler kind, as in a real oncology record: mostly vitals and labs.
FILLER_MIX = (("observation", 0.55), ("medication", 0.2), ("condition", 0.15), ("procedure", 0.1))

PREFETCH_KEYS = {
    "Patient": "patient",
    "Condition": "conditions",
    "MedicationStatement": "medicationStatements",
    "MedicationRequest": "medicationRequests",
    "MedicationAdministration": "medicationAdministrations",
    "Procedure": "procedures",
    "ImagingStudy": "imagingStudies",
    "Observation": "observations",
    "ServiceRequest": "serviceRequests",
}


def _subject() -> dict[str, str]:
    return {"reference": f"Patient/{PATIENT_ID}"}


def _concept(system: str, code: str, display: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code, "display": display}], "text": display}


def _core_resources() -> list[dict[str, Any]]:
    """HER2+ breast cancer, brain metastases treated with SRS twice, progressed on lapatinib."""
    patient = {
        "resourceType": "Patient",
        "id": PATIENT_ID,
        "gender": "female",
        "birthDate": "1968-04-12",
        "name": [{"family": "Bench", "given": ["Test"]}],
    }
    breast = {
        "resourceType": "Condition",
        "id": "bc-1",
        "subject": _subject(),
        "clinicalStatus": _concept(
            "http://terminology.hl7.org/CodeSystem/condition-clinical", "active", "Active"
        ),
        "code": _concept(
            SNOMED, "427685000", "Human epidermal growth factor 2 positive carcinoma of breast"
        ),
        "onsetDateTime": "2021-09-01",
    }
    brain = {
        "resourceType": "Condition",
        "id": "bm-1",
        "subject": _subject(),
        "clinicalStatus": _concept(
            "http://terminology.hl7.org/CodeSystem/condition-clinical", "active", "Active"
        ),
        "code": {
            "coding": [
                {
                    "system": ICD10,
                    "code": "C79.31",
                    "display": "Secondary malignant neoplasm of brain",
                },
                {
                    "system": SNOMED,
                    "code": "94225005",
                    "display": "Secondary malignant neoplasm of brain",
                },
            ],
            "text": "Brain metastases, two lesions, no mass effect",
        },
        "onsetDateTime": "2023-11-15",
    }
    her2 = {
        "resourceType": "Observation",
        "id": "her2-1",
        "status": "final",
        "subject": _subject(),
        "code": _concept(LOINC, "48676-1", "HER2 [Interpretation] in Tissue"),
        "valueCodeableConcept": _concept(LOINC, "LA6576-8", "Positive"),
        "effectiveDateTime": "2021-09-10",
    }
    ecog = {
        "resourceType": "Observation",
        "id": "ecog-1",
        "status": "final",
        "subject": _subject(),
        "code": _concept(LOINC, "89247-1", "ECOG Performance Status score"),
        "valueInteger": 1,
        "effectiveDateTime": "2025-05-20",
    }
    srs = [
        {
            "resourceType": "Procedure",
            "id": f"srs-{i}",
            "status": "completed",
            "subject": _subject(),
            "code": _concept(CPT, "77372", "SRS, linear accelerator based, cranial lesion"),
            "bodySite": [_concept(SNOMED, "12738006", "Brain structure")],
            "reasonReference": [{"reference": "Condition/bm-1"}],
            "performedDateTime": day,
        }
        for i, day in ((1, "2023-12-04"), (2, "2025-03-18"))
    ]
    meds = [
        {
            "resourceType": "MedicationStatement",
            "id": f"ms-{name}",
            "status": "stopped",
            "subject": _subject(),
            "medicationCodeableConcept": _concept(RXNORM, code, name),
            "effectivePeriod": {"start": "2024-01-10", "end": "2025-03-01"},
            "statusReason": [{"text": "progression: new brain lesions"}],
        }
        for name, code in (("lapatinib", "480167"), ("capecitabine", "194000"))
    ]
    return [patient, breast, brain, her2, ecog, *srs, *meds]


def _draft_orders(patient_id: str) -> list[dict[str, Any]]:
    return [
        {
            "resourceType": "MedicationRequest",
            "id": "draft-lapatinib",
            "status": "draft",
            "intent": "order",
            "subject": {"reference": f"Patient/{patient_id}"},
            "medicationCodeableConcept": _concept(RXNORM, "480167", "lapatinib"),
        }
    ]


def _scenario() -> tuple[list[dict[str, Any]], list[dict[str, Any]], str, str | None]:
    """(resources, draft orders, hook, as-of date) of scenario 01 if present, else the built-in one.

    The scenario's Bundle holds the record; the hook is an order-select of a lapatinib rechallenge,
    on the Bundle's timestamp date."""
    if not SCENARIO.exists():
        return _core_resources(), _draft_orders(PATIENT_ID), HOOK, AS_OF
    data = json.loads(SCENARIO.read_text(encoding="utf-8"))
    bundle = data if data.get("resourceType") == "Bundle" else _find_bundle(data)
    resources = [
        e["resource"] for e in bundle.get("entry", []) if isinstance(e, dict) and "resource" in e
    ]
    patient_id = next(
        (r["id"] for r in resources if r.get("resourceType") == "Patient"), PATIENT_ID
    )
    as_of = str(bundle.get("timestamp") or AS_OF)[:10]
    return resources, _draft_orders(patient_id), HOOK, as_of


def _find_bundle(data: dict[str, Any]) -> dict[str, Any]:
    for value in data.values():
        if isinstance(value, dict) and value.get("resourceType") == "Bundle":
            return value
    raise SystemExit(f"{SCENARIO}: no FHIR Bundle found")


def _epic_like(resource: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """What an EHR adds around the clinical content: meta, identifiers, a generated narrative."""
    out = dict(resource)
    out.setdefault(
        "meta",
        {
            "versionId": str(rng.randint(1, 9)),
            "lastUpdated": "2025-05-30T14:02:11Z",
            "source": "#bench-epic",
        },
    )
    out.setdefault(
        "identifier",
        [{"use": "usual", "system": IDENTIFIER_SYSTEM, "value": f"{rng.randint(10**8, 10**9)}"}],
    )
    label = resource.get("resourceType", "Resource")
    out.setdefault(
        "text",
        {
            "status": "generated",
            "div": f'<div xmlns="{XHTML}">{label} {resource.get("id", "")}</div>',
        },
    )
    return out


def _two_codings(system: str, code: str, display: str, rng: random.Random) -> dict[str, Any]:
    return {
        "coding": [
            {"system": system, "code": code, "display": display},
            {"system": LOCAL, "code": str(rng.randint(10**5, 10**6)), "display": display.upper()},
        ],
        "text": display,
    }


def _day(rng: random.Random) -> str:
    return f"20{rng.randint(22, 25)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"


def _filler_observation(i: int, rng: random.Random, subject: dict[str, str]) -> dict[str, Any]:
    weights = [o[0] for o in FILLER_OBSERVATIONS]
    _, category, system, code, display, value = rng.choices(FILLER_OBSERVATIONS, weights)[0]
    obs: dict[str, Any] = {
        "resourceType": "Observation",
        "id": f"obs-{i}",
        "status": "final",
        "category": [
            _two_codings(
                "http://terminology.hl7.org/CodeSystem/observation-category",
                category,
                category.replace("-", " ").title(),
                rng,
            )
        ],
        "code": _two_codings(system, code, display, rng),
        "subject": subject,
        "effectiveDateTime": _day(rng) + "T09:30:00Z",
        "issued": "2025-05-30T14:02:11Z",
        "performer": [{"reference": "Practitioner/bench-pr-1", "display": "Bench Clinician"}],
    }
    if isinstance(value[1], float):
        unit, low, high = value
        obs["valueQuantity"] = {
            "value": round(rng.uniform(low, high), 1),
            "unit": unit,
            "system": "http://unitsofmeasure.org",
            "code": unit,
        }
    else:
        obs["valueCodeableConcept"] = _two_codings(*value, rng)
    return obs


def _filler_condition(i: int, rng: random.Random, subject: dict[str, str]) -> dict[str, Any]:
    code, display = rng.choice(FILLER_CONDITIONS)
    return {
        "resourceType": "Condition",
        "id": f"cond-{i}",
        "subject": subject,
        "clinicalStatus": _two_codings(
            "http://terminology.hl7.org/CodeSystem/condition-clinical", "active", "Active", rng
        ),
        "verificationStatus": _two_codings(
            "http://terminology.hl7.org/CodeSystem/condition-ver-status",
            "confirmed",
            "Confirmed",
            rng,
        ),
        "category": [
            _two_codings(
                "http://terminology.hl7.org/CodeSystem/condition-category",
                "problem-list-item",
                "Problem List Item",
                rng,
            )
        ],
        "code": _two_codings(SNOMED, code, display, rng),
        "onsetDateTime": _day(rng),
        "recordedDate": _day(rng),
    }


def _filler_medication(i: int, rng: random.Random, subject: dict[str, str]) -> dict[str, Any]:
    code, display = rng.choice(FILLER_MEDICATIONS)
    return {
        "resourceType": "MedicationRequest",
        "id": f"medrx-{i}",
        "status": "active",
        "intent": "order",
        "category": [
            _two_codings(
                "http://terminology.hl7.org/CodeSystem/medicationrequest-category",
                "outpatient",
                "Outpatient",
                rng,
            )
        ],
        "medicationCodeableConcept": _two_codings(RXNORM, code, display, rng),
        "subject": subject,
        "authoredOn": _day(rng),
        "requester": {"reference": "Practitioner/bench-pr-1", "display": "Bench Clinician"},
        "dosageInstruction": [
            {
                "text": "Take 1 tablet by mouth daily",
                "timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}},
                "route": _two_codings(SNOMED, "26643006", "Oral route (qualifier value)", rng),
            }
        ],
    }


def _filler_procedure(i: int, rng: random.Random, subject: dict[str, str]) -> dict[str, Any]:
    code, display = rng.choice(FILLER_PROCEDURES)
    return {
        "resourceType": "Procedure",
        "id": f"proc-{i}",
        "status": "completed",
        "subject": subject,
        "code": _two_codings(SNOMED, code, display, rng),
        "performedDateTime": _day(rng),
    }


_FILLERS = {
    "observation": _filler_observation,
    "condition": _filler_condition,
    "medication": _filler_medication,
    "procedure": _filler_procedure,
}


def _searchset(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "link": [{"relation": "self", "url": "https://ehr.example.org/api/FHIR/R4/search"}],
        "entry": [
            {
                "fullUrl": f"https://ehr.example.org/api/FHIR/R4/{r['resourceType']}/{r['id']}",
                "resource": r,
                "search": {"mode": "match"},
            }
            for r in resources
        ],
    }


# The scenario's trastuzumab + pertuzumab course (its MedicationStatements), one infusion day every
# three weeks; codes as the scenario's own (RxNorm) and the filler's premedications.
COURSE = (date(2021, 4, 1), date(2025, 2, 5))
CYCLE_DAYS = 21
INFUSED = (
    ("224905", "trastuzumab 440 MG injection"),
    ("1298944", "pertuzumab 420 MG/14 ML injection"),
)
PREMEDICATIONS = (
    ("315266", "Acetaminophen 500 MG"),
    ("901813", "Diphenhydramine Hydrochloride 25 mg"),
)


def _treatment_days() -> list[date]:
    day, days = COURSE[0], []
    while day <= COURSE[1]:
        days.append(day)
        day += timedelta(days=CYCLE_DAYS)
    return days


def _infusion_day(
    n: int, day: date, rng: random.Random, subject: dict[str, str]
) -> list[dict[str, Any]]:
    """One cycle: premedications, then the two antibodies, each given (MedicationAdministration)
    against its own order (MedicationRequest, completed)."""
    resources: list[dict[str, Any]] = []
    for k, (code, display) in enumerate(PREMEDICATIONS + INFUSED):
        drug = _two_codings(RXNORM, code, display, rng)
        order_id = f"order-{n}-{k}"
        given = f"{day.isoformat()}T{9 + k:02d}:{rng.randint(0, 59):02d}:00Z"
        resources.append(
            {
                "resourceType": "MedicationRequest",
                "id": order_id,
                "status": "completed",
                "intent": "order",
                "medicationCodeableConcept": drug,
                "subject": subject,
                "authoredOn": (day - timedelta(days=1)).isoformat(),
                "requester": {"reference": "Practitioner/bench-pr-1", "display": "Bench Clinician"},
            }
        )
        resources.append(
            {
                "resourceType": "MedicationAdministration",
                "id": f"admin-{n}-{k}",
                "status": "completed",
                "medicationCodeableConcept": drug,
                "subject": subject,
                "effectiveDateTime": given,
                "request": {"reference": f"MedicationRequest/{order_id}"},
                "dosage": {
                    "route": _two_codings(SNOMED, "26643006", "Oral route (qualifier value)", rng)
                    if k < len(PREMEDICATIONS)
                    else {"text": "Intravenous"},
                },
            }
        )
    return resources


def generate(size: int, seed: int = SEED) -> dict[str, Any]:
    """A hook request whose prefetch holds `size` resources: the scenario's, then filler."""
    return _request(size, seed, treatment=False)


def ehr_record(size: int = 10_000, seed: int = SEED) -> dict[str, Any]:
    """The heavy record: the scenario's, five years of infusions with their premedications and
    orders, then filler up to `size` resources."""
    return _request(size, seed, treatment=True)


def _request(size: int, seed: int, *, treatment: bool) -> dict[str, Any]:
    rng = random.Random(seed)
    core, drafts, hook, as_of = _scenario()
    patient_id = next((r["id"] for r in core if r.get("resourceType") == "Patient"), PATIENT_ID)
    # Only what the service's prefetch asks for reaches it (no DiagnosticReport key, for one).
    resources = [_epic_like(r, rng) for r in core if r.get("resourceType") in PREFETCH_KEYS]
    if treatment:
        subject = {"reference": f"Patient/{patient_id}"}
        for n, day in enumerate(_treatment_days()):
            resources += [_epic_like(r, rng) for r in _infusion_day(n, day, rng, subject)]
        del resources[size:]
    kinds, weights = [k for k, _ in FILLER_MIX], [w for _, w in FILLER_MIX]
    for i in range(max(0, size - len(resources))):
        kind = rng.choices(kinds, weights)[0]
        resources.append(
            _epic_like(_FILLERS[kind](i, rng, {"reference": f"Patient/{patient_id}"}), rng)
        )
    rng.shuffle(resources)
    by_key: dict[str, list[dict[str, Any]]] = {key: [] for key in PREFETCH_KEYS.values()}
    for resource in resources:
        key = PREFETCH_KEYS.get(resource["resourceType"])
        if key is not None:
            by_key[key].append(resource)
    prefetch: dict[str, Any] = {k: _searchset(v) for k, v in by_key.items() if k != "patient"}
    prefetch["patient"] = next(iter(by_key["patient"]), None)
    context: dict[str, Any] = {"userId": "Practitioner/bench-pr-1", "patientId": patient_id}
    if hook in ("order-select", "order-sign"):
        context["draftOrders"] = {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{"resource": d} for d in drafts],
        }
        if hook == "order-select":
            context["selections"] = [f"{d['resourceType']}/{d['id']}" for d in drafts]
    request: dict[str, Any] = {
        "hookInstance": f"00000000-0000-4000-8000-{seed:012d}",
        "hook": hook,
        "context": context,
        "prefetch": prefetch,
    }
    if as_of:
        request["extension"] = {"org.her2cns.asOfDate": as_of}
    return request


def service_id(request: dict[str, Any]) -> str:
    return f"her2-cns-{request['hook']}"


def resource_count(request: dict[str, Any]) -> int:
    count = 0
    for value in request["prefetch"].values():
        if isinstance(value, dict):
            count += len(value.get("entry", [])) if value.get("resourceType") == "Bundle" else 1
    return count


if __name__ == "__main__":
    ehr = "--ehr" in sys.argv[1:]
    sizes = [a for a in sys.argv[1:] if a != "--ehr"]
    make = ehr_record if ehr else generate
    print(json.dumps(make(int(sizes[0]) if sizes else (10_000 if ehr else 30)), indent=1))
