"""create_app(settings): the Flask app factory; all the service needs is loaded here, once."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date

from flask import Flask
from flask_cors import CORS

from cds_service.config import Settings
from cds_service.engine import Engine
from cds_service.feedback import FeedbackStore
from cds_service.observability import logs, metrics
from cds_service.web.auth import build_authenticator
from cds_service.web.errors import register_error_handlers
from cds_service.web.replays import SharedReplays
from cds_service.web.routes import bp
from cds_service.web.runtime import Runtime
from cds_service.web.smart import smart_bp

log = logging.getLogger(__name__)


def create_app(
    settings: Settings | None = None, *, clock: Callable[[], date] | None = None
) -> Flask:
    """The app; raises ConfigError at start-up on bad settings, clients file or knowledge base."""
    settings = Settings.from_env() if settings is None else settings
    # No static folder: Flask would otherwise serve /static/<path> (an undocumented route).
    app = Flask(__name__, static_folder=None)
    store = FeedbackStore.from_settings(settings)
    # Ids in log lines are hashed as the audit hashes patient ids (its key, its hash).
    logs.use_hasher(store.patient_hash)
    authenticator = build_authenticator(settings)
    # Replays are refused across workers and replicas: the seen jtis live in the store too.
    authenticator.replays = SharedReplays(store, settings.jti_cache_size)
    app.extensions["cds"] = Runtime(
        settings=settings,
        engine=Engine.load(),
        authenticator=authenticator,
        feedback=store,
        clock=clock or _default_clock(settings),
    )
    # Each request gets an id, carried by its log lines, its access line and X-Request-Id.
    app.wsgi_app = logs.RequestIdMiddleware(app.wsgi_app)  # type: ignore[method-assign]
    # Browser-based clients (the CDS Hooks sandbox) call every route, and must see the
    # headers on error responses too; flask-cors adds them to all responses and preflights.
    CORS(
        app,
        origins=list(settings.cors_origins),
        allow_headers=["Content-Type", "Authorization"],
        methods=["GET", "POST", "OPTIONS"],
        max_age=600,
    )
    if settings.secret_key:
        app.secret_key = settings.secret_key
    app.config["SMART_CLIENT_ID"] = settings.smart_client_id
    app.register_blueprint(bp)
    app.register_blueprint(smart_bp)
    register_error_handlers(app)
    metrics.install(app)
    _warn_about_dev_settings(settings)
    return app


def _default_clock(settings: Settings) -> Callable[[], date]:
    pinned = settings.today
    return (lambda: pinned) if pinned is not None else date.today


def _warn_about_dev_settings(settings: Settings) -> None:
    # CDS_AUTH=off is announced by build_authenticator, which owns that decision.
    if settings.clock_override:
        log.warning(
            "CDS_CLOCK_OVERRIDE is on: requests may set today via extension "
            '"org.her2cns.asOfDate" (development and tests only)'
        )
    if settings.today is not None:
        log.warning("CDS_TODAY pins the service clock to %s", settings.today.isoformat())
