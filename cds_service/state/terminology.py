"""Value sets loaded once from knowledge/valuesets; recognition of codes and text against them."""

from __future__ import annotations

import json
import re
import tomllib
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
# They are the drugs of the tucatinib interaction classes (knowledge data, one value set each).
INTERACTING_AGENTS = frozenset(
    drug["id"]
    for drug in tomllib.loads(
        (VALUESET_DIR.parent / "tucatinib-interactions.toml").read_text(encoding="utf-8")
    )["drugs"]
)

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


@cache
def agent_ids() -> tuple[str, ...]:
    return tuple(k[len(AGENT_PREFIX) :] for k in valuesets() if k.startswith(AGENT_PREFIX))


@dataclass(frozen=True, slots=True)
class _CodeIndex:
    """Every value set's codes in one table, so a concept is looked up once, not once per set."""

    exact: Mapping[tuple[str, str], frozenset[str]]  # (system, code) -> value set ids
    prefixes: Mapping[str, tuple[tuple[str, str], ...]]  # system -> (code prefix, value set id)


@cache
def _code_index() -> _CodeIndex:
    exact: dict[tuple[str, str], set[str]] = {}
    prefixes: dict[str, list[tuple[str, str]]] = {}
    for vs in valuesets().values():
        for key in vs.codes:
            exact.setdefault(key, set()).add(vs.id)
        for system, prefix in vs.prefixes:
            prefixes.setdefault(system, []).append((prefix, vs.id))
    return _CodeIndex(
        {k: frozenset(v) for k, v in exact.items()}, {k: tuple(v) for k, v in prefixes.items()}
    )


# --- reading CodeableConcepts (dicts or R4B models) -------------------------------------------


def as_dict(value: Any) -> Any:
    """An R4B model as plain JSON; dicts and lists pass through."""
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json", exclude_none=True)
    return value


def _coding_dicts(concept: Any) -> list[dict]:
    """The Coding dicts of a CodeableConcept (or the concept itself when it is a single Coding)."""
    if type(concept) is not dict:  # plain JSON, the common case: no as_dict
        concept = as_dict(concept)
        if not isinstance(concept, dict):
            return []
    items = concept.get("coding", [concept] if "code" in concept else [])
    return [c for c in items if isinstance(c, dict)]


def codings(concept: Any) -> list[tuple[str | None, str | None, str | None]]:
    """(system, code, display) of each coding of a CodeableConcept (or a single Coding)."""
    return [(c.get("system"), c.get("code"), c.get("display")) for c in _coding_dicts(concept)]


def code_sets(concept: Any) -> frozenset[str]:
    """Ids of the value sets that hold any coding of `concept` (exact code or is-a prefix)."""
    index = _code_index()
    found: set[str] = set()
    for coding in _coding_dicts(concept):
        system, code = coding.get("system"), coding.get("code")
        if not system or not code:
            continue
        exact = index.exact.get((system, code))
        if exact:
            found |= exact
        if isinstance(code, str):  # malformed (unchecked draft order) codes match no is-a filter
            for prefix, vs_id in index.prefixes.get(system, ()):
                if vs_id not in found and code.startswith(prefix):
                    found.add(vs_id)
    return frozenset(found)


def text_of(concept: Any) -> str:
    """All human-readable text of a concept: its text and coding displays."""
    if type(concept) is not dict:  # plain JSON, the common case: no as_dict
        concept = as_dict(concept)
        if isinstance(concept, str):
            return concept
        if not isinstance(concept, dict):
            return ""
    parts = [concept.get("text") or "", concept.get("display") or ""]
    parts += [c.get("display") or "" for c in _coding_dicts(concept)]
    return " | ".join(p for p in parts if p)


def mentions(text: str, term: str) -> bool:
    """True when `term` appears in `text` as whole words and is not negated just before."""
    return mentions_any(text, (term,))


def mentions_any(text: str, terms: tuple[str, ...]) -> bool:
    """True when any of `terms` appears in `text` as whole words and is not negated just before."""
    lowered = text.lower()
    pattern, lowered_terms = _terms_pattern(terms)
    # A whole-word match is first of all a substring: most texts fail this cheap test.
    if not any(term in lowered for term in lowered_terms):
        return False
    for match in pattern.finditer(lowered):
        if not _NEGATION.search(lowered[max(0, match.start() - 40) : match.start()]):
            return True
    return False


@cache
def _terms_pattern(terms: tuple[str, ...]) -> tuple[re.Pattern[str], tuple[str, ...]]:
    # One pass for a whole value set instead of one per term; longer terms first, so that
    # "brain metastasis" wins over "metastasis" where both start at the same place.
    ordered = sorted({t.lower() for t in terms}, key=len, reverse=True)
    pattern = re.compile(rf"(?<![a-z0-9])(?:{'|'.join(map(re.escape, ordered))})(?![a-z0-9])")
    return pattern, tuple(ordered)


def has_code(concept: Any, vs_id: str) -> bool:
    return vs_id in code_sets(concept)


def matches(concept: Any, vs_id: str, text: bool = True) -> bool:
    """By code in any listed system; by text only when the concept carries no code from the set."""
    if has_code(concept, vs_id):
        return True
    return text and valueset(vs_id).has_text(text_of(concept))


def any_matches(concepts: Iterable[Any], vs_id: str, text: bool = True) -> bool:
    return any(matches(c, vs_id, text) for c in concepts)


@cache
def _agent_sets() -> tuple[tuple[str, ValueSet], ...]:
    """(agent id, its value set) of every agent, in agent_ids() order."""
    return tuple((a, valueset(AGENT_PREFIX + a)) for a in agent_ids())


@cache
def _agent_terms() -> tuple[str, ...]:
    """Every agent's text patterns, lower-cased: a text naming none names no agent."""
    return tuple({t.lower() for _, vs in _agent_sets() for t in vs.texts})


def agents_of(concept: Any, extra_text: str = "") -> frozenset[str]:
    """Canonical agent ids a medication concept names: by code, else (no known code) by text."""
    coded = code_sets(concept)
    found = {a for a, vs in _agent_sets() if vs.id in coded}
    if not found:
        text = " | ".join(t for t in (text_of(concept), extra_text) if t)
        lowered = text.lower()
        if any(term in lowered for term in _agent_terms()):
            found = {a for a, vs in _agent_sets() if vs.has_text(text)}
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


_SYSTEM_NAMES = {
    "http://hl7.org/fhir/sid/icd-10-cm": "ICD-10-CM",
    "http://snomed.info/sct": "SNOMED",
    "http://loinc.org": "LOINC",
    "http://e-imo.com/products/problem-it": "IMO",
}


def code_words(concept: Any, vs_id: str) -> str:
    """The first coding of `concept` in value set `vs_id`, as a reader names it ("ICD-10-CM
    C50.912"); "" when none is."""
    vs = valueset(vs_id)
    for system, code, _ in codings(concept):
        if vs.has_code(system, code):
            return f"{_SYSTEM_NAMES.get(system or '', system)} {code}"
    return ""
