"""Records for the lesion-identity tests over HTTP: a HER2-positive patient whose right frontal
metastasis had SRS, then a later brain MRI report, and a draft SRS order to a site."""

from __future__ import annotations

from tests.state.build_fixtures import CPT, POSITIVE, Patient, cc


def her2_patient(pid: str) -> tuple[Patient, dict]:
    """A patient with HER2-positive (IHC 3+) breast cancer; (patient, the primary Condition)."""
    p = Patient(pid, "1966-02-01")
    primary = p.breast_cancer("2022-01-10")
    p.her2("2022-01-05", ("85319-2", "HER2 by IHC"), cc(POSITIVE, text="IHC 3+"), "HER2 IHC 3+")
    return p, primary


def treated_right_frontal(treated_site: dict, latest_report: str, pid: str = "identity") -> dict:
    """SRS 2025-04-01 to a right frontal metastasis (its body site as `treated_site`), then a
    brain MRI on 2026-10-01 saying `latest_report`."""
    p, primary = her2_patient(pid)
    mets = p.brain_mets("2025-03-01", primary)
    p.brain_mri("2025-03-01", "Solitary 1.1 cm right frontal metastasis. No mass effect.")
    p.add(
        "Procedure",
        "srs",
        {
            "status": "completed",
            "code": cc({"system": CPT, "code": "77372"}, text="Stereotactic radiosurgery"),
            "performedDateTime": "2025-04-01",
            "bodySite": [treated_site],
            "reasonReference": [p.ref(mets)],
        },
    )
    p.brain_mri("2026-10-01", latest_report)
    return p.bundle("a treated right frontal lesion, then a report")


def srs_order(site: dict, pid: str = "identity") -> dict:
    """A draft radiosurgery order to `site`."""
    return {
        "resourceType": "ServiceRequest",
        "id": "draft-srs",
        "status": "draft",
        "intent": "order",
        "subject": {"reference": f"Patient/{pid}"},
        "code": cc({"system": CPT, "code": "77372"}, text="Stereotactic radiosurgery"),
        "bodySite": [site],
    }
