"""Caller authentication: verify the CDS Hooks 2.0 JWT (`Authorization: Bearer <JWT>`)."""

from __future__ import annotations

import heapq
import json
import logging
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import jwt
import requests
from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from jwt import PyJWK, PyJWKClient, PyJWKSet
from jwt.exceptions import PyJWKClientConnectionError, PyJWKClientError

from cds_service.clients import TrustedClient, load_clients
from cds_service.config import Settings
from cds_service.errors import ConfigError, Unauthorized

log = logging.getLogger(__name__)

# Asymmetric only: never `none`, never HMAC (CDS Hooks 2.0 security). ES384/RS384 are what the
# spec recommends and what the sandbox and Epic send.
ALLOWED_ALGORITHMS = ("ES384", "RS384", "ES256", "ES512", "RS256", "RS512", "PS384")
_EC_CURVES = {"ES256": "secp256r1", "ES384": "secp384r1", "ES512": "secp521r1"}
_REQUIRED_CLAIMS = ["iss", "aud", "exp", "iat", "jti"]
# A JWKS fetch happens inside a hook call, which the EHR times out within seconds.
_JWKS_TIMEOUT = (1.0, 2.0)
_JWKS_LIFESPAN_SECONDS = 300.0
# At most one forced JWKS refresh per issuer URL in this window, whatever kids callers send.
DEFAULT_JWKS_COOLDOWN_SECONDS = 30.0
_LOG_FIELD_MAX = 120


@dataclass(frozen=True)
class Caller:
    """Who called: the verified issuer and what it may ask us to fetch from."""

    iss: str | None
    tenant: str | None = None
    fhir_servers: tuple[str, ...] = ()


class JtiCache:
    """Seen (iss, jti) pairs until their token expires; bounded, thread-safe, per process."""

    def __init__(self, max_entries: int, now: Callable[[], float] = time.time) -> None:
        self._max = max_entries
        self._now = now
        self._lock = threading.Lock()
        self._expiry: dict[tuple[str, str], float] = {}
        self._heap: list[tuple[float, tuple[str, str]]] = []

    def __len__(self) -> int:
        with self._lock:
            return len(self._expiry)

    def remember(self, iss: str, jti: str, expires_at: float) -> None:
        """Record a first use; raises Unauthorized on a replay or when the cache is full."""
        key = (iss, jti)
        with self._lock:
            self._purge(self._now())
            if key in self._expiry:
                raise Unauthorized("jti already used (replay)")
            if len(self._expiry) >= self._max:
                # Fail closed: forgetting a live jti would let its token be replayed.
                raise Unauthorized("jti replay cache is full (raise CDS_JTI_CACHE_SIZE)")
            self._expiry[key] = expires_at
            heapq.heappush(self._heap, (expires_at, key))

    def _purge(self, now: float) -> None:
        while self._heap and self._heap[0][0] <= now:
            _, key = heapq.heappop(self._heap)
            del self._expiry[key]


class _KeySource(Protocol):
    def key(self, kid: str) -> PyJWK: ...


class _FileKeys:
    """A JWK Set exchanged out of band: read once at start-up, never fetched."""

    def __init__(self, path: Path, origin: str) -> None:
        where = f"{origin}: jwks_file {str(path)!r}"
        try:
            keys = PyJWKSet.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, AttributeError, jwt.PyJWTError) as exc:
            raise ConfigError(f"{where}: {exc}") from exc
        self._keys = {k.key_id: k for k in keys if k.key_id and k.public_key_use in ("sig", None)}
        if not self._keys:
            raise ConfigError(f"{where}: no signing key with a kid")

    def key(self, kid: str) -> PyJWK:
        try:
            return self._keys[kid]
        except KeyError:
            raise Unauthorized(f"unknown kid {kid!r}") from None


class _UrlKeys(PyJWKClient):
    """A JWK Set fetched from a configured URL; cached, refetched (rate-limited) on unknown kid."""

    def __init__(self, url: str, cooldown_seconds: float) -> None:
        super().__init__(
            url,
            cache_jwk_set=True,
            lifespan=_JWKS_LIFESPAN_SECONDS,
            timeout=_JWKS_TIMEOUT[1],
            cooldown_duration=cooldown_seconds,
        )

    def fetch_data(self) -> Any:
        # requests rather than urllib: same timeouts and test doubles as the rest of the service.
        try:
            response = requests.get(
                self.uri,
                timeout=_JWKS_TIMEOUT,
                allow_redirects=False,
                headers={"Accept": "application/json"},
            )
        except requests.RequestException as exc:
            raise PyJWKClientConnectionError(
                f"JWKS fetch failed: {exc.__class__.__name__}"
            ) from exc
        if response.status_code != 200:
            raise PyJWKClientConnectionError(f"JWKS fetch returned HTTP {response.status_code}")
        try:
            return response.json()
        except ValueError as exc:
            raise PyJWKClientError("JWKS response is not JSON") from exc

    def key(self, kid: str) -> PyJWK:
        try:
            return self.get_signing_key(kid)
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"no signing key {kid!r} from {self.uri}: {exc}") from None


@dataclass(frozen=True)
class _Issuer:
    """A trusted client with its key sources: the configured one, and one per allowed jku URL."""

    client: TrustedClient
    default_keys: _KeySource
    jku_keys: Mapping[str, _KeySource]

    def keys_for(self, jku: Any) -> _KeySource:
        if jku is None:
            return self.default_keys
        if not isinstance(jku, str) or jku not in self.client.jku:
            raise Unauthorized(f"jku {jku!r} is not allowed for this issuer")
        # Only a configured URL is ever fetched; a jwks_file client never fetches anything.
        return self.jku_keys.get(jku, self.default_keys)


def _issuer(client: TrustedClient, cooldown_seconds: float) -> _Issuer:
    if client.jwks_file is not None:
        return _Issuer(client, _FileKeys(client.jwks_file, client.origin), {})
    assert client.jwks_url is not None  # load_clients guarantees exactly one of the two
    default = _UrlKeys(client.jwks_url, cooldown_seconds)
    by_jku: dict[str, _KeySource] = {
        url: default if url == client.jwks_url else _UrlKeys(url, cooldown_seconds)
        for url in client.jku
    }
    return _Issuer(client, default, by_jku)


class Authenticator:
    """Verifies callers against the trusted clients; one instance per process, shared by threads."""

    def __init__(
        self,
        settings: Settings,
        clients: Mapping[str, TrustedClient] | None = None,
        *,
        jwks_cooldown_seconds: float = DEFAULT_JWKS_COOLDOWN_SECONDS,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.enabled = settings.auth_enabled
        self._leeway = settings.jwt_leeway_seconds
        self._max_lifetime = settings.jwt_max_lifetime_seconds
        self._now = now
        self._public_base_urls = settings.audiences()
        self._issuers = {
            iss: _issuer(client, jwks_cooldown_seconds) for iss, client in (clients or {}).items()
        }
        self.replays = JtiCache(settings.jti_cache_size, now)
        # After the clients file: its errors are named first.
        if self.enabled and not self._public_base_urls:
            raise ConfigError(
                "CDS_PUBLIC_BASE_URL must name the service's public URL(s) when CDS_AUTH is on: "
                "a JWT's aud is checked against it, never against the Host header"
            )

    def authenticate(self, authorization: str | None, request_url: str) -> Caller:
        """Verify `Authorization: Bearer <JWT>` for the URL called; raises Unauthorized."""
        if not self.enabled:
            return Caller(iss=None)
        context: dict[str, Any] = {}
        try:
            caller = self._verify(authorization, request_url, context)
        except Unauthorized as exc:
            # The reason, iss and jti only: never the token (CDS Hooks best practice).
            log.warning(
                "caller rejected: %s (iss=%s, jti=%s)",
                exc.reason,
                _loggable(context.get("iss")),
                _loggable(context.get("jti")),
            )
            raise
        log.debug("caller accepted (iss=%s, jti=%s)", caller.iss, _loggable(context.get("jti")))
        return caller

    def expected_audiences(self, request_url: str) -> list[str]:
        """The endpoint URLs the token's `aud` may name: each public base URL plus the path
        called (no query string). Never the Host header: the caller chooses that."""
        path = urlsplit(request_url).path
        return [base.rstrip("/") + path for base in self._public_base_urls]

    def _verify(
        self, authorization: str | None, request_url: str, context: dict[str, Any]
    ) -> Caller:
        token = _bearer_token(authorization)
        header = _checked_header(token)
        unverified = _unverified_claims(token)
        iss = unverified.get("iss")
        context.update(iss=iss, jti=unverified.get("jti"))
        issuer = self._issuers.get(iss) if isinstance(iss, str) else None
        if issuer is None:
            raise Unauthorized("iss is not a trusted client")
        jwk = issuer.keys_for(header.get("jku")).key(header["kid"])
        claims = self._decode(token, header["alg"], jwk, issuer.client, request_url)
        tenant = claims.get("tenant")
        if issuer.client.tenant is not None and tenant != issuer.client.tenant:
            raise Unauthorized("tenant does not match the configured tenant")
        jti = claims["jti"]
        if not isinstance(jti, str) or not jti:
            raise Unauthorized("jti must be a non-empty string")
        self._check_lifetime(claims["exp"])
        # Last, so only fully verified tokens take a place in the replay cache. A token stays
        # acceptable until exp + leeway, so its jti must be remembered that long.
        self.replays.remember(issuer.client.iss, jti, float(claims["exp"]) + self._leeway)
        return Caller(
            iss=issuer.client.iss,
            tenant=tenant if isinstance(tenant, str) else None,
            fhir_servers=issuer.client.fhir_servers,
        )

    def _check_lifetime(self, exp: Any) -> None:
        """exp must be a number (PyJWT would take the string "9999999999") no further ahead
        than CDS_JWT_MAX_LIFETIME (plus leeway): a token good for a century is not accepted."""
        if isinstance(exp, bool) or not isinstance(exp, int | float) or not math.isfinite(exp):
            raise Unauthorized("exp must be a number (NumericDate)")
        ahead = exp - self._now()
        if ahead > self._max_lifetime + self._leeway:
            raise Unauthorized(
                f"exp is {ahead:.0f} s ahead, more than CDS_JWT_MAX_LIFETIME ({self._max_lifetime} s)"
            )

    def _decode(
        self, token: str, alg: str, jwk: PyJWK, client: TrustedClient, request_url: str
    ) -> dict[str, Any]:
        if not _key_fits(alg, jwk.key):
            raise Unauthorized(f"key {jwk.key_id!r} cannot verify alg {alg}")
        try:
            # The raw key rather than the PyJWK: a JWK without "alg" would otherwise be bound to
            # PyJWT's per-kty default (RS256 for every RSA key) and reject Epic's RS384.
            return jwt.decode(
                token,
                key=jwk.key,
                algorithms=list(ALLOWED_ALGORITHMS),
                audience=self.expected_audiences(request_url),
                issuer=client.iss,
                leeway=self._leeway,
                options={"require": _REQUIRED_CLAIMS},
            )
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"token rejected: {exc.__class__.__name__}: {exc}") from None


def _bearer_token(authorization: str | None) -> str:
    if not authorization:
        raise Unauthorized("no Authorization header")
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        raise Unauthorized("Authorization is not 'Bearer <JWT>'")
    return token


def _checked_header(token: str) -> dict[str, Any]:
    """The header checks, made before PyJWT is handed the token for verification."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise Unauthorized(f"not a JWT: {exc}") from None
    if header.get("typ") != "JWT":
        raise Unauthorized(f"header typ must be 'JWT', got {header.get('typ')!r}")
    if not isinstance(header.get("kid"), str) or not header["kid"]:
        raise Unauthorized("header kid missing")
    if header.get("alg") not in ALLOWED_ALGORITHMS:
        raise Unauthorized(f"header alg {header.get('alg')!r} is not allowed")
    return header


def _unverified_claims(token: str) -> dict[str, Any]:
    """The payload before verification: only to choose the issuer's keys and to log iss/jti."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise Unauthorized(f"not a JWT: {exc}") from None
    return claims


def _key_fits(alg: str, key: Any) -> bool:
    if alg in _EC_CURVES:
        return isinstance(key, EllipticCurvePublicKey) and key.curve.name == _EC_CURVES[alg]
    return isinstance(key, RSAPublicKey)  # RS* and PS*


def _loggable(value: Any) -> str:
    """Unverified claim values are caller-controlled: quote them and cap their length."""
    if value is None:
        return "-"
    text = repr(value)
    return text if len(text) <= _LOG_FIELD_MAX else text[:_LOG_FIELD_MAX] + "..."


def build_authenticator(
    settings: Settings, *, jwks_cooldown_seconds: float = DEFAULT_JWKS_COOLDOWN_SECONDS
) -> Authenticator:
    """Build from settings (reads CDS_CLIENTS); raises ConfigError on a bad clients file."""
    if not settings.auth_enabled:
        log.warning("CDS_AUTH=off: callers are NOT authenticated; for local development only")
        return Authenticator(settings)
    if settings.clients_file is None:
        raise ConfigError(
            "authentication is on but CDS_CLIENTS names no trusted-clients file "
            "(set CDS_CLIENTS, or CDS_AUTH=off for local development)"
        )
    clients = load_clients(settings.clients_file)
    return Authenticator(settings, clients, jwks_cooldown_seconds=jwks_cooldown_seconds)
