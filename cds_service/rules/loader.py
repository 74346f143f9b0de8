"""Load the knowledge base and check every reference in it, so a broken rule fails at start-up."""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment
from jsonschema import Draft202012Validator

from cds_service.errors import ConfigError
from cds_service.rules.facts import ANSWER_EVENTS, REGISTRY
from cds_service.rules.model import (
    CardPolicy,
    Citation,
    Criterion,
    Knowledge,
    OptionsSpec,
    Orderable,
    OrderSelector,
    OverrideReason,
    RegimenOption,
    Rule,
    SuggestionSpec,
    Variant,
)
from cds_service.rules.wording import limits, policy
from cds_service.state.active_orders import ORDER_KINDS
from cds_service.state.terminology import agents_of

# Paths from this file, not importlib.resources: an editable install's namespace path breaks the latter.
PACKAGE_DIR = Path(__file__).resolve().parent.parent
KNOWLEDGE_DIR = PACKAGE_DIR / "knowledge"
OPERATORS = ("is", "is_not", "in", "at_least", "at_most", "more_than", "less_than")
TEMPLATE_FACT = re.compile(r"\bfacts\.([a-z_0-9]+)")
TEMPLATE_PARAM = re.compile(r"\bparams\.([a-z_0-9]+)")
# "rec. 7.1", "rec. 6.1 and 6.3", "rec. 8.2 qualifying statement": each number must be in the table.
CITED_RECOMMENDATION = re.compile(r"\brec\.\s+(\d+\.\d+)((?:(?:,|\s+and)\s+\d+\.\d+)*)")
RECOMMENDATION_NUMBER = re.compile(r"\d+\.\d+")

# Markdown, not HTML: no autoescaping; sandboxed so a knowledge file cannot reach Python internals.
TEMPLATES = SandboxedEnvironment(
    undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False
)


@cache
def _schema(name: str) -> Draft202012Validator:
    path = PACKAGE_DIR / "schemas" / name
    return Draft202012Validator(json.loads(path.read_text()))


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path.name}: {exc}") from exc


def _check_schema(path: Path, data: dict[str, Any], schema: str) -> None:
    errors = sorted(_schema(schema).iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        where = "/".join(str(p) for p in errors[0].absolute_path) or "(top level)"
        raise ConfigError(f"{path.name}: {where}: {errors[0].message}")


def _criterion(raw: dict[str, Any]) -> Criterion:
    op = next(key for key in OPERATORS if key in raw)
    value = raw[op]
    return Criterion(
        fact=raw["fact"],
        op=op,  # type: ignore[arg-type]
        value=tuple(value) if isinstance(value, list) else value,
        if_unknown=raw.get("if_unknown", "no-match"),
        show=raw.get("show", True),
    )


def _variant(raw: dict[str, Any]) -> Variant:
    texts = [
        raw["summary"],
        raw["detail"],
        *raw.get("evidence", []),
        *(s["label"] for s in raw.get("suggestions", [])),
    ]
    options = raw.get("options")
    return Variant(
        id=raw["id"],
        when=tuple(_criterion(c) for c in raw.get("when", [])),
        indicator=raw["indicator"],
        summary=raw["summary"].strip(),
        detail=raw["detail"].strip(),
        suggestions=tuple(
            SuggestionSpec(
                label=s["label"],
                orderable=s.get("orderable"),
                delete_draft=s.get("delete_draft", False),
                is_recommended=s.get("is_recommended", False),
                unless=s.get("unless"),
            )
            for s in raw.get("suggestions", [])
        ),
        selection_behavior=raw.get("selection_behavior", "at-most-one"),
        override_reasons=tuple(
            OverrideReason(o["code"], o["display"]) for o in raw.get("override_reasons", [])
        ),
        evidence=tuple(raw.get("evidence", [])),
        template_facts=tuple(
            sorted(
                {name for text in texts for name in TEMPLATE_FACT.findall(text)}
                | {s["unless"] for s in raw.get("suggestions", []) if s.get("unless")}
            )
        ),
        options=(
            OptionsSpec(tuple(options["regimens"]), options.get("action", "start"))
            if options
            else None
        ),
    )


def _rule(raw: dict[str, Any]) -> Rule:
    selector = raw.get("for_each_order")
    return Rule(
        id=raw["id"],
        version=raw["version"],
        title=raw["title"],
        recommendation=" ".join(raw["recommendation"].split()),
        citation=Citation(**raw["citation"]),
        hooks=frozenset(raw["hooks"]),
        criteria=tuple(_criterion(c) for c in raw["criteria"]),
        exclusions=tuple(_criterion(c) for c in raw.get("exclusions", [])),
        variants=tuple(_variant(v) for v in raw["variants"]),
        parameters=dict(raw.get("parameters", {})),
        for_each_order=(
            OrderSelector(
                frozenset(selector.get("agents", ())), frozenset(selector.get("procedures", ()))
            )
            if selector
            else None
        ),
        links=tuple((link["label"], link["url"]) for link in raw.get("links", [])),
    )


def _check_rule(
    rule: Rule, knowledge_orderables: dict[str, Orderable], regimens: dict[str, RegimenOption]
) -> None:
    """Every fact, parameter, orderable and template reference must resolve."""
    where = f"rule {rule.id}"
    criteria = [*rule.criteria, *rule.exclusions, *(c for v in rule.variants for c in v.when)]
    used = {c.fact for c in criteria}
    for variant in rule.variants:
        for template in (
            variant.summary,
            variant.detail,
            *variant.evidence,
            *(s.label for s in variant.suggestions),
        ):
            try:
                TEMPLATES.parse(template)
            except TemplateSyntaxError as exc:
                raise ConfigError(f"{where}, variant {variant.id}: template error: {exc}") from exc
            used |= set(TEMPLATE_FACT.findall(template))
            for param in TEMPLATE_PARAM.findall(template):
                if param not in rule.parameters:
                    raise ConfigError(f"{where}, variant {variant.id}: unknown parameter {param!r}")
        if len(variant.evidence) > limits()["evidence_lines"]:
            raise ConfigError(f"{where}, variant {variant.id}: more evidence lines than allowed")
        if variant.options:
            unknown = [r for r in variant.options.regimens if r not in regimens]
            if unknown:
                raise ConfigError(f"{where}, variant {variant.id}: unknown regimen {unknown[0]!r}")
        for spec in variant.suggestions:
            if spec.unless:
                used.add(spec.unless)
            if spec.orderable and spec.orderable not in knowledge_orderables:
                raise ConfigError(
                    f"{where}, variant {variant.id}: unknown orderable {spec.orderable!r}"
                )
            if spec.delete_draft and rule.for_each_order is None:
                raise ConfigError(
                    f"{where}: delete_draft needs for_each_order (which draft to delete)"
                )
    if len(rule.links) > limits()["links"]:
        raise ConfigError(f"{where}: more links than a card may show")
    for name in sorted(used):
        definition = REGISTRY.get(name)
        if definition is None:
            raise ConfigError(f"{where}: unknown fact {name!r}")
        if definition.needs_order and rule.for_each_order is None:
            raise ConfigError(f"{where}: fact {name!r} needs for_each_order")
        missing = [p for p in definition.params if p not in rule.parameters]
        if missing:
            raise ConfigError(f"{where}: fact {name!r} needs parameter(s) {', '.join(missing)}")
    for criterion in criteria:
        values = criterion.value if isinstance(criterion.value, tuple) else (criterion.value,)
        for value in values:
            if (
                isinstance(value, str)
                and value.startswith("$")
                and value[1:] not in rule.parameters
            ):
                raise ConfigError(
                    f"{where}: criterion {criterion.describe()}: unknown parameter {value}"
                )


def cited_recommendations(text: str) -> list[str]:
    """Every ASCO 2022 recommendation number a text cites as "rec. X.Y" (or "rec. X.Y and Z.W")."""
    return [
        number
        for match in CITED_RECOMMENDATION.finditer(text)
        for number in RECOMMENDATION_NUMBER.findall(match.group(0))
    ]


def asco_recommendations(directory: Path | None = None) -> dict[str, str]:
    """The ASCO 2022 recommendation table: number -> what it says."""
    path = (directory or KNOWLEDGE_DIR) / "asco-2022-recommendations.toml"
    if not path.exists():
        path = KNOWLEDGE_DIR / "asco-2022-recommendations.toml"
    table = _read_toml(path)["recommendations"]
    return {number: entry["says"] for number, entry in table.items()}


def _check_citations(rule: Rule, table: dict[str, str]) -> None:
    texts = [rule.citation.section, rule.recommendation]
    for variant in rule.variants:
        texts += [variant.summary, variant.detail, *variant.evidence]
    for text in texts:
        for number in cited_recommendations(text):
            if number not in table:
                raise ConfigError(
                    f"rule {rule.id}: cites ASCO 2022 rec. {number}, not in the table"
                )


def _answered_by(entry: dict[str, Any]) -> dict[str, Any]:
    """One `answered_by` entry as the parameters of the fact answered_by_open_order."""
    kinds = sorted(set(entry["orders"]) - ORDER_KINDS)
    if kinds:
        raise ConfigError(f"card-policy.toml: {entry['rule']}: unknown order kind(s) {kinds}")
    if entry["since"] not in ANSWER_EVENTS:
        raise ConfigError(f"card-policy.toml: {entry['rule']}: unknown event {entry['since']!r}")
    return {"answering_orders": tuple(entry["orders"]), "answered_since": entry["since"]}


def _card_policy(rule_ids: list[str]) -> tuple[CardPolicy, dict[str, tuple[str, ...]]]:
    """The coherence policy, and which rules each rule silences, from card-policy.toml."""
    raw = policy()
    silences: dict[str, list[str]] = {}
    why: dict[tuple[str, str], str] = {}
    for entry in raw["precedence"]:
        for target in entry["silences"]:
            silences.setdefault(entry["rule"], []).append(target)
            why[(entry["rule"], target)] = entry["why"]
    poor = raw["poor_performance_status"]
    pv = raw["patient_view"]
    named = (
        set(silences)
        | {t for ts in silences.values() for t in ts}
        | set(pv["order"])
        | set(pv["safety_rules"])
        | set(poor["silences"])
    )
    answered_by = {entry["rule"]: _answered_by(entry) for entry in raw.get("answered_by", [])}
    named |= set(answered_by)
    unknown = sorted(named - set(rule_ids))
    if unknown:
        raise ConfigError(f"card-policy.toml: unknown rule(s) {', '.join(unknown)}")
    result = CardPolicy(
        max_patient_view_cards=int(pv["max_cards"]),
        patient_view_order=tuple(pv["order"]),
        safety_rules=frozenset(pv["safety_rules"]),
        poor_status_params={k: poor[k] for k in ("ecog_poor_at_least", "kps_poor_below")},
        poor_status_silences=frozenset(poor["silences"]),
        poor_status_why=poor["why"],
        precedence_why=why,
        answered_by=answered_by,
    )
    return result, {rule: tuple(targets) for rule, targets in silences.items()}


def load_knowledge(directory: Path | None = None) -> Knowledge:
    """Read knowledge.toml and rules/*.toml; raise ConfigError naming the first problem."""
    directory = directory or KNOWLEDGE_DIR
    settings_path = directory / "knowledge.toml"
    settings = _read_toml(settings_path)
    _check_schema(settings_path, settings, "knowledge.schema.json")
    orderables = {
        key: Orderable(
            id=key,
            resource_type=value["resource_type"],
            system=value["system"],
            code=value["code"],
            display=value["display"],
            agent=value.get("agent"),
        )
        for key, value in settings["orderables"].items()
    }
    for orderable in orderables.values():
        # A suggestion must order exactly the drug it names: its code has to be recognised as
        # that agent by the same value sets that read the patient's record.
        coded = {"coding": [{"system": orderable.system, "code": orderable.code}]}
        if orderable.agent and orderable.agent not in agents_of(coded):
            raise ConfigError(
                f"knowledge.toml: orderable {orderable.id}: {orderable.system}|{orderable.code} "
                f"is not in the value set of agent {orderable.agent!r}"
            )
    regimens = {}
    for key, value in settings["regimens"].items():
        unknown = [o for o in value["orderables"] if o not in orderables]
        if unknown:
            raise ConfigError(
                f"knowledge.toml: regimen {key}: unknown orderable(s) {', '.join(unknown)}"
            )
        regimens[key] = RegimenOption(
            key,
            value["label"],
            frozenset(value["agents"]),
            frozenset(value["defining_agents"]),
            tuple(value["orderables"]),
            value.get("note", ""),
        )
    table = asco_recommendations(directory)
    rules = []
    for path in sorted((directory / "rules").glob("*.toml")):
        raw = _read_toml(path)
        _check_schema(path, raw, "rule.schema.json")
        rule = _rule(raw)
        _check_rule(rule, orderables, regimens)
        _check_citations(rule, table)
        rules.append(rule)
    if not rules:
        raise ConfigError(f"no rules found in {directory / 'rules'}")
    ids = [r.id for r in rules]
    duplicates = {i for i in ids if ids.count(i) > 1}
    if duplicates:
        raise ConfigError(f"duplicate rule id(s): {', '.join(sorted(duplicates))}")
    card_policy, silences = _card_policy([r.id for r in rules if r.id in ids])
    rules = [replace(r, suppresses=silences.get(r.id, ())) for r in rules]
    for regimen in regimens.values():
        for number in cited_recommendations(regimen.note):
            if number not in table:
                raise ConfigError(f"regimen {regimen.id}: cites ASCO 2022 rec. {number}")
    return Knowledge(
        version=settings["version"],
        rules=tuple(rules),
        orderables=orderables,
        regimens=regimens,
        override_reason_system=settings["override_reason_system"],
        rule_topic_system=settings["rule_topic_system"],
        policy=card_policy,
    )
