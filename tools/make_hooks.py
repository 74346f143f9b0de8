"""Rebuild hooks/*.json (ready-to-POST CDS Hooks requests) from tools/hooks-manifest.toml.

    .venv/bin/python tools/make_hooks.py          # write every request
    .venv/bin/python tools/make_hooks.py --check  # exit 1 if a written request is stale

Each request is built with cds_service.testing.hook_request (prefetch drawn from the fixture Bundle
through our own prefetch templates), with a hookInstance derived from its name so rebuilding gives
the same file. Draft orders use only codes VERIFIED in the reference note (or text, where none is).
"""

from __future__ import annotations

import argparse
import json
import sys
import tomllib
import uuid
from pathlib import Path
from typing import Any

from cds_service.testing import hook_request, load_json

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = ROOT / "tools" / "hooks-manifest.toml"
HOOKS_DIR = ROOT / "hooks"
HOOK_NAMESPACE = uuid.UUID("7d3f1f0e-2b7a-4f0e-9c55-1f6a4c2e8b90")

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
SNOMED = "http://snomed.info/sct"
CPT = "http://www.ama-assn.org/go/cpt"
LOINC = "http://loinc.org"
AUTHORED = "2026-11-23"
BRAIN = {"system": SNOMED, "code": "12738006", "display": "Brain structure (body structure)"}


def _medication(code: str | None, display: str, dosage: str, **extra: Any) -> dict[str, Any]:
    concept: dict[str, Any] = {"text": display}
    if code:  # RxNorm codes VERIFIED in the reference note; docetaxel has none, so text only
        concept["coding"] = [{"system": RXNORM, "code": code, "display": display}]
    return {
        "resourceType": "MedicationRequest",
        "status": "draft",
        "intent": "order",
        "authoredOn": AUTHORED,
        "medicationCodeableConcept": concept,
        "dosageInstruction": [{"text": dosage}],
        **extra,
    }


def _service(
    coding: dict[str, str], text: str, sites: list[str] = (), **extra: Any
) -> dict[str, Any]:  # type: ignore[assignment]
    order: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "status": "draft",
        "intent": "order",
        "authoredOn": AUTHORED,
        "code": {"coding": [coding], "text": text},
        **extra,
    }
    if sites:
        # The target lesion as EHRs usually record it: the generic brain code plus a text site.
        order["bodySite"] = [{"coding": [BRAIN], "text": site} for site in sites]
    return order


SRS = {
    "system": CPT,
    "code": "77372",
    "display": "SRS delivery, cranial lesion(s), linear accelerator, 1 session",
}

# Draft orders by key; the request gives each the id `draft-<key>`.
ORDERS: dict[str, dict[str, Any]] = {
    "lapatinib": _medication(
        "672149", "lapatinib 250 MG Oral Tablet", "1250 mg by mouth once daily"
    ),
    "capecitabine": _medication(
        "194000", "capecitabine", "1000 mg/m2 by mouth twice daily, days 1-14 of 21"
    ),
    "tucatinib": _medication(
        "2361290", "tucatinib 150 MG Oral Tablet", "300 mg by mouth twice daily"
    ),
    "trastuzumab": _medication("224905", "trastuzumab", "6 mg/kg IV every 3 weeks"),
    "pertuzumab": _medication("1298944", "pertuzumab", "420 mg IV every 3 weeks"),
    "docetaxel": _medication(None, "docetaxel", "75 mg/m2 IV every 3 weeks"),
    "lapatinib-refill-control-07": _medication(
        "672149",
        "lapatinib 250 MG Oral Tablet",
        "1250 mg by mouth once daily",
        priorPrescription={"reference": "MedicationRequest/control-07-rx-lapatinib-1"},
    ),
    "tucatinib-refill-control-03": _medication(
        "2361290", "tucatinib 150 MG Oral Tablet", "300 mg by mouth twice daily"
    ),
    "srs-left-frontal": _service(SRS, "Stereotactic radiosurgery", ["Left frontal lobe"]),
    "srs-right-occipital": _service(SRS, "Stereotactic radiosurgery", ["Right occipital lobe"]),
    "srs-right-frontal-left-occipital": _service(
        SRS, "Stereotactic radiosurgery", ["Right frontal lobe", "Left occipital lobe"]
    ),
    # Whole-brain radiotherapy has no code of its own (no WBRT CPT): EHRs order it by text.
    "wbrt": {
        "resourceType": "ServiceRequest",
        "status": "draft",
        "intent": "order",
        "authoredOn": AUTHORED,
        "code": {"text": "Whole-brain radiotherapy 30 Gy in 10 fractions"},
    },
    "brain-mri": _service(
        {"system": LOINC, "code": "24587-8", "display": "MR Brain WO and W contrast IV"},
        "MRI brain without and with contrast",
    ),
    "resection-left-cerebellar": _service(
        {
            "system": CPT,
            "code": "61518",
            "display": "Craniectomy for excision of brain tumor, infratentorial or posterior fossa",
        },
        "Resection of left cerebellar metastasis",
    ),
}


def draft_order(key: str, patient_id: str) -> dict[str, Any]:
    order = json.loads(json.dumps(ORDERS[key]))
    order["id"] = f"draft-{key}"
    order["subject"] = {"reference": f"Patient/{patient_id}"}
    return order


def build(entry: dict[str, Any], as_of: str) -> dict[str, Any]:
    bundle = load_json(ROOT / entry["fixture"])
    patient_id = next(
        e["resource"]["id"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"
    )
    orders = [draft_order(key, patient_id) for key in entry.get("orders", [])]
    selections = (
        [
            f"ServiceRequest/draft-{k}"
            if ORDERS[k]["resourceType"] == "ServiceRequest"
            else f"MedicationRequest/draft-{k}"
            for k in entry["selections"]
        ]
        if "selections" in entry
        else None
    )
    return hook_request(
        bundle,
        entry["hook"],
        patient_id=patient_id,
        draft_orders=orders,
        selections=selections,
        user_id="Practitioner/example",
        hook_instance=str(uuid.uuid5(HOOK_NAMESPACE, entry["name"])),
        as_of=as_of,
    )


def manifest() -> dict[str, Any]:
    return tomllib.loads(MANIFEST.read_text(encoding="utf-8"))


def render(request: dict[str, Any]) -> str:
    return json.dumps(request, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="report stale or missing files, write nothing"
    )
    args = parser.parse_args(argv)
    spec = manifest()
    stale = []
    HOOKS_DIR.mkdir(exist_ok=True)
    for entry in spec["hook"]:
        path = HOOKS_DIR / f"{entry['name']}.json"
        text = render(build(entry, spec["as_of"]))
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(path.name)
        else:
            path.write_text(text, encoding="utf-8")
    if stale:
        print("stale or missing: " + ", ".join(stale), file=sys.stderr)
        return 1
    if not args.check:
        print(f"wrote {len(spec['hook'])} requests to {HOOKS_DIR.relative_to(ROOT)}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
