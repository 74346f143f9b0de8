# ruff: noqa: E501  (clinical text and codes read better unwrapped)
"""Writes fixtures/{scenarios,variants,controls}/*.json: run `python -m tests.state.build_fixtures`.

Variants are scenario 1 recoded the way other EHRs send it; test_fixtures checks the files match.
"""

from __future__ import annotations

import copy
import json
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "fixtures"
AS_OF = "2026-11-23"
SCT = "http://snomed.info/sct"
ICD = "http://hl7.org/fhir/sid/icd-10-cm"
LOINC = "http://loinc.org"
RX = "http://www.nlm.nih.gov/research/umls/rxnorm"
CPT = "http://www.ama-assn.org/go/cpt"
HCPCS = "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
DCM = "http://dicom.nema.org/resources/ontology/DCM"
MCODE = "http://hl7.org/fhir/us/mcode/StructureDefinition/"
CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"

BRAIN = {"system": SCT, "code": "12738006", "display": "Brain structure (body structure)"}
INFRATENTORIAL = {"system": SCT, "code": "21031007", "display": "Infratentorial brain structure"}
WORSENED = {"system": SCT, "code": "271299001", "display": "Patient's condition worsened"}
STABLE = {"system": SCT, "code": "359746009", "display": "Patient's condition stable"}
POSITIVE = {"system": LOINC, "code": "LA6576-8", "display": "Positive"}
NEGATIVE = {"system": LOINC, "code": "LA6577-6", "display": "Negative"}
DRUGS = {
    "trastuzumab": (
        {"system": RX, "code": "224905", "display": "trastuzumab"},
        "trastuzumab 440 MG injection",
        "Herceptin 440 mg",
    ),
    "pertuzumab": (
        {"system": RX, "code": "1298944", "display": "pertuzumab"},
        "pertuzumab 420 MG/14 ML injection",
        "Perjeta 420 mg/14 mL",
    ),
    "lapatinib": (
        {"system": RX, "code": "672149", "display": "lapatinib 250 MG Oral Tablet"},
        "lapatinib 250 MG Oral Tablet",
        "Tykerb 250 mg tablet",
    ),
    "capecitabine": (
        {"system": RX, "code": "194000", "display": "capecitabine"},
        "capecitabine 500 MG Oral Tablet",
        "XELODA 500 mg tablet",
    ),
    "tucatinib": (
        {"system": RX, "code": "2361290", "display": "tucatinib 150 MG Oral Tablet"},
        "tucatinib 150 MG Oral Tablet",
        "Tukysa 150 mg tablet",
    ),
    "paclitaxel": (
        {"system": RX, "code": "56946", "display": "paclitaxel"},
        "paclitaxel 6 MG/ML injection",
        "Taxol 6 mg/mL",
    ),
    "docetaxel": (None, "docetaxel 20 MG/ML injection", "Taxotere 20 mg/mL"),
    "carboplatin": (None, "carboplatin 10 MG/ML injection", "Paraplatin 10 mg/mL"),
    "phenytoin": (None, "phenytoin sodium extended 100 MG oral capsule", "Dilantin 100 mg capsule"),
}


def cc(*codings: dict | None, text: str | None = None) -> dict:
    concept: dict = {"coding": [c for c in codings if c]}
    if text:
        concept["text"] = text
    if not concept["coding"]:
        del concept["coding"]
    return concept


class Patient:
    """Builds one patient's resources with stable ids."""

    def __init__(self, pid: str, birth: str, gender: str = "female") -> None:
        self.pid = pid
        self.resources: list[dict] = [
            {
                "resourceType": "Patient",
                "id": pid,
                "gender": gender,
                "birthDate": birth,
                "name": [{"family": "Fixture", "given": [pid]}],
            }
        ]
        self.count: dict[str, int] = {}

    def add(self, rtype: str, stem: str, body: dict) -> dict:
        self.count[stem] = self.count.get(stem, 0) + 1
        resource = {"resourceType": rtype, "id": f"{self.pid}-{stem}-{self.count[stem]}", **body}
        resource.setdefault("subject", {"reference": f"Patient/{self.pid}"})
        self.resources.append(resource)
        return resource

    def ref(self, resource: dict) -> dict:
        return {"reference": f"{resource['resourceType']}/{resource['id']}"}

    def condition(
        self, stem: str, code: dict, onset: str, profile: str, status: str = "active", **extra
    ) -> dict:
        return self.add(
            "Condition",
            stem,
            {
                "meta": {"profile": [MCODE + profile]},
                "clinicalStatus": cc({"system": CLINICAL, "code": status}),
                "verificationStatus": cc({"system": VERIFICATION, "code": "confirmed"}),
                "category": [
                    cc(
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/condition-category",
                            "code": "problem-list-item",
                        }
                    )
                ],
                "code": code,
                "onsetDateTime": onset,
                "recordedDate": onset,
                **extra,
            },
        )

    def breast_cancer(self, onset: str, laterality: str = "left") -> dict:
        icd = {
            "left": ("C50.912", "Malignant neoplasm of unspecified site of left female breast"),
            "right": ("C50.911", "Malignant neoplasm of unspecified site of right female breast"),
        }[laterality]
        return self.condition(
            "breast-cancer",
            cc(
                {"system": ICD, "code": icd[0], "display": icd[1]},
                {
                    "system": SCT,
                    "code": "254837009",
                    "display": "Malignant neoplasm of breast (disorder)",
                },
                text=f"Invasive ductal carcinoma, {laterality} breast",
            ),
            onset,
            "mcode-primary-cancer-condition",
        )

    def brain_mets(
        self, onset: str, primary: dict, note: str = "", site: dict | None = None
    ) -> dict:
        extra: dict = {
            "extension": [
                {
                    "url": "http://hl7.org/fhir/StructureDefinition/condition-related",
                    "valueReference": self.ref(primary),
                }
            ]
        }
        if note:
            extra["note"] = [{"text": note}]
        if site:
            extra["bodySite"] = [site]
        return self.condition(
            "brain-mets",
            cc(
                {
                    "system": ICD,
                    "code": "C79.31",
                    "display": "Secondary malignant neoplasm of brain",
                },
                {
                    "system": SCT,
                    "code": "94225005",
                    "display": "Secondary malignant neoplasm of brain",
                },
                text="Brain metastases from breast cancer",
            ),
            onset,
            "mcode-secondary-cancer-condition",
            **extra,
        )

    def her2(self, when: str, loinc: tuple[str, str], value: dict, text: str) -> dict:
        return self.add(
            "Observation",
            "her2",
            {
                "meta": {"profile": [MCODE + "mcode-tumor-marker-test"]},
                "status": "final",
                "category": [
                    cc(
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                            "code": "laboratory",
                        }
                    )
                ],
                "code": cc({"system": LOINC, "code": loinc[0], "display": loinc[1]}),
                "effectiveDateTime": when,
                "valueCodeableConcept": value,
                "note": [{"text": text}],
            },
        )

    def disease_status(self, when: str, focus: dict, value: dict, text: str) -> dict:
        return self.add(
            "Observation",
            "disease-status",
            {
                "meta": {"profile": [MCODE + "mcode-cancer-disease-status"]},
                "status": "final",
                "code": cc(
                    {"system": LOINC, "code": "97509-4", "display": "Cancer Disease Progression"}
                ),
                "focus": [self.ref(focus)],
                "effectiveDateTime": when,
                "valueCodeableConcept": cc(value, text=text),
            },
        )

    def ecog(self, when: str, score: int) -> dict:
        return self.add(
            "Observation",
            "ecog",
            {
                "meta": {"profile": [MCODE + "mcode-ecog-performance-status"]},
                "status": "final",
                "code": cc(
                    {"system": LOINC, "code": "89247-1", "display": "ECOG performance status"}
                ),
                "effectiveDateTime": when,
                "valueInteger": score,
            },
        )

    def brain_mri(self, when: str, conclusion: str, study: bool = False) -> dict:
        code = cc(
            {"system": LOINC, "code": "24587-8", "display": "MR Brain WO and W contrast IV"},
            {"system": CPT, "code": "70553", "display": "MRI brain without and with contrast"},
        )
        report = self.add(
            "DiagnosticReport",
            "brain-mri-report",
            {
                "status": "final",
                "category": [
                    cc({"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "RAD"})
                ],
                "code": code,
                "effectiveDateTime": when,
                "issued": f"{when}T16:00:00Z",
                "conclusion": conclusion,
            },
        )
        if study:
            self.add(
                "ImagingStudy",
                "brain-mri-study",
                {
                    "status": "available",
                    "started": f"{when}T09:30:00Z",
                    "modality": [{"system": DCM, "code": "MR"}],
                    "procedureCode": [code],
                    "series": [
                        {
                            "uid": "2.25.1",
                            "modality": {"system": DCM, "code": "MR"},
                            "bodySite": BRAIN,
                        }
                    ],
                },
            )
        return report

    def srs(self, when: str, site_text: str, reason: dict) -> dict:
        return self.add(
            "Procedure",
            "srs",
            {
                "status": "completed",
                "code": cc(
                    {
                        "system": CPT,
                        "code": "77372",
                        "display": "SRS delivery, cranial lesion(s), linear accelerator, 1 session",
                    },
                    text="Stereotactic radiosurgery",
                ),
                "performedDateTime": when,
                "bodySite": [cc(BRAIN, text=site_text)],
                "reasonReference": [self.ref(reason)],
            },
        )

    def medication(
        self, agent: str, start: str, end: str | None, status: str, reason: str | None = None
    ) -> dict:
        coding, text, _ = DRUGS[agent]
        period = {"start": start, **({"end": end} if end else {})}
        body: dict = {
            "status": status,
            "medicationCodeableConcept": cc(coding, text=text),
            "effectivePeriod": period,
            "dateAsserted": start,
        }
        if reason:
            body["statusReason"] = [cc(text=reason)]
        return self.add("MedicationStatement", f"med-{agent}", body)

    def bundle(self, description: str) -> dict:
        return {
            "resourceType": "Bundle",
            "id": self.pid,
            "type": "collection",
            "meta": {"lastUpdated": f"{AS_OF}T00:00:00Z", "tag": [{"display": description}]},
            "identifier": {"system": "urn:cds-service:fixture", "value": self.pid},
            "timestamp": f"{AS_OF}T00:00:00Z",
            "entry": [
                {"fullUrl": f"urn:uuid:{r['resourceType'].lower()}-{r['id']}", "resource": r}
                for r in self.resources
            ],
        }


# --- scenarios --------------------------------------------------------------------------------


def scenario_01(pid: str = "scenario-01") -> dict:
    p = Patient(pid, "1968-04-12")
    primary = p.breast_cancer("2021-03-15")
    p.her2(
        "2021-03-10",
        ("85319-2", "HER2 [Presence] in Breast cancer specimen by Immune stain"),
        cc(POSITIVE, text="Positive (IHC 3+)"),
        "HER2 IHC 3+",
    )
    for agent in ("docetaxel", "trastuzumab", "pertuzumab"):
        end, status, reason = (
            ("2021-07-15", "completed", "Planned course completed")
            if agent == "docetaxel"
            else ("2025-02-05", "stopped", "Intracranial disease progression")
        )
        p.medication(agent, "2021-04-01", end, status, reason)
    mets = p.brain_mets("2024-05-14", primary)
    p.brain_mri(
        "2024-05-14",
        "Solitary 1.4 cm enhancing lesion in the left frontal lobe, consistent with metastasis. No mass effect.",
    )
    p.srs("2024-06-05", "Left frontal lobe", mets)
    p.brain_mri(
        "2025-01-20",
        "New 0.9 cm enhancing lesion in the right parietal lobe. Treated left frontal lesion smaller. No mass effect.",
    )
    p.disease_status(
        "2025-01-20", mets, WORSENED, "Intracranial progression: new right parietal metastasis"
    )
    p.srs("2025-02-03", "Right parietal lobe", mets)
    for agent in ("lapatinib", "capecitabine"):
        p.medication(
            agent, "2025-02-10", "2026-08-25", "stopped", "Disease progression (intracranial)"
        )
    p.brain_mri(
        "2026-08-20",
        "Five enhancing lesions in total: three new (right occipital 1.1 cm, left cerebellar 0.8 cm, "
        "right frontal 0.6 cm); treated left frontal and right parietal lesions stable. No mass effect or midline shift.",
        study=True,
    )
    p.disease_status(
        "2026-08-20", mets, WORSENED, "Intracranial progression on lapatinib + capecitabine"
    )
    p.disease_status(
        "2026-08-22", primary, STABLE, "Extracranial disease stable on CT chest/abdomen/pelvis"
    )
    p.ecog("2026-11-10", 1)
    return p.bundle(
        "Scenario 1: HER2+ breast cancer, brain metastases treated with SRS twice (2024-06 left frontal, "
        "2025-02 right parietal), intracranial progression after each; lapatinib + capecitabine 2025-02 to "
        "2026-08-25, stopped for intracranial progression; extracranial disease stable; ECOG 1."
    )


def scenario_02() -> dict:
    p = Patient("scenario-02", "1975-09-30")
    primary = p.breast_cancer("2023-09-12", "right")
    p.her2(
        "2023-09-08",
        ("85318-4", "ERBB2 gene duplication [Presence] in Breast cancer specimen by FISH"),
        cc(text="Amplified (HER2/CEP17 ratio 4.1)"),
        "ISH amplified",
    )
    p.medication("docetaxel", "2023-10-02", "2024-01-22", "completed", "Planned course completed")
    for agent in ("trastuzumab", "pertuzumab"):
        p.medication(agent, "2023-10-02", None, "active")
    mets = p.brain_mets("2026-11-02", primary)
    p.brain_mri(
        "2026-11-02",
        "Two enhancing lesions: right frontal 1.2 cm and left occipital 0.8 cm, consistent with metastases. "
        "No mass effect.",
        study=True,
    )
    p.disease_status("2026-11-05", primary, STABLE, "Extracranial disease stable on CT")
    p.ecog("2026-11-05", 0)
    del mets
    return p.bundle(
        "Scenario 2: new HER2+ brain metastases (2 lesions, 2026-11), extracranial disease stable on "
        "trastuzumab + pertuzumab since 2023-10; no local therapy yet."
    )


def scenario_03() -> dict:
    p = Patient("scenario-03", "1971-02-17")
    primary = p.breast_cancer("2024-02-20")
    p.her2(
        "2024-02-15",
        ("85319-2", "HER2 [Presence] in Breast cancer specimen by Immune stain"),
        cc(POSITIVE, text="Positive (IHC 3+)"),
        "HER2 IHC 3+",
    )
    for agent in ("paclitaxel", "carboplatin"):
        p.medication(agent, "2024-03-04", "2024-07-15", "completed", "Planned course completed")
    p.medication(
        "trastuzumab",
        "2024-03-04",
        "2026-09-15",
        "stopped",
        "Disease progression (brain and liver)",
    )
    mets = p.brain_mets("2026-09-10", primary)
    p.brain_mri(
        "2026-09-10",
        "Three enhancing lesions, largest 1.6 cm in the right parietal lobe. No mass effect.",
        study=True,
    )
    p.disease_status(
        "2026-09-08", primary, WORSENED, "Extracranial progression: new liver metastases on CT"
    )
    p.disease_status("2026-09-10", mets, WORSENED, "New brain metastases on trastuzumab")
    p.ecog("2026-09-20", 1)
    return p.bundle(
        "Scenario 3: HER2+ breast cancer progressed (new brain metastases, liver) after paclitaxel + "
        "carboplatin + trastuzumab; trastuzumab stopped 2026-09-15."
    )


def scenario_04() -> dict:
    p = Patient("scenario-04", "1962-05-20")
    primary = p.breast_cancer("2023-01-10", "right")
    p.her2(
        "2023-01-06",
        ("85319-2", "HER2 [Presence] in Breast cancer specimen by Immune stain"),
        cc(POSITIVE, text="Positive (IHC 3+)"),
        "HER2 IHC 3+",
    )
    for agent in ("docetaxel", "carboplatin", "pertuzumab"):
        p.medication(
            agent, "2023-02-06", "2023-05-22", "completed", "Planned neoadjuvant course completed"
        )
    p.medication(
        "trastuzumab",
        "2023-02-06",
        "2024-02-12",
        "completed",
        "Completed one year of trastuzumab (adjuvant after pCR)",
    )
    p.add(
        "Procedure",
        "mastectomy",
        {
            "status": "completed",
            "code": cc(
                text="Right mastectomy and sentinel node biopsy: pathologic complete response (ypT0 ypN0)"
            ),
            "performedDateTime": "2023-06-20",
        },
    )
    mets = p.brain_mets(
        "2026-11-16",
        primary,
        note="Solitary 3.8 cm left cerebellar metastasis with mass effect on the fourth ventricle.",
        site=cc(INFRATENTORIAL, text="Left cerebellar hemisphere"),
    )
    p.brain_mri(
        "2026-11-16",
        "Solitary 3.8 cm enhancing mass in the left cerebellar hemisphere with vasogenic edema, effacement of the "
        "fourth ventricle and early obstructive hydrocephalus.",
        study=True,
    )
    p.add(
        "Observation",
        "tumor-size",
        {
            "status": "final",
            "code": cc({"system": LOINC, "code": "21889-1", "display": "Size Tumor"}),
            "focus": [p.ref(mets)],
            "effectiveDateTime": "2026-11-16",
            "valueQuantity": {
                "value": 3.8,
                "unit": "cm",
                "system": "http://unitsofmeasure.org",
                "code": "cm",
            },
        },
    )
    p.disease_status("2026-11-18", primary, STABLE, "No extracranial disease on staging CT")
    p.ecog("2026-11-18", 1)
    return p.bundle(
        "Scenario 4: 64-year-old, HER2+, pCR after TCHP, adjuvant trastuzumab to 2024-02; solitary 3.8 cm "
        "cerebellar metastasis with mass effect (2026-11-16)."
    )


# --- variants of scenario 1 --------------------------------------------------------------------


def _recode(
    bundle: dict, pid: str, description: str, change: Callable[[dict], dict | list[dict] | None]
) -> dict:
    out = copy.deepcopy(bundle)
    old = bundle["id"]
    text = json.dumps(out).replace(old, pid)
    out = json.loads(text)
    entries = []
    for entry in out["entry"]:
        changed = change(entry["resource"])
        for resource in changed if isinstance(changed, list) else [changed] if changed else []:
            entries.append(
                {
                    "fullUrl": f"urn:uuid:{resource['resourceType'].lower()}-{resource['id']}",
                    "resource": resource,
                }
            )
    out["entry"] = entries
    out["id"] = out["identifier"]["value"] = pid
    out["meta"]["tag"] = [{"display": description}]
    return out


def _keep_codings(system: str) -> Callable[[dict], dict]:
    def change(resource: dict) -> dict:
        if resource["resourceType"] == "Condition":
            code = resource["code"]
            code["coding"] = [c for c in code["coding"] if c["system"] == system]
        return resource

    return change


def _as_requests(resource: dict) -> list[dict] | dict:
    """MedicationStatement -> MedicationRequests: the original, renewals every ~90 days, the last stopped."""
    if resource["resourceType"] != "MedicationStatement":
        return resource
    start, end = resource["effectivePeriod"]["start"], resource["effectivePeriod"].get("end")
    renewals = {
        "2025-02-10": [
            "2025-05-12",
            "2025-08-11",
            "2025-11-10",
            "2026-02-09",
            "2026-05-11",
            "2026-08-03",
        ]
    }.get(start, [])
    requests = []
    for i, authored in enumerate([start, *renewals]):
        last = i == len(renewals)
        request = {
            "resourceType": "MedicationRequest",
            "id": f"{resource['id']}-rx{i + 1}",
            "subject": resource["subject"],
            "status": resource["status"] if last else "completed",
            "intent": "order",
            "medicationCodeableConcept": resource["medicationCodeableConcept"],
            "authoredOn": authored,
            "dosageInstruction": [
                {
                    "text": "as directed",
                    "timing": {
                        "repeat": {
                            "boundsPeriod": {
                                "start": authored,
                                **({"end": end} if last and end else {}),
                            }
                        }
                    },
                }
            ],
            # A validity period is how long the prescription may be filled, not the treatment period.
            "dispenseRequest": {
                "validityPeriod": {
                    "start": authored,
                    "end": f"{int(authored[:4]) + 1}{authored[4:]}",
                },
                "numberOfRepeatsAllowed": 2,
            },
        }
        if i:
            request["priorPrescription"] = {
                "reference": f"MedicationRequest/{resource['id']}-rx{i}"
            }
        if last and resource.get("statusReason"):
            request["statusReason"] = resource["statusReason"][0]
        requests.append(request)
    return requests


def _text_only(resource: dict) -> dict:
    if resource["resourceType"] == "MedicationStatement":
        agent = next(
            a
            for a, (_, text, _) in DRUGS.items()
            if resource["medicationCodeableConcept"]["text"] == text
        )
        resource["medicationCodeableConcept"] = {"text": DRUGS[agent][2]}
    return resource


def _billing_srs(resource: dict) -> list[dict] | dict:
    """SRS as billed: course 1 as 3 fractions of CPT 77373, course 2 as G0339 + G0340 x2, brain body site."""
    if resource["resourceType"] != "Procedure":
        return resource
    first = resource["performedDateTime"] == "2024-06-05"
    days = (
        ["2024-06-03", "2024-06-05", "2024-06-07"]
        if first
        else ["2025-02-03", "2025-02-04", "2025-02-05"]
    )
    out = []
    for i, day in enumerate(days):
        if first:
            code = {"system": CPT, "code": "77373", "display": "SBRT delivery, per fraction"}
        else:
            code = {
                "system": HCPCS,
                "code": "G0339" if i == 0 else "G0340",
                "display": "Robotic linac-based SRS",
            }
        out.append(
            {
                **resource,
                "id": f"{resource['id']}-fx{i + 1}",
                "code": cc(code),
                "performedDateTime": day,
            }
        )
    return out


def _mcode_course(resource: dict) -> dict:
    if resource["resourceType"] != "Procedure":
        return resource
    first = resource["performedDateTime"] == "2024-06-05"
    period = (
        {"start": "2024-06-05", "end": "2024-06-05"}
        if first
        else {"start": "2025-02-03", "end": "2025-02-07"}
    )
    resource = {k: v for k, v in resource.items() if k not in {"performedDateTime", "code"}}
    resource["meta"] = {"profile": [MCODE + "mcode-radiotherapy-course-summary"]}
    resource["code"] = cc(
        {
            "system": SCT,
            "code": "1217123003",
            "display": "Radiotherapy course of treatment (regime/therapy)",
        }
    )
    resource["performedPeriod"] = period
    resource["extension"] = [
        {"url": MCODE + "mcode-radiotherapy-sessions", "valueUnsignedInt": 1 if first else 5},
        {
            "url": MCODE + "mcode-radiotherapy-modality-and-technique",
            "extension": [
                {
                    "url": MCODE + "mcode-radiotherapy-modality",
                    "valueCodeableConcept": cc(
                        {
                            "system": SCT,
                            "code": "1156506007",
                            "display": "External beam radiation therapy using photons (procedure)",
                        }
                    ),
                },
                {
                    "url": MCODE + "mcode-radiotherapy-technique",
                    "valueCodeableConcept": cc(
                        {
                            "system": SCT,
                            "code": "1156530009",
                            "display": "Volumetric Modulated Arc Therapy (procedure)",
                        }
                    ),
                },
            ],
        },
    ]
    return resource


_DATE_KEYS = (
    "onsetDateTime",
    "recordedDate",
    "effectiveDateTime",
    "performedDateTime",
    "dateAsserted",
)


def _partial(resource: dict) -> dict:
    """Dates to the month (the diagnosis to the year), as many EHR problem lists send them."""
    for key in _DATE_KEYS:
        if key in resource:
            resource[key] = (
                resource[key][:4]
                if resource["resourceType"] == "Condition"
                and resource["onsetDateTime"].startswith("2021")
                else resource[key][:7]
            )
    if "effectivePeriod" in resource:
        resource["effectivePeriod"] = {k: v[:7] for k, v in resource["effectivePeriod"].items()}
    if "started" in resource:
        resource["started"] = resource["started"][:7]
    return resource


def variants() -> dict[str, dict]:
    base = scenario_01()
    return {
        "01a-icd10-only": _recode(
            base, "variant-01a", "Scenario 1, diagnoses coded in ICD-10-CM only", _keep_codings(ICD)
        ),
        "01b-snomed-only": _recode(
            base, "variant-01b", "Scenario 1, diagnoses coded in SNOMED CT only", _keep_codings(SCT)
        ),
        "01c-medication-requests": _recode(
            base,
            "variant-01c",
            "Scenario 1, therapy as MedicationRequests with renewals "
            "(validity periods differ from treatment periods)",
            _as_requests,
        ),
        "01d-drug-text-only": _recode(
            base, "variant-01d", "Scenario 1, drugs named only in text (brand names)", _text_only
        ),
        "01e-srs-billing-codes": _recode(
            base,
            "variant-01e",
            "Scenario 1, SRS as per-fraction billing procedures "
            "(CPT 77373 x3; HCPCS G0339 + G0340 x2) with brain body site",
            _billing_srs,
        ),
        "01f-mcode-rt-course": _recode(
            base,
            "variant-01f",
            "Scenario 1, SRS as mCODE radiotherapy course summaries (1 and 5 fractions)",
            _mcode_course,
        ),
        "01g-partial-dates": _recode(
            base, "variant-01g", "Scenario 1, partial dates (months; diagnosis year only)", _partial
        ),
    }


# --- negative controls ------------------------------------------------------------------------


def _her2_patient(
    pid: str, birth: str, her2_value: dict = POSITIVE, her2_text: str = "Positive (IHC 3+)"
) -> tuple[Patient, dict]:
    p = Patient(pid, birth)
    primary = p.breast_cancer("2022-04-11")
    p.her2(
        "2022-04-07",
        ("85319-2", "HER2 [Presence] in Breast cancer specimen by Immune stain"),
        cc(her2_value, text=her2_text),
        her2_text,
    )
    return p, primary


def _treated_brain(p: Patient, primary: dict) -> dict:
    mets = p.brain_mets("2025-03-03", primary)
    p.brain_mri(
        "2025-03-03",
        "Two enhancing lesions (left frontal 1.0 cm, right temporal 0.7 cm). No mass effect.",
    )
    p.srs("2025-03-24", "Left frontal lobe and right temporal lobe", mets)
    return mets


def controls() -> dict[str, dict]:
    out = {}
    p, primary = _her2_patient("control-01", "1966-01-05", NEGATIVE, "Negative (IHC 1+)")
    mets = _treated_brain(p, primary)
    p.brain_mri("2026-09-14", "Two new enhancing lesions; treated lesions stable. No mass effect.")
    p.disease_status("2026-09-14", mets, WORSENED, "Intracranial progression")
    p.ecog("2026-09-14", 1)
    out["01-her2-negative-brain-mets"] = p.bundle(
        "Control 1: HER2-negative (IHC 1+) breast cancer with brain metastases treated with SRS, intracranial progression 2026-09."
    )

    p, primary = _her2_patient("control-02", "1970-06-21")
    for agent in ("trastuzumab", "pertuzumab"):
        p.medication(agent, "2022-05-02", None, "active")
    p.disease_status("2026-10-12", primary, STABLE, "Stable on CT")
    p.ecog("2026-10-12", 0)
    out["02-her2-positive-no-brain-mets"] = p.bundle(
        "Control 2: HER2-positive breast cancer on trastuzumab + pertuzumab, no brain metastases, no brain MRI."
    )

    for key, pid, progressed in (
        ("03-tucatinib-stable-cns", "control-03", False),
        ("04-progressed-on-tucatinib", "control-04", True),
    ):
        p, primary = _her2_patient(pid, "1969-11-02")
        p.medication(
            "trastuzumab", "2022-05-02", "2025-03-20", "stopped", "Intracranial progression"
        )
        p.medication(
            "pertuzumab", "2022-05-02", "2025-03-20", "stopped", "Intracranial progression"
        )
        mets = _treated_brain(p, primary)
        p.disease_status(
            "2025-03-03", mets, WORSENED, "Intracranial progression on trastuzumab + pertuzumab"
        )
        for agent in ("tucatinib", "trastuzumab", "capecitabine"):
            p.medication(agent, "2025-04-14", None, "active")
        if progressed:
            p.brain_mri(
                "2026-10-20",
                "Three new enhancing lesions (largest 1.2 cm right occipital). No mass effect.",
            )
            p.disease_status(
                "2026-10-20",
                mets,
                WORSENED,
                "Intracranial progression on tucatinib + trastuzumab + capecitabine",
            )
        else:
            p.brain_mri("2026-10-20", "Treated lesions stable, no new lesions. No mass effect.")
            p.disease_status("2026-10-20", mets, STABLE, "Intracranial disease stable")
        p.disease_status("2026-10-22", primary, STABLE, "Extracranial disease stable")
        p.ecog("2026-10-22", 1)
        what = (
            "intracranial progression 2026-10-20 on it"
            if progressed
            else "stable CNS disease (MRI 2026-10-20)"
        )
        out[key] = p.bundle(
            f"Control: on tucatinib + trastuzumab + capecitabine since 2025-04 after SRS, {what}."
        )

    p, primary = _her2_patient("control-05", "1964-08-08")
    for agent in ("trastuzumab", "pertuzumab"):
        p.medication(agent, "2022-05-02", None, "active")
    mets = p.brain_mets("2025-06-02", primary)
    p.brain_mri(
        "2025-06-02", "Solitary 1.1 cm enhancing lesion, right frontal lobe. No mass effect."
    )
    p.srs("2025-06-16", "Right frontal lobe", mets)
    p.brain_mri(
        "2026-11-01",
        "Treated right frontal lesion smaller; no new lesions. No mass effect.",
        study=True,
    )
    p.disease_status("2026-11-01", mets, STABLE, "Intracranial disease stable")
    p.disease_status("2026-11-03", primary, STABLE, "Extracranial disease stable")
    out["05-recent-brain-mri"] = p.bundle(
        "Control 5: brain metastases after SRS, stable, brain MRI 2026-11-01 (recent)."
    )

    p, primary = _her2_patient("control-06", "1972-03-14")
    mets = _treated_brain(p, primary)
    for agent in ("lapatinib", "capecitabine"):
        p.medication(agent, "2026-06-01", "2026-09-15", "stopped", "Grade 3 diarrhoea (toxicity)")
    p.brain_mri("2026-09-01", "Treated lesions stable. No mass effect.")
    p.disease_status("2026-09-01", mets, STABLE, "Intracranial disease stable")
    p.ecog("2026-09-01", 1)
    del mets
    out["06-lapatinib-stopped-toxicity"] = p.bundle(
        "Control 6: lapatinib + capecitabine 2026-06-01 to 2026-09-15, stopped for grade 3 diarrhoea, no progression."
    )

    p, primary = _her2_patient("control-07", "1967-12-01")
    mets = _treated_brain(p, primary)
    for agent in ("lapatinib", "capecitabine"):
        p.add(
            "MedicationRequest",
            f"rx-{agent}",
            {
                "status": "active",
                "intent": "order",
                "authoredOn": "2026-10-05",
                "medicationCodeableConcept": cc(DRUGS[agent][0], text=DRUGS[agent][1]),
                "dosageInstruction": [
                    {
                        "text": "as directed",
                        "timing": {"repeat": {"boundsPeriod": {"start": "2026-06-08"}}},
                    }
                ],
                "dispenseRequest": {"validityPeriod": {"start": "2026-10-05", "end": "2026-11-05"}},
            },
        )
        p.medication(agent, "2026-06-08", None, "active")
    p.brain_mri("2026-10-01", "Treated lesions stable. No mass effect.")
    p.disease_status("2026-10-01", mets, STABLE, "Intracranial disease stable")
    out["07-running-lapatinib"] = p.bundle(
        "Control 7: lapatinib + capecitabine running since 2026-06-08 (prescription validity ended 2026-11-05: a refill is due)."
    )

    p, primary = _her2_patient("control-08", "1963-07-19")
    mets = _treated_brain(p, primary)
    p.brain_mri("2026-10-15", "Two new enhancing lesions. No mass effect.")
    p.disease_status("2026-10-15", mets, WORSENED, "Intracranial progression")
    p.medication("phenytoin", "2025-02-27", None, "active")
    for agent in ("trastuzumab", "pertuzumab"):
        p.medication(agent, "2022-05-02", None, "active")
    out["08-on-phenytoin"] = p.bundle(
        "Control 8: brain metastases with intracranial progression, taking phenytoin for seizures since 2025-02."
    )
    return out


def build() -> dict[Path, dict]:
    files = {
        ROOT / "scenarios" / "01-rechallenge-after-srs.json": scenario_01(),
        ROOT / "scenarios" / "02-new-brain-mets-stable-on-hp.json": scenario_02(),
        ROOT / "scenarios" / "03-progressed-after-thp.json": scenario_03(),
        ROOT / "scenarios" / "04-cerebellar-mass-effect.json": scenario_04(),
    }
    files.update({ROOT / "variants" / f"{k}.json": v for k, v in variants().items()})
    files.update({ROOT / "controls" / f"{k}.json": v for k, v in controls().items()})
    return files


def render(bundle: dict) -> str:
    return json.dumps(bundle, indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    for path, bundle in build().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render(bundle), encoding="utf-8")
        print(path.relative_to(ROOT.parent), file=sys.stderr)
