"""Evaluate rules against the patient state: pure, with a trace of which criteria matched and why."""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from cds_service.rules.facts import REGISTRY, FactContext, Stated
from cds_service.rules.model import CardPolicy, Criterion, Knowledge, Rule, Variant
from cds_service.state.model import UNKNOWN, DraftOrder, PatientState

Result = Literal["match", "no-match", "unknown"]
Outcome = Literal["fired", "not-fired", "excluded", "suppressed"]


@dataclass(frozen=True)
class Check:
    """One criterion as evaluated: what the fact said and whether it matched."""

    role: Literal["criterion", "exclusion", "variant"]
    criterion: Criterion
    result: Result
    stated: Stated

    def describe(self) -> str:
        shown = "unknown" if self.stated.value is UNKNOWN else repr(self.stated.value)
        return f"{self.role} {self.criterion.describe()}: {self.result} (value {shown})"


@dataclass(frozen=True)
class RuleTrace:
    rule_id: str
    order: str | None  # the draft order a per-order rule looked at
    outcome: Outcome
    reason: str
    checks: tuple[Check, ...]


@dataclass(frozen=True)
class Finding:
    """A rule that fired: the variant that speaks, the facts it rests on, the order it is about."""

    rule: Rule
    variant: Variant
    order: DraftOrder | None
    facts: dict[str, Stated]
    trace: RuleTrace

    @property
    def shown_facts(self) -> list[Stated]:
        """The statements a card lists under "What we saw", in criterion order, without repeats."""
        seen: set[str] = set()
        shown: list[Stated] = []
        for check in self.trace.checks:
            name = check.criterion.fact
            if (
                check.result == "match"
                and check.criterion.show
                and name not in seen
                and check.stated.text
            ):
                seen.add(name)
                shown.append(check.stated)
        return shown


@dataclass(frozen=True)
class Evaluation:
    findings: tuple[Finding, ...]
    traces: tuple[RuleTrace, ...]


# Facts computed in one evaluation, shared by its rules: (name, order, rule parameters) -> value.
_Shared = dict[tuple[str, int, int], Stated]


class _Facts:
    """Computes each fact at most once per (rule parameters, order).

    A fact that reads no rule parameter (and no order) says the same for every rule, so its value
    is shared across the rules of one evaluation; one that does is keyed by the rule's parameters
    (and the order) as well."""

    def __init__(
        self,
        state: PatientState,
        hook: str,
        rule: Rule,
        order: DraftOrder | None,
        shared: _Shared | None = None,
    ) -> None:
        self.context = FactContext(state, hook, rule.parameters, order)
        self.cache: dict[str, Stated] = {}
        self.shared: _Shared = {} if shared is None else shared
        self._order_key = id(order) if order is not None else 0
        self._params_key = id(rule.parameters)

    def __getitem__(self, name: str) -> Stated:
        stated = self.cache.get(name)
        if stated is None:
            definition = REGISTRY[name]
            key = (
                name,
                self._order_key if definition.needs_order else 0,
                self._params_key if definition.params else 0,
            )
            stated = self.shared.get(key)
            if stated is None:
                stated = self.shared[key] = definition.compute(self.context)
            self.cache[name] = stated
        return stated


def _resolve(value: Any, params: dict[str, Any]) -> Any:
    if isinstance(value, str):
        return params[value[1:]] if value.startswith("$") else value
    if isinstance(value, tuple):
        return tuple(_resolve(v, params) for v in value)
    return value


_NUMERIC: dict[str, Callable[[float, float], bool]] = {
    "at_least": operator.ge,
    "at_most": operator.le,
    "more_than": operator.gt,
    "less_than": operator.lt,
}


def _compare(op: str, actual: Any, expected: Any) -> bool:
    if op == "is":
        return bool(actual == expected)
    if op == "is_not":
        return bool(actual != expected)
    if op == "in":
        return actual in expected
    if actual is None:
        return False
    number, limit = float(actual), float(expected)
    return _NUMERIC[op](number, limit)


def _check(
    role: Literal["criterion", "exclusion", "variant"],
    criterion: Criterion,
    facts: _Facts,
    params: dict[str, Any],
) -> Check:
    stated = facts[criterion.fact]
    if stated.value is UNKNOWN:
        result: Result = "match" if criterion.if_unknown == "match" else "unknown"
    else:
        matched = _compare(criterion.op, stated.value, _resolve(criterion.value, params))
        result = "match" if matched else "no-match"
    return Check(role, criterion, result, stated)


def _evaluate_rule(
    rule: Rule,
    state: PatientState,
    hook: str,
    order: DraftOrder | None,
    shared: _Shared | None = None,
) -> tuple[Finding | None, RuleTrace]:
    facts = _Facts(state, hook, rule, order, shared)
    checks: list[Check] = []
    order_ref = order.reference if order else None

    def trace(outcome: Outcome, reason: str) -> RuleTrace:
        return RuleTrace(rule.id, order_ref, outcome, reason, tuple(checks))

    for criterion in rule.criteria:
        check = _check("criterion", criterion, facts, rule.parameters)
        checks.append(check)
        if check.result == "unknown":
            return None, trace("not-fired", f"{criterion.fact} is unknown: the rule does not guess")
        if check.result == "no-match":
            return None, trace("not-fired", f"{criterion.describe()} does not hold")
    for criterion in rule.exclusions:
        check = _check("exclusion", criterion, facts, rule.parameters)
        checks.append(check)
        if check.result == "match":
            return None, trace("excluded", f"excluded: {criterion.describe()}")
    for variant in rule.variants:
        variant_checks = [_check("variant", c, facts, rule.parameters) for c in variant.when]
        if all(c.result == "match" for c in variant_checks):
            checks.extend(variant_checks)
            for name in variant.template_facts:
                facts[name]
            unchecked = [
                c.criterion.fact for c in checks if c.role == "exclusion" and c.result == "unknown"
            ]
            reason = f"variant {variant.id}"
            if unchecked:
                reason += f" (exclusion not checkable, unknown: {', '.join(unchecked)})"
            result = trace("fired", reason)
            return Finding(rule, variant, order, dict(facts.cache), result), result
        checks.extend(variant_checks)
    unknown = sorted(
        {c.criterion.fact for c in checks if c.role == "variant" and c.result == "unknown"}
    )
    reason = "no variant applies"
    if unknown:
        reason += f" (unknown: {', '.join(unknown)}: the rule does not guess)"
    return None, trace("not-fired", reason)


def examined_orders(state: PatientState) -> Iterable[DraftOrder]:
    """order-select looks at the selections; order-sign marks every draft order as selected."""
    return (o for o in state.draft_orders if o.selected)


def evaluate(knowledge: Knowledge, state: PatientState, hook: str) -> Evaluation:
    findings: list[Finding] = []
    traces: list[RuleTrace] = []
    shared: _Shared = {}
    for rule in knowledge.rules:
        if hook not in rule.hooks:
            continue
        if rule.for_each_order is None:
            targets: list[DraftOrder | None] = [None]
        else:
            selector = rule.for_each_order
            targets = [o for o in examined_orders(state) if selector.matches(o.agents, o.procedure)]
        for order in targets:
            finding, trace = _evaluate_rule(rule, state, hook, order, shared)
            traces.append(trace)
            if finding is not None:
                findings.append(finding)
    if knowledge.policy is not None and hook == "patient-view":
        findings = _unanswered(knowledge.policy, findings, traces, state)
    # Where two rules would say overlapping things, the more specific one speaks.
    suppressed = {target: f.rule.id for f in findings for target in f.rule.suppresses}
    kept = []
    for finding in findings:
        by = suppressed.get(finding.rule.id)
        if by is None:
            kept.append(finding)
        else:
            why = (
                knowledge.policy.precedence_why.get((by, finding.rule.id))
                if knowledge.policy
                else None
            )
            _suppress(traces, finding, f"suppressed by {by}" + (f": {why}" if why else ""))
    if knowledge.policy is not None:
        kept = _cohere(knowledge.policy, kept, traces, state, hook)
    return Evaluation(tuple(kept), tuple(traces))


def _suppress(traces: list[RuleTrace], finding: Finding, reason: str) -> None:
    """One trace per rule and order: the suppressed one replaces "fired"."""
    index = next(i for i, t in enumerate(traces) if t is finding.trace)
    traces[index] = RuleTrace(
        finding.rule.id, finding.trace.order, "suppressed", reason, finding.trace.checks
    )


def _unanswered(
    policy: CardPolicy, findings: list[Finding], traces: list[RuleTrace], state: PatientState
) -> list[Finding]:
    """A patient-view card stops once an open order answers its event (card-policy.toml
    `answered_by`); before precedence, so that a card gone silences nothing. Unknown orders keep
    the card: a reminder beside an order that may exist costs less than a missing one."""
    kept = []
    for finding in findings:
        params = policy.answered_by.get(finding.rule.id)
        answer = (
            REGISTRY["answered_by_open_order"].compute(FactContext(state, "patient-view", params))
            if params is not None
            else None
        )
        if answer is not None and answer.value is True:
            _suppress(traces, finding, f"suppressed: already answered: {answer.text}")
        else:
            kept.append(finding)
    return kept


def poor_performance_status(policy: CardPolicy, state: PatientState) -> bool:
    """ECOG 3-4 or KPS below 70 (card-policy.toml): drug options become words, not orders."""
    context = FactContext(state, "", policy.poor_status_params)
    return REGISTRY["poor_performance_status"].compute(context).value is True


def _cohere(
    policy: CardPolicy,
    findings: list[Finding],
    traces: list[RuleTrace],
    state: PatientState,
    hook: str,
) -> list[Finding]:
    """The cards of one request make one message (card-policy.toml): nothing that contradicts
    "supportive care first", and at most `max_patient_view_cards` patient-view cards unless a
    further one is a distinct safety issue."""
    kept = findings
    if poor_performance_status(policy, state):
        kept = []
        for finding in findings:
            if finding.rule.id in policy.poor_status_silences:
                _suppress(traces, finding, f"suppressed: {policy.poor_status_why}")
            else:
                kept.append(finding)
    if hook != "patient-view" or len(kept) <= policy.max_patient_view_cards:
        return kept
    order = {rule: rank for rank, rule in enumerate(policy.patient_view_order)}
    ranked = sorted(kept, key=lambda f: order.get(f.rule.id, len(order)))
    shown = ranked[: policy.max_patient_view_cards]
    for finding in ranked[policy.max_patient_view_cards :]:
        if finding.rule.id in policy.safety_rules:
            shown.append(finding)
        else:
            limit = policy.max_patient_view_cards
            _suppress(traces, finding, f"suppressed: patient-view shows at most {limit} cards")
    shown_ids = {id(f) for f in shown}
    return [f for f in kept if id(f) in shown_ids]
