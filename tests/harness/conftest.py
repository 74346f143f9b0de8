"""A real server on 127.0.0.1 (auth off, clock override on), and hook requests in a folder."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from cds_service.app import create_app
from cds_service.config import Settings
from cds_service.testing import free_port, hook_request, live_server
from tests.conftest import TODAY
from tests.harness.bundles import lapatinib_draft, scenario_bundle

AS_OF = TODAY.isoformat()
# What an oncologist expects for this patient (progressed on lapatinib + capecitabine): the
# rechallenge stopped, with the tucatinib triplet (tucatinib 2361285, trastuzumab 224905,
# capecitabine 194000) or T-DXd (2267582) offered, and the lapatinib draft removed.
ALTERNATIVES = [["194000", "224905", "2361285"], ["2267582"]]
RECHALLENGE = {
    "rule": "LAPATINIB-RECHALLENGE",
    "indicator": "critical",
    "suggestions": ALTERNATIVES,
    "deletes": ["MedicationRequest/draft-lapatinib"],
    # Why a clinician may still go ahead; each override is recorded with one of these.
    "override_reasons": [
        "clinical-trial-protocol",
        "no-alternative-available",
        "cns-only-progression-local-therapy",
        "other",
    ],
}
EXPECTED: dict[str, dict[str, Any]] = {
    "scenario-1-patient-view": {
        "cards": [
            {"rule": "CNS-ACTIVE-THERAPY", "indicator": "info", "suggestions": ALTERNATIVES},
            # Last brain MRI 2026-08-20, over three months before today: a contrast MRI is due.
            {"rule": "BRAIN-MRI-SURVEILLANCE", "indicator": "info", "suggestions": [["24587-8"]]},
        ]
    },
    "scenario-1-order-select": {"cards": [RECHALLENGE]},
    "scenario-1-order-sign": {"cards": [RECHALLENGE]},
}


def write_json(path: Path, document: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2), encoding="utf-8")
    return path


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., str]]:
    """Start the app on 127.0.0.1; keyword arguments override Settings. Returns the base URL."""
    with ExitStack() as servers:

        def start(**overrides: object) -> str:
            port = free_port()  # known before start-up: the JWT audience names it
            settings = Settings(
                auth_enabled=False,
                clock_override=True,
                database_url=f"sqlite:///{tmp_path / 'cds-service.sqlite3'}",
                public_base_url=f"http://127.0.0.1:{port}",
            )
            app = create_app(dataclasses.replace(settings, **overrides), clock=lambda: TODAY)
            return servers.enter_context(live_server(app, port=port))

        yield start


@pytest.fixture
def hooks_dir(tmp_path: Path) -> Path:
    """hooks/ with scenario 1 for all three hooks, as an EHR would send them."""
    folder = tmp_path / "hooks"
    for hook in ("patient-view", "order-select", "order-sign"):
        request = hook_request(
            scenario_bundle(), hook, draft_orders=[lapatinib_draft()], as_of=AS_OF
        )
        write_json(folder / f"scenario-1-{hook}.json", request)
    return folder


@pytest.fixture
def golden_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "golden"
    for stem, golden in EXPECTED.items():
        write_json(folder / f"{stem}.json", golden)
    return folder
