"""The jti replay cache: remembers until expiry, bounded (fails closed), safe across threads."""

from __future__ import annotations

import threading
import time

import pytest

from cds_service.errors import Unauthorized
from cds_service.web.auth import JtiCache


class Clock:
    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_a_jti_is_refused_until_its_token_expires_then_forgotten():
    clock = Clock()
    cache = JtiCache(10, now=clock)
    cache.remember("iss", "a", expires_at=1_300.0)
    clock.now = 1_299.0
    with pytest.raises(Unauthorized, match="replay"):
        cache.remember("iss", "a", expires_at=1_300.0)
    clock.now = 1_300.0
    cache.remember("iss", "b", expires_at=1_600.0)
    assert len(cache) == 1  # "a" expired and was dropped


def test_the_same_jti_from_two_issuers_is_two_tokens():
    cache = JtiCache(10, now=Clock())
    cache.remember("https://a.example.org", "1", expires_at=2_000.0)
    cache.remember("https://b.example.org", "1", expires_at=2_000.0)
    assert len(cache) == 2


def test_a_full_cache_refuses_rather_than_forgets():
    clock = Clock()
    cache = JtiCache(2, now=clock)
    cache.remember("iss", "a", expires_at=1_100.0)
    cache.remember("iss", "b", expires_at=1_500.0)
    with pytest.raises(Unauthorized, match="full"):
        cache.remember("iss", "c", expires_at=1_500.0)
    clock.now = 1_100.0  # "a" expires: room again, and "b" is still remembered
    cache.remember("iss", "c", expires_at=1_500.0)
    with pytest.raises(Unauthorized, match="replay"):
        cache.remember("iss", "b", expires_at=1_500.0)


def test_concurrent_replays_let_exactly_one_through():
    cache = JtiCache(1_000, now=Clock())
    accepted: list[int] = []
    start = threading.Barrier(16)

    def attempt(n: int) -> None:
        start.wait()
        try:
            cache.remember("iss", "the-same-jti", expires_at=5_000.0)
            accepted.append(n)
        except Unauthorized:
            pass

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(accepted) == 1


def test_the_cache_size_setting_bounds_the_authenticator(kit, make_authenticator, es384_key):
    auth = make_authenticator(jti_cache_size=2)
    for _ in range(2):
        auth.authenticate(kit.bearer(kit.token(es384_key)), kit.SERVICE_URL)
    with pytest.raises(Unauthorized, match="full"):
        auth.authenticate(kit.bearer(kit.token(es384_key)), kit.SERVICE_URL)


def test_a_jti_is_kept_through_the_leeway_after_exp(kit, make_authenticator, es384_key):
    # exp has just passed but the token is still inside the 60 s leeway: a replay must fail.
    now = int(time.time())
    auth = make_authenticator(jwt_leeway_seconds=60)
    token = kit.token(es384_key, iat=now - 300, exp=now - 5)
    auth.authenticate(kit.bearer(token), kit.SERVICE_URL)
    with pytest.raises(Unauthorized, match="replay"):
        auth.authenticate(kit.bearer(token), kit.SERVICE_URL)
