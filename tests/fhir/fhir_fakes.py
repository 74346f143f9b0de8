"""Test data for the FHIR fetch tests: a base URL, a token, queries, settings and Bundles."""

from __future__ import annotations

from cds_service.config import Settings

BASE = "https://ehr.example.org/fhir"
TOKEN = "tok-5f1d2c9e-secret-access-token"
PATIENT = "pat-8842"
QUERIES = {
    "patient": f"Patient/{PATIENT}",
    "conditions": f"Condition?patient={PATIENT}",
    "medications": f"MedicationStatement?patient={PATIENT}",
    "observations": f"Observation?patient={PATIENT}&code=http://loinc.org|85319-2,http://loinc.org|48676-1",
}


def make_settings(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "fhir_servers": (BASE,),
        "fhir_dev_servers": ("http://127.0.0.1:8090/fhir",),
        "fhir_deadline": 2.0,
        "fhir_page_cap": 5,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def searchset(*resources: dict, next_url: str | None = None) -> dict:
    links = [{"relation": "self", "url": f"{BASE}/x"}]
    if next_url:
        links.append({"relation": "next", "url": next_url})
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "link": links,
        "entry": [{"resource": r, "search": {"mode": "match"}} for r in resources],
    }


def resource(resource_type: str, rid: str) -> dict:
    return {
        "resourceType": resource_type,
        "id": rid,
        "subject": {"reference": f"Patient/{PATIENT}"},
    }
