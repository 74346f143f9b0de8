"""The knowledge base as loaded: rules, their criteria, variants and cards, and orderable regimens."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Indicator = Literal["info", "warning", "critical"]
UnknownPolicy = Literal["no-match", "match"]


@dataclass(frozen=True)
class Citation:
    label: str  # short, shown as the card's source label
    source: str  # full bibliographic reference
    year: int
    section: str
    url: str


@dataclass(frozen=True)
class Criterion:
    """`fact` compared with one operator; a value starting with `$` names a rule parameter."""

    fact: str
    op: Literal["is", "is_not", "in", "at_least", "at_most", "more_than", "less_than"]
    value: Any
    # What an UNKNOWN fact means here. Inclusion criteria default to no-match (the rule stays
    # silent rather than guess); exclusions default to no-match too (not excluded), and the
    # trace says the exclusion could not be checked.
    if_unknown: UnknownPolicy = "no-match"
    # Whether the fact's statement appears under "What we saw" in the card.
    show: bool = True

    def describe(self) -> str:
        return f"{self.fact} {self.op.replace('_', ' ')} {self.value!r}"


@dataclass(frozen=True)
class Orderable:
    """Something a suggestion can create: a coded FHIR request resource."""

    id: str
    resource_type: Literal["MedicationRequest", "ServiceRequest"]
    system: str
    code: str
    display: str
    agent: str | None = None  # for medications: the canonical agent id it must be recognised as


@dataclass(frozen=True)
class RegimenOption:
    """A treatment option a card can suggest, made of orderables."""

    id: str
    label: str
    agents: frozenset[str]
    # The agents that identify it: progression on a regimen containing any of them means the
    # option was already used and failed.
    defining_agents: frozenset[str]
    orderables: tuple[str, ...]
    note: str = ""  # shown after the option's name: where it comes from ("ASCO 2022 rec. 7.1")


@dataclass(frozen=True)
class OptionsSpec:
    """The regimens a variant may offer, in order; rules/options.py decides which it does."""

    regimens: tuple[str, ...]
    # "start": create the regimen's orders; "replace": also delete every draft of the regimen
    # being ordered.
    action: Literal["start", "replace"] = "start"


@dataclass(frozen=True)
class SuggestionSpec:
    """A suggestion other than a treatment option (those come from OptionsSpec)."""

    label: str
    orderable: str | None = None  # single Orderable id
    delete_draft: bool = False  # remove the draft order the finding is about
    is_recommended: bool = False
    # A fact whose value True makes the suggestion pointless (e.g. memantine already ordered).
    unless: str | None = None


@dataclass(frozen=True)
class OverrideReason:
    code: str
    display: str


@dataclass(frozen=True)
class Variant:
    """One way the rule speaks; the first variant whose `when` holds is used."""

    id: str
    when: tuple[Criterion, ...]
    indicator: Indicator
    summary: str  # template
    detail: str  # Markdown template: the advice, after the facts we saw
    suggestions: tuple[SuggestionSpec, ...] = ()
    selection_behavior: Literal["at-most-one", "any"] = "at-most-one"
    override_reasons: tuple[OverrideReason, ...] = ()
    # Shown as "Evidence" lines: trial or guideline statements with their sources.
    evidence: tuple[str, ...] = ()
    # Facts the templates read beyond the criteria (filled in by the loader).
    template_facts: tuple[str, ...] = ()
    options: OptionsSpec | None = None


@dataclass(frozen=True)
class OrderSelector:
    """Which draft orders a per-order rule looks at."""

    agents: frozenset[str] = frozenset()
    procedures: frozenset[str] = frozenset()

    def matches(self, agents: frozenset[str], procedure: str | None) -> bool:
        return bool(self.agents & agents) or (
            procedure is not None and procedure in self.procedures
        )


@dataclass(frozen=True)
class Rule:
    id: str
    version: str
    title: str
    recommendation: str
    citation: Citation
    hooks: frozenset[str]
    criteria: tuple[Criterion, ...]
    exclusions: tuple[Criterion, ...]
    variants: tuple[Variant, ...]
    parameters: dict[str, Any] = field(default_factory=dict)
    # Per-order rules are evaluated once for each examined draft order the selector matches.
    for_each_order: OrderSelector | None = None
    # Rules whose findings this rule's finding replaces for the same request (from the
    # precedence in card-policy.toml).
    suppresses: tuple[str, ...] = ()
    links: tuple[tuple[str, str], ...] = ()  # (label, url)


@dataclass(frozen=True)
class CardPolicy:
    """How the cards of one request make one message (card-policy.toml)."""

    max_patient_view_cards: int
    patient_view_order: tuple[str, ...]
    safety_rules: frozenset[str]
    poor_status_params: dict[str, Any]
    poor_status_silences: frozenset[str]
    poor_status_why: str
    precedence_why: dict[tuple[str, str], str]
    # Rule id -> the fact parameters of `answered_by_open_order` that silence its patient-view
    # card once an open order answers its event (`answered_by` in card-policy.toml).
    answered_by: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class Knowledge:
    version: str
    rules: tuple[Rule, ...]
    orderables: dict[str, Orderable]
    regimens: dict[str, RegimenOption]
    override_reason_system: str
    rule_topic_system: str
    policy: CardPolicy | None = None

    def rule(self, rule_id: str) -> Rule:
        return next(r for r in self.rules if r.id == rule_id)
