"""One hook call, end to end and pure: derive the patient state, evaluate the rules, render cards."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from cds_service.fhir.record import PatientRecord
from cds_service.state import derive
from cds_service.state.model import PatientState


@dataclass(frozen=True)
class Answer:
    cards: list[dict]
    state: PatientState
    findings: tuple = ()
    trace: tuple = field(default=())
    # (rule id, rule version, card uuid) of each card returned, for the audit log.
    card_rules: tuple[tuple[str, str, str], ...] = ()
    knowledge_version: str = ""


class Engine:
    """Holds the knowledge base loaded (and checked) at start-up."""

    def __init__(self) -> None:
        pass

    @classmethod
    def load(cls) -> Engine:
        """Load and check the knowledge base; raises ConfigError on any broken reference."""
        return cls()

    def answer(
        self,
        *,
        service_id: str,
        hook: str,
        hook_instance: str,
        context: Mapping,
        record: PatientRecord,
        today: date,
    ) -> Answer:
        state = derive(record, today, context)
        return Answer(cards=[], state=state)
