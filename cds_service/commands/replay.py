"""Replay hook requests against a running CDS service: schema check, golden cards, a table."""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import requests

from cds_service.schemas import first_error, validator
from cds_service.testing import compare_golden, sign_jwt

DEFAULT_GOLDEN_DIR = Path("fixtures/golden")
_TIMEOUT = (3.05, 30.0)
_FAILING = frozenset({"MISMATCH", "INVALID", "ERROR"})


@dataclass
class Outcome:
    """What one replayed request gave: status, cards, verdict, latency, and what went wrong."""

    request: str
    status: int | None = None
    cards: int | None = None
    verdict: str = "ERROR"
    latency_ms: float | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.verdict in _FAILING


@dataclass(frozen=True)
class Signer:
    """Signs one JWT per request with the operator's key; `aud` is the exact service URL."""

    key_pem: bytes
    iss: str
    kid: str | None

    def headers(self, url: str) -> dict[str, str]:
        return {
            "Authorization": "Bearer " + sign_jwt(self.key_pem, iss=self.iss, aud=url, kid=self.kid)
        }


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "dir",
        nargs="?",
        default="hooks",
        type=Path,
        help="folder of hook requests (default hooks/)",
    )
    parser.add_argument(
        "--base", required=True, help="service base URL, e.g. http://127.0.0.1:8080"
    )
    parser.add_argument(
        "--golden",
        type=Path,
        default=DEFAULT_GOLDEN_DIR,
        help="golden cards folder (default fixtures/golden)",
    )
    parser.add_argument(
        "--sign-key",
        type=Path,
        metavar="PEM",
        help="EC or RSA private key to sign a JWT per request",
    )
    parser.add_argument("--iss", help="JWT issuer (required with --sign-key)")
    parser.add_argument("--kid", help="JWT key id")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def run(args: argparse.Namespace) -> int:
    if args.sign_key and not args.iss:
        print("replay: --sign-key needs --iss", file=sys.stderr)
        return 2
    files = sorted(args.dir.glob("*.json")) if args.dir.is_dir() else []
    if not files:
        print(f"replay: no hook requests (*.json) in {args.dir}", file=sys.stderr)
        return 2
    base = args.base.rstrip("/")
    signer = None
    if args.sign_key:
        try:
            signer = Signer(args.sign_key.read_bytes(), args.iss, args.kid)
            signer.headers(base)  # fail now, not on every request, if the key is unusable
        except (OSError, ValueError, TypeError) as exc:
            print(f"replay: --sign-key {args.sign_key}: {exc}", file=sys.stderr)
            return 2
    try:
        services = discover(base, signer)
    except (requests.RequestException, ValueError) as exc:
        print(f"replay: discovery at {base}/cds-services failed: {exc}", file=sys.stderr)
        return 1
    outcomes = [replay_one(path, base, services, args.golden, signer) for path in files]
    if args.json:
        print(json.dumps([asdict(o) for o in outcomes], indent=2))
    else:
        print(as_table(outcomes))
        print(as_diffs(outcomes), end="")
    return 1 if any(o.failed for o in outcomes) else 0


def discover(base: str, signer: Signer | None) -> dict[str, str]:
    """hook -> service id, from the service's own discovery document (first service per hook)."""
    url = f"{base}/cds-services"
    response = requests.get(url, headers=signer.headers(url) if signer else {}, timeout=_TIMEOUT)
    response.raise_for_status()
    services: dict[str, str] = {}
    for service in response.json().get("services", []):
        services.setdefault(service["hook"], service["id"])
    return services


def replay_one(
    path: Path, base: str, services: dict[str, str], golden_dir: Path, signer: Signer | None
) -> Outcome:
    outcome = Outcome(path.name)
    try:
        request = json.loads(path.read_text(encoding="utf-8"))
        service_id = services[request["hook"]]
    except (OSError, ValueError) as exc:
        return _problem(outcome, f"unreadable request: {exc}")
    except (KeyError, TypeError):
        return _problem(outcome, "no service for this request's hook in discovery")
    url = f"{base}/cds-services/{service_id}"
    started = time.perf_counter()
    try:
        response = requests.post(
            url, json=request, headers=signer.headers(url) if signer else {}, timeout=_TIMEOUT
        )
    except requests.RequestException as exc:
        return _problem(outcome, f"request failed: {type(exc).__name__}")
    outcome.latency_ms = round((time.perf_counter() - started) * 1000, 1)
    outcome.status = response.status_code
    return _judge(outcome, response, golden_dir / path.name)


def _judge(outcome: Outcome, response: requests.Response, golden_path: Path) -> Outcome:
    try:
        body = response.json()
    except ValueError:
        return _problem(outcome, f"HTTP {response.status_code}, body is not JSON")
    if response.status_code != 200:
        message = body.get("message", "") if isinstance(body, dict) else ""
        return _problem(outcome, f"HTTP {response.status_code}: {message}")
    error = first_error(validator("cards-response"), body)
    if error:
        outcome.verdict = "INVALID"
        outcome.problems.append(f"not a valid CDS Hooks response: {error}")
        return outcome
    outcome.cards = len(body["cards"])
    if not golden_path.is_file():
        outcome.verdict = "NO-GOLDEN"
        return outcome
    try:
        golden = json.loads(golden_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return _problem(outcome, f"golden file {golden_path} unreadable: {exc}")
    differences = compare_golden(body["cards"], golden)
    outcome.verdict = "MISMATCH" if differences else "PASS"
    if differences and golden.get("why"):
        outcome.problems.append(f"golden: {golden['why']}")
    outcome.problems += differences
    return outcome


def _problem(outcome: Outcome, message: str) -> Outcome:
    outcome.verdict = "ERROR"
    outcome.problems.append(message)
    return outcome


def as_table(outcomes: list[Outcome]) -> str:
    headers = ("request", "status", "cards", "verdict", "latency ms")
    rows = [
        (o.request, _cell(o.status), _cell(o.cards), o.verdict, _cell(o.latency_ms))
        for o in outcomes
    ]
    widths = [max(len(row[i]) for row in [headers, *rows]) for i in range(len(headers))]
    lines = [_row(headers, widths), "  ".join("-" * w for w in widths)]
    lines += [_row(row, widths) for row in rows]
    failed = sum(o.failed for o in outcomes)
    lines.append(
        f"\n{len(outcomes) - failed} of {len(outcomes)} passed"
        + (f", {failed} failed" if failed else "")
    )
    return "\n".join(lines)


def as_diffs(outcomes: list[Outcome]) -> str:
    return "".join(
        f"\n{o.request}: {o.verdict}\n" + "".join(f"  {p}\n" for p in o.problems)
        for o in outcomes
        if o.problems
    )


def _row(cells: tuple[str, ...], widths: list[int]) -> str:
    # Names and verdicts read left to right; numbers line up on the right.
    return "  ".join(
        cell.ljust(w) if i in (0, 3) else cell.rjust(w)
        for i, (cell, w) in enumerate(zip(cells, widths, strict=True))
    ).rstrip()


def _cell(value: Any) -> str:
    return "-" if value is None else str(value)
