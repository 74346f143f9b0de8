"""Fetch what prefetch left out from the EHR's FHIR server: in parallel, within one deadline."""

from __future__ import annotations

import contextvars
import logging
import os
import threading
import time
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

from cds_service.config import Settings
from cds_service.errors import FhirFetchError
from cds_service.fhir import client
from cds_service.fhir.allowlist import Base, check_fhir_server
from cds_service.observability import metrics

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Fetched:
    """Outcome for one prefetch key: resources (searchset entries or a read) or why not."""

    key: str
    resources: tuple[dict, ...] = ()
    error: str | None = None  # safe to show: never contains the token

    @property
    def ok(self) -> bool:
        return self.error is None


class _Pool:
    """One thread pool per process, shared by all requests (no thread start-up per request)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None

    def get(self, size: int) -> ThreadPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    max_workers=max(1, size), thread_name_prefix="fhir-fetch"
                )
            return self._executor

    def reset(self) -> None:
        # A forked child has the parent's executor object but none of its threads.
        self._executor = None
        self._lock = threading.Lock()


_POOL = _Pool()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_POOL.reset)


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
    Never waits past settings.fhir_deadline: keys not done by then come back as timed out.
    """
    started = time.monotonic()
    deadline = started + settings.fhir_deadline
    if not queries:
        # Full prefetch: fhirServer is never contacted, so it need not be allow-listed.
        return {}
    base = check_fhir_server(fhir_server, settings, allowed_servers)
    token = _token(fhir_authorization)
    executor = _POOL.get(settings.fhir_max_workers)
    futures: dict[str, Future[tuple[dict, ...]]] = {
        # Each in a copy of this context: its answers stay in the caller's budget.answers_held.
        key: executor.submit(
            contextvars.copy_context().run,
            client.fetch,
            _query(base, relative, token, settings),
            deadline=deadline,
            pool_size=settings.fhir_max_workers,
        )
        for key, relative in queries.items()
    }
    wait(futures.values(), timeout=max(0.0, deadline - time.monotonic()))
    results = {
        key: _outcome(key, _query(base, queries[key], None, settings), future, settings)
        for key, future in futures.items()
    }
    metrics.count_fetches({key: result.ok for key, result in results.items()})
    log.info(
        "FHIR fetch: %d of %d keys fetched in %.0f ms",
        sum(result.ok for result in results.values()),
        len(results),
        (time.monotonic() - started) * 1000,
    )
    return results


def _token(fhir_authorization: Mapping | None) -> str | None:
    token = fhir_authorization.get("access_token") if fhir_authorization else None
    return token if isinstance(token, str) and token else None


def _query(base: Base, relative: str, token: str | None, settings: Settings) -> client.Query:
    return client.Query(
        base=base,
        relative=relative,
        token=token,
        connect_timeout=settings.fhir_connect_timeout,
        read_timeout=settings.fhir_read_timeout,
        page_cap=settings.fhir_page_cap,
    )


def _outcome(
    key: str, query: client.Query, future: Future[tuple[dict, ...]], settings: Settings
) -> Fetched:
    if not future.done():
        # Left to finish on its own (bounded by the per-call timeouts); nobody waits for it.
        future.cancel()
        deadline = f"{settings.fhir_deadline:g} s"
        return Fetched(
            key, error=f"{query.what}: not finished within the {deadline} fetch deadline"
        )
    try:
        return Fetched(key, resources=future.result())
    except FhirFetchError as exc:
        return Fetched(key, error=exc.reason)
    except Exception:  # a bug must cost one key, not the hook call; the log says which
        log.exception("FHIR fetch of key %s failed unexpectedly", key)
        return Fetched(key, error=f"{query.what}: internal error while fetching")
