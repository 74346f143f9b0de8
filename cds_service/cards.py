"""Findings -> CDS Hooks cards: what we saw, what the guideline says, what to do, and the source."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable
from functools import cache
from typing import Any

from jinja2 import Template, TemplateError

from cds_service.rules.evaluator import Finding
from cds_service.rules.facts import progressed_on_agents
from cds_service.rules.loader import TEMPLATES
from cds_service.rules.model import Knowledge, Orderable, SuggestionSpec
from cds_service.state.model import PatientState

log = logging.getLogger(__name__)

# Card and suggestion uuids are derived, not random, so one hookInstance + rule always gives
# the same uuid (the EHR's feedback then points at a card we can find in the audit log).
CARD_NAMESPACE = uuid.UUID("5b0f3c59-4a47-4c1e-9d0a-0c0a2a3f6e11")
SUMMARY_LIMIT = 139


def card_uuid(hook_instance: str, rule_id: str, order_ref: str | None) -> str:
    return str(uuid.uuid5(CARD_NAMESPACE, f"{hook_instance}|{rule_id}|{order_ref or ''}"))


def _renderer(template: Template) -> Callable[[dict[str, Any]], str]:
    """`template.render(**values)` without its per-call cost of copying the globals' ChainMap:
    they are copied once here (the environment's globals are set before any card is rendered)."""
    env = template.environment
    template_globals = dict(template.globals)

    def render(values: dict[str, Any]) -> str:
        context = env.context_class(
            env,
            dict(template_globals, **values),
            template.name,
            template.blocks,
            globals=template_globals,
        )
        try:
            return env.concat(template.root_render_func(context))  # type: ignore[attr-defined]
        except Exception:
            env.handle_exception()  # raises, with the template's line in the traceback

    return render


@cache
def _compiled(source: str) -> Callable[[dict[str, Any]], str]:
    """The reflowed rendering of a knowledge template, compiled once (templates are few, fixed).

    Without `{` a template has no Jinja syntax at all (line statements are off): its reflowed
    text is the same for every card, so it is rendered once here."""
    template = TEMPLATES.from_string(source)
    if "{" not in source:
        fixed = reflow(template.render())
        return lambda values: fixed
    render = _renderer(template)
    return lambda values: reflow(render(values))


def _render(template: str, values: dict[str, Any]) -> str:
    return _compiled(template)(values)


def reflow(markdown: str) -> str:
    """Join hard-wrapped lines: EHRs differ in how they show a single newline in Markdown."""
    single = markdown.strip().splitlines()
    if len(single) <= 1:  # one line (most summaries and labels): nothing to join
        return single[0].strip() if single else ""
    blocks = []
    for block in markdown.strip().split("\n\n"):
        lines: list[str] = []
        for line in (raw.strip() for raw in block.splitlines()):
            if not line:
                continue
            if lines and not line.startswith(("- ", "* ", "#")):
                lines[-1] += " " + line
            else:
                lines.append(line)
        if lines:
            blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _template_values(finding: Finding, state: PatientState) -> dict[str, Any]:
    facts = {
        name: {"text": s.text, "value": s.value, **s.data} for name, s in finding.facts.items()
    }
    order = finding.order
    return {
        "facts": facts,
        "params": finding.rule.parameters,
        "order": {"display": order.display, "reference": order.reference} if order else {},
        "today": state.today.isoformat(),
    }


def _summary(text: str) -> str:
    if len(text) <= SUMMARY_LIMIT:
        return text
    log.warning("card summary over %d characters shortened", SUMMARY_LIMIT)
    return text[: SUMMARY_LIMIT - 1].rsplit(" ", 1)[0] + "…"


def _detail(finding: Finding, advice: str, evidence: list[str]) -> str:
    lines = ["**What we saw**", ""]
    lines += [f"- {stated.text}" for stated in finding.shown_facts]
    lines += ["", advice]
    if evidence:
        lines += ["", "**Evidence**", ""] + [f"- {item}" for item in evidence]
    citation = finding.rule.citation
    lines += ["", f"_Source: {citation.source}; {citation.section}._"]
    return "\n".join(lines)


def _medication_coding(orderable: Orderable) -> dict[str, Any]:
    coding = {"system": orderable.system, "code": orderable.code, "display": orderable.display}
    key = "medicationCodeableConcept" if orderable.resource_type == "MedicationRequest" else "code"
    return {key: {"coding": [coding], "text": orderable.display}}


def draft_resource(orderable: Orderable, patient_id: str | None) -> dict[str, Any]:
    """A draft request for the clinician to review and sign; never an active order."""
    resource: dict[str, Any] = {
        "resourceType": orderable.resource_type,
        "status": "draft",
        "intent": "order",
    }
    resource.update(_medication_coding(orderable))
    if patient_id:
        resource["subject"] = {"reference": f"Patient/{patient_id}"}
    return resource


def _suggestion(
    spec: SuggestionSpec,
    finding: Finding,
    knowledge: Knowledge,
    state: PatientState,
    values: dict[str, Any],
    card_id: str,
    patient_id: str | None,
) -> dict[str, Any] | None:
    actions: list[dict[str, Any]] = []
    order = finding.order
    if spec.regimen:
        regimen = knowledge.regimens[spec.regimen]
        if spec.omit_if_progressed_on and progressed_on_agents(state, regimen.defining_agents):
            return None  # never suggest what the patient already progressed on
        orderables = [knowledge.orderables[o] for o in regimen.orderables]
    elif spec.orderable:
        orderables = [knowledge.orderables[spec.orderable]]
    else:
        orderables = []
    if spec.delete_draft and order is not None:
        actions.append(
            {
                "type": "delete",
                "description": f"Remove the draft order for {order.display}",
                "resourceId": order.reference,
            }
        )
    for orderable in orderables:
        actions.append(
            {
                "type": "create",
                "description": f"Draft order for {orderable.display}",
                "resource": draft_resource(orderable, patient_id),
            }
        )
    label = _render(spec.label, values)
    suggestion: dict[str, Any] = {
        "label": label,
        "uuid": str(uuid.uuid5(CARD_NAMESPACE, f"{card_id}|{label}")),
    }
    if spec.is_recommended:
        suggestion["isRecommended"] = True
    if actions:
        suggestion["actions"] = actions
    return suggestion


def render_card(
    finding: Finding,
    knowledge: Knowledge,
    state: PatientState,
    hook_instance: str,
    patient_id: str | None,
    timeline_url: str | None = None,
) -> dict[str, Any]:
    rule, variant = finding.rule, finding.variant
    values = _template_values(finding, state)
    card_id = card_uuid(hook_instance, rule.id, finding.order.reference if finding.order else None)
    evidence = [_render(item, values) for item in variant.evidence]
    card: dict[str, Any] = {
        "uuid": card_id,
        "summary": _summary(_render(variant.summary, values)),
        "indicator": variant.indicator,
        "detail": _detail(finding, _render(variant.detail, values), evidence),
        "source": {
            "label": rule.citation.label,
            "url": rule.citation.url,
            "topic": {
                "system": knowledge.rule_topic_system,
                "code": rule.id,
                "display": rule.title,
            },
        },
    }
    suggestions = [
        s
        for spec in variant.suggestions
        if (s := _suggestion(spec, finding, knowledge, state, values, card_id, patient_id))
    ]
    if suggestions:
        card["suggestions"] = suggestions
        card["selectionBehavior"] = variant.selection_behavior
    if variant.override_reasons:
        card["overrideReasons"] = [
            {"code": r.code, "system": knowledge.override_reason_system, "display": r.display}
            for r in variant.override_reasons
        ]
    links = [{"label": label, "url": url, "type": "absolute"} for label, url in rule.links]
    if timeline_url:
        # The history the card rests on, at a glance: the SMART app the EHR launches in context.
        links.append({"label": "CNS history timeline", "url": timeline_url, "type": "smart"})
    if links:
        card["links"] = links
    return card


def rule_id_of(card: dict[str, Any]) -> str | None:
    """The rule behind a card, from its source.topic."""
    topic = card.get("source", {}).get("topic", {})
    return topic.get("code") if isinstance(topic, dict) else None


def render(
    findings: Iterable[Finding],
    knowledge: Knowledge,
    state: PatientState,
    *,
    hook_instance: str,
    patient_id: str | None,
    timeline_url: str | None = None,
) -> list[dict[str, Any]]:
    """Cards in order of urgency; a card whose template fails is left out and logged, never half-shown."""
    order = {"critical": 0, "warning": 1, "info": 2}
    cards = []
    for finding in sorted(findings, key=lambda f: order[f.variant.indicator]):
        try:
            cards.append(
                render_card(finding, knowledge, state, hook_instance, patient_id, timeline_url)
            )
        except TemplateError:
            log.exception(
                "rule %s variant %s: card template failed", finding.rule.id, finding.variant.id
            )
    return cards
