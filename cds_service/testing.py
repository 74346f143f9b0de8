"""Drive the service from a test harness: hook requests built from FHIR Bundles, posted, cards read.

    from cds_service.testing import hook_request, post_hook
    request = hook_request(bundle, "order-select", draft_orders=[lapatinib], selections=["MedicationRequest/x"])
    result = post_hook(client, request)          # a Flask test client or a base URL
    assert [c["indicator"] for c in result.cards] == ["critical"]

Also: `service_for(hook)`, `cards_by_rule(result)`, golden comparison (`card_signature`,
`compare_golden`), JWT signing as an EHR would (`sign_jwt`), and `live_server(app)` to run the
app on 127.0.0.1 for tests that need a real socket (a browser, `cds-service replay`), and
`gunicorn_service(port, env)` to run `cds-service serve` itself (the worker model under test);
`fhir_server(resources)` answers prefetch queries over HTTP, and `slash_collapsing_proxy(base)`
stands in front of one as the SMART App Launcher's proxy does.
"""

from __future__ import annotations

import json
import os
import socketserver
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from cds_service.cards import rule_id_of
from cds_service.fhir.prefetch import substitute
from cds_service.fhir.references import patient_of
from cds_service.services import AS_OF_EXTENSION, SERVICES, ServiceDefinition

SERVICE_FOR_HOOK = {s.hook: s for s in SERVICES}


def load_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def bundle_resources(bundle: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [
        e["resource"] for e in bundle.get("entry", []) if isinstance(e, Mapping) and "resource" in e
    ]


def _has_code(resource: Mapping[str, Any], tokens: Sequence[str], element: str = "code") -> bool:
    concepts = resource.get(element) or []
    concepts = concepts if isinstance(concepts, list) else [concepts]
    codings = [c for concept in concepts for c in (concept.get("coding") or [])]
    for token in tokens:
        system, _, code = token.rpartition("|")
        if any(
            c.get("code") == code and (not system or c.get("system") == system) for c in codings
        ):
            return True
    return False


def run_query(query: str, resources: Iterable[Mapping[str, Any]]) -> Any:
    """Answer a prefetch query (read or search with `patient` and `code`) from in-memory resources."""
    path, _, params = query.partition("?")
    resources = list(resources)
    if "/" in path:  # instance read, e.g. Patient/123
        resource_type, resource_id = path.split("/", 1)
        return next(
            (
                r
                for r in resources
                if r.get("resourceType") == resource_type and r.get("id") == resource_id
            ),
            None,
        )
    matches = [r for r in resources if r.get("resourceType") == path]
    included: list[Mapping[str, Any]] = []
    for name, value in parse_qsl(params):
        if name == "_include":  # e.g. MedicationRequest:medication, read after the filters
            continue
        if name == "patient":
            matches = [r for r in matches if patient_of(r) == value.rsplit("/", 1)[-1]]
        elif name in ("code", "category"):
            matches = [r for r in matches if _has_code(r, value.split(","), name)]
        elif name == "status":
            matches = [r for r in matches if r.get("status") in value.split(",")]
        else:
            raise ValueError(f"search parameter {name!r} not supported here")
    for name, value in parse_qsl(params):
        if name == "_include":
            included += _included(value, matches, resources)
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(matches),
        "entry": [
            {
                "fullUrl": f"{r['resourceType']}/{r.get('id')}",
                "resource": r,
                "search": {"mode": mode},
            }
            for mode, found in (("match", matches), ("include", included))
            for r in found
        ],
    }


def _included(include: str, matches: list, resources: list) -> list[Mapping[str, Any]]:
    """The resources `Type:element` references from the matches (only `medication` here)."""
    _, _, element = include.partition(":")
    if element != "medication":
        raise ValueError(f"_include {include!r} not supported here")
    wanted = {(m.get("medicationReference") or {}).get("reference", "") for m in matches} - {""}
    return [r for r in resources if f"{r.get('resourceType')}/{r.get('id')}" in wanted]


def prefetch_for(
    service: ServiceDefinition, resources: Sequence[Mapping[str, Any]], context: Mapping[str, Any]
) -> dict[str, Any]:
    """Fill every prefetch template of `service` as an EHR honouring them all would."""
    prefetch = {}
    for key, template in service.prefetch.items():
        query = substitute(template, context)  # the same substitution the service does
        if query is not None:
            prefetch[key] = run_query(query, resources)
    return prefetch


def hook_request(
    bundle: Mapping[str, Any],
    hook: str,
    *,
    patient_id: str | None = None,
    draft_orders: Sequence[Mapping[str, Any]] = (),
    selections: Sequence[str] | None = None,
    user_id: str = "Practitioner/example",
    hook_instance: str | None = None,
    as_of: str | None = None,
    with_prefetch: bool = True,
) -> dict[str, Any]:
    """A CDS Hooks request for `hook` about the patient in `bundle`; prefetch from our templates."""
    resources = bundle_resources(bundle)
    if patient_id is None:
        patient_id = next((r["id"] for r in resources if r.get("resourceType") == "Patient"), None)
        if patient_id is None:
            raise ValueError("no Patient in the bundle: pass patient_id")
    context: dict[str, Any] = {"userId": user_id, "patientId": patient_id}
    if hook in ("order-select", "order-sign"):
        context["draftOrders"] = {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{"resource": dict(order)} for order in draft_orders],
        }
        if hook == "order-select":
            context["selections"] = list(
                selections
                if selections is not None
                else [f"{o['resourceType']}/{o['id']}" for o in draft_orders]
            )
    request: dict[str, Any] = {
        "hookInstance": hook_instance or str(uuid.uuid4()),
        "hook": hook,
        "context": context,
    }
    if with_prefetch:
        request["prefetch"] = prefetch_for(SERVICE_FOR_HOOK[hook], resources, context)
    if as_of:
        request["extension"] = {AS_OF_EXTENSION: as_of}
    return request


@dataclass(frozen=True)
class HookResult:
    status: int
    body: Any
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def cards(self) -> list[dict[str, Any]]:
        return list(self.body.get("cards", [])) if isinstance(self.body, Mapping) else []


def post_hook(
    target: Any,
    request: Mapping[str, Any],
    *,
    service_id: str | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = 10.0,
) -> HookResult:
    """POST to a Flask test client or to a base URL (`http://127.0.0.1:8080`)."""
    service_id = service_id or SERVICE_FOR_HOOK[request["hook"]].id
    path = f"/cds-services/{service_id}"
    if isinstance(target, str):
        import requests  # only needed against a running service

        response = requests.post(
            target.rstrip("/") + path, json=request, headers=dict(headers or {}), timeout=timeout
        )
        body = response.json() if response.content else None
        return HookResult(response.status_code, body, dict(response.headers))
    response = target.post(path, json=request, headers=dict(headers or {}))
    return HookResult(response.status_code, response.get_json(silent=True), dict(response.headers))


def service_for(hook: str) -> ServiceDefinition:
    """Our service answering `hook` (KeyError for a hook we do not serve)."""
    return SERVICE_FOR_HOOK[hook]


def cards_by_rule(
    result: HookResult | Iterable[Mapping[str, Any]],
) -> dict[str | None, list[dict[str, Any]]]:
    """Cards grouped by the rule that produced them (source.topic.code)."""
    grouped: dict[str | None, list[dict[str, Any]]] = {}
    for card in result.cards if isinstance(result, HookResult) else result:
        grouped.setdefault(rule_id_of(dict(card)), []).append(dict(card))
    return grouped


# Golden files (fixtures/golden/<request stem>.json) hold what a clinician must see, not the
# wording: {"request", "why", "cards": [{"rule", "indicator", "suggestions": [[code, ...] per
# suggestion, in card order], "deletes": [draft order reference, ...], "override_reasons":
# [code, ...], "summary", "labels": [suggestion label, ...], "detail"}]}. A different rule,
# urgency, proposed drug, removed order or override reason breaks them, and so does a different
# sentence where the golden records the words (summary, labels, detail: compared when present).
# A list key left out of a golden card means "none".


def _created_codes(action: Mapping[str, Any]) -> list[str]:
    resource = action.get("resource") or {}
    concept = resource.get("medicationCodeableConcept") or resource.get("code") or {}
    return [c["code"] for c in concept.get("coding", []) if isinstance(c, Mapping) and "code" in c]


def card_signature(card: Mapping[str, Any]) -> dict[str, Any]:
    """The golden-file view of one card: rule id, indicator, suggestion codes, delete targets,
    and the words a clinician reads (summary, suggestion labels, detail)."""
    suggestions, deletes = [], set()
    for suggestion in card.get("suggestions", []):
        codes: list[str] = []
        for action in suggestion.get("actions", []):
            if action.get("type") == "create":
                codes += _created_codes(action)
            elif action.get("type") == "delete" and action.get("resourceId"):
                deletes.add(action["resourceId"])
        suggestions.append(sorted(codes))
    return {
        "rule": rule_id_of(dict(card)),
        "indicator": card.get("indicator"),
        "suggestions": suggestions,  # in card order: the recommended option comes first
        "deletes": sorted(deletes),
        "override_reasons": [r.get("code") for r in card.get("overrideReasons", [])],
        "summary": card.get("summary"),
        "labels": [s.get("label") for s in card.get("suggestions", [])],
        "detail": card.get("detail"),
    }


# Compared only when the golden card has them (older golden files record codes only).
WORDING_KEYS = ("summary", "labels", "detail")


def _normalised(signature: Mapping[str, Any]) -> dict[str, Any]:
    """A golden card in canonical form; list-valued keys left out mean empty."""
    normal = {
        "rule": signature.get("rule"),
        "indicator": signature.get("indicator"),
        "suggestions": [sorted(codes) for codes in signature.get("suggestions", [])],
        "deletes": sorted(signature.get("deletes", [])),
        "override_reasons": list(signature.get("override_reasons", [])),
    }
    normal.update({k: signature[k] for k in WORDING_KEYS if k in signature})
    return normal


def _sort_key(signature: Mapping[str, Any]) -> tuple[str, str, str]:
    return str(signature["rule"]), str(signature["indicator"]), str(signature.get("summary", ""))


def golden_of(cards: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """A golden document for these cards (to write a new golden file from a reviewed response)."""
    return {"cards": sorted((card_signature(c) for c in cards), key=_sort_key)}


def _signature_line(signature: Mapping[str, Any]) -> str:
    parts = [f"{signature['rule']} [{signature['indicator']}]"]
    if signature["suggestions"]:
        options = ("+".join(codes) or "(no order)" for codes in signature["suggestions"])
        parts.append("suggests " + " | ".join(options))
    if signature["deletes"]:
        parts.append("deletes " + ", ".join(signature["deletes"]))
    if signature["override_reasons"]:
        parts.append("override reasons " + ", ".join(signature["override_reasons"]))
    return "; ".join(parts)


def _wording_diff(want: Mapping[str, Any], got: Mapping[str, Any]) -> list[str]:
    return [
        f"  {key}: expected {want[key]!r}\n  {key}: got      {got.get(key)!r}"
        for key in WORDING_KEYS
        if key in want and want[key] != got.get(key)
    ]


def compare_golden(cards: Iterable[Mapping[str, Any]], golden: Mapping[str, Any]) -> list[str]:
    """Readable differences between the cards and a golden document; [] when they agree."""
    want = sorted((_normalised(g) for g in golden.get("cards", [])), key=_sort_key)
    got = golden_of(cards)["cards"]
    missing, unexpected = list(want), []
    for signature in got:
        match = next((w for w in missing if all(signature.get(k) == v for k, v in w.items())), None)
        if match is not None:
            missing.remove(match)  # one for one, so a duplicated card is a difference
        else:
            unexpected.append(signature)
    lines = []
    for wanted in missing:
        lines.append(f"- expected: {_signature_line(wanted)}")
        # Same rule and urgency, different words: say which words.
        same = next(
            (
                g
                for g in unexpected
                if (g["rule"], g["indicator"]) == (wanted["rule"], wanted["indicator"])
            ),
            None,
        )
        if same is not None:
            lines += _wording_diff(wanted, same)
    return lines + [f"+ got:      {_signature_line(s)}" for s in unexpected]


def sign_jwt(
    private_key_pem: bytes | str, *, iss: str, aud: str, kid: str | None = None, lifetime: int = 300
) -> str:
    """A CDS Hooks 2.0 client JWT: ES384 for an EC key, RS384 for RSA; fresh jti, exp +5 min."""
    import jwt
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    pem = private_key_pem.encode() if isinstance(private_key_pem, str) else private_key_pem
    key = load_pem_private_key(pem, password=None)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        alg = "ES384"
    elif isinstance(key, rsa.RSAPrivateKey):
        alg = "RS384"
    else:
        raise ValueError("signing key must be an EC (ES384) or RSA (RS384) private key")
    now = int(time.time())
    claims = {"iss": iss, "aud": aud, "exp": now + lifetime, "iat": now, "jti": str(uuid.uuid4())}
    headers: dict[str, Any] = {"typ": "JWT"}
    if kid:
        headers["kid"] = kid
    return jwt.encode(claims, key, algorithm=alg, headers=headers)


@contextmanager
def live_server(app: Any, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve a WSGI app on 127.0.0.1 (port 0: a free one) in a thread; yields its base URL."""
    from werkzeug.serving import make_server

    with serving(make_server(host, port, app, threaded=True)) as bound:
        yield f"http://{host}:{bound}"


def free_port(host: str = "127.0.0.1") -> int:
    """A port free now: for a server whose settings must name its URL (the JWT audience)
    before it starts."""
    import socket

    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


@contextmanager
def serving(server: socketserver.BaseServer) -> Iterator[int]:
    """Run `server` (bound to a free port) in a thread; yields its port; shuts it down after."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])  # type: ignore[index]  # an (host, port) address
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()


def empty_store(database_url: str) -> str:
    """Drop the store's tables and its schema version from a test database (the next service
    started on it makes a fresh schema); returns the URL."""
    from sqlalchemy import create_engine, text

    from cds_service.store.tables import metadata

    engine = create_engine(database_url)
    try:
        with engine.begin() as connection:
            metadata.drop_all(connection)
            connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
    finally:
        engine.dispose()
    return database_url


@contextmanager
def sqlite_locked(path: Path) -> Iterator[None]:
    """Another process holds the SQLite file's write lock until the block ends (a store that
    is there but can't be written)."""
    import subprocess
    import sys

    locker = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys\n"
            f"c = sqlite3.connect({str(path)!r}, isolation_level=None)\n"
            "c.execute('BEGIN EXCLUSIVE')\n"
            "print('locked', flush=True)\n"
            "sys.stdin.readline()\n"
            "c.execute('COMMIT')\n",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert locker.stdout is not None and locker.stdout.readline().strip() == "locked"
        yield
    finally:
        assert locker.stdin is not None
        locker.stdin.write("\n")
        locker.stdin.close()
        locker.wait(10)
        assert locker.stdout is not None
        locker.stdout.close()


def answer_requests(
    paths: Iterable[Path], today: Any
) -> Iterator[tuple[Path, dict[str, Any], list[dict[str, Any]]]]:
    """(path, request, cards) for each saved hook request, through the real HTTP pipeline of an
    in-process app: auth off, SQLite in a temporary folder, the clock pinned to `today`."""
    import tempfile

    from cds_service.app import create_app
    from cds_service.config import Settings

    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(
            auth_enabled=False,
            clock_override=True,
            database_url=f"sqlite:///{Path(folder) / 'answers.sqlite3'}",
        )
        client = create_app(settings, clock=lambda: today).test_client()
        for path in paths:
            request = load_json(path)
            yield path, request, post_hook(client, request).cards


@contextmanager
def gunicorn_service(
    port: int, env: Mapping[str, str], *, workers: int = 2, log: Path | None = None
) -> Iterator[str]:
    """`cds-service serve` (gunicorn, as deployed) on 127.0.0.1:port with `env` added to this
    process's environment; yields its base URL once /health answers; stops it after."""
    import requests

    command = [sys.executable, "-m", "cds_service", "serve", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--workers", str(workers)]
    output = open(log, "wb") if log is not None else subprocess.DEVNULL  # noqa: SIM115
    process = subprocess.Popen(
        command, env={**os.environ, **env}, stdout=output, stderr=subprocess.STDOUT
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"cds-service serve exited with {process.returncode}")
            try:
                if requests.get(f"{base_url}/health", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("cds-service serve did not answer /health within 120 s")
            time.sleep(0.3)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if log is not None:
            output.close()  # type: ignore[union-attr]


@contextmanager
def fhir_server(resources: Iterable[Mapping[str, Any]]) -> Iterator[str]:
    """A FHIR server on 127.0.0.1 answering the prefetch queries (`run_query`) from `resources`
    over HTTP; yields its base URL (`http://127.0.0.1:PORT/fhir`)."""
    stored = list(resources)

    def answer(path_and_query: str) -> tuple[int, bytes]:
        relative = path_and_query.removeprefix("/fhir/")
        path, _, query = relative.partition("?")
        found = run_query(f"{unquote(path)}?{query}" if query else unquote(path), stored)
        if found is None:
            return 404, json.dumps({"resourceType": "OperationOutcome", "issue": []}).encode()
        return 200, json.dumps(found).encode()

    with _http_server(answer) as port:
        yield f"http://127.0.0.1:{port}/fhir"


@contextmanager
def slash_collapsing_proxy(upstream: str) -> Iterator[str]:
    """A reverse proxy to `upstream` that collapses every `//` to `/` in the path and query it
    forwards, as the SMART App Launcher's (smart-launcher-v2) does; yields its base URL. A raw
    `http://loinc.org|97509-4` arrives as `http:/loinc.org|97509-4`; percent-encoded, intact."""
    import requests

    target = urlsplit(upstream)

    def forward(path_and_query: str) -> tuple[int, bytes]:
        relative = path_and_query.removeprefix("/fhir")
        while "//" in relative:
            relative = relative.replace("//", "/")
        answer = requests.get(
            f"{target.scheme}://{target.netloc}{target.path}{relative}", timeout=10
        )
        return answer.status_code, answer.content

    with _http_server(forward) as port:
        yield f"http://127.0.0.1:{port}/fhir"


@contextmanager
def _http_server(answer: Any) -> Iterator[int]:
    """A threaded HTTP/1.1 server whose GETs `answer(path_and_query) -> (status, JSON bytes)`."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            status, body = answer(self.path)
            self.send_response(status)
            self.send_header("Content-Type", "application/fhir+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    with serving(server) as port:
        yield port
