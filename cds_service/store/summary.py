"""What clinicians did with our cards, per rule and per service, over a time range."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection, func, select
from sqlalchemy.sql import ColumnElement

from cds_service.store.tables import audit, audit_card, feedback

# Marks feedback whose card uuid the audit never recorded (a card from before auditing began,
# another service's, or a client's mistake or forgery): stored, counted apart as unmatched, and
# left out of every rate, so that no one can move a rule's override rate with made-up cards.
UNKNOWN_RULE = "unknown"


@dataclass(frozen=True)
class ReasonCount:
    """How often one override reason (a Coding, or none) was given."""

    system: str | None
    code: str | None
    display: str | None
    count: int

    @property
    def label(self) -> str:
        if self.code is None:
            return "(no coded reason)"
        name = f"{self.display} [{self.code}]" if self.display else self.code
        return f"{name} ({self.system})" if self.system else name


@dataclass(frozen=True)
class Tally:
    """Cards shown and the outcomes reported for one rule (name, version) or one service (name)."""

    name: str
    version: str | None
    shown: int = 0
    accepted: int = 0
    overridden: int = 0
    reasons: tuple[ReasonCount, ...] = ()

    @property
    def acceptance_rate(self) -> float | None:
        """accepted / (accepted + overridden): ignored cards send no feedback, so can't count."""
        answered = self.accepted + self.overridden
        return self.accepted / answered if answered else None


@dataclass(frozen=True)
class Summary:
    since: datetime | None
    until: datetime | None
    rules: tuple[Tally, ...] = field(default=())
    services: tuple[Tally, ...] = field(default=())
    # Feedback in the period for cards the audit never recorded.
    unmatched: int = 0


@dataclass
class _Counts:
    shown: int = 0
    accepted: int = 0
    overridden: int = 0
    reasons: dict[tuple[str | None, str | None], list] = field(default_factory=dict)

    def add_outcome(
        self, outcome: str, system: str | None, code: str | None, display: str | None, count: int
    ) -> None:
        if outcome == "accepted":
            self.accepted += count
            return
        self.overridden += count
        entry = self.reasons.setdefault((system, code), [display, 0])
        entry[0] = entry[0] or display
        entry[1] += count

    def tally(self, name: str, version: str | None) -> Tally:
        reasons = sorted(
            (
                ReasonCount(system, code, display, count)
                for (system, code), (display, count) in self.reasons.items()
            ),
            key=lambda r: (-r.count, r.code is None, r.system or "", r.code or ""),
        )
        return Tally(name, version, self.shown, self.accepted, self.overridden, tuple(reasons))


def summarise(connection: Connection, since: datetime | None, until: datetime | None) -> Summary:
    """since inclusive, until exclusive; cards count by when shown, feedback by outcome time."""
    by_rule: dict[tuple[str, str], _Counts] = defaultdict(_Counts)
    by_service: dict[str, _Counts] = defaultdict(_Counts)
    for rule_id, version, service_id, shown in _shown(connection, since, until):
        by_rule[(rule_id, version)].shown += shown
        by_service[service_id].shown += shown
    unmatched = 0
    for rule_id, version, service_id, outcome, system, code, display, count in _outcomes(
        connection, since, until
    ):
        if rule_id == UNKNOWN_RULE:
            unmatched += count
            continue
        by_rule[(rule_id, version)].add_outcome(outcome, system, code, display, count)
        by_service[service_id].add_outcome(outcome, system, code, display, count)
    return Summary(
        since,
        until,
        tuple(counts.tally(*key) for key, counts in sorted(by_rule.items())),
        tuple(counts.tally(service_id, None) for service_id, counts in sorted(by_service.items())),
        unmatched,
    )


def _within(column: ColumnElement, since: datetime | None, until: datetime | None) -> list:
    conditions = []
    if since is not None:
        conditions.append(column >= since)
    if until is not None:
        conditions.append(column < until)
    return conditions


def _shown(connection: Connection, since: datetime | None, until: datetime | None) -> Iterable:
    query = (
        select(audit_card.c.rule_id, audit_card.c.rule_version, audit.c.service_id, func.count())
        .join(audit, audit.c.id == audit_card.c.audit_id)
        .where(*_within(audit.c.at, since, until))
        .group_by(audit_card.c.rule_id, audit_card.c.rule_version, audit.c.service_id)
    )
    return connection.execute(query).all()


def _outcomes(connection: Connection, since: datetime | None, until: datetime | None) -> Iterable:
    # A card uuid is shown once, but DISTINCT keeps a re-audited card from doubling its feedback.
    card_rules = (
        select(audit_card.c.card_uuid, audit_card.c.rule_id, audit_card.c.rule_version)
        .distinct()
        .subquery()
    )
    # Labelled, so GROUP BY names the same expression (PostgreSQL binds each literal apart).
    rule_id = func.coalesce(card_rules.c.rule_id, UNKNOWN_RULE).label("rule_key")
    version = func.coalesce(card_rules.c.rule_version, "").label("version_key")
    query = (
        select(
            rule_id,
            version,
            feedback.c.service_id,
            feedback.c.outcome,
            feedback.c.reason_system,
            feedback.c.reason_code,
            func.max(feedback.c.reason_display),
            func.count(),
        )
        .select_from(feedback)
        .outerjoin(card_rules, card_rules.c.card_uuid == feedback.c.card_uuid)
        .where(*_within(feedback.c.outcome_at, since, until))
        .group_by(
            rule_id,
            version,
            feedback.c.service_id,
            feedback.c.outcome,
            feedback.c.reason_system,
            feedback.c.reason_code,
        )
    )
    return connection.execute(query).all()
