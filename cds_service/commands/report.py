"""Card acceptance and override rates per rule and per service, read from the feedback store."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from cds_service.config import Settings
from cds_service.errors import ConfigError, StoreUnavailable
from cds_service.feedback import FeedbackStore, Summary, Tally

RATE_DEFINITION = "accepted / (accepted + overridden)"
UNMATCHED = "feedback for cards this service never issued (per the audit), left out of the rates"
_COLUMNS = ("shown", "accepted", "overridden", "acceptance")


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--since", type=_day, metavar="DATE", help="first day, UTC (YYYY-MM-DD)")
    parser.add_argument("--until", type=_day, metavar="DATE", help="last day, UTC, included")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def run(args: argparse.Namespace) -> int:
    if args.since and args.until and args.since > args.until:
        print("report: --since is after --until", file=sys.stderr)
        return 2
    try:
        store = FeedbackStore.from_settings(Settings.from_env())
    except ConfigError as exc:
        print(f"report: {exc}", file=sys.stderr)
        return 2
    try:
        summary = store.summary(_start(args.since), _start(args.until, days_after=1))
    except StoreUnavailable as exc:
        print(f"report: {exc.message}", file=sys.stderr)
        return 1
    finally:
        store.close()
    if args.json:
        print(json.dumps(as_json(summary, args.since, args.until), indent=2))
    else:
        print(as_text(summary, args.since, args.until))
    return 0


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from exc


def _start(day: date | None, days_after: int = 0) -> datetime | None:
    return None if day is None else datetime.combine(day + timedelta(days=days_after), time(), UTC)


def as_json(summary: Summary, since: date | None, until: date | None) -> dict[str, Any]:
    return {
        "since": since.isoformat() if since else None,
        "until": until.isoformat() if until else None,
        "acceptance_rate": RATE_DEFINITION,
        "rules": [
            {"rule_id": t.name, "rule_version": t.version, **_counts_json(t)} for t in summary.rules
        ],
        "services": [{"service_id": t.name, **_counts_json(t)} for t in summary.services],
        "unmatched_feedback": summary.unmatched,
    }


def _counts_json(tally: Tally) -> dict[str, Any]:
    rate = tally.acceptance_rate
    return {
        "shown": tally.shown,
        "accepted": tally.accepted,
        "overridden": tally.overridden,
        "acceptance_rate": None if rate is None else round(rate, 4),
        "override_reasons": [
            {"system": r.system, "code": r.code, "display": r.display, "count": r.count}
            for r in tally.reasons
        ],
    }


def as_text(summary: Summary, since: date | None, until: date | None) -> str:
    if since is None and until is None:
        period = "all time"
    else:
        period = f"{since or 'the beginning'} to {until or 'now'} (UTC days, both included)"
    lines = [
        f"Card outcomes, {period}",
        f"acceptance = {RATE_DEFINITION}; ignored cards send no feedback",
        "",
        "Per rule",
        *_table(("rule", "version"), [((t.name, t.version or "-"), t) for t in summary.rules]),
        "",
        "Per service",
        *_table(("service",), [((t.name,), t) for t in summary.services]),
        "",
        f"Unmatched: {summary.unmatched} ({UNMATCHED})",
    ]
    return "\n".join(lines)


def _table(heads: tuple[str, ...], rows: Sequence[tuple[tuple[str, ...], Tally]]) -> list[str]:
    if not rows:
        return ["  (no cards shown and no feedback in this period)"]
    cells = [(*keys, *_count_cells(tally)) for keys, tally in rows]
    widths = [
        max(len(str(c[i])) for c in [(*heads, *_COLUMNS), *cells]) for i in range(len(cells[0]))
    ]
    keys = len(heads)

    def line(values: Sequence[str]) -> str:
        left = [v.ljust(w) for v, w in zip(values[:keys], widths[:keys], strict=True)]
        right = [v.rjust(w) for v, w in zip(values[keys:], widths[keys:], strict=True)]
        return "  ".join(left + right).rstrip()

    out = [line((*heads, *_COLUMNS))]
    for row, (_, tally) in zip(cells, rows, strict=True):
        out.append(line(row))
        out.extend(f"    overridden {r.count}x: {r.label}" for r in tally.reasons)
    return out


def _count_cells(tally: Tally) -> tuple[str, ...]:
    rate = tally.acceptance_rate
    shown_rate = "-" if rate is None else f"{rate:.1%}"
    return (str(tally.shown), str(tally.accepted), str(tally.overridden), shown_rate)
