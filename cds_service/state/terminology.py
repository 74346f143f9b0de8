"""Value sets loaded once from knowledge/valuesets; recognition of codes and text against them."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

VALUESET_DIR = Path(__file__).resolve().parent.parent / "knowledge" / "valuesets"
TEXT_PATTERN_URL = "http://her2-brain-cds.example.org/fhir/StructureDefinition/text-pattern"

# Agents whose products contain trastuzumab (and pertuzumab) but must never count as them.
COMPOUND_AGENTS = {
    "t-dm1": {"trastuzumab"},
    "t-dxd": {"trastuzumab"},
    "phesgo": {"trastuzumab", "pertuzumab"},
}
AGENT_PREFIX = "agent-"
# Agents recognised only for interaction checks: never part of a line of anticancer therapy.
INTERACTING_AGENTS = frozenset({"phenytoin", "carbamazepine", "gemfibrozil"})

# A mention is negated when one of these closes in within a few words before it.
_NEGATION = re.compile(
    r"\b(no|not|without|negative for|free of|resolved|denies)\b(\W+\w+){0,3}\W*$"
)


@dataclass(frozen=True, slots=True)
class ValueSet:
    """The parts of a FHIR ValueSet the service matches on."""

    id: str
    url: str
    codes: frozenset[tuple[str, str]]  # (system, code)
    prefixes: tuple[tuple[str, str], ...]  # (system, code prefix) from is-a filters
    texts: tuple[str, ...]

    def has_code(self, system: str | None, code: str | None) -> bool:
        if not system or not code:
            return False
        if (system, code) in self.codes:
            return True
        return any(system == s and code.startswith(p) for s, p in self.prefixes)

    def has_text(self, text: str | None) -> bool:
        if not text or not self.texts:
            return False
        return mentions_any(text, self.texts)


def _load(path: Path) -> ValueSet:
    body = json.loads(path.read_text(encoding="utf-8"))
    codes: set[tuple[str, str]] = set()
    prefixes: list[tuple[str, str]] = []
    for include in body.get("compose", {}).get("include", []):
        system = include["system"]
        codes.update((system, c["code"]) for c in include.get("concept", []))
        prefixes.extend(
            (system, f["value"]) for f in include.get("filter", []) if f.get("op") == "is-a"
        )
    texts = tuple(
        e["valueString"].lower()
        for e in body.get("extension", [])
        if e.get("url") == TEXT_PATTERN_URL
    )
    return ValueSet(body["id"], body["url"], frozenset(codes), tuple(prefixes), texts)


@cache
def valuesets() -> Mapping[str, ValueSet]:
    """Every value set by id, read once per process."""
    return {vs.id: vs for vs in map(_load, sorted(VALUESET_DIR.glob("*.json")))}


def valueset(vs_id: str) -> ValueSet:
    return valuesets()[vs_id]


def agent_ids() -> tuple[str, ...]:
    return tuple(k[len(AGENT_PREFIX) :] for k in valuesets() if k.startswith(AGENT_PREFIX))


# --- reading CodeableConcepts (dicts or R4B models) -------------------------------------------


def as_dict(value: Any) -> Any:
    """An R4B model as plain JSON; dicts and lists pass through."""
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json", exclude_none=True)
    return value


def codings(concept: Any) -> list[tuple[str | None, str | None, str | None]]:
    """(system, code, display) of each coding of a CodeableConcept (or a single Coding)."""
    concept = as_dict(concept)
    if not isinstance(concept, dict):
        return []
    items = concept.get("coding", [concept] if "code" in concept else [])
    return [
        (c.get("system"), c.get("code"), c.get("display")) for c in items if isinstance(c, dict)
    ]


def text_of(concept: Any) -> str:
    """All human-readable text of a concept: its text and coding displays."""
    concept = as_dict(concept)
    if isinstance(concept, str):
        return concept
    if not isinstance(concept, dict):
        return ""
    parts = [concept.get("text") or "", concept.get("display") or ""]
    parts += [d or "" for _, _, d in codings(concept)]
    return " | ".join(p for p in parts if p)


def mentions(text: str, term: str) -> bool:
    """True when `term` appears in `text` as whole words and is not negated just before."""
    return mentions_any(text, (term,))


def mentions_any(text: str, terms: tuple[str, ...]) -> bool:
    """True when any of `terms` appears in `text` as whole words and is not negated just before."""
    lowered = text.lower()
    for match in _terms_pattern(terms).finditer(lowered):
        if not _NEGATION.search(lowered[max(0, match.start() - 40) : match.start()]):
            return True
    return False


@cache
def _terms_pattern(terms: tuple[str, ...]) -> re.Pattern[str]:
    # One pass for a whole value set instead of one per term; longer terms first, so that
    # "brain metastasis" wins over "metastasis" where both start at the same place.
    ordered = sorted({t.lower() for t in terms}, key=len, reverse=True)
    return re.compile(rf"(?<![a-z0-9])(?:{'|'.join(map(re.escape, ordered))})(?![a-z0-9])")


def has_code(concept: Any, vs_id: str) -> bool:
    vs = valueset(vs_id)
    return any(vs.has_code(system, code) for system, code, _ in codings(concept))


def matches(concept: Any, vs_id: str, text: bool = True) -> bool:
    """By code in any listed system; by text only when the concept carries no code from the set."""
    if has_code(concept, vs_id):
        return True
    return text and valueset(vs_id).has_text(text_of(concept))


def any_matches(concepts: Iterable[Any], vs_id: str, text: bool = True) -> bool:
    return any(matches(c, vs_id, text) for c in concepts)


def agents_of(concept: Any, extra_text: str = "") -> frozenset[str]:
    """Canonical agent ids a medication concept names: by code, else (no known code) by text."""
    found = {a for a in agent_ids() if has_code(concept, AGENT_PREFIX + a)}
    if not found:
        text = " | ".join(t for t in (text_of(concept), extra_text) if t)
        found = {a for a in agent_ids() if valueset(AGENT_PREFIX + a).has_text(text)}
    for compound, parts in COMPOUND_AGENTS.items():
        if compound in found:
            found -= parts
    return frozenset(found)


def coded_keys(concepts: Iterable[Any]) -> tuple[str, ...]:
    """`system|code` and lower-cased text of body sites, for matching sites across resources."""
    keys: list[str] = []
    for concept in concepts:
        keys += [f"{s}|{c}" for s, c, _ in codings(concept) if s and c]
        text = (as_dict(concept) or {}).get("text") if isinstance(as_dict(concept), dict) else None
        if text:
            keys.append(text.strip().lower())
    return tuple(dict.fromkeys(keys))
