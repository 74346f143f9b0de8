"""Findings -> CDS Hooks cards: what we saw, what the guideline says, what to do, and the source."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable
from functools import cache
from typing import Any

from jinja2 import Template, TemplateError

from cds_service.rules.evaluator import Finding, poor_performance_status
from cds_service.rules.loader import TEMPLATES
from cds_service.rules.model import Knowledge, Orderable, SuggestionSpec
from cds_service.rules.options import CardOptions, card_options
from cds_service.rules.wording import limits
from cds_service.state.model import DraftOrder, PatientState

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


def _template_values(
    finding: Finding, state: PatientState, options: CardOptions | None = None
) -> dict[str, Any]:
    facts = {
        name: {"text": s.text, "value": s.value, **s.data} for name, s in finding.facts.items()
    }
    order = finding.order
    return {
        "facts": facts,
        "params": finding.rule.parameters,
        "order": {"display": order.display, "reference": order.reference} if order else {},
        "today": state.today.isoformat(),
        "options": {
            "list": options.text() if options else "",
            "names": " or ".join(options.labels()) if options else "",
            "any": bool(options and options.offered),
            "create": bool(options and options.create),
            "replaced": options.replaced if options else "",
        },
    }


def _summary(text: str) -> str:
    if len(text) <= SUMMARY_LIMIT:
        return text
    log.warning("card summary over %d characters shortened", SUMMARY_LIMIT)
    return text[: SUMMARY_LIMIT - 1].rsplit(" ", 1)[0] + "…"


def _detail(finding: Finding, advice: str, evidence: list[str]) -> str:
    """What we saw (at most 5 lines), one advice paragraph, at most 2 evidence lines; no footer
    (the card's `source` names the guideline)."""
    saw = [f"- {stated.text}" for stated in finding.shown_facts][: limits()["saw_lines"]]
    lines = ["**What we saw**", "", *saw, "", advice]
    if evidence:
        lines += ["", *(f"_Evidence:_ {item}" for item in evidence)]
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


def _delete(order: DraftOrder) -> dict[str, Any]:
    return {
        "type": "delete",
        "description": f"Remove the draft order for {order.display}",
        "resourceId": order.reference,
    }


def _create(orderable: Orderable, patient_id: str | None) -> dict[str, Any]:
    return {
        "type": "create",
        "description": f"Draft order for {orderable.display}",
        "resource": draft_resource(orderable, patient_id),
    }


def _suggestion(label: str, actions: list[dict[str, Any]], card_id: str) -> dict[str, Any]:
    suggestion: dict[str, Any] = {
        "label": label,
        "uuid": str(uuid.uuid5(CARD_NAMESPACE, f"{card_id}|{label}")),
    }
    if actions:
        suggestion["actions"] = actions
    return suggestion


def _option_suggestions(
    options: CardOptions, card_id: str, patient_id: str | None
) -> list[dict[str, Any]]:
    """One suggestion per option offered: a replace deletes every draft of the replaced regimen."""
    deletes = [_delete(o) for o in options.deletes]
    if not options.create:
        # Poor performance status: no drug orders; removing the draft is still one click.
        if deletes:
            return [_suggestion(f"Remove the {options.replaced} draft", deletes, card_id)]
        return []
    return [
        _suggestion(
            options.suggestion_label(option),
            deletes + [_create(o, patient_id) for o in option.creates],
            card_id,
        )
        for option in options.offered
    ]


def _spec_suggestion(
    spec: SuggestionSpec,
    finding: Finding,
    knowledge: Knowledge,
    values: dict[str, Any],
    card_id: str,
    patient_id: str | None,
) -> dict[str, Any] | None:
    if spec.unless and finding.facts[spec.unless].value is True:
        return None
    actions: list[dict[str, Any]] = []
    if spec.delete_draft and finding.order is not None:
        actions.append(_delete(finding.order))
    if spec.orderable:
        actions.append(_create(knowledge.orderables[spec.orderable], patient_id))
    suggestion = _suggestion(_render(spec.label, values), actions, card_id)
    if spec.is_recommended:
        suggestion["isRecommended"] = True
    return suggestion


def _links(
    rule_links: tuple[tuple[str, str], ...], timeline_url: str | None, shown: set[str]
) -> list[dict[str, Any]]:
    """At most `links` links per card, each link once per response."""
    links = [{"label": label, "url": url, "type": "absolute"} for label, url in rule_links]
    if timeline_url:
        # The history the card rests on, at a glance: the SMART app the EHR launches in context.
        # It comes first, so the first patient-view card of a response carries it.
        links.insert(0, {"label": "CNS history timeline", "url": timeline_url, "type": "smart"})
    fresh = [link for link in links if link["url"] not in shown][: limits()["links"]]
    shown.update(link["url"] for link in fresh)
    return fresh


def render_card(
    finding: Finding,
    knowledge: Knowledge,
    state: PatientState,
    hook_instance: str,
    patient_id: str | None,
    timeline_url: str | None = None,
    *,
    claimed: set[str] | None = None,
    create: bool = True,
    shown_links: set[str] | None = None,
) -> dict[str, Any]:
    """One card. `claimed`: regimens an earlier card of the request offers (never offered twice);
    `create`: False with poor performance status (options in words, no orders)."""
    rule, variant = finding.rule, finding.variant
    options = (
        card_options(
            variant.options,
            knowledge,
            state,
            claimed=set() if claimed is None else claimed,
            create=create,
        )
        if variant.options
        else None
    )
    values = _template_values(finding, state, options)
    card_id = card_uuid(hook_instance, rule.id, finding.order.reference if finding.order else None)
    # An evidence line can be conditional on the options offered: an empty one is left out.
    evidence = [line for item in variant.evidence if (line := _render(item, values))]
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
    suggestions = _option_suggestions(options, card_id, patient_id) if options else []
    suggestions += [
        s
        for spec in variant.suggestions
        if (s := _spec_suggestion(spec, finding, knowledge, values, card_id, patient_id))
    ]
    if suggestions:
        card["suggestions"] = suggestions
        card["selectionBehavior"] = variant.selection_behavior
    if variant.override_reasons:
        card["overrideReasons"] = [
            {"code": r.code, "system": knowledge.override_reason_system, "display": r.display}
            for r in variant.override_reasons
        ]
    links = _links(rule.links, timeline_url, set() if shown_links is None else shown_links)
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
    """Cards in order of urgency; a card whose template fails is left out and logged, never half-shown.

    The cards of one request are rendered together: no option twice, no link twice, and no drug
    orders with poor performance status."""
    urgency = {"critical": 0, "warning": 1, "info": 2}
    policy = knowledge.policy
    create = policy is None or not poor_performance_status(policy, state)
    # Equally urgent cards in the policy's order: the one that speaks first claims its options.
    rank = {r: i for i, r in enumerate(policy.patient_view_order)} if policy else {}
    claimed: set[str] = set()
    shown_links: set[str] = set()
    cards = []
    ordered = sorted(
        findings, key=lambda f: (urgency[f.variant.indicator], rank.get(f.rule.id, len(rank)))
    )
    for finding in ordered:
        try:
            cards.append(
                render_card(
                    finding,
                    knowledge,
                    state,
                    hook_instance,
                    patient_id,
                    timeline_url,
                    claimed=claimed,
                    create=create,
                    shown_links=shown_links,
                )
            )
        except TemplateError:
            log.exception(
                "rule %s variant %s: card template failed", finding.rule.id, finding.variant.id
            )
    return cards
