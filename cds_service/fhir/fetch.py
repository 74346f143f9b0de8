"""Fetch what prefetch left out from the EHR's FHIR server. STUB: replaced by the FHIR client work."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from cds_service.config import Settings


@dataclass(frozen=True)
class Fetched:
    """Outcome for one prefetch key: resources (searchset entries or a read) or why not."""

    key: str
    resources: tuple[dict, ...] = ()
    error: str | None = None  # safe to show: never contains the token

    @property
    def ok(self) -> bool:
        return self.error is None


def fetch_missing(
    *,
    fhir_server: str,
    fhir_authorization: Mapping | None,
    queries: Mapping[str, str],
    settings: Settings,
    allowed_servers: tuple[str, ...] = (),
) -> dict[str, Fetched]:
    """Run the (already token-substituted, relative) queries against fhir_server.

    Raises FhirServerNotAllowed when fhir_server is outside the allow-list (no request sent).
    """
    return {key: Fetched(key, error="fetching from fhirServer is not implemented") for key in queries}
