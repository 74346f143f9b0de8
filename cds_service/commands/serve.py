"""`cds-service serve --host H --port P`: the app under gunicorn (threaded workers, preloaded)."""

from __future__ import annotations

import argparse
import logging
import math
import os
import shutil
import socket
import tempfile
import threading
from pathlib import Path
from typing import Any

import orjson
from flask import Flask
from gunicorn import util as gunicorn_util
from gunicorn.app.base import BaseApplication
from gunicorn.workers.gthread import TConn, ThreadWorker
from gunicorn.workers.sync import SyncWorker

from cds_service.app import create_app
from cds_service.config import Settings
from cds_service.observability import logs, metrics
from cds_service.warmup import quiet_runtime, synthetic_requests, warm_up, warm_worker

log = logging.getLogger(__name__)

# Threads per worker. Sync workers read a request in the one thread that answers it, so as many
# clients as there are workers, each sending half a body and waiting, stalled every hook (19 s
# measured). A gthread worker hands a connection to a thread only once bytes arrive, and a body
# must come whole within web/http.BODY_READ_SECONDS; a stalled client then holds one thread of
# THREADS for at most that long, not the worker. The work itself is CPU-bound (one core per
# worker under the GIL): the threads are for waiting, and cost nothing on a hook measured with
# bench/slow_clients.py (see bench/README.md).
THREADS = 32

# Development defaults applied by --dev unless the environment says otherwise.
_DEV_DEFAULTS = {"CDS_AUTH": "off", "CDS_CLOCK_OVERRIDE": "on"}


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port to bind (default 8080)")
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="gunicorn workers (default: one per CPU the process may use, container CPU quota "
        f"included; the work is CPU-bound), {THREADS} threads each so that slow clients wait in a "
        "thread, not a worker",
    )
    parser.add_argument(
        "--dev",
        action="store_true",
        help="development: one worker, CDS_AUTH=off and CDS_CLOCK_OVERRIDE=on "
        "unless set in the environment",
    )


class _Gunicorn(BaseApplication):  # type: ignore[misc]  # gunicorn ships no type hints
    """gunicorn in-process, serving create_app() (no import string, no config file)."""

    def __init__(self, settings: Settings, options: dict[str, Any]) -> None:
        self._settings = settings
        self._options = options
        self.flask_app: Flask | None = None
        super().__init__()

    def load_config(self) -> None:
        for name, value in self._options.items():
            self.cfg.set(name, value)

    def load(self) -> Flask:
        app = create_app(self._settings)
        # Kept for post_worker_init: the WSGI callable gunicorn hands the worker may be a
        # wrapper around the app (middleware), and the warm-up needs the Flask app itself.
        self.flask_app = app
        # With --preload this runs in the master: every forked worker starts with the models
        # imported and the caches filled (else the first hook is many times slower).
        warm_up(app, before_fork=True)
        # Drop pooled database connections before the fork so that no two workers ever share
        # one; each opens its own on first use.
        app.extensions["cds"].feedback.close()
        return app


def _post_worker_init(worker: Any) -> None:
    """In each forked worker, before it accepts: warm it, then log that it is ready."""
    _serve_hooks_once(worker)
    warm_worker(worker.app.flask_app)


def _serve_hooks_once(worker: Any) -> None:
    """Each synthetic hook POSTed through the worker's own request path (gunicorn's parser and
    body reader, WSGI environ, any middleware, the access log) over a local socket pair, on the
    quiet runtime (no audit row): the first real hook then finds that code and memory this
    process's own (a real POST's first pass was still 1.5 times a steady hook)."""
    if not isinstance(worker, SyncWorker | ThreadWorker) or not worker.sockets:
        return
    with quiet_runtime(worker.app.flask_app):
        for path, body in synthetic_requests():
            _serve_once(worker, path, body)


def _serve_once(worker: Any, path: str, body: bytes) -> None:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: warm-up\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    ours, theirs = socket.socketpair()
    # Sent from a thread: a body larger than the socket's buffer would otherwise block here.
    sender = threading.Thread(target=_send_all_then_close_write, args=(ours, head.encode() + body))
    try:
        sender.start()
        if isinstance(worker, ThreadWorker):
            listener = worker.sockets[0].getsockname()
            worker.handle(TConn(worker.cfg, theirs, ("warm-up", 0), listener))
            theirs.close()  # a thread worker leaves closing to its main loop
        else:
            worker.handle(worker.sockets[0], theirs, ("warm-up", 0))
        sender.join(timeout=5)
        while ours.recv(65536):
            pass
    except OSError:
        log.exception("worker request-path warm-up failed; its first hook will be slower")
    finally:
        ours.close()
        theirs.close()


def _send_all_then_close_write(sock: socket.socket, data: bytes) -> None:
    try:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)  # the request is whole: gunicorn's drain ends at once
    except OSError:
        pass  # the worker closed first; handle() has logged why


def usable_cpus(cgroup_root: Path = Path("/sys/fs/cgroup")) -> int:
    """CPUs this process may use: its CPU affinity, capped by a container's CPU quota (cgroup v2
    cpu.max, else v1 cfs quota/period), rounded up. os.cpu_count() sees the host's cores."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    quota = _cgroup_quota(cgroup_root)
    if quota is not None:
        cpus = min(cpus or 1, max(1, math.ceil(quota)))
    return max(1, cpus or 1)


def _cgroup_quota(root: Path) -> float | None:
    try:
        fields = (root / "cpu.max").read_text().split()  # "max 100000" or "150000 100000"
        if fields and fields[0] != "max":
            return int(fields[0]) / int(fields[1])
        return None
    except (OSError, ValueError, IndexError):
        pass
    try:
        quota = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
        period = int((root / "cpu" / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return quota / period if quota > 0 and period > 0 else None


def _json_error_page(sock: socket.socket, status: int, reason: str, message: str) -> None:
    """gunicorn's own error answers (a malformed request line or header, one too long, a
    transfer coding it does not decode), as JSON like every other error of the service. A
    transfer coding gunicorn lacks is the client's choice: 400, not gunicorn's 501."""
    if status == 501:
        status, reason = 400, "Bad Request"
    code = {400: "bad-request", 403: "forbidden", 414: "uri-too-long"}.get(status, f"http-{status}")
    body = orjson.dumps({"error": code, "message": f"{reason}: {message}"[:300]})
    head = (
        f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    gunicorn_util.write_nonblock(sock, head.encode("latin-1") + body)


def run(args: argparse.Namespace) -> int:
    env = dict(os.environ)
    if args.dev:
        for name, value in _DEV_DEFAULTS.items():
            env.setdefault(name, value)
    settings = Settings.from_env(env)  # a ConfigError exits 2 with one line (cli.main)
    logs.configure(settings.log_level, settings.log_format)
    workers = 1 if args.dev else (args.workers or usable_cpus())
    # Every worker writes its metrics to this directory and /metrics sums them; set before the
    # app (and prometheus_client) is loaded. A directory we made is removed when we stop.
    made_metrics_dir = not os.environ.get(metrics.MULTIPROC_ENV)
    if made_metrics_dir:
        os.environ[metrics.MULTIPROC_ENV] = tempfile.mkdtemp(prefix="cds-metrics-")
    metrics.prepare_multiprocess_dir(os.environ[metrics.MULTIPROC_ENV])
    logs.GunicornLogger.format_name = settings.log_format
    options: dict[str, Any] = {
        "bind": f"{args.host}:{args.port}",
        "workers": workers,
        "worker_class": "gthread",
        "threads": THREADS,
        # Load once in the master: a broken knowledge base stops start-up before any worker
        # forks, and workers share the loaded rules copy-on-write.
        "preload_app": True,
        # The control socket lives at one path per user: a second instance (another port, the
        # tests) would collide with it, and the service needs no runtime management.
        "control_socket_disable": True,
        "loglevel": settings.log_level.lower(),
        "accesslog": "-",
        # Access lines through the service's formatter: method, path (no query string), status,
        # size, time and request id; no client address, header or body.
        "logger_class": logs.GunicornLogger,
        "child_exit": lambda _arbiter, worker: metrics.worker_exited(worker.pid),
        # Repeat the synthetic hooks in each worker: per-process caches fill before real traffic.
        "post_worker_init": _post_worker_init,
    }
    # Before the fork: every worker answers gunicorn's own errors as JSON too.
    gunicorn_util.write_error = _json_error_page
    try:
        _Gunicorn(settings, options).run()
    finally:
        if made_metrics_dir:
            shutil.rmtree(os.environ[metrics.MULTIPROC_ENV], ignore_errors=True)
    return 0
