"""Tell, on the raw JSON and before any model is built, which resources the derivation could use.

Building a fhir.resources model costs about half a millisecond per resource, and most of a real
record (vitals, labs, unrelated problems and drugs) means nothing to the rules. A resource is left
out only when it carries codes, none of its codes is in any value set the service knows, no text
in it could match any of their text patterns, it is not void, and nothing kept refers to it.
Everything else is kept: the test is deliberately wider than the derivation's own, so the
derivation sees every resource it would have used.

Why it is wider, point by point:
- codes are compared without their system and case-insensitively, against every value set;
- text counts as matching when every word of a pattern occurs anywhere in the resource (the
  derivation wants the words together, un-negated, in one field);
- uncoded resources, void ones (their "not used" note belongs in the state), Observations with a
  `focus` (tied to a lesion by reference) and anything a kept resource refers to (a metastasis's
  primary, say) are always kept.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache

import orjson

from cds_service.fhir.models import MODEL_CLASSES
from cds_service.fhir.references import identity
from cds_service.state.resources import is_void
from cds_service.state.terminology import valuesets

# The resource is read as its compact JSON bytes: C-speed, and no key or value escapes the look.
_CODE = re.compile(rb'"code":(?:"([^"]*)"|(-?[0-9][0-9.eE+-]*))')
_REFERENCE = re.compile(rb'"reference":"([^"]*)"')
_ESCAPE = re.compile(rb"\\(?:u[0-9a-fA-F]{4}|.)")
# Escapes whose second character is a letter (\" and \\ turn into spaces like any punctuation).
_GLUING_ESCAPE = re.compile(rb"\\[nrtbfu]")
_WORD = re.compile(r"[a-z0-9]+")
# ASCII text to words as the derivation's matcher sees them: lower-cased [a-z0-9] runs.
_TO_WORDS = bytes(
    c + 32 if 65 <= c <= 90 else c if 48 <= c <= 57 or 97 <= c <= 122 else 32 for c in range(256)
)
_ALWAYS_KEPT_TYPES = frozenset({"Patient"})


@dataclass(frozen=True, slots=True)
class _Index:
    codes: frozenset[bytes]  # lower-cased codes of every value set, systems ignored
    prefixes: tuple[bytes, ...]  # lower-cased is-a prefixes
    patterns: dict[bytes, tuple[frozenset[bytes], ...]]  # a text pattern's first word -> its words
    first_words: frozenset[bytes]


@cache
def _index() -> _Index:
    codes: set[bytes] = set()
    prefixes: set[bytes] = set()
    patterns: dict[bytes, list[frozenset[bytes]]] = {}
    for vs in valuesets().values():
        codes.update(code.strip().lower().encode() for _, code in vs.codes)
        prefixes.update(prefix.strip().lower().encode() for _, prefix in vs.prefixes)
        for text in vs.texts:
            words = [w.encode() for w in _WORD.findall(text.lower())]
            if words:
                patterns.setdefault(words[0], []).append(frozenset(words))
    return _Index(
        frozenset(codes),
        tuple(sorted(prefixes)),
        {first: tuple(sets) for first, sets in patterns.items()},
        frozenset(patterns),
    )


def _codes(blob: bytes) -> Iterator[bytes]:
    """Each code in the resource, stripped and lower-cased (ASCII codes take the fast path)."""
    for quoted, number in _CODE.findall(blob):
        raw = quoted or number
        if raw.isascii() and b"\\" not in raw:
            yield raw.strip().lower()
        else:
            yield _unescape(raw).strip().lower().encode()


def _unescape(raw: bytes) -> str:
    if b"\\" in raw:
        try:
            return str(json.loads(b'"' + raw + b'"'))
        except ValueError:  # cut at an escaped quote: no value set code has one
            pass
    return raw.decode("utf-8", "replace")


def _words(blob: bytes) -> list[bytes]:
    """Every word of the JSON text (keys too: harmless, they only widen the test)."""
    if _GLUING_ESCAPE.search(blob):
        blob = _ESCAPE.sub(b" ", blob)  # "a\nb" is the words a and b, not a and nb
    if blob.isascii():
        return blob.translate(_TO_WORDS).split()
    # Beyond ASCII, lower-casing is Unicode's (the Kelvin sign lowers to "k"), as the matcher's.
    return [w.encode() for w in _WORD.findall(blob.decode("utf-8", "replace").lower())]


def _text_matches(blob: bytes, index: _Index) -> bool:
    words = _words(blob)
    if index.first_words.isdisjoint(words):
        return False  # the common case, decided at C speed
    present = set(words)
    return any(
        pattern <= present
        for first in index.first_words & present
        for pattern in index.patterns[first]
    )


def _blob(resource: dict) -> bytes | None:
    try:
        return orjson.dumps(resource)
    except (TypeError, orjson.JSONEncodeError):  # too deep, or not JSON data: let the model judge
        return None


def is_relevant(resource: object) -> bool:
    """False only for a resource that is certainly of no use to the derivation (see module doc)."""
    if not isinstance(resource, dict):
        return True  # reported as skipped by parse_record
    resource_type = resource.get("resourceType")
    if resource_type in _ALWAYS_KEPT_TYPES or not isinstance(resource_type, str):
        return True
    if resource_type not in MODEL_CLASSES:
        return False  # parse_record does not read this type at all
    if resource_type == "Observation" and resource.get("focus"):
        return True
    blob = _blob(resource)
    codes = list(_codes(blob)) if blob is not None else []
    if blob is None or not codes:
        return True  # uncoded or unreadable: free text or malformed; the derivation must judge it
    index = _index()
    if any(code in index.codes or code.startswith(index.prefixes) for code in codes):
        return True
    if _text_matches(blob, index):
        return True
    try:
        return is_void(resource)
    except (AttributeError, TypeError):  # malformed status fields: keep, parse_record reports it
        return True


def _referenced(raw: object) -> Iterator[tuple[str, str]]:
    """(type, id) of each reference in a resource: relative, absolute or versioned."""
    blob = _blob(raw) if isinstance(raw, dict) else None
    for ref in _REFERENCE.findall(blob or b""):
        parts = ref.decode("utf-8", "replace").split("/_history/")[0].rstrip("/").split("/")
        if len(parts) >= 2:
            yield parts[-2], parts[-1]


def relevant_items(items: Iterable[tuple[str, object]]) -> list[tuple[str, object]]:
    """The (source, resource) pairs to parse, in their order: the relevant ones, every copy of a
    relevant (type, id), and what they refer to, transitively."""
    listed = list(items)
    keep = [is_relevant(raw) for _, raw in listed]
    kept_ids = {identity(raw) for (_, raw), k in zip(listed, keep, strict=True) if k} - {None}
    frontier = [raw for (_, raw), k in zip(listed, keep, strict=True) if k]
    while frontier:
        wanted = {ref for raw in frontier for ref in _referenced(raw)} - kept_ids
        if not wanted:
            break
        kept_ids |= wanted
        frontier = [raw for _, raw in listed if identity(raw) in wanted]
    return [
        (source, raw)
        for (source, raw), k in zip(listed, keep, strict=True)
        if k or identity(raw) in kept_ids
    ]
