"""Answer one hook request from a file, offline: the cards, and with --trace why each rule spoke or not."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from datetime import date
from pathlib import Path

from cds_service.config import Settings
from cds_service.engine import Engine
from cds_service.errors import CdsError, ConfigError
from cds_service.fhir.prefetch import resolve
from cds_service.services import SERVICES
from cds_service.web.auth import Caller
from cds_service.web.validation import as_of_date, validate_hook_request


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("request", type=Path, help="a CDS Hooks request (JSON)")
    parser.add_argument(
        "--today",
        type=date.fromisoformat,
        help="evaluate as of this date (default: the request's asOfDate extension, else today)",
    )
    parser.add_argument("--trace", action="store_true", help="print each rule's trace to stderr")


def run(args: argparse.Namespace) -> int:
    try:
        body = json.loads(args.request.read_text(encoding="utf-8"))
        service = next(s for s in SERVICES if isinstance(body, dict) and s.hook == body.get("hook"))
    except (OSError, ValueError, StopIteration) as exc:
        print(
            f"{args.request}: not a hook request we answer ({exc or 'unknown hook'})",
            file=sys.stderr,
        )
        return 2
    try:
        request = validate_hook_request(service, body)
        today = args.today or as_of_date(request, date.today())
        # Offline: use the prefetch only, never the network.
        settings = replace(Settings(), auth_enabled=False)
        record = resolve(service, dict(request, fhirServer=None), settings, Caller(iss=None))
        answer = Engine.load().answer(
            service_id=service.id,
            hook=request["hook"],
            hook_instance=request["hookInstance"],
            context=request["context"],
            record=record,
            today=today,
        )
    except (CdsError, ConfigError) as exc:
        print(f"{args.request}: {exc}", file=sys.stderr)
        return 1
    print(json.dumps({"cards": answer.cards}, indent=2))
    if args.trace:
        for trace in answer.trace:
            where = f" ({trace.order})" if trace.order else ""
            print(f"{trace.rule_id}{where}: {trace.outcome}: {trace.reason}", file=sys.stderr)
            for check in trace.checks:
                print(f"    {check.describe()}", file=sys.stderr)
    return 0
