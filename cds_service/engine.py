"""One hook call, end to end and pure: derive the patient state, evaluate the rules, render cards."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from cds_service import cards
from cds_service.fhir.record import PatientRecord, settle
from cds_service.rules.evaluator import Evaluation, Finding, RuleTrace, evaluate
from cds_service.rules.loader import load_knowledge
from cds_service.rules.model import Knowledge
from cds_service.state import derive
from cds_service.state.evidence import references
from cds_service.state.model import PatientState


@dataclass(frozen=True)
class Answer:
    cards: list[dict]
    state: PatientState
    record: PatientRecord  # as read: resources that failed full validation are in `skipped`
    findings: tuple[Finding, ...] = ()
    trace: tuple[RuleTrace, ...] = ()
    # (rule id, rule version, card uuid) of each card returned, for the audit log.
    card_rules: tuple[tuple[str, str, str], ...] = ()
    knowledge_version: str = ""


class Engine:
    """Holds the knowledge base loaded (and checked) at start-up."""

    def __init__(self, knowledge: Knowledge) -> None:
        self.knowledge = knowledge

    @classmethod
    def load(cls) -> Engine:
        """Load and check the knowledge base; raises ConfigError on any broken reference."""
        return cls(load_knowledge())

    def answer(
        self,
        *,
        service_id: str,
        hook: str,
        hook_instance: str,
        context: Mapping,
        record: PatientRecord,
        today: date,
        timeline_url: str | None = None,
    ) -> Answer:
        """`timeline_url`: where the SMART timeline app is served; patient-view cards link to it."""

        def state_and_evaluation(rec: PatientRecord) -> tuple[PatientState, Evaluation]:
            state = derive(rec, today, context)
            return state, evaluate(self.knowledge, state, hook)

        # What the findings rest on is validated by fhir.resources before any card is shown; a
        # resource that fails is left out and the answer computed again without it.
        record, (state, evaluation) = settle(
            record,
            state_and_evaluation,
            lambda result: references(tuple(f.facts for f in result[1].findings)),
        )
        patient_id = context.get("patientId") if isinstance(context.get("patientId"), str) else None
        rendered = cards.render(
            evaluation.findings,
            self.knowledge,
            state,
            hook_instance=hook_instance,
            patient_id=patient_id,
            timeline_url=timeline_url if hook == "patient-view" else None,
        )
        rules = (self.knowledge.rule(str(cards.rule_id_of(c))) for c in rendered)
        card_rules = tuple(
            (r.id, r.version, c["uuid"]) for r, c in zip(rules, rendered, strict=True)
        )
        return Answer(
            cards=rendered,
            state=state,
            record=record,
            findings=evaluation.findings,
            trace=evaluation.traces,
            card_rules=card_rules,
            knowledge_version=self.knowledge.version,
        )
