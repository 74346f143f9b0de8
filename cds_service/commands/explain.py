"""Show the state derived from a FHIR Bundle or a hook request, with the evidence of each fact."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Any

from cds_service.errors import BadRequest
from cds_service.fhir.record import PatientRecord, parse_record, settle
from cds_service.state import derive
from cds_service.state.evidence import references
from cds_service.state.model import (
    UNKNOWN,
    DrugCourse,
    Fact,
    FhirDate,
    PatientState,
    ProgressionEvent,
)
from cds_service.state.serialize import state_to_json
from cds_service.timeline import brain_mris, render_html
from cds_service.web.validation import as_of_date


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", type=Path, help="a FHIR Bundle or a CDS Hooks request (JSON)")
    parser.add_argument("--json", action="store_true", help="print the state as JSON")
    parser.add_argument(
        "--today",
        type=date.fromisoformat,
        default=None,
        help="derive as of this date (YYYY-MM-DD); default: a hook request's asOfDate "
        "extension, else today",
    )
    parser.add_argument(
        "--html",
        type=Path,
        metavar="OUT",
        help="also write the CNS history timeline (a standalone HTML page) to OUT",
    )


def _entries(bundle: dict) -> Iterable[dict]:
    return (
        e["resource"]
        for e in bundle.get("entry", [])
        if isinstance(e, dict) and isinstance(e.get("resource"), dict)
    )


def load(body: dict) -> tuple[PatientRecord, dict[str, Any] | None]:
    """A Bundle, or a hook request whose prefetch holds Bundles or single resources."""
    if body.get("resourceType") == "Bundle":
        return parse_record(("bundle", r) for r in _entries(body)), None
    items: list[tuple[str, object]] = []
    for key, value in (body.get("prefetch") or {}).items():
        if isinstance(value, dict) and value.get("resourceType") == "Bundle":
            items += [(key, r) for r in _entries(value)]
        elif isinstance(value, dict):
            items.append((key, value))
    return parse_record(items), body.get("context") or {}


def _value(value: Any) -> str:
    if value is UNKNOWN:
        return "unknown"
    if value is None:
        return "none recorded"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if hasattr(value, "scale"):
        return f"{value.scale} {value.value} ({value.when or 'undated'})"
    if isinstance(value, tuple):
        return ", ".join(map(str, value)) or "none recorded"
    return str(value)


def _fact(label: str, fact: Fact) -> list[str]:
    lines = [f"  {label}: {_value(fact.value)}"]
    if fact.basis:
        lines.append(f"      read from: {fact.basis}")
    if fact.evidence:
        lines.append(f"      evidence: {', '.join(fact.evidence)}")
    lines += [f"      note: {n}" for n in fact.notes]
    return lines


def _when(d: FhirDate | None) -> str:
    return str(d) if d else "undated"


def _event(e: ProgressionEvent) -> str:
    side = f" ({e.laterality})" if e.laterality else ""
    return f"{_when(e.when)} {e.site} progression{side}: {e.description} [{', '.join(e.evidence)}]"


def _course(c: DrugCourse) -> str:
    """One agent's course: from what it was read, how its end is known, why it stopped."""
    end = "ongoing" if c.active else _when(c.end) if c.end else "end not recorded"
    line = f"{c.agent}: {_when(c.start)} to {end}"
    if c.end_estimated:
        line += f" ({c.end_basis})"
    if c.stop_detail:
        line += f"; stopped: {c.stop_detail}"
    return f"{line}; from {c.representation or 'record'} [{', '.join(c.evidence)}]"


def render(state: PatientState) -> str:
    out = [f"Patient state as of {state.today}", "", "Diagnosis"]
    out += _fact("breast cancer", state.breast_cancer)
    out += _fact("HER2 status", state.her2.status)
    out += [
        f"      result: {t.basis or t.method} ({_when(t.when)}) [{', '.join(t.evidence)}]"
        for t in state.her2.tests
    ]
    if state.her2.discordant:
        out.append("      DISCORDANT HER2 results: positive retained")
    out += ["", "Brain"]
    out += _fact("brain metastases", state.brain_metastases)
    out += _fact("onset", state.brain_metastases_onset)
    out += _fact("status", state.brain_metastases_status)
    out += _fact("leptomeningeal disease", state.leptomeningeal_disease)
    out += _fact("mass effect (recorded in words)", state.mass_effect)
    out += _fact("hydrocephalus / midline shift / herniation", state.severe_mass_effect)
    out += _fact("largest lesion (cm)", state.largest_brain_lesion_cm)
    out += _fact("number of lesions", state.brain_lesion_count)
    out += _fact("new lesions on the latest report", state.new_brain_lesion_count)
    out += _fact("progression data complete", state.progression_known)
    out += _fact("last brain MRI", state.last_brain_mri)
    out += ["", "Local CNS therapy"]
    out += _fact("procedure history available", state.local_therapy_known)
    for t in state.local_therapies:
        span = _when(t.start) if t.end in (None, t.start) else f"{_when(t.start)} to {_when(t.end)}"
        extra = f", {t.fractions} fraction(s)" if t.fractions else ""
        extra += f", {t.laterality}" if t.laterality else ""
        extra += f" (from {t.basis})" if t.basis else ""
        out.append(
            f"  {t.kind.upper()} {span}: {', '.join(t.targets) or 'site not recorded'}{extra}"
            f" [{', '.join(t.evidence)}]"
        )
    if not state.local_therapies:
        out.append("  none recorded")
    out += ["", "Progression events"]
    out += [f"  {_event(e)}" for e in state.progression_events] or ["  none recorded"]
    out += _fact("extracranial disease", state.extracranial_status)
    out += ["", "Systemic therapy (regimens)"]
    out += _fact("medication history available", state.therapy_history_known)
    for r in state.regimens:
        span = f"{_when(r.start)} to {'ongoing' if r.active else _when(r.end)}"
        reason = "" if r.active else f", stopped: {_value(r.stop_reason)}"
        out.append(f"  {r.label}: {span}{reason} [{', '.join(r.evidence)}]")
        if r.progression:
            relation = r.progression_relation or "on"
            out.append(f"      progressed {relation} it: {_event(r.progression)}")
        out += [f"      {_course(c)}" for c in r.courses]
    if not state.regimens:
        out.append("  none recorded")
    out += ["", "Other"]
    out += _fact("performance status", state.performance_status)
    out += _fact("hospice", state.hospice)
    out += _fact("open orders (signed, not done)", state.active_orders)
    if state.draft_orders:
        out += ["", "Draft orders (not history)"]
        for d in state.draft_orders:
            what = ", ".join(sorted(d.agents)) or d.procedure or "not recognised"
            out.append(
                f"  {d.reference}: {d.display or what} -> {what}"
                f"{' (selected)' if d.selected else ''}"
            )
    if state.notes:
        out += ["", "Record notes"] + [f"  {n}" for n in state.notes]
    return "\n".join(out) + "\n"


def run(args: argparse.Namespace) -> int:
    try:
        body = json.loads(args.path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        print(f"cannot read {args.path}: {exc}", file=sys.stderr)
        return 2
    if not isinstance(body, dict):
        print(f"{args.path}: expected a JSON object", file=sys.stderr)
        return 2
    record, context = load(body)
    try:
        # As `evaluate` does: --today, else a hook request's pinned date, else today.
        today = args.today or as_of_date(body, date.today())
    except BadRequest as exc:
        print(f"{args.path}: {exc}", file=sys.stderr)
        return 2
    # As the service does: what the state rests on is validated by fhir.resources.
    record, state = settle(record, lambda r: derive(r, today, context), references)
    if args.json:
        print(json.dumps(state_to_json(state), indent=2))
    else:
        sys.stdout.write(render(state))
    if args.html:
        page = render_html(state, title=f"CNS history: {args.path.name}", mris=brain_mris(record))
        try:
            args.html.write_text(page, encoding="utf-8")
        except OSError as exc:
            print(f"cannot write {args.html}: {exc}", file=sys.stderr)
            return 2
    return 0
