"""What the app loads once at start-up and every request shares (kept on app.extensions["cds"])."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from flask import current_app

from cds_service.config import Settings
from cds_service.engine import Engine
from cds_service.feedback import FeedbackStore
from cds_service.web.auth import Authenticator


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    engine: Engine
    authenticator: Authenticator
    feedback: FeedbackStore
    # The service clock: read only in the web layer, passed down as `today`.
    clock: Callable[[], date]


def runtime() -> Runtime:
    """The running app's Runtime."""
    found: Runtime = current_app.extensions["cds"]
    return found
