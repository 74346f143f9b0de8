"""What every card must be (CLINICAL_RULES.md), as checks over one response: each returns problems.

Used by tests/rules/test_card_quality.py over every fixture, every hooks/ request and every
synthetic record in the suite; the checks are tested on bad cards too, so they can fail."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from cds_service.cards import rule_id_of
from cds_service.rules.evaluator import poor_performance_status
from cds_service.rules.loader import asco_recommendations, cited_recommendations
from cds_service.rules.options import drafted_regimen
from cds_service.rules.wording import denied_phrases, limits, policy
from cds_service.state.model import PatientState
from cds_service.state.terminology import INTERACTING_AGENTS, agents_of
from tests.rules.rendering import KNOWLEDGE, offered_in_text

Card = dict[str, Any]
REGIMEN_LABELS = sorted((r.label for r in KNOWLEDGE.regimens.values()), key=len, reverse=True)
DEFINING = frozenset(a for r in KNOWLEDGE.regimens.values() for a in r.defining_agents)
RECOMMENDATIONS = asco_recommendations()
# The two cases CLINICAL_RULES.md allows to interrupt: a true rechallenge, severe mass effect.
CRITICAL_ALLOWED = {"LAPATINIB-RECHALLENGE", "MASS-EFFECT-LOCAL-THERAPY"}
SAW = re.compile(r"\*\*What we saw\*\*\n\n((?:- .*\n?)*)")


def _created_agents(suggestion: dict[str, Any]) -> list[str]:
    agents: list[str] = []
    for action in suggestion.get("actions", []):
        resource = action.get("resource") or {}
        if action.get("type") == "create" and resource.get("resourceType") == "MedicationRequest":
            agents += sorted(agents_of(resource.get("medicationCodeableConcept") or {}))
    return agents


def _deleted(suggestion: dict[str, Any]) -> set[str]:
    return {a["resourceId"] for a in suggestion.get("actions", []) if a.get("type") == "delete"}


def suggested_regimen(label: str) -> str | None:
    """The regimen a suggestion label starts or puts in place ("Start X", "Replace Y with X")."""
    target = label.split(" with ", 1)[1] if label.startswith("Replace ") else label
    target = target.removeprefix("Start ")
    return next((x for x in REGIMEN_LABELS if target == x or target.startswith(f"{x} (")), None)


def length_problems(card: Card) -> list[str]:
    limit = limits()
    problems = []
    if len(card["summary"]) >= limit["summary"]:
        problems.append(f"summary {len(card['summary'])} characters")
    most = limit["detail_critical"] if card["indicator"] == "critical" else limit["detail"]
    detail = card.get("detail", "")
    if len(detail) > most:
        problems.append(f"detail {len(detail)} characters (limit {most})")
    match = SAW.search(detail)
    saw = [line for line in (match.group(1) if match else "").splitlines() if line]
    if len(saw) > limit["saw_lines"]:
        problems.append(f"{len(saw)} 'What we saw' lines")
    problems += [
        f"'What we saw' line {len(x)} characters: {x}"
        for x in saw
        if len(x) - 2 > limit["saw_line"]
    ]
    evidence = [x for x in detail.splitlines() if x.startswith("_Evidence:_")]
    if len(evidence) > limit["evidence_lines"]:
        problems.append(f"{len(evidence)} evidence lines")
    if len(card.get("links", [])) > limit["links"]:
        problems.append(f"{len(card['links'])} links")
    if "_Source:" in detail:
        problems.append("source footer in the detail")
    return problems


def wording_problems(card: Card) -> list[str]:
    texts = [card["summary"], card.get("detail", "")]
    texts += [s["label"] for s in card.get("suggestions", [])]
    problems = [f"internal wording {p!r}" for t in texts for p in denied_phrases(t)]
    for text in texts:
        problems += [
            f"rec. {n} is not in the ASCO table"
            for n in cited_recommendations(text)
            if n not in RECOMMENDATIONS
        ]
    return problems


def option_problems(card: Card, state: PatientState) -> list[str]:
    """Text and buttons agree; nothing offered that failed, was stopped for toxicity, or is on."""
    problems = []
    suggested = [r for s in card.get("suggestions", []) if (r := suggested_regimen(s["label"]))]
    listed = offered_in_text(card)
    poor = poor_performance_status(KNOWLEDGE.policy, state)  # type: ignore[arg-type]
    if listed != suggested and not (poor and not suggested):
        problems.append(f"options in the text {listed} but suggested {suggested}")
    if suggested and card.get("selectionBehavior") != "at-most-one":
        problems.append("options that exclude each other without at-most-one")
    failed = {
        a
        for r in state.regimens
        if r.progression is not None or r.stop_reason == "progression"
        for a in r.agents
    }
    toxic = {c.agent for c in state.courses if c.stop_reason == "toxicity"}
    active = {c.agent for c in state.courses if c.active and c.agent not in INTERACTING_AGENTS}
    drafted = {o.reference: o.agents for o in state.draft_orders}
    regimen_drafts = {o.reference for o in drafted_regimen(state)}
    for suggestion in card.get("suggestions", []):
        created = _created_agents(suggestion)
        if poor and created:
            problems.append(f"drug order with poor performance status: {suggestion['label']}")
        for agent in set(created) & DEFINING & (failed | toxic):
            problems.append(f"suggests {agent}, progressed on or stopped for toxicity")
        if len(created) != len(set(created)):
            problems.append(f"creates an agent twice: {suggestion['label']}")
        deleted = _deleted(suggestion)
        kept = {a for ref, agents in drafted.items() if ref not in deleted for a in agents}
        for agent in set(created) & (active | kept):
            problems.append(f"creates {agent}, already active or drafted: {suggestion['label']}")
        if created and deleted & regimen_drafts and not regimen_drafts <= deleted:
            problems.append(f"replace leaves drafts {sorted(regimen_drafts - deleted)}")
    return problems


def indicator_problems(card: Card) -> list[str]:
    problems = []
    rule = rule_id_of(card)
    if card["indicator"] == "critical" and rule not in CRITICAL_ALLOWED:
        problems.append(f"critical from {rule}")
    if card["indicator"] != "info" and not (card.get("suggestions") or card.get("overrideReasons")):
        problems.append(f"{card['indicator']} with nothing to act on")
    return problems


def response_problems(cards: list[Card], hook: str, state: PatientState) -> list[str]:
    """Every card's own problems, then whether the cards of the request make one message."""
    problems = []
    for card in cards:
        where = f"{rule_id_of(card)}: "
        for found in (
            length_problems(card),
            wording_problems(card),
            option_problems(card, state),
            indicator_problems(card),
        ):
            problems += [where + p for p in found]
    rules = [rule_id_of(c) for c in cards]
    pv = policy()["patient_view"]
    if hook == "patient-view":
        others = [r for r in rules if r not in pv["safety_rules"]]
        if len(others) > pv["max_cards"] or len(rules) > pv["max_cards"] + len(
            set(rules) & set(pv["safety_rules"])
        ):
            problems.append(f"{len(rules)} patient-view cards: {rules}")
    offered = [regimen for c in cards for regimen in offered_in_text(c)]
    if len(offered) != len(set(offered)):
        problems.append(f"overlapping option lists: {offered}")
    urls = [link["url"] for c in cards for link in c.get("links", [])]
    if len(urls) != len(set(urls)):
        problems.append("a link repeated in one response")
    for entry in policy()["precedence"]:
        if entry["rule"] in rules:
            problems += [f"{entry['rule']} beside {t}" for t in entry["silences"] if t in rules]
    return problems


def all_problems(responses: Iterable[tuple[str, list[Card], str, PatientState]]) -> list[str]:
    return [
        f"{name}: {p}"
        for name, cards, hook, state in responses
        for p in response_problems(cards, hook, state)
    ]
