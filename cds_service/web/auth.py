"""Caller authentication (CDS Hooks 2.0 JWT). STUB: replaced by the JWT implementation."""

from __future__ import annotations

from dataclasses import dataclass

from cds_service.config import Settings
from cds_service.errors import Unauthorized


@dataclass(frozen=True)
class Caller:
    """Who called: the verified issuer and what it may ask us to fetch from."""

    iss: str | None
    tenant: str | None = None
    fhir_servers: tuple[str, ...] = ()


class Authenticator:
    def __init__(self, settings: Settings) -> None:
        self.enabled = settings.auth_enabled

    def authenticate(self, authorization: str | None, request_url: str) -> Caller:
        """Verify `Authorization: Bearer <JWT>` for the URL called; raises Unauthorized."""
        if self.enabled:
            raise Unauthorized("JWT verification not implemented yet")
        return Caller(iss=None)


def build_authenticator(settings: Settings) -> Authenticator:
    """Build from settings (reads CDS_CLIENTS); raises ConfigError on a bad clients file."""
    return Authenticator(settings)
