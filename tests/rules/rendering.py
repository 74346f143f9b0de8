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


def offered_in_text(card: dict[str, Any]) -> list[str]:
    """The regimens a card's text lists as options: bullets that start with a regimen's name."""
    labels = sorted((r.label for r in KNOWLEDGE.regimens.values()), key=len, reverse=True)
    found = []
    for line in card.get("detail", "").splitlines():
        name = next((x for x in labels if line.startswith(f"- {x} (") or line == f"- {x}"), None)
        if name is not None:
            found.append(name)
    return found
