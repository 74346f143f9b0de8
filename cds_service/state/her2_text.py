"""HER2 results in words: an IHC score ("3+", "2+ (equivocal)"), ISH wording ("amplified", "not
amplified"), "positive"/"negative", "HER2-low", and statements naming HER2 ("HER2+ breast ca",
"HER-2/neu 3+", "ERBB2 amplified", "ER+/PR-/HER2-", "triple negative")."""

from __future__ import annotations

import re
from dataclasses import dataclass

from cds_service.state.model import HER2Result


@dataclass(frozen=True, slots=True)
class Worded:
    """A HER2 result read from words: the result, the IHC score when one was given, and the
    record's own wording of it (for the card: "HER2 IHC 3+")."""

    result: HER2Result
    score: int | None
    wording: str


# The first of these in a result's words decides it (leftmost wins; at one place, the first
# alternative listed). Negated forms come before the plain ones they contain.
_RESULT = re.compile(
    r"(?P<ultralow>ultra-?\s?low)"
    r"|(?P<low>(?<![a-z])low\b)"
    r"|(?P<not_amplified>\b(?:not|non)[- ]?amplified|\bno (?:\w+ ){0,2}amplification"
    r"|\bwithout (?:\w+ ){0,2}amplification|\bnot overexpressed|\bno overexpression)"
    r"|(?P<amplified>\bamplifi(?:ed|cation)\b|\boverexpress(?:ed|ion|ing)\b)"
    r"|(?P<score>(?<![\d.])[0-3]\s*\+)"
    r"|(?P<scored>\bscore:?\s*(?:of\s*)?[0-3](?![\d.]))"
    r"|(?P<equivocal>\bequivocal\b|\bborderline\b)"
    r"|(?P<positive>\bpos(?:itive)?\b)"
    r"|(?P<negative>\bneg(?:ative)?\b)"
    # Words that say no result was given: nothing after them is a result of this test.
    r"|(?P<none>\bpending\b|\bindeterminate\b|\binsufficient\b|\bnot (?:done|performed|tested)\b"
    r"|\bcancel+ed\b|\bsee (?:report|comment|note)\b|\bquantity not sufficient\b)"
)
_DIGIT = re.compile(r"[0-3]")
# A bare IHC score ("0", "3", "Score 2"): read only where the test is an IHC test.
_BARE_SCORE = re.compile(r"^\s*(?:ihc\s*)?(?:score\s*:?\s*)?([0-3])(?:\s*/\s*3)?\s*$")


def _score_result(score: int) -> tuple[HER2Result, str]:
    # ASCO/CAP 2023: 3+ positive; 2+ equivocal (reflex ISH); 1+ and 0 negative, 1+ "HER2-low".
    if score == 3:
        return "positive", "IHC 3+"
    if score == 2:
        return "equivocal", "IHC 2+"
    if score == 1:
        return "negative", "IHC 1+ (HER2-low)"
    return "negative", "IHC 0"


def _read(lowered: str) -> tuple[Worded, int] | None:
    """The first result in `lowered`, and where its words end."""
    found = _RESULT.search(lowered)
    if found is None or found.lastgroup == "none":
        return None
    kind = found.lastgroup
    if kind in ("score", "scored"):
        score = int(_DIGIT.findall(found.group())[-1])
        result, wording = _score_result(score)
        return Worded(result, score, wording), found.end()
    words: dict[str | None, tuple[HER2Result, str]] = {
        "ultralow": ("negative", "HER2-ultralow"),
        "low": ("negative", "HER2-low"),
        "not_amplified": ("negative", "not amplified"),
        "amplified": ("positive", "amplified"),
        "equivocal": ("equivocal", "equivocal"),
        "positive": ("positive", "positive"),
        "negative": ("negative", "negative"),
    }
    result, wording = words[kind]
    return Worded(result, None, wording), found.end()


def _resolved(lowered: str) -> tuple[Worded, int] | None:
    """The first result; an IHC 2+ followed by ISH wording in the same words takes the ISH
    result ("2+ (equivocal), FISH amplified"), as the guideline resolves an equivocal IHC."""
    first = _read(lowered)
    if first is not None and first[0].wording in ("positive", "negative", "equivocal"):
        # "Positive (IHC 3+)": the score that agrees names the result more exactly.
        score = re.search(r"(?<![\d.])([0-3])\s*\+", lowered[first[1] :])
        if score:
            by_score, wording = _score_result(int(score.group(1)))
            if by_score == first[0].result:
                first = Worded(by_score, int(score.group(1)), wording), first[1] + score.end()
    if first is None or first[0].score != 2:
        return first
    rest = lowered[first[1] :]
    ish = re.search(r"\b(?:not|non)[- ]?amplified|\bamplified\b", rest)
    if ish is None:
        return first
    positive = not ish.group().startswith(("not", "non"))
    resolved: HER2Result = "positive" if positive else "negative"
    wording = "IHC 2+, ISH amplified" if positive else "IHC 2+, ISH not amplified (HER2-low)"
    return Worded(resolved, 2, wording), first[1] + ish.end()


def result_words(text: str, *, ihc: bool = False) -> Worded | None:
    """The HER2 result a test's own value text states; None when it states none. A bare number
    is an IHC score only where the test is an IHC test (`ihc`)."""
    lowered = text.lower()
    if ihc:
        bare = _BARE_SCORE.match(lowered)
        if bare:
            result, wording = _score_result(int(bare.group(1)))
            return Worded(result, int(bare.group(1)), wording)
    found = _resolved(lowered)
    return found[0] if found else None


# HER2 named in free text, then what is said of it within the same clause.
_MARKER = re.compile(
    r"(?<![a-z0-9])(?:c-?erb-?b-?2|erbb-?2|her-?2(?:\s*[/-]?\s*neu)?)(?![a-z0-9])", re.IGNORECASE
)
# Right after the name: "HER2+", "HER2 (+)", "HER2-" ("HER2-low", "HER2-positive" are words).
_SIGN = re.compile(r"^\s*(?:\(\s*([+-])\s*\)|([+-])(?![a-z0-9]))")
# Where what is said of HER2 ends: the clause, or another receptor ("HER2 neg, ER pos").
_CLAUSE_END = re.compile(r"[;.\n]|[,/]\s*(?:er|pr|pgr|ki-?67)\b", re.IGNORECASE)
_TRIPLE_NEGATIVE = re.compile(r"\btriple[- ]?negative\b|\btnbc\b", re.IGNORECASE)
# "no HER2 testing", "HER2 not done": a marker in a negated phrase states no result.
_NEGATED = re.compile(r"\b(?:no|not|without|pending)\s+(?:\w+\s+){0,2}$", re.IGNORECASE)


def statements(text: str) -> list[Worded]:
    """Each HER2 status a free-text statement gives ("HER2+ breast ca"), with the record's own
    wording ("HER2+", "HER-2/neu 3+", "ERBB2 amplified"); [] when it names none."""
    found: list[Worded] = []
    for marker in _MARKER.finditer(text):
        if _NEGATED.search(text[max(0, marker.start() - 30) : marker.start()]):
            continue
        tail = text[marker.end() : marker.end() + 80]
        end = _CLAUSE_END.search(tail)
        tail = tail[: end.start()] if end else tail
        sign = _SIGN.match(tail)
        if sign:
            symbol = sign.group(1) or sign.group(2)
            result: HER2Result = "positive" if symbol == "+" else "negative"
            found.append(Worded(result, None, text[marker.start() : marker.end() + sign.end()]))
            continue
        read = _resolved(tail.lower())
        if read is not None:
            words, stop = read
            own = " ".join(text[marker.start() : marker.end() + stop].split())
            found.append(Worded(words.result, words.score, own))
    triple = _TRIPLE_NEGATIVE.search(text)
    if triple and not found:
        found.append(Worded("negative", None, triple.group()))
    return found
