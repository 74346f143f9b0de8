"""Warm-up runs each service on a synthetic record, leaving no trace: no audit row, same answers."""

from __future__ import annotations

import dataclasses
import gc
import logging
import os
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from cds_service.commands import serve
from cds_service.testing import hook_request, load_json
from cds_service.warmup import post_synthetic_hooks, warm_up, warm_worker
from cds_service.web.auth import Authenticator

SCENARIO = Path(__file__).resolve().parents[1] / "fixtures/scenarios/01-rechallenge-after-srs.json"


@pytest.fixture(autouse=True)
def _heap_restored():
    """A worker's warm-up freezes its heap, as it should; this test process must not stay so."""
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


def test_warm_up_writes_no_audit_row_and_answers_stay_the_same(app, client):
    request = hook_request(load_json(SCENARIO), "patient-view", as_of="2026-11-23")
    before = client.post("/cds-services/her2-cns-patient-view", json=request).get_json()
    store = app.extensions["cds"].feedback
    audited = len(store.audit_entries())

    assert warm_up(app) > 0
    assert warm_worker(app) > 0

    assert len(store.audit_entries()) == audited
    after = client.post("/cds-services/her2-cns-patient-view", json=request).get_json()
    assert after == before


def test_synthetic_hooks_reach_card_rendering_through_the_routes(app):
    assert post_synthetic_hooks(app) >= 1
    assert app.extensions["cds"].feedback.audit_entries() == []


def test_warm_up_leaves_authentication_on_and_the_store_auditing(app, client):
    """The warm-up's unauthenticated, unaudited runtime never outlives the warm-up."""
    runtime = app.extensions["cds"]
    secured = dataclasses.replace(
        runtime,
        authenticator=Authenticator(
            dataclasses.replace(
                runtime.settings, auth_enabled=True, public_base_url="http://localhost"
            )
        ),
    )
    app.extensions["cds"] = secured
    request = hook_request(load_json(SCENARIO), "patient-view", as_of="2026-11-23")

    assert post_synthetic_hooks(app) >= 1  # the warm-up itself is not turned away

    assert app.extensions["cds"] is secured
    assert client.post("/cds-services/her2-cns-patient-view", json=request).status_code == 401
    app.extensions["cds"] = runtime
    assert client.post("/cds-services/her2-cns-patient-view", json=request).status_code == 200
    assert len(runtime.feedback.audit_entries()) == 1


def test_a_worker_says_when_it_is_ready(app, caplog):
    with caplog.at_level(logging.INFO, logger="cds_service.warmup"):
        warm_worker(app)
    assert f"worker {os.getpid()} ready" in caplog.text
    assert gc.get_freeze_count() > 0  # what the warm-up left is set aside from collections


def test_gunicorn_workers_warm_the_flask_app_even_behind_middleware(app, caplog):
    """post_worker_init gets the app gunicorn loaded, which may wrap the Flask app."""

    class Loaded:
        flask_app: Flask = app
        wsgi = DispatcherMiddleware(app, {})

    class Worker:
        app = Loaded()

    with caplog.at_level(logging.INFO, logger="cds_service.warmup"):
        serve._post_worker_init(Worker())
    assert "worker warm-up failed" not in caplog.text
    assert f"worker {os.getpid()} ready" in caplog.text


def test_heap_is_frozen_only_before_a_fork(app):
    frozen, threshold = gc.get_freeze_count(), gc.get_threshold()
    warm_up(app)
    assert (gc.get_freeze_count(), gc.get_threshold()) == (frozen, threshold)


def test_before_a_fork_the_heap_is_frozen_and_young_collections_are_rarer(app):
    threshold = gc.get_threshold()
    try:
        warm_up(app, before_fork=True)
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold()[0] > threshold[0]
        assert gc.get_threshold()[1:] == threshold[1:]
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)


def test_a_worker_opens_its_audit_spool_before_its_first_hook_and_leaves_no_file_unused(app):
    """The spool's file and delivery thread are the worker's warm-up's, not its first hook's;
    a worker that answers nothing leaves no file behind."""
    store = app.extensions["cds"].feedback
    spool_dir = store._spool.directory

    warm_worker(app)

    [opened] = list(spool_dir.glob("audit-*.jsonl"))
    assert opened.read_bytes() == b""
    store.close()
    assert list(spool_dir.glob("audit-*.jsonl")) == []


def test_rows_of_a_spool_opened_early_reach_the_store(app, client):
    store = app.extensions["cds"].feedback
    store.open_spool()
    request = hook_request(load_json(SCENARIO), "patient-view", as_of="2026-11-23")

    assert client.post("/cds-services/her2-cns-patient-view", json=request).status_code == 200

    [entry] = store.audit_entries()
    assert entry.hook_instance == request["hookInstance"]
