"""Warm the service before its first hook: import the FHIR models it can meet, run synthetic hooks.

fhir.resources imports the class of each element type (CodeableConcept, Period, Dosage, ...) the
first time a resource holding one is validated, and many caches (value sets, compiled schemas,
regular expressions, Flask's URL map, SQLAlchemy's type adaptations) fill on first use: the first
hook after a worker started was 12-14 times slower than the next (bench/run.py). `warm_up(app)`
does it all up front, once, in the process that builds the app: with gunicorn's --preload that
is the master, so every forked worker starts warm; `warm_worker(app)` repeats the synthetic hooks
through the routes in each worker before it accepts, then logs "worker <pid> ready". Neither
writes anything (no audit row) nor reads the clock."""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import time
import typing
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from typing import Any, cast

import orjson
from flask import Flask

from cds_service.feedback import AuditRecord, FeedbackStore
from cds_service.fhir.models import MODEL_CLASSES, FHIRResourceModel
from cds_service.observability import metrics
from cds_service.services import SERVICES
from cds_service.state.terminology import valuesets
from cds_service.testing import hook_request
from cds_service.web.auth import Authenticator
from cds_service.web.runtime import Runtime

log = logging.getLogger(__name__)

_DAY = date(2026, 1, 1)  # any fixed day: the synthetic hook's answer is thrown away
_PATIENT = "warm-up"
_FILLERS = ("w-weight", "w-obesity")
_FILLER_COPIES = 15
_GC_YOUNG_THRESHOLD = 10_000  # allocations between young collections in the workers (see warm_up)
_LOINC = "http://loinc.org"
_SNOMED = "http://snomed.info/sct"
_RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"


def import_models() -> int:
    """Import every element model reachable from the resource models we parse; how many."""
    seen: set[type] = set()
    stack: list[type] = list(MODEL_CLASSES.values())
    while stack:
        cls = stack.pop()
        if cls in seen:
            continue
        seen.add(cls)
        for field in getattr(cls, "model_fields", {}).values():
            stack.extend(_element_classes(field.annotation))
    return len(seen)


def _element_classes(annotation: Any) -> list[type]:
    """The model classes behind a field's annotation (fhir_core types name them lazily)."""
    found: list[type] = []
    pending = [annotation]
    while pending:
        current = pending.pop()
        if hasattr(current, "get_model_klass"):
            found.append(current.get_model_klass())
        pending.extend(typing.get_args(current))
    return found


def _concept(system: str, code: str, display: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code, "display": display}], "text": display}


def _record_json() -> list[dict[str, Any]]:
    """A small record touching every resource type and the elements real records carry.

    Codes come from the service's own value sets (knowledge/valuesets), so the derivation and
    the rules run their full paths; the answer is discarded."""
    subject = {"reference": f"Patient/{_PATIENT}"}
    meta = {"versionId": "1", "lastUpdated": "2026-01-01T00:00:00Z"}
    text = {"status": "generated", "div": '<div xmlns="http://www.w3.org/1999/xhtml">warm-up</div>'}
    ident = [{"system": "urn:oid:2.16.840.1.113883.19.5", "value": "1"}]
    common = {"meta": meta, "text": text, "identifier": ident, "subject": subject}
    return [
        {
            "resourceType": "Patient",
            "id": _PATIENT,
            "meta": meta,
            "text": text,
            "identifier": ident,
            "gender": "female",
            "birthDate": "1970-01-01",
            "name": [{"family": "Warm", "given": ["Up"]}],
        },
        {
            "resourceType": "Condition",
            "id": "w-bc",
            **common,
            "clinicalStatus": _concept(
                "http://terminology.hl7.org/CodeSystem/condition-clinical", "active", "Active"
            ),
            "verificationStatus": _concept(
                "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                "confirmed",
                "Confirmed",
            ),
            "code": _concept(_SNOMED, "427685000", "HER2-positive carcinoma of breast"),
            "onsetDateTime": "2020-01-01",
            "recordedDate": "2020-01-02",
            "note": [{"text": "warm-up"}],
        },
        {
            "resourceType": "Condition",
            "id": "w-bm",
            **common,
            "code": _concept(_SNOMED, "94225005", "Secondary malignant neoplasm of brain"),
            "onsetPeriod": {"start": "2024-01-01"},
            "extension": [
                {
                    "url": "http://hl7.org/fhir/StructureDefinition/condition-related",
                    "valueReference": {"reference": "Condition/w-bc"},
                }
            ],
        },
        {
            "resourceType": "Observation",
            "id": "w-her2",
            **common,
            "status": "final",
            "category": [
                _concept(
                    "http://terminology.hl7.org/CodeSystem/observation-category",
                    "laboratory",
                    "Laboratory",
                )
            ],
            "code": _concept(_LOINC, "48676-1", "HER2"),
            "valueCodeableConcept": _concept(_LOINC, "LA6576-8", "Positive"),
            "effectiveDateTime": "2020-01-01T10:00:00Z",
            "issued": "2020-01-02T10:00:00Z",
            "interpretation": [_concept(_SNOMED, "10828004", "Positive")],
        },
        {
            "resourceType": "Observation",
            "id": "w-size",
            **common,
            "status": "final",
            "code": _concept(_LOINC, "21889-1", "Size Tumor"),
            "focus": [{"reference": "Condition/w-bm"}],
            "valueQuantity": {
                "value": 1.2,
                "unit": "cm",
                "system": "http://unitsofmeasure.org",
                "code": "cm",
            },
            "bodySite": _concept(_SNOMED, "12738006", "Brain structure"),
            "effectivePeriod": {"start": "2024-06-01", "end": "2024-06-01"},
        },
        {
            "resourceType": "Procedure",
            "id": "w-srs",
            **common,
            "status": "completed",
            "code": _concept("http://www.ama-assn.org/go/cpt", "77372", "SRS"),
            "bodySite": [_concept(_SNOMED, "12738006", "Brain structure")],
            "reasonReference": [{"reference": "Condition/w-bm"}],
            "performedPeriod": {"start": "2024-02-01", "end": "2024-02-01"},
        },
        {
            "resourceType": "ImagingStudy",
            "id": "w-mri",
            **common,
            "status": "available",
            "modality": [{"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "MR"}],
            "started": "2024-05-01",
            "series": [
                {
                    "uid": "1.2.3",
                    "modality": {
                        "system": "http://dicom.nema.org/resources/ontology/DCM",
                        "code": "MR",
                    },
                    "bodySite": {
                        "system": _SNOMED,
                        "code": "12738006",
                        "display": "Brain structure",
                    },
                }
            ],
        },
        {
            "resourceType": "MedicationStatement",
            "id": "w-ms",
            **common,
            "status": "stopped",
            "contained": [
                {
                    "resourceType": "Medication",
                    "id": "m",
                    "code": _concept(_RXNORM, "480167", "lapatinib"),
                }
            ],
            "medicationReference": {"reference": "#m", "display": "lapatinib"},
            "effectivePeriod": {"start": "2024-01-01", "end": "2024-06-01"},
            "statusReason": [{"text": "progression"}],
            "dateAsserted": "2024-06-02",
        },
        {
            "resourceType": "MedicationRequest",
            "id": "w-mr",
            **common,
            "status": "completed",
            "intent": "order",
            "medicationCodeableConcept": _concept(_RXNORM, "194000", "capecitabine"),
            "authoredOn": "2024-01-01",
            "requester": {"reference": "Practitioner/w", "display": "W"},
            "dosageInstruction": [
                {
                    "text": "daily",
                    "timing": {
                        "repeat": {
                            "boundsPeriod": {"start": "2024-01-01", "end": "2024-06-01"},
                            "frequency": 2,
                            "period": 1,
                            "periodUnit": "d",
                        }
                    },
                    "route": _concept(_SNOMED, "26643006", "Oral route"),
                    "doseAndRate": [{"doseQuantity": {"value": 1000, "unit": "mg"}}],
                }
            ],
        },
        {
            "resourceType": "MedicationAdministration",
            "id": "w-ma",
            **common,
            "status": "completed",
            "medicationCodeableConcept": _concept(_RXNORM, "224905", "trastuzumab"),
            "effectiveDateTime": "2023-06-01T10:00:00Z",
        },
        {
            "resourceType": "DiagnosticReport",
            "id": "w-dr",
            **common,
            "status": "final",
            "code": _concept(_LOINC, "24590-2", "MRI brain"),
            "effectiveDateTime": "2024-05-01",
            "conclusion": "Two lesions, no mass effect.",
        },
        {
            "resourceType": "ServiceRequest",
            "id": "w-sr",
            **common,
            "status": "active",
            "intent": "order",
            "code": _concept(_SNOMED, "12738006", "Brain structure"),
        },
        # What most of a real record is, and the relevance filter drops: a vital sign and an
        # unrelated problem (codes as in the HL7 examples in /work/shared/external).
        {
            "resourceType": "Observation",
            "id": "w-weight",
            **common,
            "status": "final",
            "code": _concept(_LOINC, "29463-7", "Body Weight"),
            "effectiveDateTime": "2024-05-01",
            "valueQuantity": {
                "value": 61.2,
                "unit": "kg",
                "system": "http://unitsofmeasure.org",
                "code": "kg",
            },
        },
        {
            "resourceType": "Condition",
            "id": "w-obesity",
            **common,
            "code": _concept(_SNOMED, "414916001", "Obesity (disorder)"),
            "onsetDateTime": "2019-01-01",
        },
    ]


_DRAFT = {
    "resourceType": "MedicationRequest",
    "id": "w-draft",
    "status": "draft",
    "intent": "order",
    "subject": {"reference": f"Patient/{_PATIENT}"},
    "medicationCodeableConcept": _concept(_RXNORM, "480167", "lapatinib"),
}


class _NoAudit:
    """The feedback store as the routes see it during warm-up: synthetic answers store nothing."""

    def record_audit(self, record: AuditRecord) -> None:
        """Nothing: a warm-up hook is not a call to audit."""


@contextlib.contextmanager
def quiet_runtime(app: Flask) -> Iterator[None]:
    """The app's routes on a copy of the runtime that cannot write (no audit row), does not
    authenticate (the caller is the warm-up itself) and has a fixed clock. Only for the warm-up,
    where no real request can arrive (before the fork, or before the worker accepts); the real
    runtime is always restored."""
    runtime: Runtime = app.extensions["cds"]
    app.extensions["cds"] = replace(
        runtime,
        feedback=cast(FeedbackStore, _NoAudit()),
        authenticator=Authenticator(replace(runtime.settings, auth_enabled=False)),
        clock=lambda: _DAY,
    )
    try:
        with metrics.suppressed():  # synthetic hooks are not traffic
            yield
    finally:
        app.extensions["cds"] = runtime


def synthetic_requests() -> list[tuple[str, bytes]]:
    """(path, JSON body) of each service's hook on the synthetic record, as large as a real
    prefetch: a worker's first real hook otherwise still pays for memory it had never used."""
    record = _record_json()
    fillers = [r for r in record if r["id"] in _FILLERS]
    record += [{**r, "id": f"{r['id']}-{n}"} for n in range(_FILLER_COPIES) for r in fillers]
    return [
        (
            f"/cds-services/{service.id}",
            orjson.dumps(
                # The service's own prefetch templates filled from the record, as an EHR would.
                hook_request(
                    {"entry": [{"resource": r} for r in record]},
                    service.hook,
                    draft_orders=[_DRAFT],
                    user_id="Practitioner/w",
                    hook_instance=f"warm-up-{service.hook}",
                )
            ),
        )
        for service in SERVICES
    ]


def post_synthetic_hooks(app: Flask) -> int:
    """Each service's hook POSTed through the app's own route (Flask, request reading, envelope
    validation, prefetch, relevance, views, derivation, rules, cards, response) on the quiet
    runtime; how many cards they made."""
    made = 0
    with quiet_runtime(app), app.test_client() as client:
        for path, body in synthetic_requests():
            response = client.post(path, data=body, content_type="application/json")
            if response.status_code != 200:
                raise RuntimeError(f"warm-up hook {path}: HTTP {response.status_code}")
            made += len(orjson.loads(response.data)["cards"])
        client.get("/health")
    return made


def warm_up(app: Flask, *, before_fork: bool = False) -> float:
    """Warm everything a hook touches, in this process; seconds spent. Never raises: a failed
    warm-up only costs the first hook its speed, so it is logged and start-up goes on.

    `before_fork` (gunicorn --preload: the master, just before it forks workers) also freezes
    the heap: the collector then never walks, nor copies into each worker, the start-up objects;
    and it collects young objects less often (the workers inherit both)."""
    started = time.perf_counter()
    try:
        models = import_models()
        # Every resource class validated once: per-class caches fill here, not on a hook.
        for cls in MODEL_CLASSES.values():
            _try_validate(cls)
        _compile_text_matchers()
        cards = post_synthetic_hooks(app)
        app.extensions["cds"].feedback.warm()
    except Exception:
        log.exception("warm-up failed; the first hook will be slower")
        return time.perf_counter() - started
    if before_fork:
        gc.collect()
        gc.freeze()
        # A hook allocates (and frees) tens of thousands of containers: at the default 700 the
        # young collection ran 1-6 times per hook (0.1-0.5 ms on average, up to 5 ms with an
        # older generation); at 10,000 it almost never does, and reference counting frees
        # nearly all of it anyway. Cycles wait a little longer, bounded by the same count.
        gc.set_threshold(_GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
    seconds = time.perf_counter() - started
    log.info(
        "warm-up: %d FHIR models imported, synthetic hooks made %d card(s), %.0f ms",
        models,
        cards,
        seconds * 1000,
    )
    return seconds


def warm_worker(app: Flask) -> float:
    """In each worker just after the fork (gunicorn post_worker_init): the synthetic hooks once
    more, so the memory a hook touches is the worker's own before the first real hook (after a
    fork each first write to a shared page copies it: ~1000 page faults, 8-10 ms, on the first
    hook before this went through the routes); and the worker's own database connection."""
    started = time.perf_counter()
    try:
        post_synthetic_hooks(app)
        app.extensions["cds"].feedback.warm()
        # The spool's file and delivery thread now, not on the first real hook (after the fork:
        # a thread started in the master would not survive into the worker).
        app.extensions["cds"].feedback.open_spool()
        # The warm-up's garbage collected now, and what it left set aside like the master's:
        # the first real hook then neither pays for a collection nor walks these objects.
        gc.collect()
        gc.freeze()
    except Exception:
        log.exception("worker warm-up failed; its first hook will be slower")
    seconds = time.perf_counter() - started
    # A request that arrives before this line waits for the warm-up: readiness is this line,
    # not the server's "Booting worker" (e.g. bench/run.py waits for one per worker).
    log.info("worker %d ready (warm-up %.0f ms)", os.getpid(), seconds * 1000)
    return seconds


def _compile_text_matchers() -> None:
    """The matcher compiles one expression per set of terms on first use (about 1 ms each, 15 ms
    on a first real hook): every value set's (mass effect is one), here."""
    for vs in valuesets().values():
        vs.has_text("warm-up")


def _try_validate(cls: type[FHIRResourceModel]) -> None:
    # A required element is missing: the class's caches fill all the same.
    with contextlib.suppress(ValueError):
        cls.model_validate({"resourceType": cls.get_resource_type(), "id": "warm-up"})
