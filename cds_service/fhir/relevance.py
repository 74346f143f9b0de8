"""Tell which resources the derivation could use, cheaply, before it reads any.

parse_record asks this of each resource's view (fhir/view: every element the derivation reads,
and nothing else), and of the raw JSON of a malformed one (to report it only if it could have
mattered). Before any view is built it rules out, on their raw JSON, the resources that would
certainly be judged irrelevant on their views too (out_of_sight): most of a heavy record. Most of a real record (vitals, labs, unrelated problems and drugs) means nothing to the
rules. A resource is left out only when it carries codes, none of its codes is in any value set
the service knows, no text in it could match any of their text patterns, it is not void, and
nothing kept refers to it. Everything else is kept: the test is deliberately wider than the
derivation's own, so the derivation sees every resource it would have used.

Why it is wider, point by point:
- codes are compared without their system and case-insensitively, against every value set;
- text counts as matching when every word of a pattern occurs anywhere in the resource (the
  derivation wants the words together, un-negated, in one field);
- uncoded resources, void ones (their "not used" note belongs in the state), Observations with a
  `focus` (tied to a lesion by reference) and anything a kept resource refers to (a metastasis's
  primary, say) are always kept.

Cost: each resource is dumped to compact JSON once (its references are read from the same
bytes). One regex scan over all of them joined (the value sets' codes as a trie) finds a code in
a value set; codes it cannot read (escaped, beyond ASCII, numbers) send the resource to the exact
code test. Text is first screened on fewer words (digits dropped, one word per pattern), once per
distinct text; the screen may pass a resource that the exact word test then drops, never the
other way round.
"""

from __future__ import annotations

import json
import re
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from itertools import accumulate
from typing import TypeVar

import orjson

from cds_service.fhir.models import MODEL_CLASSES
from cds_service.fhir.references import identity
from cds_service.fhir.view import concept_elements
from cds_service.state.resources import is_void
from cds_service.state.terminology import valuesets

S = TypeVar("S")  # whatever tells where a resource came from

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
# The screen's words: the same, less their digits, so that numbers (ids, dates, OIDs: a third
# of a resource's words) are no words at all.
_DIGITS = b"0123456789"
# The letters of the JSON escapes \b \f \n \r \t (the screen sends \u to the exact test).
_ESCAPE_LETTERS = (b"b", b"f", b"n", b"r", b"t")
# The only characters beyond ASCII whose lower case holds an ASCII letter or digit (U+0130 and
# the Kelvin sign, UTF-8): with one of them the bytes hide a word from the screen.
_HIDDEN_LETTERS = (b"\xc4\xb0", b"\xe2\x84\xaa")
_SPACE = rb"[ \t\n\r\x0b\x0c]*"  # what bytes.strip() strips
# A code the code screen does not read: a number, or a string with an escape or beyond ASCII.
_ODD_CODE = rb'-?[0-9]|"[^"\\\x80-\xff]*[\\\x80-\xff]'
_ALWAYS_KEPT_TYPES = frozenset({"Patient"})


@dataclass(frozen=True, slots=True)
class _Index:
    codes: frozenset[bytes]  # lower-cased codes of every value set, systems ignored
    prefixes: tuple[bytes, ...]  # lower-cased is-a prefixes
    patterns: dict[bytes, tuple[frozenset[bytes], ...]]  # a text pattern's first word -> its words
    first_words: frozenset[bytes]
    # One word of each pattern, less its digits (also behind an escape letter): a resource whose
    # screen words hold none of these matches no pattern. None when a pattern has no letter.
    screen: frozenset[bytes] | None
    # At a "code": key, a string code in `codes` or with a prefix (group 1 unset), or an odd
    # code (group 1 set): one scan of the JSON instead of a Python step per code.
    code_screen: re.Pattern[bytes]


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
        _screen(patterns),
        _code_screen(codes, prefixes),
    )


def _screen(patterns: dict[bytes, list[frozenset[bytes]]]) -> frozenset[bytes] | None:
    chosen = set()
    for first, sets in patterns.items():
        for pattern in sets:
            # The first word stands for its pattern, unless it is too short to be rare (the
            # "t" of "T-DM1" is in every date); then the longest.
            word = first.translate(None, _DIGITS)
            if len(word) < 3:
                word = max((w.translate(None, _DIGITS) for w in pattern), key=lambda w: (len(w), w))
            chosen.add(word)
    if b"" in chosen:
        return None
    # The screen reads the JSON before its escapes are undone: "\nsrs" is the word nsrs there.
    return frozenset(chosen | {letter + word for letter in _ESCAPE_LETTERS for word in chosen})


def _code_screen(codes: set[bytes], prefixes: set[bytes]) -> re.Pattern[bytes]:
    # Only codes a plain code (ASCII, no escape) can equal: an odd code takes the exact path.
    def plain(values: set[bytes]) -> list[bytes]:
        return [v for v in values if v.isascii() and b'"' not in v and b"\\" not in v]

    exact = _trie(plain(codes)) + _SPACE + b'"'
    prefixed = _trie(plain(prefixes)) + b'[^"]*"'
    plain_hit = b'"' + _SPACE + b"(?i:(?:" + exact + b")|(?:" + prefixed + b"))"
    return re.compile(b'"code":(?:' + plain_hit + b"|(" + _ODD_CODE + b"))")


def _trie(words: list[bytes]) -> bytes:
    """Regex source matching exactly the `words`, as a trie: at each byte one branch is tried
    instead of every word."""
    if not words:
        return rb"(?!)"
    root: dict[bytes, dict] = {}
    for word in words:
        node = root
        for byte in word:
            node = node.setdefault(bytes([byte]), {})
        node[b""] = {}  # a word ends here

    def emit(node: dict[bytes, dict]) -> bytes:
        branches = [re.escape(k) + emit(node[k]) for k in sorted(node) if k]
        if not branches:
            return b""
        body = branches[0] if len(branches) == 1 else b"(?:" + b"|".join(branches) + b")"
        return body if b"" not in node else b"(?:" + body + b")?"

    return emit(root)


def _coded(blob: bytes, index: _Index) -> bool | None:
    """True when a code of the resource is in a value set, False when none is, None if uncoded."""
    found = index.code_screen.search(blob)
    if found is None:  # no code in a value set, none the screen cannot read
        return None if _CODE.search(blob) is None else False
    if found.group(1) is None:
        return True
    codes = _codes(blob)  # an odd code comes first: the exact way
    return _in_valuesets(codes, index) if codes else None


def _codes(blob: bytes) -> list[bytes]:
    """Each code in the resource, stripped and lower-cased (ASCII codes take the fast path)."""
    codes = []
    for quoted, number in _CODE.findall(blob):
        raw = quoted or number
        if raw.isascii() and b"\\" not in raw:
            codes.append(raw.strip().lower())
        else:
            codes.append(_unescape(raw).strip().lower().encode())
    return codes


def _unescape(raw: bytes) -> str:
    if b"\\" in raw:
        try:
            return str(json.loads(b'"' + raw + b'"'))
        except ValueError:  # cut at an escaped quote: no value set code has one
            pass
    return raw.decode("utf-8", "replace")


def _in_valuesets(codes: list[bytes], index: _Index) -> bool:
    return not index.codes.isdisjoint(codes) or any(
        code.startswith(index.prefixes) for code in codes
    )


def _words(blob: bytes) -> list[bytes]:
    """Every word of the JSON text (keys too: harmless, they only widen the test)."""
    if blob.isascii():
        return blob.translate(_TO_WORDS).split()
    # Beyond ASCII, lower-casing is Unicode's (the Kelvin sign lowers to "k"), as the matcher's.
    return [w.encode() for w in _WORD.findall(blob.decode("utf-8", "replace").lower())]


def _text_matches(blob: bytes, index: _Index) -> bool:
    if _screened_out(blob, index):
        return False  # the common case, decided on fewer words
    if _GLUING_ESCAPE.search(blob):
        blob = _ESCAPE.sub(b" ", blob)  # "a\nb" is the words a and b, not a and nb
    return _patterns_match(_words(blob), index)


def _screened_out(blob: bytes, index: _Index, memo: dict[bytes, bool] | None = None) -> bool:
    """True when the words of `blob` lack a word of every pattern (never wrongly True); `memo`
    keeps the answer for each text as the screen reads it, for the next resource alike."""
    if index.screen is None or b"\\u" in blob:
        return False  # \u escapes (control characters) are rare: the exact test reads them
    if not blob.isascii() and any(letter in blob for letter in _HIDDEN_LETTERS):
        return False
    return _words_screened_out(blob, index.screen, memo)


def _words_screened_out(
    blob: bytes, screen: frozenset[bytes], memo: dict[bytes, bool] | None
) -> bool:
    """_screened_out of a blob with no \\u escape and no hidden letter."""
    # Read as is, "\nsrs" holds the word nsrs: the screen holds that form too (see _screen).
    # Bytes beyond ASCII lower to no letter here, as in the exact test.
    text = blob.translate(_TO_WORDS, _DIGITS)
    if memo is None:
        return screen.isdisjoint(text.split())
    out = memo.get(text)
    if out is None:
        out = memo[text] = screen.isdisjoint(text.split())
    return out


def _patterns_match(words: list[bytes], index: _Index) -> bool:
    if index.first_words.isdisjoint(words):
        return False
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
    return _judge_all([resource])[0][0]


def out_of_sight(resources: list[object]) -> set[int]:
    """Positions of the resources whose views need not be built: certainly irrelevant judged on
    their whole JSON, and certainly irrelevant judged on their views too.

    The view holds part of the JSON, so no code or word of it that is not in the JSON: judged
    irrelevant on the JSON, the view is too, unless it has no code left (uncoded: kept). So only
    a resource with a code in an element its view keeps is ruled out here. A malformed one would
    not have been reported either (is_relevant of its JSON is False). parse_record still builds
    the view of one that a kept resource refers to, or that shares a kept one's identity."""
    return {
        i
        for i, (keep, _) in enumerate(_judge_all(resources))
        if not keep and _keeps_a_code(resources[i])  # type: ignore[arg-type]  # dicts, if not kept
    }


def _keeps_a_code(resource: dict) -> bool:
    """True when a CodeableConcept element of the resource's view has a coding with a code."""
    if resource["resourceType"] not in MODEL_CLASSES:
        return False  # never read: no view to spare
    for name in concept_elements(resource["resourceType"]):
        value = resource.get(name)
        for concept in value if isinstance(value, list) else (value,):
            codings = concept.get("coding") if isinstance(concept, dict) else None
            for coding in codings if isinstance(codings, list) else ():
                if isinstance(coding, dict) and isinstance(coding.get("code"), str):
                    return True
    return False


def _decided_by_kind(resource: object) -> bool | None:
    """is_relevant's answer when the resource's kind alone decides it, else None (its JSON
    decides)."""
    if not isinstance(resource, dict):
        return True  # reported as skipped by parse_record
    resource_type = resource.get("resourceType")
    if resource_type in _ALWAYS_KEPT_TYPES or not isinstance(resource_type, str):
        return True
    if resource_type not in MODEL_CLASSES:
        return False  # parse_record does not read this type at all
    if resource_type == "Observation" and resource.get("focus"):
        return True
    return None


def _judge_all(resources: list[object]) -> list[tuple[bool, bytes | None]]:
    """is_relevant of each resource, and its JSON when read.

    The code screen runs once over the JSON of all the resources joined (JSON never holds a raw
    newline, so no match spans two), and the text screen once per distinct text (see
    _text_candidates): only the resources a screen finds something in take the exact test of
    their own, and each gets the answer it gets alone."""
    index = _index()
    decided: list[tuple[bool, bytes | None]] = []
    pending: list[int] = []  # positions of the resources whose JSON decides
    for i, resource in enumerate(resources):
        by_kind = _decided_by_kind(resource)
        decided.append((True if by_kind is None else by_kind, None))
        if by_kind is None:
            pending.append(i)
    read = [_blob(resources[i]) for i in pending]  # type: ignore[arg-type]  # dicts, by kind
    blobs = [blob for blob in read if blob is not None]
    # Unreadable JSON (too deep, not JSON data): malformed; kept, the derivation must judge it.
    pending = [i for i, blob in zip(pending, read, strict=True) if blob is not None]
    joined = b"\n".join(blobs)
    # A code in a value set, or one the screen cannot read: the exact code test for those.
    hits = _hit_positions(index.code_screen, blobs, joined)
    undecided: list[int] = []  # coded, with no code in a value set: text and status decide
    for at, (i, blob) in enumerate(zip(pending, blobs, strict=True)):
        coded = _coded(blob, index) if at in hits else _uncoded_or_false(blob)
        # Uncoded (free text: the derivation must judge it) or in a value set: kept.
        decided[i] = (True, blob)
        if coded is False:
            undecided.append(at)
    plain = b"\\u" not in joined and joined.isascii()  # no blob needs _screened_out's checks
    texts = _text_candidates([blobs[at] for at in undecided], index, plain)
    for n, at in enumerate(undecided):
        blob = blobs[at]
        matches = n in texts and _text_matches(blob, index)
        decided[pending[at]] = (matches or _void(resources[pending[at]]), blob)
    return decided


def _uncoded_or_false(blob: bytes) -> bool | None:
    """_coded for a resource the code screen found nothing in."""
    return None if _CODE.search(blob) is None else False


def _hit_positions(pattern: re.Pattern[bytes], blobs: list[bytes], joined: bytes) -> set[int]:
    """Positions in `blobs` (compact JSON) of those in which `pattern` is found, by one scan of
    `joined` (them all, joined by newlines)."""
    if not blobs:
        return set()
    starts = list(accumulate((len(b) + 1 for b in blobs[:-1]), initial=0))
    return {bisect_right(starts, m.start()) - 1 for m in pattern.finditer(joined)}


def _text_candidates(blobs: list[bytes], index: _Index, plain: bool) -> set[int]:
    """Positions of the blobs the exact word test must read: all but those _screened_out
    (`plain`: none has a \\u escape or a character beyond ASCII). Most of a record comes to a few
    texts once read as the screen reads it (a weight differs from the next in ids, dates and
    numbers only): each distinct text is screened once."""
    memo: dict[bytes, bool] = {}
    if not plain or index.screen is None:
        return {at for at, blob in enumerate(blobs) if not _screened_out(blob, index, memo)}
    screen = index.screen
    return {at for at, blob in enumerate(blobs) if not _words_screened_out(blob, screen, memo)}


def _void(resource: object) -> bool:
    try:
        return is_void(resource)  # type: ignore[arg-type]  # a dict: _readable read it
    except (AttributeError, TypeError):  # malformed status fields: keep, parse_record reports it
        return True


def referenced(resource: object) -> set[tuple[str, str]]:
    """(type, id) of each resource that `resource` refers to."""
    return set(_referenced(resource, None))


def _referenced(raw: object, blob: bytes | None) -> Iterator[tuple[str, str]]:
    """(type, id) of each reference in a resource: relative, absolute or versioned."""
    if blob is None and isinstance(raw, dict):
        blob = _blob(raw)
    for ref in _REFERENCE.findall(blob or b""):
        parts = ref.decode("utf-8", "replace").split("/_history/")[0].rstrip("/").split("/")
        if len(parts) >= 2:
            yield parts[-2], parts[-1]


def relevant_items(items: Iterable[tuple[S, object]]) -> list[tuple[S, object]]:
    """The (source, resource) pairs to read, in their order: the relevant ones, every copy of a
    relevant (type, id), and what they refer to, transitively."""
    listed = list(items)
    judged = _judge_all([raw for _, raw in listed])
    ids = [identity(raw) for _, raw in listed]
    kept_ids = {key for key, (keep, _) in zip(ids, judged, strict=True) if keep} - {None}
    frontier = [(raw, blob) for (_, raw), (keep, blob) in zip(listed, judged, strict=True) if keep]
    while frontier:
        wanted = {ref for raw, blob in frontier for ref in _referenced(raw, blob)} - kept_ids
        if not wanted:
            break
        kept_ids |= wanted
        frontier = [
            (raw, blob)
            for (_, raw), key, (_, blob) in zip(listed, ids, judged, strict=True)
            if key in wanted
        ]
    return [
        (source, raw)
        for (source, raw), key, (keep, _) in zip(listed, ids, judged, strict=True)
        if keep or key in kept_ids
    ]
