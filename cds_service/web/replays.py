"""The JWT replay guard shared by every worker and replica: the store, behind this process's cache."""

from __future__ import annotations

import time
from collections.abc import Callable

from cds_service.errors import Unauthorized
from cds_service.feedback import FeedbackStore
from cds_service.web.auth import JtiCache


class SharedReplays(JtiCache):
    """A jti is refused if this process saw it (no store round trip) or any process did (the
    store's unique key). While the store can't answer, this process's cache alone guards, so a
    sick store never refuses a valid hook; the outage is logged by the store."""

    def __init__(
        self, store: FeedbackStore, max_entries: int, now: Callable[[], float] = time.time
    ) -> None:
        super().__init__(max_entries, now)
        self._store = store

    def remember(self, iss: str, jti: str, expires_at: float) -> None:
        super().remember(iss, jti, expires_at)
        if self._store.remember_jti(iss, jti, expires_at) is False:
            raise Unauthorized("jti already used (replay, seen by another worker or replica)")
