"""Load the knowledge base and check every reference in it, so a broken rule fails at start-up."""

from __future__ import annotations

import json
import re
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment
from jsonschema import Draft202012Validator

from cds_service.errors import ConfigError
from cds_service.rules.facts import REGISTRY
from cds_service.rules.model import (
    Citation,
    Criterion,
    Knowledge,
    Orderable,
    OrderSelector,
    OverrideReason,
    RegimenOption,
    Rule,
    SuggestionSpec,
    Variant,
)
from cds_service.state.terminology import agents_of

# Paths from this file, not importlib.resources: an editable install's namespace path breaks the latter.
PACKAGE_DIR = Path(__file__).resolve().parent.parent
KNOWLEDGE_DIR = PACKAGE_DIR / "knowledge"
OPERATORS = ("is", "is_not", "in", "at_least", "at_most", "more_than", "less_than")
TEMPLATE_FACT = re.compile(r"\bfacts\.([a-z_0-9]+)")
TEMPLATE_PARAM = re.compile(r"\bparams\.([a-z_0-9]+)")

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
    return Variant(
        id=raw["id"],
        when=tuple(_criterion(c) for c in raw.get("when", [])),
        indicator=raw["indicator"],
        summary=raw["summary"].strip(),
        detail=raw["detail"].strip(),
        suggestions=tuple(
            SuggestionSpec(
                label=s["label"],
                regimen=s.get("regimen"),
                orderable=s.get("orderable"),
                delete_draft=s.get("delete_draft", False),
                omit_if_progressed_on=s.get("omit_if_progressed_on", True),
                is_recommended=s.get("is_recommended", False),
            )
            for s in raw.get("suggestions", [])
        ),
        selection_behavior=raw.get("selection_behavior", "at-most-one"),
        override_reasons=tuple(
            OverrideReason(o["code"], o["display"]) for o in raw.get("override_reasons", [])
        ),
        evidence=tuple(raw.get("evidence", [])),
        template_facts=tuple(
            sorted({name for text in texts for name in TEMPLATE_FACT.findall(text)})
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
        suppresses=tuple(raw.get("suppresses", ())),
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
        for spec in variant.suggestions:
            if spec.regimen and spec.regimen not in regimens:
                raise ConfigError(
                    f"{where}, variant {variant.id}: unknown regimen {spec.regimen!r}"
                )
            if spec.orderable and spec.orderable not in knowledge_orderables:
                raise ConfigError(
                    f"{where}, variant {variant.id}: unknown orderable {spec.orderable!r}"
                )
            if spec.delete_draft and rule.for_each_order is None:
                raise ConfigError(
                    f"{where}: delete_draft needs for_each_order (which draft to delete)"
                )
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
        )
    rules = []
    for path in sorted((directory / "rules").glob("*.toml")):
        raw = _read_toml(path)
        _check_schema(path, raw, "rule.schema.json")
        rule = _rule(raw)
        _check_rule(rule, orderables, regimens)
        rules.append(rule)
    if not rules:
        raise ConfigError(f"no rules found in {directory / 'rules'}")
    ids = [r.id for r in rules]
    duplicates = {i for i in ids if ids.count(i) > 1}
    if duplicates:
        raise ConfigError(f"duplicate rule id(s): {', '.join(sorted(duplicates))}")
    for rule in rules:
        for target in rule.suppresses:
            if target not in ids:
                raise ConfigError(f"rule {rule.id}: suppresses unknown rule {target!r}")
    return Knowledge(
        version=settings["version"],
        rules=tuple(rules),
        orderables=orderables,
        regimens=regimens,
        override_reason_system=settings["override_reason_system"],
        rule_topic_system=settings["rule_topic_system"],
    )
