"""Settings, read once from CDS_* environment variables."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from cds_service.errors import ConfigError

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOG_FORMATS = ("text", "json")
DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024


def default_database_url(env: Mapping[str, str]) -> str:
    """SQLite in the user's state directory ($XDG_STATE_HOME, else ~/.local/state): the same file
    whichever directory `serve` or `report` is run from."""
    state = env.get("XDG_STATE_HOME") or str(Path(env.get("HOME") or Path.home()) / ".local/state")
    return f"sqlite:///{Path(state).expanduser().resolve() / 'cds-service' / 'cds-service.sqlite3'}"


DEFAULT_DATABASE_URL = default_database_url(os.environ)


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    value = env.get(name)
    if value is None or value == "":
        return default
    lowered = value.strip().lower()
    if lowered in {"1", "on", "true", "yes"}:
        return True
    if lowered in {"0", "off", "false", "no"}:
        return False
    raise ConfigError(f"{name} must be on or off, got {value!r}")


def _choice(env: Mapping[str, str], name: str, choices: tuple[str, ...], default: str) -> str:
    raw = env.get(name) or default
    for choice in choices:
        if raw.strip().lower() == choice.lower():
            return choice
    raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {raw!r}")


def _https_only(name: str, urls: tuple[str, ...]) -> tuple[str, ...]:
    # Refused here rather than on every call: the allow-list honours http:// only for dev servers.
    for url in urls:
        if not url.lower().startswith("https://"):
            raise ConfigError(
                f"{name} entries must be https:// URLs, got {url!r} "
                "(http:// servers for local development go in CDS_FHIR_DEV_SERVERS)"
            )
    return urls


def _list(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    return tuple(part.strip() for part in value.replace("\n", ",").split(",") if part.strip())


def _number(env: Mapping[str, str], name: str, default: float, *, zero_ok: bool = False) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        number = float(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from exc
    if not math.isfinite(number) or number < 0 or (number == 0 and not zero_ok):
        kind = "zero or more" if zero_ok else "positive"
        raise ConfigError(f"{name} must be {kind}, got {raw!r}")
    return number


def _public_base_urls(value: str | None) -> tuple[str, ...]:
    urls = tuple(url.rstrip("/") for url in _list(value))
    for url in urls:
        scheme, _, rest = url.partition("://")
        if scheme not in ("http", "https") or not rest or any(c in rest for c in "?#@ "):
            raise ConfigError(
                f"CDS_PUBLIC_BASE_URL: {url[:100]!r} is not a base URL such as https://cds.example.org"
            )
    return urls


@dataclass(frozen=True)
class Settings:
    """Everything the service can be told by its operator. Defaults suit production."""

    # Requests larger than this get 413 before any parsing. 64 MiB admits the prefetch of a
    # heavily treated patient (five years of infusions: 10,000 resources, 11-20 MB) with room.
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    # JWT verification (CDS Hooks 2.0 security). Off only for local development.
    auth_enabled: bool = True
    clients_file: Path | None = None
    jwt_leeway_seconds: int = 60
    jti_cache_size: int = 100_000
    # The externally visible base URL (scheme://host[:port]), the first of public_base_urls:
    # links to this service (the SMART app) are built on it.
    public_base_url: str | None = None
    # FHIR servers the service may contact (base URL prefixes). http:// entries are
    # honoured only in fhir_dev_servers, for local development.
    fhir_servers: tuple[str, ...] = ()
    fhir_dev_servers: tuple[str, ...] = ()
    fhir_connect_timeout: float = 0.5
    fhir_read_timeout: float = 1.0
    fhir_deadline: float = 1.5
    fhir_page_cap: int = 5
    fhir_max_workers: int = 8
    # Feedback and audit store.
    database_url: str = DEFAULT_DATABASE_URL
    audit_key: str | None = None
    # CORS: the CDS Hooks sandbox and SMART sandboxes call us from a browser.
    cors_origins: tuple[str, ...] = ("*",)
    # SMART app (the CNS timeline): signs the launch cookie; set it when several processes or
    # replicas serve /smart, else each generates its own and a launch must return to the same one.
    secret_key: str | None = None
    smart_client_id: str = "her2-cns-timeline"
    # Dev/test only: lets a request's extension pin "today" so example hooks are reproducible.
    clock_override: bool = False
    # Dev/test only: pin the service clock.
    today: date | None = None
    log_level: str = "INFO"
    extra: dict[str, str] = field(default_factory=dict)
    # Longest wait for the store (SQLite lock, PostgreSQL statement, pool checkout), in seconds:
    # well under the hook budget, so a sick store never holds up advice.
    store_timeout: float = 0.25
    # Audit rows wait here (durably) until the store has them; default: beside the SQLite file.
    spool_dir: Path | None = None
    # "text" (one line per event) or "json" (one JSON object per line), access lines included.
    log_format: str = "text"
    # Every URL this service is reached at (CDS_PUBLIC_BASE_URL, comma-separated): a JWT's `aud`
    # must name one of them plus the path called. Required with authentication on: the Host
    # header is the caller's to choose, so it never decides the audience.
    public_base_urls: tuple[str, ...] = ()
    # A token whose exp lies further ahead than this is refused (CDS Hooks tokens live minutes;
    # a far exp would also keep its jti in the replay store that long).
    jwt_max_lifetime_seconds: int = 3600

    def audiences(self) -> tuple[str, ...]:
        """The public base URLs a JWT's aud may be built on (public_base_url when set alone)."""
        if self.public_base_urls:
            return self.public_base_urls
        return (self.public_base_url,) if self.public_base_url else ()

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        today_raw = env.get("CDS_TODAY")
        try:
            today = date.fromisoformat(today_raw) if today_raw else None
        except ValueError as exc:
            raise ConfigError(f"CDS_TODAY must be an ISO date, got {today_raw!r}") from exc
        clients = env.get("CDS_CLIENTS")
        public_base_urls = _public_base_urls(env.get("CDS_PUBLIC_BASE_URL"))
        return cls(
            max_body_bytes=int(_number(env, "CDS_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES)),
            auth_enabled=_flag(env, "CDS_AUTH", True),
            clients_file=Path(clients) if clients else None,
            jwt_leeway_seconds=int(_number(env, "CDS_JWT_LEEWAY", 60, zero_ok=True)),
            jti_cache_size=int(_number(env, "CDS_JTI_CACHE_SIZE", 100_000)),
            public_base_url=public_base_urls[0] if public_base_urls else None,
            fhir_servers=_https_only("CDS_FHIR_SERVERS", _list(env.get("CDS_FHIR_SERVERS"))),
            fhir_dev_servers=_list(env.get("CDS_FHIR_DEV_SERVERS")),
            fhir_connect_timeout=_number(env, "CDS_FHIR_CONNECT_TIMEOUT", 0.5),
            fhir_read_timeout=_number(env, "CDS_FHIR_READ_TIMEOUT", 1.0),
            fhir_deadline=_number(env, "CDS_FHIR_DEADLINE", 1.5),
            fhir_page_cap=int(_number(env, "CDS_FHIR_PAGE_CAP", 5)),
            fhir_max_workers=int(_number(env, "CDS_FHIR_MAX_WORKERS", 8)),
            database_url=env.get("CDS_DATABASE_URL") or default_database_url(env),
            audit_key=env.get("CDS_AUDIT_KEY") or None,
            cors_origins=_list(env.get("CDS_CORS_ORIGINS")) or ("*",),
            secret_key=env.get("CDS_SECRET_KEY") or None,
            smart_client_id=env.get("CDS_SMART_CLIENT_ID") or "her2-cns-timeline",
            clock_override=_flag(env, "CDS_CLOCK_OVERRIDE", False),
            today=today,
            log_level=_choice(env, "CDS_LOG_LEVEL", LOG_LEVELS, "INFO"),
            log_format=_choice(env, "CDS_LOG_FORMAT", LOG_FORMATS, "text"),
            store_timeout=_number(env, "CDS_STORE_TIMEOUT", 0.25),
            spool_dir=Path(env["CDS_SPOOL_DIR"]) if env.get("CDS_SPOOL_DIR") else None,
            public_base_urls=public_base_urls,
            jwt_max_lifetime_seconds=int(_number(env, "CDS_JWT_MAX_LIFETIME", 3600)),
        )
