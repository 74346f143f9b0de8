"""A real FHIR server (sekmet-fhir: FastAPI + SQLite) on 127.0.0.1 for the integration tests.

Installed in its own venv from sekmet-requirements.txt (see that file). Looked up as
$CDS_TEST_SEKMET, then .venv-fhir/bin/sekmet, then `sekmet` on PATH. When it is missing the
tests skip, unless CDS_TEST_REQUIRE_FHIR_SERVER=1 (set by `make test`), when they fail.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
STARTUP_SECONDS = 60


@dataclass(frozen=True)
class FhirServer:
    """A running server: its base URL and the bearer token it accepts."""

    base_url: str
    token: str

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", "Accept": "application/fhir+json"}

    def load(self, bundle: dict) -> None:
        """Store a Bundle's resources (PUT by id, so loading twice is harmless)."""
        response = requests.post(
            self.base_url,
            json=as_transaction(bundle),
            headers={**self._headers(), "Content-Type": "application/fhir+json"},
            timeout=30,
        )
        if response.status_code != 200:
            raise AssertionError(
                f"loading failed: HTTP {response.status_code} {response.text[:500]}"
            )

    def get(self, relative: str) -> dict:
        response = requests.get(f"{self.base_url}/{relative}", headers=self._headers(), timeout=10)
        response.raise_for_status()
        return response.json()


def as_transaction(bundle: dict) -> dict:
    """Any Bundle -> a transaction of PUTs (resources keep their ids)."""
    entries = []
    for entry in bundle.get("entry", []):
        resource = entry["resource"]
        if "id" not in resource:
            raise AssertionError(f"fixture {resource.get('resourceType')} has no id")
        url = f"{resource['resourceType']}/{resource['id']}"
        entries.append(
            {"fullUrl": url, "resource": resource, "request": {"method": "PUT", "url": url}}
        )
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def _sekmet() -> str | None:
    candidates = [os.environ.get("CDS_TEST_SEKMET"), str(ROOT / ".venv-fhir" / "bin" / "sekmet")]
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return shutil.which("sekmet")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _settings_yaml(base_url: str, port: int, data_dir: Path, token: str) -> str:
    # JSON is valid YAML: no YAML library needed on our side.
    import json

    return json.dumps(
        {
            "base_url": base_url,
            "host": "127.0.0.1",
            "port": port,
            "data_dir": str(data_dir),
            "server_auth": {"types": ["bearer"], "tokens": [token]},
            "validation": {"inbound": "warn"},
            "simulator": {"enabled": False},
        }
    )


def _wait_until_up(process: subprocess.Popen, server: FhirServer, log_path: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"sekmet exited ({process.returncode}):\n{log_path.read_text()[-2000:]}"
            )
        try:
            if requests.get(f"{server.base_url}/metadata", timeout=1).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    raise RuntimeError(
        f"sekmet did not start in {STARTUP_SECONDS}s:\n{log_path.read_text()[-2000:]}"
    )


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


@pytest.fixture(scope="session")
def fhir_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FhirServer]:
    """Start sekmet on a free 127.0.0.1 port for the session; stop it afterwards."""
    executable = _sekmet()
    if executable is None:
        message = (
            "sekmet-fhir not installed: python3 -m venv .venv-fhir && "
            ".venv-fhir/bin/pip install -r tests/integration/sekmet-requirements.txt"
        )
        if os.environ.get("CDS_TEST_REQUIRE_FHIR_SERVER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    workdir = tmp_path_factory.mktemp("sekmet")
    port = _free_port()
    server = FhirServer(f"http://127.0.0.1:{port}/fhir", secrets.token_urlsafe(24))
    config = workdir / "settings.yaml"
    config.write_text(_settings_yaml(server.base_url, port, workdir / "data", server.token))
    log_path = workdir / "sekmet.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [executable, "serve", "-c", str(config)],
            cwd=workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "SEKMET_CONFIG": str(config)},
        )
    try:
        _wait_until_up(process, server, log_path)
        yield server
    finally:
        _stop(process)
