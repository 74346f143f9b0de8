"""Keys generated per test session, JWKS and clients files, and a JWT factory for auth tests."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm, get_default_algorithms

from cds_service.config import Settings
from cds_service.web.auth import Authenticator, build_authenticator

HERE = Path(__file__).parent
PUBLIC_BASE_URL = "https://cds.example.org"
SERVICE_URL = PUBLIC_BASE_URL + "/cds-services/her2-brain-mets"
FEEDBACK_URL = SERVICE_URL + "/feedback"
ISS = "https://ehr.example.org/fhir"
JKU = "https://ehr.example.org/.well-known/jwks.json"
FHIR_SERVER = "https://fhir.example.org/r4"

# Marks a claim or header to leave out of the token.
DROP = object()


@dataclass(frozen=True)
class SigningKey:
    """A private key with the kid and alg a client would publish for it."""

    private: Any
    kid: str
    alg: str

    def public_jwk(self, *, declare_alg: bool = True) -> dict[str, Any]:
        public = self.private.public_key()
        family = ECAlgorithm if self.alg.startswith("ES") else RSAAlgorithm
        jwk: dict[str, Any] = family.to_jwk(public, as_dict=True)
        jwk.update(kid=self.kid, use="sig")
        if declare_alg:
            jwk["alg"] = self.alg
        return jwk


@pytest.fixture(scope="session")
def es384_key() -> SigningKey:
    return SigningKey(ec.generate_private_key(ec.SECP384R1()), kid="ec-key-1", alg="ES384")


@pytest.fixture(scope="session")
def rs384_key() -> SigningKey:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return SigningKey(private, kid="rsa-key-1", alg="RS384")


@pytest.fixture(scope="session")
def other_es384_key() -> SigningKey:
    """A key nobody trusts (same kid as es384_key, to forge with)."""
    return SigningKey(ec.generate_private_key(ec.SECP384R1()), kid="ec-key-1", alg="ES384")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def encode_segments(header: dict[str, Any], payload: dict[str, Any]) -> str:
    return b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(payload).encode())


def default_claims(**overrides: Any) -> dict[str, Any]:
    """The claims of a valid CDS Hooks JWT for SERVICE_URL; DROP removes one."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": ISS,
        "aud": SERVICE_URL,
        "exp": now + 300,
        "iat": now,
        "jti": str(uuid.uuid4()),
    }
    claims.update(overrides)
    return {name: value for name, value in claims.items() if value is not DROP}


def make_token(key: SigningKey, *, header: dict[str, Any] | None = None, **claims: Any) -> str:
    """A JWT signed with `key`; header/claims overrides (DROP removes) shape the broken ones."""
    full_header: dict[str, Any] = {"alg": key.alg, "typ": "JWT", "kid": key.kid}
    full_header.update(header or {})
    full_header = {name: value for name, value in full_header.items() if value is not DROP}
    signing_input = encode_segments(full_header, default_claims(**claims))
    algorithm = get_default_algorithms()[key.alg]
    signature = algorithm.sign(signing_input.encode(), key.private)
    return signing_input + "." + b64url(signature)


def write_jwks(path: Path, keys: Iterable[dict[str, Any]]) -> Path:
    path.write_text(json.dumps({"keys": list(keys)}), encoding="utf-8")
    return path


def toml_clients(entries: Iterable[dict[str, Any]]) -> str:
    """Serialise [[clients]] tables (string and list-of-string values only)."""
    blocks = []
    for entry in entries:
        lines = ["[[clients]]"]
        lines += [f"{name} = {json.dumps(value)}" for name, value in entry.items()]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def client_entry(**overrides: Any) -> dict[str, Any]:
    """The trusted EHR of these tests: keys from jwks.json next to the clients file."""
    entry: dict[str, Any] = {
        "iss": ISS,
        "jwks_file": "jwks.json",
        "jku": [JKU],
        "fhir_servers": [FHIR_SERVER],
    }
    entry.update(overrides)
    return {name: value for name, value in entry.items() if value is not DROP}


TrustFactory = Callable[..., Path]


@pytest.fixture
def write_trust(tmp_path: Path, es384_key: SigningKey, rs384_key: SigningKey) -> TrustFactory:
    """Write jwks.json and clients.toml into tmp_path; returns the clients file (CDS_CLIENTS)."""

    def write(
        entries: list[dict[str, Any]] | None = None, jwks: list[dict[str, Any]] | None = None
    ) -> Path:
        write_jwks(
            tmp_path / "jwks.json",
            jwks if jwks is not None else [es384_key.public_jwk(), rs384_key.public_jwk()],
        )
        clients = tmp_path / "clients.toml"
        clients.write_text(toml_clients(entries or [client_entry()]), encoding="utf-8")
        return clients

    return write


AuthFactory = Callable[..., Authenticator]


@pytest.fixture
def make_authenticator(write_trust: TrustFactory) -> AuthFactory:
    """Build through build_authenticator, as the app does, from files written by write_trust."""

    def build(
        entries: list[dict[str, Any]] | None = None,
        jwks: list[dict[str, Any]] | None = None,
        **settings: Any,
    ) -> Authenticator:
        clients = write_trust(entries, jwks)
        cooldown = settings.pop("jwks_cooldown_seconds", None)
        extra = {} if cooldown is None else {"jwks_cooldown_seconds": cooldown}
        # The kit's tokens name SERVICE_URL; its base is the service's public URL.
        settings.setdefault("public_base_url", PUBLIC_BASE_URL)
        return build_authenticator(Settings(clients_file=clients, **settings), **extra)

    return build


@pytest.fixture
def authenticator(make_authenticator: AuthFactory) -> Authenticator:
    return make_authenticator()


def bearer(token: str) -> str:
    return f"Bearer {token}"


class Kit:
    """The helpers above, handed to tests as a fixture (conftest modules are not importable)."""

    PUBLIC_BASE_URL = PUBLIC_BASE_URL
    SERVICE_URL = SERVICE_URL
    FEEDBACK_URL = FEEDBACK_URL
    ISS = ISS
    JKU = JKU
    FHIR_SERVER = FHIR_SERVER
    HERE = HERE
    DROP = DROP
    b64url = staticmethod(b64url)
    encode_segments = staticmethod(encode_segments)
    default_claims = staticmethod(default_claims)
    token = staticmethod(make_token)
    write_jwks = staticmethod(write_jwks)
    toml_clients = staticmethod(toml_clients)
    client_entry = staticmethod(client_entry)
    bearer = staticmethod(bearer)


@pytest.fixture
def kit() -> type[Kit]:
    return Kit
