"""A heavily treated patient's record (10,000 resources, ~14 MB) is answered like a small one, over
HTTP, with the default settings; large bodies are answered one at a time per process."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
import requests
from flask import Flask

from cds_service.config import Settings
from cds_service.testing import card_signature, live_server
from cds_service.web import http, routes

ROOT = Path(__file__).resolve().parents[2]


def _generate() -> Any:
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import generate  # bench/generate.py: the fixed-seed records the benchmark sends
    finally:
        sys.path.remove(str(ROOT / "bench"))
    return generate


def _post(base_url: str, request: dict[str, Any]) -> requests.Response:
    return requests.post(
        f"{base_url}/cds-services/{_generate().service_id(request)}",
        data=orjson.dumps(request),
        headers={"Content-Type": "application/json"},
        timeout=120,
    )


def test_a_ten_thousand_resource_record_gets_the_small_records_cards(
    make_app: Callable[..., Flask],
) -> None:
    generate = _generate()
    heavy = generate.ehr_record(10_000)
    small = generate.generate(30)
    body_size = len(orjson.dumps(heavy))
    assert generate.resource_count(heavy) == 10_000
    # The old 5 MB default refused it: the EHR got 413 and the clinician no card.
    assert 5 * 1024 * 1024 < body_size <= Settings().max_body_bytes

    with live_server(make_app(max_body_bytes=Settings().max_body_bytes)) as url:
        heavy_response = _post(url, heavy)
        small_response = _post(url, small)

    assert heavy_response.status_code == 200, heavy_response.text[:500]
    assert small_response.status_code == 200
    heavy_cards = heavy_response.json()["cards"]
    assert [c["summary"] for c in heavy_cards] == [
        c["summary"] for c in small_response.json()["cards"]
    ]
    assert [card_signature(c) for c in heavy_cards] == [
        card_signature(c) for c in small_response.json()["cards"]
    ]
    assert any(c["indicator"] == "critical" for c in heavy_cards)


def test_a_body_over_the_default_limit_still_gets_413(make_app: Callable[..., Flask]) -> None:
    limit = Settings().max_body_bytes
    with live_server(make_app()) as url:
        response = requests.post(
            f"{url}/cds-services/her2-cns-patient-view",
            data=b" " * (limit + 1),
            headers={"Content-Type": "application/json"},
            timeout=60,
        )

    assert response.status_code == 413
    assert response.json()["error"] == "payload-too-large"


def test_large_bodies_are_answered_one_at_a_time_and_small_ones_do_not_wait(
    make_app: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch
) -> None:
    concurrent_large = 3
    generate = _generate()
    small = generate.generate(30)
    large = generate.generate(30)
    # Padding in the patient's narrative (not read by the rules) makes the body large.
    large["prefetch"]["patient"]["text"] = {
        "status": "generated",
        "div": '<div xmlns="http://www.w3.org/1999/xhtml">'
        + "x" * http.LARGE_BODY_BYTES
        + "</div>",
    }
    active = {"large": 0, "most": 0}
    lock = threading.Lock()
    finished: dict[str, float] = {}
    original = routes.answer_call

    def slow_answer(rt: Any, service: Any, request: Any, *args: Any) -> Any:
        is_large = len(request["prefetch"]["patient"]["text"]["div"]) > http.LARGE_BODY_BYTES
        if is_large:
            with lock:
                active["large"] += 1
                active["most"] = max(active["most"], active["large"])
            time.sleep(0.3)  # long enough for the others to arrive meanwhile
        try:
            return original(rt, service, request, *args)
        finally:
            if is_large:
                with lock:
                    active["large"] -= 1

    monkeypatch.setattr(routes, "answer_call", slow_answer)
    statuses: list[int] = []

    def send(name: str, request: dict[str, Any]) -> None:
        statuses.append(_post(url, request).status_code)
        finished[name] = time.perf_counter()

    with live_server(make_app()) as url:
        threads = [
            threading.Thread(target=send, args=(f"large-{n}", large))
            for n in range(concurrent_large)
        ]
        for thread in threads:
            thread.start()
        time.sleep(0.15)
        send("small", small)
        for thread in threads:
            thread.join()

    assert statuses == [200] * (concurrent_large + 1)
    assert active["most"] == 1
    # The small hook went past the queue of large ones: it was done before the last of them.
    assert finished["small"] < max(v for k, v in finished.items() if k.startswith("large"))
