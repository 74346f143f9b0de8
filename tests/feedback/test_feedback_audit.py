"""Every answered hook call leaves an audit row; the patient appears only as a keyed hash."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
from datetime import UTC, datetime

from sqlalchemy import create_engine, select

from cds_service.config import Settings
from cds_service.feedback import AuditRecord, FeedbackStore
from cds_service.store.tables import metadata

PATIENT = "Patient/jenny-m-1234"
CALL = AuditRecord(
    at=datetime(2026, 11, 23, 9, 15, 2, tzinfo=UTC),
    service_id="her2-cns-patient-view",
    hook="patient-view",
    hook_instance="d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
    patient_id=PATIENT,
    cards=(
        ("CNS-ACTIVE-THERAPY", "2026.1", "6a5b0c1e-8d2f-5a3b-9c4d-7e6f5a4b3c2d"),
        ("MRI-SURVEILLANCE", "2026.1", "1f2e3d4c-5b6a-5978-8a9b-0c1d2e3f4a5b"),
    ),
    knowledge_version="knowledge-2026.11",
    timings_ms={"fetch": 312.5, "derive": 4.1, "total": 330.0},
)


def _all_stored_text(url: str) -> str:
    """Every value in every table, as text: what someone with the database file would see."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return repr([connection.execute(select(t)).all() for t in metadata.sorted_tables])
    finally:
        engine.dispose()


def test_an_answered_call_is_audited_with_its_cards_and_timings(store: FeedbackStore) -> None:
    store.record_audit(CALL)
    [entry] = store.audit_entries()
    assert (entry.at, entry.service_id, entry.hook, entry.hook_instance) == (
        CALL.at,
        CALL.service_id,
        CALL.hook,
        CALL.hook_instance,
    )
    assert entry.cards == CALL.cards
    assert entry.knowledge_version == "knowledge-2026.11"
    assert entry.timings_ms == {"fetch": 312.5, "derive": 4.1, "total": 330.0}


def test_a_call_without_cards_is_audited_too(store: FeedbackStore) -> None:
    store.record_audit(dataclasses.replace(CALL, cards=()))
    assert [e.cards for e in store.audit_entries()] == [()]


def test_patient_id_is_kept_only_as_hmac_under_the_configured_key(
    database_url: str, settings: Settings
) -> None:
    keyed = dataclasses.replace(settings, audit_key="committee-secret")
    store = FeedbackStore.from_settings(keyed)
    try:
        store.record_audit(CALL)
        [entry] = store.audit_entries()
    finally:
        store.close()
    expected = hmac.new(b"committee-secret", PATIENT.encode(), hashlib.sha256).hexdigest()
    assert entry.patient_hash == expected
    stored = _all_stored_text(database_url)
    assert "jenny-m-1234" not in stored
    assert "committee-secret" not in stored  # a configured key is not written to the store


def test_generated_audit_key_survives_a_restart(settings: Settings) -> None:
    first = FeedbackStore.from_settings(settings)
    second = FeedbackStore.from_settings(settings)  # another worker, or the service restarted
    try:
        assert first.patient_hash(PATIENT) == second.patient_hash(PATIENT)
        assert first.patient_hash(PATIENT) != first.patient_hash("Patient/someone-else")
    finally:
        first.close()
        second.close()


def test_generated_key_differs_from_a_bare_hash(store: FeedbackStore) -> None:
    # An unkeyed sha256 of the id could be reversed by hashing candidate ids; a keyed one can't.
    assert store.patient_hash(PATIENT) != hashlib.sha256(PATIENT.encode()).hexdigest()
    assert len(store.patient_hash(PATIENT) or "") == 64


def test_call_without_patient_has_no_hash(store: FeedbackStore) -> None:
    store.record_audit(dataclasses.replace(CALL, patient_id=None))
    assert store.audit_entries()[0].patient_hash is None
