"""Feedback and audit store. STUB: replaced by the SQLAlchemy store."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from cds_service.config import Settings


@dataclass(frozen=True)
class AuditRecord:
    """What one answered hook call said; no PHI (the store keeps only a keyed hash of patient_id)."""

    at: datetime
    service_id: str
    hook: str
    hook_instance: str
    patient_id: str | None
    cards: tuple[tuple[str, str, str], ...]  # (rule id, rule version, card uuid)
    knowledge_version: str
    timings_ms: Mapping[str, float] = field(default_factory=dict)


class FeedbackStore:
    @classmethod
    def from_settings(cls, settings: Settings) -> FeedbackStore:
        return cls()

    def record_feedback(self, service_id: str, body: Mapping, *, received_at: datetime) -> int:
        """Validate (raises BadRequest naming the field) and store; returns how many were new."""
        return 0

    def record_audit(self, record: AuditRecord) -> None:
        return None
