"""The trusted CDS clients file (TOML, named by CDS_CLIENTS), read and validated at start-up."""

from __future__ import annotations

import ipaddress
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cds_service.errors import ConfigError

_ALLOWED_KEYS = ("iss", "jwks_url", "jwks_file", "jku", "fhir_servers", "tenant")
_CLIENT_HEADER = re.compile(r"^\s*\[\[\s*clients\s*\]\]")
# Plain http is tolerated only for a server on this machine (local development).
_LOOPBACK_NAMES = {"localhost"}


@dataclass(frozen=True)
class TrustedClient:
    """One CDS client we accept JWTs from, and where its signing keys are."""

    iss: str
    jwks_url: str | None
    jwks_file: Path | None
    # Allowed `jku` header values; defaults to the jwks_url when the file gives none.
    jku: tuple[str, ...]
    fhir_servers: tuple[str, ...]
    tenant: str | None
    # Where the entry is, for start-up error messages ("clients.toml entry 2, line 7").
    origin: str


def load_clients(path: Path) -> dict[str, TrustedClient]:
    """Read and validate the clients file; returns the clients by `iss`. Raises ConfigError."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"CDS_CLIENTS: cannot read {path}: {exc}") from exc
    return parse_clients(text, source=str(path), base_dir=path.parent)


def parse_clients(text: str, *, source: str, base_dir: Path) -> dict[str, TrustedClient]:
    """Validate the TOML text of a clients file; `jwks_file` paths are relative to base_dir."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from exc
    unknown = sorted(set(document) - {"clients"})
    if unknown:
        raise ConfigError(f"{source}: unknown top-level key {unknown[0]!r} (expected [[clients]])")
    entries = document.get("clients")
    if (
        not isinstance(entries, list)
        or not entries
        or not all(isinstance(e, dict) for e in entries)
    ):
        raise ConfigError(f"{source}: expected at least one [[clients]] table")
    lines = _header_lines(text, len(entries))
    clients: dict[str, TrustedClient] = {}
    for index, entry in enumerate(entries):
        where = f"{source} entry {index + 1}" + (f", line {lines[index]}" if lines else "")
        client = _client(entry, where, base_dir)
        if client.iss in clients:
            raise ConfigError(f"{where}: iss {client.iss!r} is already configured")
        clients[client.iss] = client
    return clients


def _header_lines(text: str, count: int) -> list[int]:
    """Line numbers of the [[clients]] headers, when they can be matched one-to-one to entries."""
    found = [n for n, line in enumerate(text.splitlines(), start=1) if _CLIENT_HEADER.match(line)]
    return found if len(found) == count else []


def _client(entry: dict[str, Any], where: str, base_dir: Path) -> TrustedClient:
    unknown = sorted(set(entry) - set(_ALLOWED_KEYS))
    if unknown:
        allowed = ", ".join(_ALLOWED_KEYS)
        raise ConfigError(f"{where}: unknown key {unknown[0]!r} (allowed: {allowed})")
    iss = _text(entry, "iss", where)
    if iss is None:
        raise ConfigError(f"{where}: missing required key 'iss'")
    where = f"{where} (iss {iss!r})"
    jwks_url = _text(entry, "jwks_url", where)
    jwks_file = _text(entry, "jwks_file", where)
    if (jwks_url is None) == (jwks_file is None):
        raise ConfigError(f"{where}: give exactly one of jwks_url or jwks_file")
    if jwks_url is not None:
        _check_url(jwks_url, "jwks_url", where)
    jku = _urls(entry, "jku", where)
    return TrustedClient(
        iss=iss,
        jwks_url=jwks_url,
        jwks_file=(base_dir / jwks_file) if jwks_file is not None else None,
        jku=jku if "jku" in entry else ((jwks_url,) if jwks_url else ()),
        fhir_servers=_urls(entry, "fhir_servers", where),
        tenant=_text(entry, "tenant", where),
        origin=where,
    )


def _text(entry: dict[str, Any], key: str, where: str) -> str | None:
    value = entry.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: {key} must be a non-empty string")
    return value.strip()


def _urls(entry: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = entry.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError(f"{where}: {key} must be a list of URL strings")
    for url in value:
        _check_url(url, key, where)
    return tuple(value)


def _check_url(url: str, key: str, where: str) -> None:
    """https with a host; http only for loopback; no credentials or fragment in the URL."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError as exc:
        raise ConfigError(f"{where}: {key} {url!r} is not a valid URL: {exc}") from exc
    problem = None
    if parts.scheme not in ("https", "http") or not host:
        problem = "is not an absolute http(s) URL"
    elif parts.scheme == "http" and not _is_loopback(host):
        problem = "must use https (plain http is allowed only for localhost)"
    elif parts.username is not None or parts.fragment:
        problem = "must not contain credentials or a #fragment"
    if problem:
        raise ConfigError(f"{where}: {key} {url!r} {problem}")


def _is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
