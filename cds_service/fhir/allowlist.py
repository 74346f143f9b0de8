"""Which FHIR servers the service may contact: operator-listed base URL prefixes, https only."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from cds_service.config import Settings
from cds_service.errors import FhirServerNotAllowed

_DEFAULT_PORTS = {"https": 443, "http": 80}


@dataclass(frozen=True)
class Base:
    """A URL reduced to what decides where a request goes: scheme, host, port, path segments."""

    scheme: str
    host: str
    port: int
    segments: tuple[str, ...]

    def __str__(self) -> str:
        default = _DEFAULT_PORTS.get(self.scheme)
        port = "" if self.port == default else f":{self.port}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        path = "".join(f"/{segment}" for segment in self.segments)
        return f"{self.scheme}://{host}{port}{path}"

    def contains(self, other: Base) -> bool:
        """True when `other` is this base or lies under it, at a path-segment boundary."""
        return (self.scheme, self.host, self.port) == (
            other.scheme,
            other.host,
            other.port,
        ) and other.segments[: len(self.segments)] == self.segments


def parse(url: str) -> Base | None:
    """Normalize an absolute http(s) URL; None when it is unusable or could hide its target.

    Refused: other schemes, userinfo (`user@host` is a classic way to disguise the real host),
    backslashes, dot segments, a bad port. Query and fragment are ignored here.
    """
    if not isinstance(url, str) or "\\" in url or any(ch.isspace() for ch in url):
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname or "@" in parts.netloc:
        return None
    segments = tuple(segment for segment in parts.path.split("/") if segment)
    if any(
        segment in {".", ".."} or segment.lower() in {"%2e", "%2e%2e", ".%2e", "%2e."}
        for segment in segments
    ):
        return None
    host = parts.hostname.lower().rstrip(".")
    return Base(scheme, host, port or _DEFAULT_PORTS[scheme], segments)


def _bases(urls: Iterable[str]) -> list[Base]:
    return [base for base in (parse(url) for url in urls) if base is not None]


def display(url: str) -> str:
    """The server named in a message: normalized when possible, never with userinfo."""
    base = parse(url)
    if base is not None:
        return str(base)
    return "the given fhirServer" if "@" in str(url) else repr(str(url)[:200])


def check_fhir_server(
    fhir_server: str, settings: Settings, allowed_servers: Iterable[str] = ()
) -> Base:
    """Return the normalized fhirServer, or raise FhirServerNotAllowed (nothing is sent)."""
    if isinstance(fhir_server, str) and "@" in _netloc(fhir_server):
        raise FhirServerNotAllowed("fhirServer must not contain user credentials")
    base = parse(fhir_server)
    if base is None:
        raise FhirServerNotAllowed(f"fhirServer {display(fhir_server)} is not a usable http(s) URL")
    # Development servers may use http; everything else must be https, even if listed.
    if any(entry.contains(base) for entry in _bases(settings.fhir_dev_servers)):
        return base
    if base.scheme != "https":
        raise FhirServerNotAllowed(
            f"fhirServer {base} is not allowed: https is required (http only for development "
            "servers listed in CDS_FHIR_DEV_SERVERS)"
        )
    allowed = _bases((*settings.fhir_servers, *allowed_servers))
    if any(entry.scheme == "https" and entry.contains(base) for entry in allowed):
        return base
    raise FhirServerNotAllowed(
        f"fhirServer {base} is not allowed: it is not listed in CDS_FHIR_SERVERS "
        "(or for this client)"
    )


def _netloc(url: str) -> str:
    """The authority part; empty for a URL urlsplit cannot read (`http://[`: a 412, not a 500)."""
    try:
        return urlsplit(url).netloc
    except ValueError:
        return ""


def within(url: str, base: Base) -> bool:
    """True when an absolute URL (a next link, a redirect) stays under the allowed base."""
    target = parse(url)
    return target is not None and base.contains(target)
