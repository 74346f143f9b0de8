"""How cards say things: display names, stop reasons, plurals, limits and deny-list (card-policy.toml)."""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

from cds_service.state.model import AGENT_ORDER, UNKNOWN, DrugCourse, Unknown

POLICY_PATH = Path(__file__).resolve().parent.parent / "knowledge" / "card-policy.toml"


@cache
def policy() -> dict[str, Any]:
    """card-policy.toml, read once."""
    return tomllib.loads(POLICY_PATH.read_text(encoding="utf-8"))


def agent_name(agent: str) -> str:
    """An agent as a clinician writes it ("trastuzumab deruxtecan", never the id "t-dxd")."""
    return str(policy()["display_names"].get(agent, agent))


def regimen_name(agents: Iterable[str]) -> str:
    """HER2-directed agents before chemotherapy, by display name ("lapatinib + capecitabine")."""
    ordered = sorted(set(agents), key=lambda a: (AGENT_ORDER.get(a, len(AGENT_ORDER)), a))
    return " + ".join(agent_name(a) for a in ordered)


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """ "1 course", "2 courses"."""
    return f"{count} {noun if count == 1 else (nouns or noun + 's')}"


def stop_reason(reason: str | Unknown, detail: str = "") -> str:
    """ "stopped for toxicity: grade 3 diarrhoea"; "" when the reason is not recorded."""
    if reason is UNKNOWN or not isinstance(reason, str):
        return f"stopped: {detail}" if detail else ""
    words = str(policy()["stop_reasons"].get(reason, "stopped"))
    detail = _own_words(detail, reason)
    return f"{words}: {detail}" if detail and detail.lower() not in words else words


def _own_words(detail: str, reason: str) -> str:
    """The record's stop wording inside a sentence: "Grade 3 diarrhoea (toxicity)" after "stopped
    for toxicity" reads "grade 3 diarrhoea" (the category it repeats is dropped; a leading capital
    is lowered unless the word is an abbreviation such as "ILD")."""
    text = detail.strip()
    for repeated in (f"({reason})", f"- {reason}", f": {reason}"):
        if text.lower().endswith(repeated):
            text = text[: -len(repeated)].rstrip()
    if len(text) > 1 and text[0].isupper() and not text[1].isupper():
        text = text[0].lower() + text[1:]
    return text


def course_stop(courses: Iterable[DrugCourse]) -> str:
    """The stop reason of a set of courses in words, with the record's own detail where it has it."""
    ended = [c for c in courses if not c.active and c.stop_reason is not UNKNOWN]
    for reason in ("toxicity", "progression", "other", "completed"):
        matching = [c for c in ended if c.stop_reason == reason]
        if matching:
            detail = next((c.stop_detail for c in matching if c.stop_detail), "")
            return stop_reason(reason, detail)
    detail = next((c.stop_detail for c in courses if c.stop_detail), "")
    return f"stopped: {detail}" if detail else ""


def limits() -> dict[str, int]:
    return dict(policy()["limits"])


def denied_phrases(text: str) -> list[str]:
    """The deny-listed phrases of internal wording found in `text`."""
    return [phrase for phrase in policy()["deny"]["exact"] if phrase in text]
