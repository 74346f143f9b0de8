"""The CNS history as a standalone HTML page: an SVG timeline, each mark linked to its evidence."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from html import escape

from cds_service.fhir.record import PatientRecord
from cds_service.state import dates, imaging
from cds_service.state.model import (
    UNKNOWN,
    FhirDate,
    LocalTherapy,
    PatientState,
    ProgressionEvent,
    Regimen,
)
from cds_service.state.resources import collect, reference

WIDTH = 1100
LEFT = 170  # lane names
RIGHT = 30
AXIS_Y = 40
ROW = 26
LABEL_ROW = 20  # a 12px label with its white halo is 20px tall in Chromium
CHAR_WIDTH = 7.2  # per character at 12px, halo included: enough to keep labels apart
MAX_LABEL_ROWS = 3
LOCAL_NAMES = {"srs": "SRS", "wbrt": "WBRT", "resection": "Resection"}
LOCAL_SHAPES = {"srs": "triangle", "wbrt": "square", "resection": "diamond"}

CSS = """
body { font-family: system-ui, "Segoe UI", "DejaVu Sans", sans-serif; margin: 24px;
       color: #1f2933; max-width: 1120px; }
h1 { font-size: 20px; margin: 0 0 4px; } h2 { font-size: 16px; margin: 24px 0 8px; }
.facts { color: #52606d; margin: 0 0 12px; font-size: 14px; }
svg { border: 1px solid #d9e2ec; background: #fff; }
svg text { font-size: 12px; fill: #1f2933; paint-order: stroke; stroke: #fff; stroke-width: 3px; }
svg .lane { font-weight: 600; fill: #334e68; } svg .none { fill: #7b8794; font-style: italic; }
svg .tick { fill: #7b8794; font-size: 11px; } svg .grid { stroke: #e4e7eb; }
svg .regimen rect.bar { fill: #2f6fb0; } svg .regimen.active rect.bar { fill: #3f8fd8; }
svg .regimen text.inside { fill: #fff; font-weight: 600; stroke: none; }
svg .cap { fill: #c62828; }
svg .local path, svg .local rect { fill: #6a3d9a; } svg .mri circle { fill: #1b9e77; }
svg .intracranial path { fill: #c62828; } svg line.intracranial { stroke: #c62828; }
svg .extracranial path, svg .unspecified path { fill: #e07b00; }
svg line.extracranial, svg line.unspecified { stroke: #e07b00; }
svg line.progression { stroke-dasharray: 4 3; }
svg .today line { stroke: #f0a202; stroke-width: 2; }
svg .today text { fill: #9a6700; font-weight: 600; }
svg .span { fill: currentColor; opacity: .25; }
svg a:hover text, svg a:focus text { text-decoration: underline; }
ol.evidence { font-size: 14px; padding-left: 24px; } ol.evidence li { margin: 2px 0; }
ol.evidence li:target { background: #fff3c4; }
code { font-size: 13px; } .notes { font-size: 13px; color: #52606d; }
"""


@dataclass(frozen=True)
class Mark:
    """One element of the timeline: what it shows, when, and the references that produced it."""

    kind: str  # "regimen", "srs", "wbrt", "resection", "mri", "progression"
    label: str  # for a progression: its site
    start: FhirDate | None
    end: FhirDate | None
    detail: str
    evidence: tuple[str, ...]
    ended_by_progression: bool = False
    active: bool = False
    anchor: str = ""  # id of its entry in the evidence list; set by marks()


@dataclass(frozen=True)
class BrainMri:
    """One brain MRI exam; the study and its report are one exam, so they share a mark."""

    when: FhirDate | None
    references: tuple[str, ...]


def brain_mris(record: PatientRecord) -> tuple[BrainMri, ...]:
    """Every brain MRI in the record, one per day (the state keeps only the last one)."""
    res = collect(record)
    by_day: dict[FhirDate | None, list[str]] = {}
    for resource in res.of(*imaging.IMAGING_TYPES):
        if imaging.is_brain_mri(resource):
            by_day.setdefault(dates.clinical_date(resource), []).append(reference(resource))
    found = [BrainMri(when, tuple(refs)) for when, refs in by_day.items()]
    return tuple(sorted(found, key=lambda m: dates.earliest_key(m.when)))


def _regimen_mark(regimen: Regimen) -> Mark:
    if regimen.progression is not None:
        ended = f"ended by progression ({regimen.progression.when or 'date unknown'})"
    elif regimen.active:
        ended = "ongoing"
    elif regimen.stop_reason is UNKNOWN:
        ended = f"stopped {regimen.end or '(date unknown)'}, reason not recorded"
    else:
        ended = f"stopped {regimen.end or '(date unknown)'}: {regimen.stop_reason}"
    until = regimen.end or ("now" if regimen.active else "end unknown")
    detail = f"{regimen.label}: {regimen.start or 'start unknown'} to {until}; {ended}"
    progression = regimen.progression
    evidence = regimen.evidence + (progression.evidence if progression else ())
    return Mark(
        "regimen",
        regimen.label,
        regimen.start,
        regimen.end,
        detail,
        evidence,
        progression is not None,
        regimen.active,
    )


def _local_mark(therapy: LocalTherapy) -> Mark:
    name = LOCAL_NAMES[therapy.kind]
    where = f" to {', '.join(therapy.targets)}" if therapy.targets else ""
    fractions = (
        f", {therapy.fractions} fraction{'s' if therapy.fractions != 1 else ''}"
        if therapy.fractions
        else ""
    )
    start = therapy.start or "date unknown"
    when = start if therapy.end in (None, therapy.start) else f"{start} to {therapy.end}"
    return Mark(
        therapy.kind,
        name,
        therapy.start,
        therapy.end,
        f"{name}{where}{fractions}: {when}",
        therapy.evidence,
    )


def _progression_mark(event: ProgressionEvent) -> Mark:
    detail = f"{event.site} progression {event.when or '(date unknown)'}: {event.description}"
    return Mark("progression", event.site, event.when, event.when, detail, event.evidence)


def _mri_marks(state: PatientState, mris: Sequence[BrainMri] | None) -> list[Mark]:
    if mris is None:  # only the state's last MRI is known
        last = state.last_brain_mri
        if not isinstance(last.value, FhirDate):  # unknown, or none recorded
            return []
        mris = [BrainMri(last.value, last.evidence)]
    return [
        Mark("mri", "MRI", m.when, m.when, f"brain MRI {m.when or '(date unknown)'}", m.references)
        for m in mris
    ]


def marks(state: PatientState, mris: Sequence[BrainMri] | None = None) -> list[Mark]:
    """Everything the timeline shows, from the state (and the record's MRIs when given)."""
    found = (
        [_regimen_mark(r) for r in state.regimens]
        + [_local_mark(t) for t in state.local_therapies]
        + _mri_marks(state, mris)
        + [_progression_mark(e) for e in state.progression_events]
    )
    return [replace(m, anchor=f"{m.kind}-{n}") for n, m in enumerate(found, start=1)]


class Scale:
    """Dates to x positions between LEFT and WIDTH - RIGHT."""

    def __init__(self, first: date, last: date) -> None:
        span = max((last - first).days, 60)
        self.first = first - timedelta(days=round(span * 0.04) + 10)
        self.last = last + timedelta(days=round(span * 0.06) + 20)

    def x(self, day: date) -> float:
        width = WIDTH - LEFT - RIGHT
        return round(LEFT + (day - self.first).days / (self.last - self.first).days * width, 1)


def scale_for(placed: Iterable[Mark], today: date) -> Scale:
    """The scale that fits every placed mark and today."""
    days = [d for m in placed for fd in (m.start, m.end) if fd for d in (fd.earliest, fd.latest)]
    return Scale(min(days, default=today), max([*days, today]))


class Rows:
    """Greedy packing of horizontal extents into rows, so that nothing drawn overlaps."""

    def __init__(self, limit: int | None = None) -> None:
        self.ends: list[float] = []
        self.limit = limit

    def place(self, left: float, right: float) -> int | None:
        for row, end in enumerate(self.ends):
            if left > end + 6:
                self.ends[row] = right
                return row
        if self.limit is not None and len(self.ends) >= self.limit:
            return None
        self.ends.append(right)
        return len(self.ends) - 1


def _tag(name: str, content: str = "", **attrs: object) -> str:
    """An SVG element; attribute names use _ for - (text_anchor -> text-anchor), values escaped."""
    rendered = "".join(
        f' {key.rstrip("_").replace("_", "-")}="{escape(str(value))}"'
        for key, value in attrs.items()
    )
    return f"<{name}{rendered}>{content}</{name}>" if content else f"<{name}{rendered}/>"


def _text_width(text: str) -> float:
    return len(text) * CHAR_WIDTH


def _link(mark: Mark, body: str, css: str) -> str:
    refs = ", ".join(mark.evidence) or "no reference"
    tooltip = _tag("title", escape(f"{mark.detail}\nEvidence: {refs}"))
    return _tag("a", tooltip + body, href=f"#{mark.anchor}", class_=css)


def _bar_extent(mark: Mark, scale: Scale, today: date) -> tuple[float, float]:
    left = scale.x(mark.start.earliest) if mark.start else scale.x(today)
    end = today if mark.active or mark.end is None else mark.end.latest
    return left, max(scale.x(end), left + 4)


def _regimen_lane(
    regimens: list[Mark], scale: Scale, top: float, today: date
) -> tuple[list[str], float]:
    """One bar per regimen; overlapping regimens (or their labels) go on separate rows."""
    rows, parts = Rows(), []
    for mark in sorted(regimens, key=lambda m: dates.earliest_key(m.start)):
        left, right = _bar_extent(mark, scale, today)
        label_x, anchor, css, extent = _regimen_label(mark.label, left, right)
        row = rows.place(*extent) or 0  # unlimited rows: always placed
        y = top + row * ROW
        body = _tag(
            "rect", class_="bar", x=left, y=y, width=round(right - left, 1), height=16, rx=3
        )
        if mark.ended_by_progression:  # a red end cap: stopped because the disease progressed
            body += _tag("rect", class_="cap", x=right - 4, y=y - 2, width=4, height=20)
        label = escape(mark.label)
        body += _tag("text", label, class_=css, x=label_x, y=y + 12, text_anchor=anchor)
        parts.append(_link(mark, body, "regimen active" if mark.active else "regimen"))
    return parts, top + max(len(rows.ends), 1) * ROW


def _regimen_label(
    label: str, left: float, right: float
) -> tuple[float, str, str, tuple[float, float]]:
    """Where a bar's label goes: inside, else after it, else before it; with its extent."""
    width = _text_width(label)
    if width + 10 <= right - left:
        return left + 6, "start", "inside", (left, right)
    if right + 6 + width <= WIDTH - 4:
        return right + 6, "start", "outside", (left, right + 6 + width)
    return left - 6, "end", "outside", (left - 6 - width, right)


def _shape(mark: Mark, x: float, y: float) -> str:
    if mark.kind == "srs":
        return _tag("path", d=f"M{x} {y - 7} L{x + 7} {y + 6} L{x - 7} {y + 6} Z")
    if mark.kind == "wbrt":
        return _tag("rect", x=x - 6, y=y - 6, width=12, height=12)
    if mark.kind == "resection":
        return _tag("path", d=f"M{x} {y - 8} L{x + 8} {y} L{x} {y + 8} L{x - 8} {y} Z")
    if mark.kind == "progression":
        return _tag("path", d=f"M{x} {y + 7} L{x + 7} {y - 6} L{x - 7} {y - 6} Z")
    return _tag("circle", cx=x, cy=y, r=6)


def _marker(mark: Mark, scale: Scale, y: float) -> tuple[float, str]:
    assert mark.start is not None
    x = scale.x(mark.start.earliest)
    end = max(mark.start.latest, mark.end.latest if mark.end else mark.start.latest)
    body = ""
    if end > mark.start.earliest:
        # A partial date ("2024-06") or a course over days: show the span it could cover.
        body = _tag("rect", class_="span", x=x, y=y - 3, width=max(scale.x(end) - x, 2), height=6)
    return x, body + _shape(mark, x, y)


def _marker_lane(
    items: list[Mark], scale: Scale, top: float, label_of: Callable[[Mark], str], empty: str
) -> tuple[list[str], float]:
    """Markers on one line; their labels stacked below so that none overlap."""
    rows, parts = Rows(limit=MAX_LABEL_ROWS), []
    y = top + 8
    if not items:
        parts.append(_tag("text", escape(empty), class_="none", x=LEFT, y=y + 4))
    for mark in sorted(items, key=lambda m: dates.earliest_key(m.start)):
        x, body = _marker(mark, scale, y)
        label = label_of(mark)
        width = _text_width(label)
        row = rows.place(x - width / 2, x + width / 2)
        if row is not None:  # out of label rows: the tooltip and the evidence list still say it
            body += _tag(
                "text", escape(label), x=x, y=y + 22 + row * LABEL_ROW, text_anchor="middle"
            )
        kind = "local " + mark.kind if mark.kind in LOCAL_SHAPES else f"{mark.kind} {mark.label}"
        parts.append(_link(mark, body, kind))
    return parts, top + 22 + max(len(rows.ends), 1 if items else 0) * LABEL_ROW


def _axis(scale: Scale, bottom: float) -> list[str]:
    months = (1, 7) if (scale.last - scale.first).days < 6 * 365 else (1,)
    parts = []
    for year in range(scale.first.year, scale.last.year + 1):
        for month in months:
            tick = date(year, month, 1)
            if scale.first <= tick <= scale.last:
                x = scale.x(tick)
                label = str(year) if month == 1 else f"{year}-{month:02d}"
                parts.append(_tag("line", class_="grid", x1=x, y1=AXIS_Y - 6, x2=x, y2=bottom))
                parts.append(
                    _tag("text", label, class_="tick", x=x, y=AXIS_Y - 12, text_anchor="middle")
                )
    return parts


def _lane_name(name: str, y: float) -> str:
    return _tag("text", escape(name), class_="lane", x=12, y=y)


def _none_text(known: bool | object, what: str) -> str:
    return "none recorded" if known is True else f"{what} unknown: could not be obtained"


def render_svg(state: PatientState, placed: list[Mark]) -> str:
    """The timeline: therapy bars, then local therapy, MRI and progression lanes, and today."""
    scale = scale_for(placed, state.today)

    def of_kind(*kinds: str) -> list[Mark]:
        return [m for m in placed if m.kind in kinds]

    top: float = AXIS_Y + 14
    names = [_lane_name("HER2 therapy", top + 12)]
    if not of_kind("regimen"):
        names.append(
            _tag(
                "text",
                escape(_none_text(state.therapy_history_known.value, "therapy")),
                class_="none",
                x=LEFT,
                y=top + 12,
            )
        )
    marks_svg, top = _regimen_lane(of_kind("regimen"), scale, top, state.today)
    lanes = [
        (
            "Local CNS therapy",
            of_kind(*LOCAL_SHAPES),
            lambda m: f"{m.label} {m.start}",
            _none_text(state.local_therapy_known.value, "local therapy"),
        ),
        (
            "Brain MRI",
            of_kind("mri"),
            lambda m: str(m.start),
            _none_text(state.last_brain_mri.known, "imaging"),
        ),
        ("Progression", of_kind("progression"), lambda m: f"{m.start} {m.label}", "none recorded"),
    ]
    for name, items, label_of, empty in lanes:
        top += 10
        names.append(_lane_name(name, top + 12))
        parts, top = _marker_lane(items, scale, top, label_of, empty)
        marks_svg += parts
    bottom = top + 6
    # Progression lines run through every lane: what ended at a progression is plain to see.
    lines = [
        _tag(
            "line",
            class_=f"progression {m.label}",
            x1=(x := scale.x(m.start.earliest)),
            y1=AXIS_Y,
            x2=x,
            y2=bottom,
        )
        for m in of_kind("progression")
        if m.start
    ]
    today_x = scale.x(state.today)
    today = _tag(
        "g",
        _tag("line", x1=today_x, y1=AXIS_Y - 4, x2=today_x, y2=bottom)
        + _tag(
            "text",
            f"today {state.today.isoformat()}",
            x=today_x - 4,
            y=bottom + 16,
            text_anchor="end",
        ),
        class_="today",
    )
    height = bottom + 26
    content = "".join(_axis(scale, bottom) + lines + [today] + names + marks_svg)
    return _tag(
        "svg",
        content,
        xmlns="http://www.w3.org/2000/svg",
        width=WIDTH,
        height=height,
        viewBox=f"0 0 {WIDTH} {height}",
        role="img",
        aria_label="CNS history timeline",
    )


def _evidence_list(placed: list[Mark]) -> str:
    items = []
    for mark in sorted(placed, key=lambda m: dates.earliest_key(m.start)):
        refs = (
            ", ".join(f"<code>{escape(r)}</code>" for r in mark.evidence) or "no reference recorded"
        )
        items.append(f'<li id="{escape(mark.anchor)}">{escape(mark.detail)} &mdash; {refs}</li>')
    return f'<ol class="evidence">{"".join(items)}</ol>'


def _facts(state: PatientState) -> str:
    her2 = state.her2.status
    onset = state.brain_metastases_onset
    facts = [
        f"HER2: {her2.value}" + (" (discordant results)" if state.her2.discordant else ""),
        f"brain metastases since {onset.value}"
        if onset.known and onset.value
        else "brain metastases onset unknown",
    ]
    return f'<p class="facts">{escape("; ".join(facts))}</p>'


def _notes(state: PatientState, undated: list[Mark]) -> str:
    notes = list(state.notes)
    notes += [f"Not placed (no date): {m.detail} ({', '.join(m.evidence)})" for m in undated]
    if not notes:
        return ""
    return (
        '<h2>Caveats</h2><ul class="notes">'
        + "".join(f"<li>{escape(n)}</li>" for n in notes)
        + "</ul>"
    )


def render_html(state: PatientState, *, title: str, mris: Sequence[BrainMri] | None = None) -> str:
    """A standalone page (no external assets): the SVG timeline and the evidence for each mark."""
    every = marks(state, mris)
    placed = [m for m in every if m.start is not None or (m.kind == "regimen" and m.active)]
    undated = [m for m in every if m not in placed]
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>"
        f"<h1>{escape(title)}</h1>{_facts(state)}{render_svg(state, placed)}"
        f"<h2>Evidence</h2>{_evidence_list(placed)}{_notes(state, undated)}"
        "</body></html>\n"
    )
