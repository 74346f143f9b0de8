"""Settings, read once from CDS_* environment variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from cds_service.errors import ConfigError

DEFAULT_DATABASE_URL = "sqlite:///var/cds-service.sqlite3"


def _flag(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    lowered = value.strip().lower()
    if lowered in {"1", "on", "true", "yes"}:
        return True
    if lowered in {"0", "off", "false", "no"}:
        return False
    raise ConfigError(f"expected on/off, got {value!r}")


def _list(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    return tuple(part.strip() for part in value.replace("\n", ",").split(",") if part.strip())


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        number = float(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from exc
    if number <= 0:
        raise ConfigError(f"{name} must be positive, got {raw!r}")
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

    # Requests larger than this get 413 before any parsing.
    max_body_bytes: int = 5 * 1024 * 1024
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
            max_body_bytes=int(_number(env, "CDS_MAX_BODY_BYTES", 5 * 1024 * 1024)),
            auth_enabled=_flag(env.get("CDS_AUTH"), True),
            clients_file=Path(clients) if clients else None,
            jwt_leeway_seconds=int(_number(env, "CDS_JWT_LEEWAY", 60)),
            jti_cache_size=int(_number(env, "CDS_JTI_CACHE_SIZE", 100_000)),
            public_base_url=public_base_urls[0] if public_base_urls else None,
            fhir_servers=_list(env.get("CDS_FHIR_SERVERS")),
            fhir_dev_servers=_list(env.get("CDS_FHIR_DEV_SERVERS")),
            fhir_connect_timeout=_number(env, "CDS_FHIR_CONNECT_TIMEOUT", 0.5),
            fhir_read_timeout=_number(env, "CDS_FHIR_READ_TIMEOUT", 1.0),
            fhir_deadline=_number(env, "CDS_FHIR_DEADLINE", 1.5),
            fhir_page_cap=int(_number(env, "CDS_FHIR_PAGE_CAP", 5)),
            fhir_max_workers=int(_number(env, "CDS_FHIR_MAX_WORKERS", 8)),
            database_url=env.get("CDS_DATABASE_URL") or DEFAULT_DATABASE_URL,
            audit_key=env.get("CDS_AUDIT_KEY") or None,
            cors_origins=_list(env.get("CDS_CORS_ORIGINS")) or ("*",),
            secret_key=env.get("CDS_SECRET_KEY") or None,
            smart_client_id=env.get("CDS_SMART_CLIENT_ID") or "her2-cns-timeline",
            clock_override=_flag(env.get("CDS_CLOCK_OVERRIDE"), False),
            today=today,
            log_level=env.get("CDS_LOG_LEVEL", "INFO"),
            public_base_urls=public_base_urls,
            jwt_max_lifetime_seconds=int(_number(env, "CDS_JWT_MAX_LIFETIME", 3600)),
        )
