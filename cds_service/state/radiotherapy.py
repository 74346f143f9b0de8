"""Local CNS therapy: SRS courses (fractions grouped), whole-brain radiotherapy and resections.

Representations read (shared/reference/real-world-fhir-representations.md section 5):
- SRS by code whatever the site: CPT 77371 / 77372 / 77432 / 61796-61799, ICD-10-PCS D020DZZ /
  D020HZZ / D020JZZ (value set srs); per-fraction or any-site stereotactic codes CPT 77373 / 77435,
  HCPCS G0339 / G0340 (srs-per-fraction) only with a brain bodySite or a brain-metastasis reason;
- mCODE RadiotherapyCourseSummary (SNOMED 1217123003) on the brain: fractionsDelivered (else the
  sessions extension: sessions are not fractions), at most SRS_MAX_FRACTIONS stereotactic, whole
  brain from text or WBRT_FRACTIONS; totalDoseDelivered in cGy (Gy x 100); CodeX RT
  courseInvolvesReirradiation; snapshots of one course (in progress, then completed: one id, or
  one start) count once, the most complete kept;
- WBRT and SRS from text ("whole brain", "HA-WBRT", "radiosurgery"); hippocampal avoidance only
  from text (no code exists); resection by CPT 61510 / 61518 or text;
- SRS billed per session (staged, per fraction) within SRS_COURSE_GAP_DAYS is one course: fractions
  are never courses; each target's laterality (state/lesions) for lesion identity.
Left out on purpose: ICD-10-PCS D0000ZZ-D0002ZZ (beam radiation of brain) are only partially
verified and cannot tell whole from partial brain: such a Procedure counts only by its words;
a brain course of 6-9 or more than 15 fractions is neither SRS nor WBRT (unknown fractionation).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

from cds_service.state import dates
from cds_service.state.brain import brain_metastasis_conditions
from cds_service.state.coded import Coded, coded
from cds_service.state.lesions import laterality_of_sites, site_keys
from cds_service.state.model import FhirDate, LocalTherapy, ProgressionEvent
from cds_service.state.parameters import SRS_COURSE_GAP_DAYS, SRS_MAX_FRACTIONS, WBRT_FRACTIONS
from cds_service.state.resources import Resources, reference
from cds_service.state.terminology import code_sets, coded_keys, codings, matches, text_of, valueset

SESSIONS_URL = "http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-radiotherapy-sessions"
DOSE_TO_VOLUME_URL = (
    "http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-radiotherapy-dose-delivered-to-volume"
)
REIRRADIATION_URL = (
    "http://hl7.org/fhir/us/codex-radiation-therapy/StructureDefinition/"
    "codexrt-radiotherapy-course-involves-reirradiation"
)
# Snapshots of one course: the more complete status wins.
_STATUS_RANK = {"completed": 3, "stopped": 2, "in-progress": 1}
Kind = Literal["srs", "wbrt", "resection"]


@dataclass(frozen=True, slots=True)
class Session:
    """One Procedure recognised as local CNS therapy, before grouping into courses."""

    kind: Kind
    start: FhirDate | None
    end: FhirDate | None
    targets: tuple[str, ...]
    target_codes: tuple[str, ...]
    fractions: int | None
    hippocampal_avoidance: bool | None
    status: str | None
    ref: str
    laterality: str | None = None
    reirradiation: bool | None = None
    dose_cgy: float | None = None
    basis: str = ""
    identity: str = ""  # snapshots of one course share it (see _identity)


def _volume_parts(proc: dict, name: str) -> list[dict]:
    """The `name` sub-extensions of each dose-delivered-to-volume extension."""
    return [
        e
        for ext in proc.get("extension", [])
        if ext.get("url") == DOSE_TO_VOLUME_URL
        for e in ext.get("extension", [])
        if e.get("url") == name
    ]


def _fractions(proc: dict) -> int | None:
    """Fractions delivered on an mCODE course summary (largest per volume), else its sessions
    (a session may deliver no fraction, e.g. a planning session, so fractions come first)."""
    per_volume = [
        int(e["valueUnsignedInt"])
        for e in _volume_parts(proc, "fractionsDelivered")
        if isinstance(e.get("valueUnsignedInt"), int)
    ]
    if per_volume:
        return max(per_volume)
    for ext in proc.get("extension", []):
        if ext.get("url") == SESSIONS_URL and isinstance(ext.get("valueUnsignedInt"), int):
            return int(ext["valueUnsignedInt"])
    return None


def _dose_cgy(proc: dict) -> float | None:
    """Total dose delivered (largest per volume) in cGy; Gy is converted, other units ignored."""
    doses = []
    for e in _volume_parts(proc, "totalDoseDelivered"):
        quantity = e.get("valueQuantity") or {}
        value, unit = quantity.get("value"), (quantity.get("code") or quantity.get("unit") or "")
        if isinstance(value, (int, float)) and unit.lower() in {"cgy", "gy"}:
            doses.append(float(value) * (100 if unit.lower() == "gy" else 1))
    return max(doses) if doses else None


def _reirradiation(proc: dict) -> bool | None:
    for ext in proc.get("extension", []):
        if ext.get("url") == REIRRADIATION_URL and isinstance(ext.get("valueBoolean"), bool):
            return bool(ext["valueBoolean"])
    return None


def _identity(item: Coded, start: FhirDate | None) -> str:
    """Snapshots of one course summary (sent in progress, then completed) share the course's
    start; the record already keeps one resource per id. Identifiers are not read: a glitch in
    an element no rule needs must not hide a card (fhir/view)."""
    if item.has_code("radiotherapy-course-summary") and start is not None:
        return f"course-summary|{start.text}"
    return reference(item.resource)


def brain_volumes(res: Resources) -> frozenset[str]:
    """The irradiated volumes (BodyStructure references) of brain radiotherapy courses."""
    return res.once(
        "brain-volumes",
        lambda: frozenset(
            ref
            for s in sessions(res)
            for e in _volume_parts(res.get(s.ref) or {}, "volume")
            if (ref := (e.get("valueReference") or {}).get("reference"))
        ),
    )


def _basis(item: Coded, kind: Kind, fractions: int | None, text: str) -> str:
    shown = ", ".join(f"{code}" for _, code, _ in codings(item.resource.get("code")) if code)
    if item.has_code("radiotherapy-course-summary"):
        how = f"{fractions} fractions" if fractions is not None else "text"
        return f"mCODE radiotherapy course summary on the brain ({how})"
    if item.sets & {"srs", "srs-per-fraction", "brain-resection"}:
        return f"Procedure coded {shown}"
    return f"Procedure text '{text[:80]}'"


def _all_text(proc: dict, code_text: str) -> str:
    """`code_text` (the text of the Procedure's code), its notes and its body sites."""
    parts = [code_text] + [n.get("text", "") for n in proc.get("note", [])]
    parts += [text_of(b) for b in proc.get("bodySite", [])]
    return " | ".join(p for p in parts if p)


def _on_brain(proc: dict, brain_refs: set[str] | frozenset[str]) -> bool:
    if any(matches(site, "brain-body-site") for site in proc.get("bodySite", [])):
        return True
    reasons = {r.get("reference") for r in proc.get("reasonReference", [])}
    return bool(reasons & brain_refs) or any(
        matches(c, "brain-metastasis") for c in proc.get("reasonCode", [])
    )


def classify(proc: dict, brain_refs: set[str] | frozenset[str]) -> Kind | None:
    """'srs', 'wbrt', 'resection' or None for one Procedure."""
    code = proc.get("code")
    code_text = text_of(code)
    return _classify(
        Coded(proc, code_sets(code), code_text), _all_text(proc, code_text), brain_refs
    )


def _classify(item: Coded, text: str, brain_refs: set[str] | frozenset[str]) -> Kind | None:
    """classify() from the Procedure's code already looked up and all its text."""
    proc = item.resource
    brain = _on_brain(proc, brain_refs)
    if item.matches("brain-resection"):
        return "resection"
    if item.has_code("srs"):
        return "srs"
    if brain and item.has_code("srs-per-fraction"):
        return "srs"
    if brain and item.has_code("radiotherapy-course-summary"):
        fractions = _fractions(proc)
        if valueset("wbrt").has_text(text):
            return "wbrt"
        if fractions is not None and fractions <= SRS_MAX_FRACTIONS:
            return "srs"
        if fractions is not None and WBRT_FRACTIONS[0] <= fractions <= WBRT_FRACTIONS[1]:
            return "wbrt"
        return None  # a brain course of unknown or unusual fractionation: neither claimed
    if valueset("wbrt").has_text(text):
        return "wbrt"
    if brain and valueset("srs").has_text(text):
        return "srs"
    return None


def sessions(res: Resources) -> tuple[Session, ...]:
    """Each Procedure recognised as local CNS therapy (snapshots of one course once), by date."""
    return res.once("local-therapy-sessions", lambda: _sessions(res))


def _sessions(res: Resources) -> tuple[Session, ...]:
    conds, _ = brain_metastasis_conditions(res)
    brain_refs = {reference(c) for c in conds}
    found = []
    for item in coded(res, "Procedure"):
        proc = item.resource
        text = _all_text(proc, item.text)
        kind = _classify(item, text, brain_refs)
        if kind is None:
            continue
        sites = proc.get("bodySite", [])
        targets = tuple(
            dict.fromkeys(
                (s.get("text") or text_of(s).split(" | ")[0]) for s in sites if text_of(s)
            )
        )
        # Hippocampal avoidance is only ever stated in text; silence means "not recorded".
        hippocampal = True if "hippocamp" in text.lower() else None
        fractions = _fractions(proc)
        start = dates.first(proc, "performedDateTime", "performedPeriod.start")
        found.append(
            Session(
                kind,
                start,
                dates.first(proc, "performedPeriod.end", "performedDateTime"),
                targets,
                coded_keys(sites) + site_keys(sites),
                fractions,
                hippocampal if kind == "wbrt" else None,
                proc.get("status"),
                reference(proc),
                laterality_of_sites(sites),
                _reirradiation(proc),
                _dose_cgy(proc),
                _basis(item, kind, fractions, text),
                _identity(item, start),
            )
        )
    return tuple(sorted(_latest_snapshots(found), key=lambda s: dates.earliest_key(s.start)))


def _latest_snapshots(found: list[Session]) -> list[Session]:
    """One session per course identifier: the most complete snapshot (completed over in
    progress, then the most fractions, then the latest end)."""
    best: dict[str, Session] = {}
    for item in found:
        kept = best.get(item.identity)
        if kept is None or _completeness(item) > _completeness(kept):
            best[item.identity] = item
    return list(best.values())


def _completeness(item: Session) -> tuple[int, int, tuple[date, date]]:
    return (
        _STATUS_RANK.get(item.status or "", 0),
        item.fractions or 0,
        dates.latest_key(item.end),
    )


def _group(items: list[Session]) -> list[list[Session]]:
    """Sessions within SRS_COURSE_GAP_DAYS of the previous one form one course."""
    groups: list[list[Session]] = []
    for item in items:
        last = groups[-1][-1] if groups else None
        anchor = (last.end or last.start) if last else None
        if (
            anchor is not None
            and item.start is not None
            and dates.days_between(anchor, item.start) <= SRS_COURSE_GAP_DAYS
        ):
            groups[-1].append(item)
        else:
            groups.append([item])
    return groups


def _course(kind: Kind, group: list[Session]) -> LocalTherapy:
    explicit = [s.fractions for s in group if s.fractions is not None]
    # Billing-style sessions carry no count: each distinct treatment day is a fraction.
    days = {s.start.text for s in group if s.start and s.fractions is None}
    fractions = (sum(explicit) + len(days)) if kind != "resection" else None
    return LocalTherapy(
        kind=kind,
        start=dates.earliest(s.start for s in group),
        end=dates.latest(s.end or s.start for s in group),
        targets=tuple(dict.fromkeys(t for s in group for t in s.targets)),
        target_codes=tuple(dict.fromkeys(c for s in group for c in s.target_codes)),
        fractions=fractions or None,
        hippocampal_avoidance=next(
            (s.hippocampal_avoidance for s in group if s.hippocampal_avoidance), None
        )
        if kind == "wbrt"
        else None,
        status=group[-1].status,
        evidence=tuple(s.ref for s in group),
        laterality=_group_laterality(group),
        reirradiation=next((s.reirradiation for s in group if s.reirradiation is not None), None),
        dose_cgy=max((s.dose_cgy for s in group if s.dose_cgy is not None), default=None),
        basis="; ".join(dict.fromkeys(s.basis for s in group)),
    )


def _group_laterality(group: list[Session]) -> str | None:
    sides = {s.laterality for s in group if s.laterality is not None}
    if len(sides) > 1:
        return "bilateral"
    return sides.pop() if sides else None


def local_therapies(res: Resources) -> tuple[LocalTherapy, ...]:
    """SRS and WBRT courses (sessions grouped; fractions are never courses) and resections."""
    all_sessions = sessions(res)
    courses: list[LocalTherapy] = []
    kinds: tuple[Kind, ...] = ("srs", "wbrt")
    for kind in kinds:
        courses += [_course(kind, g) for g in _group([s for s in all_sessions if s.kind == kind])]
    courses += [_course("resection", [s]) for s in all_sessions if s.kind == "resection"]
    return tuple(sorted(courses, key=lambda c: dates.earliest_key(c.start)))


def srs_progressions(
    therapies: tuple[LocalTherapy, ...], recorded: tuple[ProgressionEvent, ...]
) -> tuple[ProgressionEvent, ...]:
    """A new SRS course after an earlier one implies intracranial progression, unless recorded."""
    srs = [t for t in therapies if t.kind == "srs" and t.start]
    events = []
    for previous, course in zip(srs, srs[1:], strict=False):
        before, after = previous.start, course.start
        if before is None or after is None:
            continue
        already = any(
            e.site == "intracranial"
            and e.when
            and before.earliest <= e.when.latest
            and e.when.earliest <= after.latest
            for e in recorded
        )
        if not already:
            sites = ", ".join(course.targets) or "brain"
            events.append(
                ProgressionEvent(
                    after,
                    "intracranial",
                    "new-srs-course",
                    f"new SRS course ({sites}) after SRS of {before}",
                    course.evidence,
                    course.laterality,
                )
            )
    return tuple(events)
