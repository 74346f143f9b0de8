"""`cds-service serve` as an operator runs it: a real gunicorn process on 127.0.0.1, its log kept.

Ports come from the ops tests' range (19600-19699). A module of its own (not conftest): test
modules import it by this unique name."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
CDS_SERVICE = Path(sys.executable).parent / "cds-service"
STARTUP_SECONDS = 60


@dataclass
class ServiceProcess:
    """A running `cds-service serve`; its stdout and stderr go to `log`."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def kill(self) -> None:
        """SIGKILL to the master and every worker at once, as a crashed host would do."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


def start_service(
    port: int, log: Path, env: Mapping[str, str], *, workers: int = 1
) -> ServiceProcess:
    """Start `cds-service serve` and wait until /health/live answers."""
    full_env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("CDS_", "PROMETHEUS_"))},
        "HOME": str(log.parent),
        **env,
    }
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [
                str(CDS_SERVICE),
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                str(workers),
            ],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=full_env,
            cwd=ROOT,
            start_new_session=True,  # its own process group: kill() reaches the workers too
        )
    service = ServiceProcess(f"http://127.0.0.1:{port}", process, log)
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"cds-service exited {process.returncode}:\n{service.log_text()}")
        try:
            if requests.get(f"{service.url}/health/live", timeout=1).status_code == 200:
                return service
        except requests.RequestException:
            pass
        time.sleep(0.2)
    service.stop()
    raise AssertionError(f"cds-service did not answer within {STARTUP_SECONDS} s")
