"""The JWT replay guard shared by every worker and replica: the store, behind this process's cache."""

from __future__ import annotations

import time
from collections.abc import Callable

from flask import g

from cds_service.errors import Unauthorized
from cds_service.feedback import FeedbackStore
from cds_service.web.auth import JtiCache


class SharedReplays(JtiCache):
    """A jti is refused if this process saw it (no store round trip) or any process claimed it
    (the store's unique key). The token is checked when the call arrives and claimed in the store
    only when its answer is ready (claim_token), so a call whose replica died before answering
    may be retried by the proxy on another one; of two calls with one token, only the first to
    be answered gets its cards. While the store can't answer, this process's cache alone
    guards, so a sick store never refuses a valid hook; the outage is logged by the store."""

    def __init__(
        self, store: FeedbackStore, max_entries: int, now: Callable[[], float] = time.time
    ) -> None:
        super().__init__(max_entries, now)
        self._store = store

    def remember(self, iss: str, jti: str, expires_at: float) -> None:
        super().remember(iss, jti, expires_at)
        if self._store.jti_seen(iss, jti) is True:
            raise Unauthorized("jti already used (replay, seen by another worker or replica)")
        g.cds_token_claim = (iss, jti, expires_at)

    def claim(self) -> None:
        """Claim the call's token in the store, once its answer is ready; Unauthorized if
        another call claimed it first."""
        pending = g.pop("cds_token_claim", None)
        if pending is not None and self._store.remember_jti(*pending) is False:
            raise Unauthorized("jti already used (replay, seen by another worker or replica)")


def claim_token(replays: JtiCache) -> None:
    """After the answer is computed, before it is sent: see SharedReplays."""
    if isinstance(replays, SharedReplays):
        replays.claim()
