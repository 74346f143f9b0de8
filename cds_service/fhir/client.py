"""The FHIR client: the only code that knows `requests`; every failure becomes FhirFetchError."""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.cookiejar import DefaultCookiePolicy
from urllib.parse import parse_qsl, unquote, urljoin, urlsplit

import orjson
import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ReadTimeoutError

from cds_service.errors import FhirFetchError
from cds_service.fhir import budget
from cds_service.fhir.allowlist import Base, within
from cds_service.fhir.references import patient_of
from cds_service.fhir.search import encoded

log = logging.getLogger(__name__)
# urllib3 logs each request line, query string included (patient ids), at DEBUG: never emit it,
# even when an operator turns on DEBUG for everything.
logging.getLogger("urllib3.connectionpool").setLevel(logging.INFO)

FHIR_JSON = "application/fhir+json"
_DIAGNOSTICS_MAX = 160
_CHUNK_BYTES = 64 * 1024


@dataclass(frozen=True)
class Query:
    """One prefetch query, ready to send. `relative` is e.g. `Condition?patient=123`."""

    base: Base
    relative: str
    token: str | None
    connect_timeout: float
    read_timeout: float
    page_cap: int

    @property
    def resource_type(self) -> str:
        return urlsplit(self.relative).path.strip("/").split("/")[0] or "resource"

    @property
    def is_read(self) -> bool:
        return "/" in urlsplit(self.relative).path.strip("/")

    @property
    def what(self) -> str:
        """How reasons name the query: its resource type and kind, never its parameters."""
        return f"{self.resource_type} {'read' if self.is_read else 'search'}"

    def url(self) -> str:
        return f"{str(self.base).rstrip('/')}/{encoded(self.relative).lstrip('/')}"

    def secrets(self) -> tuple[str, ...]:
        """Strings a server may echo back that must not reach a reason: token, ids, values."""
        parts = urlsplit(self.relative)
        values = [unquote(segment) for segment in parts.path.split("/")[1:] if segment]
        for _, value in parse_qsl(parts.query, keep_blank_values=False):
            for piece in re.split(r"[,|]", value):
                values += [piece, piece.rsplit("/", 1)[-1]]
            values.append(value)
        if self.token:
            values.append(self.token)
        return tuple(sorted({v for v in values if v}, key=len, reverse=True))


class _Session:
    """One requests.Session per process; rebuilt in a forked child (sockets must not be shared)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._session: requests.Session | None = None

    def get(self, pool_size: int) -> requests.Session:
        with self._lock:
            if self._session is None:
                self._session = _new_session(pool_size)
            return self._session

    def reset(self) -> None:
        self._session = None
        self._lock = threading.Lock()


def _new_session(pool_size: int) -> requests.Session:
    session = requests.Session()
    # No proxies, .netrc credentials or CA bundles from the environment: where a request
    # goes and what it carries is decided by the allow-list and the hook call alone.
    session.trust_env = False
    # The session is shared by every hook call: a cookie set for one EHR user must never
    # ride along on another's request.
    session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=max(1, pool_size), max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


_SESSION = _Session()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_SESSION.reset)


def session(pool_size: int) -> requests.Session:
    """The process-wide session (created on first use with a pool of `pool_size` connections)."""
    return _SESSION.get(pool_size)


def fetch(query: Query, *, deadline: float, pool_size: int) -> tuple[dict, ...]:
    """Run the query (following next links) and return its resources; raises FhirFetchError."""
    resources: list[dict] = []
    for page in _pages(query, deadline=deadline, pool_size=pool_size):
        resources.extend(page)
    return tuple(resources)


def _pages(query: Query, *, deadline: float, pool_size: int) -> Iterator[list[dict]]:
    url = _first_url(query)
    for page_number in range(1, query.page_cap + 1):
        body = _get(query, url, deadline=deadline, pool_size=pool_size)
        if query.is_read:
            yield [_check_read(query, body)]
            return
        yield _check_patient(query, _entries(query, body))
        next_url = _next_link(body)
        if next_url is None:
            return
        url = urljoin(url, next_url)
        if not within(url, query.base):
            raise FhirFetchError(
                f"{query.what}: next page link leaves the fhirServer; not followed "
                f"(after {page_number} page{'s' if page_number > 1 else ''})"
            )
    raise FhirFetchError(
        f"{query.what}: more than {query.page_cap} pages of results; stopped (data incomplete)"
    )


def _first_url(query: Query) -> str:
    relative = urlsplit(query.relative)
    if relative.scheme or relative.netloc or query.relative.startswith("//"):
        raise FhirFetchError(f"{query.what}: query is not relative to fhirServer")
    url = query.url()
    if not within(url, query.base):
        raise FhirFetchError(f"{query.what}: query leaves the fhirServer")
    return url


def _get(query: Query, url: str, *, deadline: float, pool_size: int) -> dict:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise FhirFetchError(f"{query.what}: not finished before the fetch deadline")
    headers = {"Accept": FHIR_JSON}
    if query.token:
        headers["Authorization"] = f"Bearer {query.token}"
    timeout = (min(query.connect_timeout, remaining), min(query.read_timeout, remaining))
    started = time.monotonic()
    try:
        response = session(pool_size).get(
            url, headers=headers, timeout=timeout, allow_redirects=False, stream=True
        )
        with response:
            content = _read_body(query, response, deadline)
    except requests.exceptions.ConnectTimeout:
        raise FhirFetchError(f"{query.what}: timed out connecting to the FHIR server") from None
    except requests.exceptions.Timeout:
        raise FhirFetchError(f"{query.what}: timed out waiting for the FHIR server") from None
    except requests.exceptions.ConnectionError as exc:
        # requests reports a read timeout while receiving the body as a ConnectionError.
        if any(isinstance(arg, ReadTimeoutError) for arg in exc.args):
            raise FhirFetchError(f"{query.what}: timed out waiting for the FHIR server") from None
        raise FhirFetchError(f"{query.what}: could not connect to the FHIR server") from None
    except requests.exceptions.RequestException as exc:
        raise FhirFetchError(f"{query.what}: request failed ({type(exc).__name__})") from None
    # Reading the body ourselves (above) meets urllib3's exceptions rather than requests'.
    except ReadTimeoutError:
        raise FhirFetchError(f"{query.what}: timed out waiting for the FHIR server") from None
    except urllib3.exceptions.HTTPError as exc:
        raise FhirFetchError(f"{query.what}: answer broken off ({type(exc).__name__})") from None
    log.info(
        "FHIR %s: HTTP %s in %.0f ms",
        query.what,
        response.status_code,
        (time.monotonic() - started) * 1000,
    )
    try:
        return _body(query, response.status_code, response.headers.get("Location"), content)
    finally:
        budget.parsed(len(content))


def _read_body(query: Query, response: requests.Response, deadline: float) -> bytearray:
    """The body, read as it arrives, so a server trickling bytes cannot hold a worker past the
    deadline (a read timeout alone would not: it is per socket read), and counted against the
    memory budget as it comes, so no answer (a gzip bomb included) is read whole before the
    check. On success the caller owns the counted bytes (budget.parsed after parsing)."""
    content = bytearray()  # one buffer, no joined copy
    try:
        while chunk := response.raw.read1(_CHUNK_BYTES, decode_content=True):
            if not budget.take(len(chunk)):
                limit = budget.BUDGET.limit // 1_000_000
                raise FhirFetchError(
                    f"{query.what}: answer larger than the {limit} MB memory budget for FHIR "
                    "answers (with those being read); not read"
                )
            content += chunk
            if time.monotonic() > deadline:
                raise FhirFetchError(f"{query.what}: not finished before the fetch deadline")
    except BaseException:
        budget.give(len(content))
        raise
    return content


def _body(query: Query, status: int, location: str | None, content: bytearray) -> dict:
    """Translate the answer: a JSON object on 2xx, else FhirFetchError with a safe reason."""
    if 300 <= status < 400:
        where = "to another server " if not (location and within(location, query.base)) else ""
        raise FhirFetchError(
            f"{query.what}: redirect {where}not followed (HTTP {status})", http_status=status
        )
    body = _json(content)
    if status >= 400 or status < 200:
        raise FhirFetchError(_status_reason(query, status, body), http_status=status)
    if body is None:
        raise FhirFetchError(f"{query.what}: the answer is not JSON", http_status=status)
    if body.get("resourceType") == "OperationOutcome":
        raise FhirFetchError(
            f"{query.what}: the FHIR server answered with an OperationOutcome"
            f"{_outcome_detail(query, body)}",
            http_status=status,
        )
    expected = query.resource_type if query.is_read else "Bundle"
    if body.get("resourceType") != expected:
        raise FhirFetchError(
            f"{query.what}: expected a {expected}, got {_kind(body.get('resourceType'))}",
            http_status=status,
        )
    return body


_STATUS_TEXT = {
    401: "the FHIR server refused the access token (401)",
    403: "access forbidden by the FHIR server (403)",
    404: "not found on the FHIR server (404)",
}


def _status_reason(query: Query, status: int, body: dict | None) -> str:
    if status in _STATUS_TEXT:
        text = _STATUS_TEXT[status]
    elif 400 <= status < 500:
        text = f"rejected by the FHIR server (HTTP {status})"
    elif status >= 500:
        text = f"FHIR server error (HTTP {status})"
    else:
        text = f"unexpected HTTP status {status}"
    detail = ""
    if body is not None and body.get("resourceType") == "OperationOutcome":
        detail = _outcome_detail(query, body)
    return f"{query.what}: {text}{detail}"


def _json(content: bytes | bytearray) -> dict | None:
    try:
        body = orjson.loads(content)
    except orjson.JSONDecodeError:
        return None
    return body if isinstance(body, dict) else None


def _outcome_detail(query: Query, outcome: dict) -> str:
    """` (code: diagnostics)` of the first issue, trimmed, with the token and ids blanked out."""
    issues = outcome.get("issue")
    issue = issues[0] if isinstance(issues, list) and issues and isinstance(issues[0], dict) else {}
    code = issue.get("code") if isinstance(issue.get("code"), str) else None
    text = issue.get("diagnostics")
    if not isinstance(text, str):
        details = issue.get("details")
        text = details.get("text") if isinstance(details, dict) else None
    text = _redact(text, query.secrets()) if isinstance(text, str) else None
    if text and len(text) > _DIAGNOSTICS_MAX:
        text = text[: _DIAGNOSTICS_MAX - 1].rstrip() + "…"
    parts = [part for part in (code and code[:40], text) if part]
    return f" ({': '.join(parts)})" if parts else ""


def _redact(text: str, secrets: tuple[str, ...]) -> str:
    text = " ".join(text.split())
    for secret in secrets:
        text = re.sub(rf"(?<![\w-]){re.escape(secret)}(?![\w-])", "…", text)
    return text


def _kind(resource_type: object) -> str:
    """Name what the server sent without echoing arbitrary text."""
    if isinstance(resource_type, str) and resource_type.isalnum() and len(resource_type) < 40:
        return f"resourceType {resource_type}"
    return "no FHIR resource"


def _entries(query: Query, bundle: dict) -> list[dict]:
    kind = bundle.get("type")
    if kind not in ("searchset", None):
        shown = kind if isinstance(kind, str) and kind.isalnum() and len(kind) < 40 else "other"
        raise FhirFetchError(f"{query.what}: expected a searchset Bundle, got a {shown} Bundle")
    entries = bundle.get("entry") or []
    if not isinstance(entries, list):
        raise FhirFetchError(f"{query.what}: Bundle.entry is not a list")
    resources = []
    for entry in entries:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict):
            continue
        # Outcome entries carry server warnings about the search, not patient data.
        search = entry.get("search")
        if isinstance(search, dict) and search.get("mode") == "outcome":
            continue
        resources.append(resource)
    return resources


def _check_read(query: Query, resource: dict) -> dict:
    wanted = unquote(urlsplit(query.relative).path.strip("/").split("/")[1])
    if resource.get("id") != wanted:
        raise FhirFetchError(f"{query.what}: the server returned a different {query.resource_type}")
    return resource


def _check_patient(query: Query, resources: list[dict]) -> list[dict]:
    """Refuse a search whose results belong to another patient.

    A server that ignores a search parameter it does not support (lenient handling is the FHIR
    default) would otherwise hand us every patient's data as this patient's.
    """
    params = dict(parse_qsl(urlsplit(query.relative).query))
    patient = params.get("patient") or params.get("subject")
    if not patient:
        return resources
    wanted = patient.removeprefix("Patient/")
    for resource in resources:
        if resource.get("resourceType") != query.resource_type:
            continue  # _include'd resources are not the patient's own
        if patient_of(resource) not in (None, wanted):
            raise FhirFetchError(
                f"{query.what}: the server returned another patient's data; none of it used"
            )
    return resources


def _next_link(bundle: dict) -> str | None:
    links = bundle.get("link")
    if not isinstance(links, list):
        return None
    for link in links:
        if isinstance(link, dict) and link.get("relation") == "next":
            url = link.get("url")
            return url if isinstance(url, str) and url else None
    return None
