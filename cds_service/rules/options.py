"""A card's treatment options, computed once: the card's text and its suggestions both render from them.

Never an option the patient progressed on or stopped for toxicity, never one already running or
drafted, never one an earlier card of the same request already offers; a replace deletes every
draft of the regimen it replaces; nothing creates an agent already active or drafted (the card
says "keep trastuzumab" instead); with poor performance status, options are words only."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from cds_service.rules.facts import regimen_dates, when
from cds_service.rules.model import Knowledge, OptionsSpec, Orderable, RegimenOption
from cds_service.rules.wording import course_stop, regimen_name
from cds_service.state.model import UNKNOWN, DraftOrder, PatientState, Regimen
from cds_service.state.terminology import INTERACTING_AGENTS


@dataclass(frozen=True)
class Option:
    regimen: RegimenOption
    creates: tuple[Orderable, ...]  # orders the suggestion creates
    keeps: str  # agents of the option already active or drafted ("trastuzumab"), or ""
    stops: str  # running anticancer agents the option does not include, or ""
    given: str  # "given ... ; why it stopped is not recorded", or ""

    @property
    def label(self) -> str:
        return self.regimen.label

    def line(self) -> str:
        """The option as one bullet of the card's text."""
        parts = [f"{self.label} ({self.regimen.note})" if self.regimen.note else self.label]
        if self.keeps:
            parts.append(f"keep {self.keeps}")
        if self.stops:
            parts.append(f"stop {self.stops}")
        if self.given:
            parts.append(self.given)
        return "; ".join(parts)


@dataclass(frozen=True)
class CardOptions:
    action: Literal["start", "replace"]
    offered: tuple[Option, ...]
    not_offered: tuple[str, ...]  # "trastuzumab deruxtecan (stopped for toxicity: ...)"
    deletes: tuple[DraftOrder, ...]  # every draft of the regimen a replace removes
    replaced: str  # the drafted regimen by display name ("lapatinib + capecitabine")
    create: bool  # False with poor performance status: words only, no orders

    def labels(self) -> list[str]:
        return [o.label for o in self.offered]

    def text(self) -> str:
        """The options as Markdown: what the card lists is exactly what it suggests."""
        blocks = []
        if self.offered and not self.create:
            blocks.append("After the supportive-care discussion, if systemic therapy is wanted:")
        if self.offered:
            blocks.append("\n".join(f"- {o.line()}" for o in self.offered))
        if self.not_offered:
            blocks.append(f"Not offered: {'; '.join(self.not_offered)}.")
        return "\n\n".join(blocks)

    def suggestion_label(self, option: Option) -> str:
        if self.action == "replace" and self.replaced:
            label = f"Replace {self.replaced} with {option.label}"
        else:
            label = f"Start {option.label}"
        if option.keeps:
            label += f" (keep {option.keeps})"
        return label


def _anticancer(agents: Iterable[str]) -> frozenset[str]:
    return frozenset(a for a in agents if a not in INTERACTING_AGENTS)


def drafted_regimen(state: PatientState) -> tuple[DraftOrder, ...]:
    """Every draft order of an anticancer drug: the regimen being ordered, selected or not."""
    return tuple(o for o in state.draft_orders if _anticancer(o.agents))


def _progressed(regimen: Regimen) -> bool:
    return regimen.progression is not None or regimen.stop_reason == "progression"


def _why_not(option: RegimenOption, state: PatientState) -> str | None:
    """Why an option is not offered to this patient, in words; None when it may be."""
    defining = option.defining_agents
    for regimen in state.regimens:
        if regimen.agents & defining and _progressed(regimen):
            event = regimen.progression
            day = when(event.when) if event is not None else when(regimen.end)
            relation = regimen.progression_relation or "on"
            return f"{option.label} (progressed {relation} it, {day})"
    toxic = [c for c in state.courses if c.agent in defining and c.stop_reason == "toxicity"]
    if toxic:
        return f"{option.label} ({course_stop(toxic)})"
    return None


def _given(option: RegimenOption, state: PatientState) -> str:
    """A regimen given before and stopped for an unrecorded reason is named as given, with dates."""
    given = [
        r
        for r in state.regimens
        if r.agents & option.defining_agents and not r.active and r.stop_reason is UNKNOWN
    ]
    if not given:
        return ""
    return f"given before ({regimen_dates(given[-1])}); why it stopped is not recorded"


def card_options(
    spec: OptionsSpec,
    knowledge: Knowledge,
    state: PatientState,
    *,
    claimed: set[str],
    create: bool,
) -> CardOptions:
    """The options a card offers; adds them to `claimed` so no later card of the request repeats them."""
    drafts = drafted_regimen(state) if spec.action == "replace" else ()
    drafted_agents = frozenset(a for o in drafts for a in o.agents)
    active = _anticancer(c.agent for c in state.courses if c.active)
    kept_drafts = frozenset(
        a for o in state.draft_orders if o not in drafts for a in _anticancer(o.agents)
    )
    offered, not_offered = [], []
    for regimen_id in spec.regimens:
        option = knowledge.regimens[regimen_id]
        if regimen_id in claimed:
            continue  # an earlier card of this request lists it
        why = _why_not(option, state)
        if why is not None:
            not_offered.append(why)
            continue
        if option.defining_agents & (active | kept_drafts | drafted_agents):
            continue  # already running or being ordered: not an option to add
        present = active | kept_drafts
        orderables = tuple(knowledge.orderables[o] for o in option.orderables)
        creates = tuple(o for o in orderables if o.agent not in present)
        keeps = regimen_name(option.agents & present)
        stops = regimen_name(active - option.agents)
        offered.append(Option(option, creates, keeps, stops, _given(option, state)))
        claimed.add(regimen_id)
    return CardOptions(
        spec.action,
        tuple(offered),
        tuple(not_offered),
        drafts,
        regimen_name(drafted_agents) if drafts else "",
        create,
    )
