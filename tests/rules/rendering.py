"""Evaluate and render with the real knowledge base, then pick one rule's cards and trace."""

from __future__ import annotations

from typing import Any

from cds_service import cards
from cds_service.rules.evaluator import Evaluation, RuleTrace, evaluate
from cds_service.rules.loader import load_knowledge
from cds_service.state.model import PatientState

KNOWLEDGE = load_knowledge()


def run(state: PatientState, hook: str = "patient-view") -> tuple[list[dict[str, Any]], Evaluation]:
    evaluation = evaluate(KNOWLEDGE, state, hook)
    rendered = cards.render(
        evaluation.findings, KNOWLEDGE, state, hook_instance="hi-rules", patient_id="p1"
    )
    return rendered, evaluation


def cards_of(rule_id: str, state: PatientState, hook: str = "patient-view") -> list[dict[str, Any]]:
    rendered, _ = run(state, hook)
    return [c for c in rendered if cards.rule_id_of(c) == rule_id]


def traces_of(rule_id: str, state: PatientState, hook: str = "patient-view") -> list[RuleTrace]:
    _, evaluation = run(state, hook)
    return [t for t in evaluation.traces if t.rule_id == rule_id]


def created_codes(card: dict[str, Any]) -> list[list[str]]:
    """Per suggestion, the codes of the resources it creates."""
    out = []
    for suggestion in card.get("suggestions", []):
        codes = []
        for action in suggestion.get("actions", []):
            resource = action.get("resource") or {}
            concept = resource.get("medicationCodeableConcept") or resource.get("code") or {}
            codes += [c["code"] for c in concept.get("coding", [])]
        out.append(sorted(codes))
    return out
