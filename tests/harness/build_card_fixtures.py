"""Patient Bundles for the card rules added in issue 13 (fixtures/cards/), written as of 2026-11-23.

`python -m tests.harness.build_card_fixtures` rewrites them; tests/harness/test_card_fixtures_current.py
fails when a file and this builder disagree. Built with the same Patient helper as the state
fixtures (tests/state/build_fixtures.py); RxNorm codes are only the VERIFIED ones of the value sets."""

from __future__ import annotations

import sys
from pathlib import Path

from tests.state.build_fixtures import (
    ICD,
    RX,
    STABLE,
    WORSENED,
    Patient,
    _her2_patient,
    _treated_brain,
    cc,
    render,
)

ROOT = Path(__file__).resolve().parents[2] / "fixtures" / "cards"

# Drugs these fixtures need beyond the state fixtures' list: (coding or None, text).
DRUGS = {
    "trastuzumab": (
        {"system": RX, "code": "224905", "display": "trastuzumab"},
        "trastuzumab 440 MG injection",
    ),
    "pertuzumab": (
        {"system": RX, "code": "1298944", "display": "pertuzumab"},
        "pertuzumab 420 MG/14 ML injection",
    ),
    "capecitabine": (
        {"system": RX, "code": "194000", "display": "capecitabine"},
        "capecitabine 500 MG Oral Tablet",
    ),
    "lapatinib": (
        {"system": RX, "code": "672149", "display": "lapatinib 250 MG Oral Tablet"},
        "lapatinib 250 MG Oral Tablet",
    ),
    "tucatinib": (
        {"system": RX, "code": "2361290", "display": "tucatinib 150 MG Oral Tablet"},
        "tucatinib 150 MG Oral Tablet",
    ),
    "neratinib": (
        {"system": RX, "code": "1940643", "display": "neratinib"},
        "neratinib 40 MG Oral Tablet",
    ),
    "t-dxd": (
        {"system": RX, "code": "2267582", "display": "fam-trastuzumab deruxtecan"},
        "Enhertu 100 MG injection",
    ),
    # Interaction classes: rifampin and clopidogrel by VERIFIED ingredient code; enzalutamide
    # (code UNVERIFIED) and levetiracetam by brand or name only, as many records carry them.
    "rifampin": (
        {"system": RX, "code": "9384", "display": "rifampin"},
        "rifampin 300 MG Oral Capsule",
    ),
    "enzalutamide": (None, "XTANDI 40 MG oral tablet"),
    "clopidogrel": (
        {"system": RX, "code": "32968", "display": "clopidogrel"},
        "clopidogrel 75 MG Oral Tablet",
    ),
    "levetiracetam": (None, "levetiracetam 500 MG Oral Tablet"),
}


def medication(
    p: Patient, agent: str, start: str, end: str | None, reason: str | None = None
) -> dict:
    coding, text = DRUGS[agent]
    body: dict = {
        "status": "completed" if end else "active",
        "medicationCodeableConcept": cc(coding, text=text),
        "effectivePeriod": {"start": start, **({"end": end} if end else {})},
        "dateAsserted": start,
    }
    if reason:
        body["statusReason"] = [cc(text=reason)]
    return p.add("MedicationStatement", f"med-{agent}", body)


def _progressing_on_hp(pid: str, birth: str, other: str, since: str) -> Patient:
    """Treated brain metastases progressing 2026-10-15 on trastuzumab + pertuzumab; `other` taken."""
    p, primary = _her2_patient(pid, birth)
    mets = _treated_brain(p, primary)
    p.brain_mri("2026-10-15", "Two new enhancing lesions. No mass effect.")
    p.disease_status("2026-10-15", mets, WORSENED, "Intracranial progression")
    p.disease_status("2026-10-16", primary, STABLE, "Extracranial disease stable")
    p.ecog("2026-10-16", 1)
    medication(p, other, since, None)
    for agent in ("trastuzumab", "pertuzumab"):
        medication(p, agent, "2022-05-02", None)
    return p


def _new_brain_mets_on_hp(pid: str, birth: str, lesions: str) -> Patient:
    """New brain metastases (2026-11-02), no local therapy yet, stable on trastuzumab + pertuzumab."""
    p, primary = _her2_patient(pid, birth)
    p.brain_mets("2026-11-02", primary)
    p.brain_mri("2026-11-02", lesions)
    p.disease_status("2026-11-04", primary, STABLE, "Extracranial disease stable")
    p.ecog("2026-11-04", 1)
    for agent in ("trastuzumab", "pertuzumab"):
        medication(p, agent, "2023-10-02", None)
    return p


def build() -> dict[Path, dict]:
    out: dict[str, dict] = {}
    for key, pid, drug, what in (
        ("01-rifampin", "card-01", "rifampin", "rifampin (strong CYP3A inducer) since 2026-09-01"),
        (
            "02-enzalutamide",
            "card-02",
            "enzalutamide",
            "enzalutamide (Xtandi, by name) since 2026-09-01",
        ),
        (
            "03-clopidogrel",
            "card-03",
            "clopidogrel",
            "clopidogrel (moderate CYP2C8 inhibitor) since 2026-09-01",
        ),
        (
            "04-levetiracetam",
            "card-04",
            "levetiracetam",
            "levetiracetam (no tucatinib interaction) since 2026-09-01",
        ),
    ):
        p = _progressing_on_hp(pid, "1965-04-12", drug, "2026-09-01")
        out[key] = p.bundle(
            f"Card fixture: brain progression 2026-10-15 on trastuzumab + pertuzumab, taking {what}."
        )

    p = _new_brain_mets_on_hp(
        "card-05",
        "1968-02-20",
        "Two enhancing lesions (left frontal 1.2 cm, right parietal 0.8 cm). No mass effect.",
    )
    out["05-two-lesions-ecog-1"] = p.bundle(
        "Card fixture: 2 new brain metastases (2026-11-02), ECOG 1, stable on trastuzumab + pertuzumab."
    )
    p = _new_brain_mets_on_hp(
        "card-06",
        "1961-09-03",
        "Eight enhancing lesions in both hemispheres, largest 1.4 cm. No mass effect.",
    )
    out["06-eight-lesions-ecog-1"] = p.bundle(
        "Card fixture: 8 new brain metastases (2026-11-02), ECOG 1, stable on trastuzumab + pertuzumab."
    )

    p, primary = _her2_patient("card-07", "1966-05-30")
    mets = _treated_brain(p, primary)
    for agent in ("trastuzumab", "pertuzumab"):
        medication(p, agent, "2022-05-02", "2025-09-20", "Progression")
    for agent in ("neratinib", "capecitabine"):
        medication(p, agent, "2025-10-01", "2026-09-05", "Intracranial progression")
    p.brain_mri("2026-09-01", "Three new enhancing lesions. No mass effect.")
    p.disease_status(
        "2026-09-01", mets, WORSENED, "Intracranial progression on neratinib + capecitabine"
    )
    p.ecog("2026-09-01", 1)
    out["07-progressed-on-neratinib"] = p.bundle(
        "Card fixture: neratinib + capecitabine 2025-10-01 to 2026-09-05, intracranial progression 2026-09-01."
    )

    p, primary = _her2_patient("card-08", "1970-10-10")
    mets = _treated_brain(p, primary)
    for agent in ("lapatinib", "capecitabine"):
        medication(p, agent, "2025-10-01", "2026-07-05", "Intracranial progression")
    p.brain_mri("2026-07-01", "Two new enhancing lesions. No mass effect.")
    p.disease_status(
        "2026-07-01", mets, WORSENED, "Intracranial progression on lapatinib + capecitabine"
    )
    p.ecog("2026-07-01", 1)
    out["08-progressed-on-lapatinib"] = p.bundle(
        "Card fixture: lapatinib + capecitabine 2025-10-01 to 2026-07-05, intracranial progression 2026-07-01."
    )

    p, primary = _her2_patient("card-09", "1962-01-17")
    mets = _treated_brain(p, primary)
    medication(p, "t-dxd", "2023-06-01", "2024-01-10", "Interstitial lung disease (toxicity)")
    for agent in ("trastuzumab", "pertuzumab"):
        medication(p, agent, "2024-02-01", None)
    p.brain_mri("2026-10-20", "Two new enhancing lesions. No mass effect.")
    p.disease_status("2026-10-20", mets, WORSENED, "Intracranial progression")
    p.ecog("2026-10-20", 1)
    out["09-t-dxd-stopped-for-ild"] = p.bundle(
        "Card fixture: T-DXd stopped 2024-01 for interstitial lung disease; brain progression 2026-10-20 on trastuzumab + pertuzumab."
    )

    p, primary = _her2_patient("card-10", "1958-12-02")
    mets = p.brain_mets("2024-05-14", primary)
    p.brain_mri("2024-05-14", "Two enhancing lesions. No mass effect.")
    p.srs("2024-06-05", "Left frontal lobe", mets)
    p.brain_mri("2025-01-20", "One new enhancing lesion. No mass effect.")
    p.disease_status("2025-01-20", mets, WORSENED, "Intracranial progression")
    p.srs("2025-02-03", "Right parietal lobe", mets)
    p.brain_mri("2026-06-10", "Six new enhancing lesions. No mass effect.")
    p.disease_status("2026-06-10", mets, WORSENED, "Intracranial progression")
    for agent in ("trastuzumab", "pertuzumab"):
        medication(p, agent, "2022-05-02", None)
    p.ecog("2026-11-10", 3)
    out["10-ecog-3-after-repeated-srs"] = p.bundle(
        "Card fixture: two SRS courses, progression 2026-06-10 after the last, ECOG 3, last brain MRI 2026-06-10."
    )
    p, primary = _her2_patient("card-11", "1967-03-08")
    mets = _treated_brain(p, primary)
    p.condition(
        "leptomeningeal",
        cc(
            {
                "system": ICD,
                "code": "C79.32",
                "display": "Secondary malignant neoplasm of cerebral meninges",
            },
            text="Leptomeningeal metastases",
        ),
        "2026-10-28",
        "mcode-secondary-cancer-condition",
    )
    p.brain_mri(
        "2026-10-28", "Diffuse leptomeningeal enhancement. Treated lesions stable. No mass effect."
    )
    for agent in ("trastuzumab", "pertuzumab"):
        medication(p, agent, "2022-05-02", None)
    del mets
    out["11-leptomeningeal-disease"] = p.bundle(
        "Card fixture: leptomeningeal disease (C79.32) 2026-10-28 after treated brain metastases."
    )

    p, primary = _her2_patient("card-12", "1960-07-22")
    mets = _treated_brain(p, primary)
    for agent in ("lapatinib", "capecitabine"):
        medication(p, agent, "2025-04-01", "2025-12-10", "Intracranial progression")
    p.brain_mri("2025-12-05", "Two new enhancing lesions. No mass effect.")
    p.disease_status(
        "2025-12-05", mets, WORSENED, "Intracranial progression on lapatinib + capecitabine"
    )
    medication(p, "t-dxd", "2026-01-05", "2026-10-01", "Interstitial lung disease (toxicity)")
    p.brain_mri("2026-10-20", "Treated lesions stable. No mass effect.")
    p.disease_status("2026-10-20", mets, STABLE, "Intracranial disease stable")
    p.ecog("2026-10-20", 1)
    out["12-lapatinib-then-t-dxd"] = p.bundle(
        "Card fixture: progression on lapatinib + capecitabine 2025-12, then T-DXd to 2026-10 (stopped for interstitial lung disease)."
    )

    p, primary = _her2_patient("card-13", "1963-05-15")
    mets = _treated_brain(p, primary)
    for agent in ("tucatinib", "trastuzumab", "capecitabine"):
        medication(p, agent, "2024-09-01", "2025-08-10", "Intracranial progression")
    p.disease_status(
        "2025-08-01",
        mets,
        WORSENED,
        "Intracranial progression on tucatinib + trastuzumab + capecitabine",
    )
    medication(p, "t-dxd", "2025-08-20", "2026-10-05", "Intracranial progression")
    p.brain_mri("2026-10-01", "Three new enhancing lesions. No mass effect.")
    p.disease_status(
        "2026-10-01", mets, WORSENED, "Intracranial progression on trastuzumab deruxtecan"
    )
    p.ecog("2026-10-01", 1)
    out["13-progressed-on-tucatinib-and-t-dxd"] = p.bundle(
        "Card fixture: progression on the tucatinib triplet (2025-08), then on T-DXd (2026-10-01)."
    )
    return {ROOT / f"{key}.json": bundle for key, bundle in out.items()}


if __name__ == "__main__":
    for path, bundle in build().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render(bundle), encoding="utf-8")
        print(path.relative_to(ROOT.parent.parent), file=sys.stderr)
