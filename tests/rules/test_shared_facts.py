"""One evaluation computes each fact once for all its rules: sharing must never change an answer."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from cds_service.rules.evaluator import _evaluate_rule, evaluate, examined_orders
from cds_service.rules.facts import REGISTRY, FactContext
from cds_service.state.model import DraftOrder, PatientState
from tests.rules.rendering import KNOWLEDGE
from tests.state.support import state_of

HOOKS = sorted((Path(__file__).resolve().parents[2] / "hooks").glob("*.json"))


def _request_state(path: Path) -> tuple[PatientState, str]:
    """The state a hook request's prefetch gives (as of the fixtures' date), and its hook."""
    request = json.loads(path.read_text(encoding="utf-8"))
    entries = []
    for value in (request.get("prefetch") or {}).values():
        if isinstance(value, dict) and value.get("resourceType") == "Bundle":
            entries += value.get("entry", [])
        elif isinstance(value, dict) and "resourceType" in value:
            entries.append({"resource": value})
    return state_of({"entry": entries}, request["context"]), request["hook"]


class _ReadParams(Mapping[str, Any]):
    """Rule parameters that remember which ones were read."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self.values = values
        self.read: set[str] = set()

    def __getitem__(self, key: str) -> Any:
        self.read.add(key)
        return self.values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.values)

    def __len__(self) -> int:
        return len(self.values)


class _ReadOrder:
    """A draft order that remembers whether it was looked at."""

    def __init__(self, order: DraftOrder) -> None:
        self._order = order
        self.read = False

    def __getattr__(self, name: str) -> Any:
        self.read = True
        return getattr(self._order, name)


@pytest.mark.parametrize("path", HOOKS, ids=lambda p: p.stem)
def test_a_fact_reads_only_the_rule_parameters_and_order_it_declares(path: Path) -> None:
    # Sharing is keyed on these declarations: an undeclared read would leak one rule's
    # parameters, or one order's facts, into another rule's answer.
    state, hook = _request_state(path)
    everything = {k: v for rule in KNOWLEDGE.rules for k, v in rule.parameters.items()}
    # answered_by_open_order reads the card policy's answered_by entries, not a rule's.
    assert KNOWLEDGE.policy is not None
    for answered in KNOWLEDGE.policy.answered_by.values():
        everything |= answered
    orders = [*state.draft_orders, None]
    for name, definition in REGISTRY.items():
        for order in orders:
            params = _ReadParams(everything)
            seen = _ReadOrder(order) if order is not None else None
            definition.compute(FactContext(state, hook, params, seen))  # type: ignore[arg-type]
            assert params.read <= set(definition.params), name
            if seen is not None and not definition.needs_order:
                assert not seen.read, f"{name} reads the order without needs_order"


@pytest.mark.parametrize("path", HOOKS, ids=lambda p: p.stem)
def test_shared_facts_give_the_same_traces_as_each_rule_alone(path: Path) -> None:
    state, hook = _request_state(path)
    alone = []
    for rule in KNOWLEDGE.rules:
        if hook not in rule.hooks:
            continue
        selector = rule.for_each_order
        targets: list[DraftOrder | None] = (
            [None]
            if selector is None
            else [o for o in examined_orders(state) if selector.matches(o.agents, o.procedure)]
        )
        alone += [_evaluate_rule(rule, state, hook, order)[1] for order in targets]
    together = evaluate(KNOWLEDGE, state, hook).traces
    # Suppression rewrites a fired trace; compare what each rule saw and how it ended.
    assert [(t.rule_id, t.order, t.checks) for t in together] == [
        (t.rule_id, t.order, t.checks) for t in alone
    ]
    assert [t.outcome for t in together if t.outcome != "suppressed"] == [
        a.outcome for a, t in zip(alone, together, strict=True) if t.outcome != "suppressed"
    ]
