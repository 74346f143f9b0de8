"""Warm-up runs each service on a synthetic record, leaving no trace: no audit row, same answers."""

from __future__ import annotations

import gc
from pathlib import Path

from cds_service.testing import hook_request, load_json
from cds_service.warmup import run_synthetic_hooks, warm_up, warm_worker

SCENARIO = Path(__file__).resolve().parents[1] / "fixtures/scenarios/01-rechallenge-after-srs.json"


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


def test_synthetic_hooks_reach_card_rendering(app):
    assert run_synthetic_hooks(app.extensions["cds"]) >= 1


def test_heap_is_frozen_only_before_a_fork(app):
    frozen = gc.get_freeze_count()
    warm_up(app)
    assert gc.get_freeze_count() == frozen
