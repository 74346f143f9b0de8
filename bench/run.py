"""Benchmark: the service against a bare endpoint served the same way, side by side, as ratios.

One run, one client process. The server is `cds-service serve` (gunicorn as `make serve` runs it,
with `make serve`'s development environment) on 127.0.0.1 and a free port; beside the service the
bench mounts, inside the same gunicorn app, a bare WSGI endpoint that reads the body and returns a
fixed 2 KB card (werkzeug DispatcherMiddleware: production code has no such route). Requests to the
two alternate on the same generated payloads (bench/generate.py), so machine noise hits both.

    python bench/run.py            # the figures and the ratios, with their targets
    python bench/run.py --json     # {"ratio_p50_30": .., ..., "fetch_over_slowest": ..}

Ratios: p50(service)/p50(bare) for 30 and 200 resources; p99/p50 of the service at concurrency 1
(30 resources); the first hook after the server (re)starts over the steady p50; requests per second
of the service over the bare endpoint's at concurrency 16 (threads, one http.client connection per
request: gunicorn's sync worker closes every connection); bench/fetch.py's four parallel FHIR
searches over the slowest one alone; the heavy record (generate.ehr_record: 10,000 resources)
against a parse floor mounted the same way (read the body, orjson.loads, a fixed card); p50 at
30 / 200 / 2,000 / 10,000 resources and the cost per 1,000; the largest worker RSS after the heavy
record; and, when CDS_TEST_DATABASE_URL names a PostgreSQL (or one runs locally on 5432), c=16
throughput with PostgreSQL as the store over the same with SQLite.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# The repository first: the bench measures this checkout, however the package was installed.
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import generate  # noqa: E402  (bench/generate.py, after the path is set)
import slow_clients  # noqa: E402  (bench/slow_clients.py)
import store_throughput  # noqa: E402  (bench/store_throughput.py)
from load import closed_loop, post  # noqa: E402  (bench/load.py)

from cds_service.commands.serve import usable_cpus  # noqa: E402  (the workers serve starts)

TARGETS = {
    "ratio_p50_30": ("<=", 6.0),
    "ratio_p50_200": ("<=", 8.0),
    "tail_p99_p50": ("<=", 3.0),
    "cold_over_warm": ("<=", 2.0),
    "throughput_ratio_c16": (">=", 0.25),
    "fetch_over_slowest": ("<=", 1.3),
    "heavy_over_parse_floor": ("<=", 1.5),
    "worker_rss_mb": ("<", 400.0),
    "postgres_over_sqlite_c16": (">=", 0.8),
    "slow_clients_over_normal": ("<=", 1.5),
}
PACKAGES = (
    "fhir.resources",
    "fhir-core",
    "pydantic",
    "pydantic-core",
    "orjson",
    "jsonschema",
    "flask",
    "werkzeug",
    "gunicorn",
    "requests",
    "sqlalchemy",
)
BASELINE_PATH = "/baseline"
PARSE_FLOOR_PATH = "/parse-floor"
HEAVY_SIZES = (2_000, 10_000)  # generate.ehr_record: five years of infusions, then filler
# `make serve`'s development environment; the database is the bench's own.
SERVE_ENV = {"CDS_AUTH": "off", "CDS_CLOCK_OVERRIDE": "on"}
INSTANCE_MARK = b"00000000-0000-4000-8000-"  # start of generate()'s hookInstance


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- the server (child process) ---------------------------------------------------------------


def _baseline_card() -> bytes:
    """A fixed card response of about 2 KB."""
    detail = "Bare endpoint for the benchmark: reads the request body and returns this card. " * 22
    card = {
        "cards": [
            {
                "uuid": str(uuid.UUID(int=8)),
                "summary": "Benchmark baseline card",
                "indicator": "info",
                "detail": detail[:1800],
                "source": {"label": "bench", "topic": {"code": "BENCH", "display": "baseline"}},
            }
        ]
    }
    return json.dumps(card).encode()


def baseline_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    """Read the body, answer the fixed card: the floor any WSGI service on this server pays."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    environ["wsgi.input"].read(length)
    body = _BASELINE_BODY
    start_response(
        "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    )
    return [body]


_BASELINE_BODY = _baseline_card()


def parse_floor_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    """Read the body, parse it with orjson, answer the fixed card: the least any service that
    reads the record must pay (the heavy record's denominator)."""
    import orjson

    length = int(environ.get("CONTENT_LENGTH") or 0)
    orjson.loads(environ["wsgi.input"].read(length))
    body = _BASELINE_BODY
    start_response(
        "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    )
    return [body]


def serve_child(args: argparse.Namespace) -> int:
    """Run `cds-service serve` with the baseline mounted beside the app (this is the child)."""
    from werkzeug.middleware.dispatcher import DispatcherMiddleware

    from cds_service.commands import serve

    if args.child_setup:  # experiments: e.g. try a change to a module before it lands
        exec(compile(Path(args.child_setup).read_text(), args.child_setup, "exec"), {})

    original_load = serve._Gunicorn.load
    original_config = serve._Gunicorn.load_config

    def load(self: Any) -> Any:
        return DispatcherMiddleware(
            original_load(self), {BASELINE_PATH: baseline_app, PARSE_FLOOR_PATH: parse_floor_app}
        )

    def load_config(self: Any) -> None:
        original_config(self)
        for name in ("worker_class", "threads", "workers"):  # comparing server set-ups
            if getattr(args, name):
                self.cfg.set(name, getattr(args, name))

    serve._Gunicorn.load = load  # type: ignore[method-assign]
    serve._Gunicorn.load_config = load_config  # type: ignore[method-assign]
    return int(
        serve.run(
            argparse.Namespace(host="127.0.0.1", port=args.serve_child, workers=None, dev=False)
        )
    )


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    def ready_workers(self) -> int:
        """Workers that have finished their warm-up (cds_service.warmup logs one line each)."""
        return self.log_path.read_text(errors="replace").count(" ready (warm-up ")

    def worker_rss_mb(self) -> list[float]:
        """Resident memory of each gunicorn worker (the master's children), in MB."""
        pid = self.process.pid
        try:
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            return []
        sizes = []
        for child in children:
            try:
                status = Path(f"/proc/{child}/status").read_text()
            except OSError:
                continue
            found = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
            if found:
                sizes.append(round(int(found.group(1)) / 1024, 1))
        return sizes


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_server(
    workdir: Path, args: argparse.Namespace, tag: str, database_url: str | None = None
) -> Iterator[Server]:
    port = _free_port()
    log_path = workdir / f"server-{tag}.log"
    database_url = database_url or f"sqlite:///{workdir / 'bench.sqlite3'}"
    env = {**os.environ, **SERVE_ENV, "CDS_DATABASE_URL": database_url}
    command = [sys.executable, str(Path(__file__).resolve()), "--serve-child", str(port)]
    for name in ("worker_class", "threads", "workers", "child_setup"):
        if getattr(args, name):
            command += [f"--{name.replace('_', '-')}", str(getattr(args, name))]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=ROOT
        )
    server = Server(process, port, log_path)
    try:
        _wait_for_workers(server, args.workers or os.cpu_count() or 1)
        yield server
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)  # the gunicorn master and its workers
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)


def _wait_for_workers(server: Server, workers: int, timeout: float = 60.0) -> None:
    """Until every worker says it is ready (no request sent: the first hook is each restart's
    first). A worker is ready once its warm-up is done; a request sent earlier would wait for it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise SystemExit(
                f"server exited: see {server.log_path}\n{server.log_path.read_text()[-3000:]}"
            )
        if server.ready_workers() >= workers:
            return
        time.sleep(0.05)
    raise SystemExit(f"server did not start in {timeout:.0f} s: see {server.log_path}")


# --- the client -------------------------------------------------------------------------------


class Payload:
    """One generated request; each send gets a fresh hookInstance, as every real call does."""

    def __init__(self, size: int, *, ehr: bool = False) -> None:
        request = generate.ehr_record(size) if ehr else generate.generate(size)
        self.size = generate.resource_count(request)
        self.path = f"/cds-services/{generate.service_id(request)}"
        self._body = json.dumps(request).encode()
        if INSTANCE_MARK not in self._body:
            raise SystemExit("generate() no longer marks its hookInstance")

    def body(self) -> bytes:
        return self._body.replace(INSTANCE_MARK, str(uuid.uuid4())[:24].encode(), 1)

    def __len__(self) -> int:
        return len(self._body)


def _check(server: Server, payload: Payload) -> list[str]:
    """The service answers the payload with cards; returns their indicators and summaries."""
    status, data, _ = post(server.port, payload.path, payload.body())
    if status != 200:
        raise SystemExit(
            f"service answered {status} to the {payload.size}-resource request: {data[:500]!r}"
        )
    cards = json.loads(data)["cards"]
    return [f"{c['indicator']}: {c['summary']}" for c in cards]


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def _summary(values: list[float]) -> dict[str, float]:
    summary = {f"p{int(q * 100)}": round(_pct(values, q) * 1000, 2) for q in (0.9, 0.99)}
    return {"p50": round(statistics.median(values) * 1000, 2), **summary}


def interleaved(
    server: Server,
    payload: Payload,
    rounds: int,
    warmup: int = 10,
    reference: tuple[str, str] = ("baseline", BASELINE_PATH),
) -> dict[str, list[float]]:
    """Latencies of service and the reference endpoint (the bare one unless told), alternating
    which goes first each round."""
    name, path = reference
    times: dict[str, list[float]] = {"service": [], name: []}
    targets = {"service": payload.path, name: path}
    for i in range(warmup + rounds):
        order = ("service", name) if i % 2 == 0 else (name, "service")
        for target in order:
            status, data, seconds = post(server.port, targets[target], payload.body())
            if status != 200:
                raise SystemExit(f"{target} answered {status}: {data[:300]!r}")
            if i >= warmup:
                times[target].append(seconds)
    return times


def throughput(
    server: Server, payload: Payload, concurrency: int, seconds: float, blocks: int
) -> dict[str, float]:
    """Requests per second at `concurrency`, service and baseline in alternating blocks."""
    targets = {"service": (server.port, payload.path), "baseline": (server.port, BASELINE_PATH)}
    return alternating_rps(targets, payload, concurrency, seconds, blocks)


def alternating_rps(
    targets: dict[str, tuple[int, str]],
    payload: Payload,
    concurrency: int,
    seconds: float,
    blocks: int,
) -> dict[str, float]:
    """Requests per second of each (port, path) target at `concurrency`, in alternating blocks."""
    done = dict.fromkeys(targets, 0)
    spent = dict.fromkeys(targets, 0.0)
    errors: list[str] = []
    for block in range(len(targets) * blocks):
        name = list(targets)[block % len(targets)]
        port, path = targets[name]
        count, seconds_spent = closed_loop(port, path, payload.body(), concurrency, seconds, errors)
        spent[name] += seconds_spent
        done[name] += count
    if errors:
        _log(f"  {len(errors)} failed requests under load, e.g. {errors[0]}")
    return {name: done[name] / spent[name] for name in done}


def cold_first_hook(
    workdir: Path, args: argparse.Namespace, payload: Payload, restarts: int
) -> list[float]:
    """Latency of the first hook after each (re)start, once every worker has booted."""
    firsts = []
    for n in range(restarts):
        with running_server(workdir, args, f"cold-{n}") as server:
            status, data, seconds = post(server.port, payload.path, payload.body())
            if status != 200:
                raise SystemExit(f"first hook answered {status}: {data[:300]!r}")
            firsts.append(seconds)
    return firsts


def fetch_ratio(rounds: int) -> dict[str, float]:
    import fetch  # bench/fetch.py (the FHIR helper's): four searches in parallel vs the slowest

    return fetch.run(rounds, 0.1)


# --- the report -------------------------------------------------------------------------------


def environment() -> dict[str, Any]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "absent"
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": versions,
    }


def measure(args: argparse.Namespace) -> dict[str, Any]:
    payloads = {size: Payload(size) for size in (30, 200)}
    _log(f"generating the heavy records ({', '.join(map(str, HEAVY_SIZES))} resources) ...")
    payloads.update({size: Payload(size, ehr=True) for size in HEAVY_SIZES})
    results: dict[str, Any] = {"environment": environment(), "latency_ms": {}, "payloads": {}}
    workdir = Path(tempfile.mkdtemp(prefix="cds-bench-"))
    _log(f"server logs and database in {workdir}" + ("" if args.keep else " (removed at the end)"))
    try:
        return _measure(args, payloads, results, workdir)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


def _measure(
    args: argparse.Namespace, payloads: dict[int, Payload], results: dict[str, Any], workdir: Path
) -> dict[str, Any]:
    with running_server(workdir, args, "main") as server:
        for size, payload in payloads.items():
            cards = _check(server, payload)
            results["payloads"][size] = {
                "resources": payload.size,
                "bytes": len(payload),
                "cards": cards,
            }
            _log(f"{size} resources, {len(payload)} bytes -> {len(cards)} card(s): {cards}")
        series = {}
        for size, payload in payloads.items():
            heavy = size in HEAVY_SIZES
            rounds = {30: args.rounds, 200: args.rounds_200}.get(size, args.rounds_heavy)
            _log(f"interleaved c=1, {size} resources, {rounds} rounds ...")
            series[size] = interleaved(
                server,
                payload,
                rounds,
                warmup=2 if heavy else 10,
                reference=("parse_floor", PARSE_FLOOR_PATH)
                if heavy
                else ("baseline", BASELINE_PATH),
            )
            results["latency_ms"][size] = {name: _summary(v) for name, v in series[size].items()}
        results["worker_rss_mb"] = server.worker_rss_mb()
        _log(f"throughput c={args.concurrency}, {args.blocks} x {args.block_seconds} s blocks ...")
        rps = throughput(server, payloads[30], args.concurrency, args.block_seconds, args.blocks)
        results["rps_c16"] = {k: round(v, 1) for k, v in rps.items()}
        _log("slow clients (bench/slow_clients.py) ...")
        results["slow_clients"] = slow_clients.run(
            server.port, payloads[30].path, payloads[30].body, args.workers or usable_cpus()
        )
    _log(f"cold start: {args.restarts} restart(s) ...")
    firsts = cold_first_hook(workdir, args, payloads[30], args.restarts)
    results["first_hook_ms"] = [round(f * 1000, 2) for f in firsts]
    _log("fetch path (bench/fetch.py) ...")
    fetched = fetch_ratio(args.fetch_rounds)
    results["fetch"] = fetched
    # PostgreSQL against SQLite as the store, with the audit rows counted (bench/store_throughput)
    results["store"] = store_throughput.compare(payloads[30], workdir, args.concurrency)

    p50 = {size: statistics.median(series[size]["service"]) for size in series}
    base50 = {
        size: statistics.median(series[size].get("baseline") or series[size]["parse_floor"])
        for size in series
    }
    small, large = HEAVY_SIZES
    results["p50_ms"] = {size: round(p50[size] * 1000, 2) for size in p50}
    results["ms_per_1000_resources"] = round(
        (p50[large] - p50[small]) * 1000 / ((large - small) / 1000), 2
    )
    results["heavy"] = {
        "resources": payloads[large].size,
        "bytes": len(payloads[large]),
        "p50_ms": round(p50[large] * 1000, 2),
        "parse_floor_p50_ms": round(base50[large] * 1000, 2),
    }
    results["ratios"] = {
        "ratio_p50_30": round(p50[30] / base50[30], 2),
        "ratio_p50_200": round(p50[200] / base50[200], 2),
        "tail_p99_p50": round(_pct(series[30]["service"], 0.99) / p50[30], 2),
        "cold_over_warm": round(statistics.median(firsts) / p50[30], 2),
        "throughput_ratio_c16": round(rps["service"] / rps["baseline"], 3),
        "fetch_over_slowest": fetched["fetch_over_slowest"],
        "heavy_over_parse_floor": round(p50[large] / base50[large], 2),
        "worker_rss_mb": max(results["worker_rss_mb"], default=0.0),
        "slow_clients_over_normal": results["slow_clients"]["ratio"],
    }
    if "skipped" not in results["store"]:
        results["ratios"]["postgres_over_sqlite_c16"] = results["store"]["postgresql_over_sqlite"]
    return results


def flat_figures(results: dict[str, Any]) -> dict[str, Any]:
    """Every figure under one key (what --json prints): the ratios, then the rest."""
    figures: dict[str, Any] = dict(results["ratios"])
    for size, ms in results["p50_ms"].items():
        figures[f"p50_ms_{size}"] = ms
    figures["ms_per_1000_resources"] = results["ms_per_1000_resources"]
    figures["heavy_resources"] = results["heavy"]["resources"]
    figures["heavy_bytes"] = results["heavy"]["bytes"]
    figures["heavy_p50_ms"] = results["heavy"]["p50_ms"]
    figures["parse_floor_p50_ms"] = results["heavy"]["parse_floor_p50_ms"]
    figures["worker_rss_mb_each"] = results["worker_rss_mb"]
    figures["rps_c16_service"] = results["rps_c16"]["service"]
    figures["rps_c16_baseline"] = results["rps_c16"]["baseline"]
    if "skipped" not in results["store"]:
        figures["rps_c16_postgres"] = results["store"]["postgresql_rps"]
        figures["rps_c16_sqlite"] = results["store"]["sqlite_rps"]
        figures["audit_rows_lost"] = results["store"]["lost"]
    figures["first_hook_ms"] = results["first_hook_ms"]
    return figures


def _verdict(key: str, value: float) -> str:
    op, target = TARGETS[key]
    ok = {"<=": value <= target, "<": value < target, ">=": value >= target}[op]
    return f"{'ok  ' if ok else 'FAIL'} (target {op} {target:g})"


def _configured_worker_class(serve_source: str) -> str:
    found = re.search(r'"worker_class":\s*"(\w+)"', serve_source)
    return f"{found.group(1)} (serve.py)" if found else "serve.py's"


def _server_setup(args: argparse.Namespace) -> str:
    serve_source = (ROOT / "cds_service" / "commands" / "serve.py").read_text()
    parts = [
        f"{args.worker_class or _configured_worker_class(serve_source)} workers",
        f"{args.workers or 'one per core'}",
        f"{args.threads} threads" if args.threads else "",
        "preloaded and warmed up as serve.py does",
        f"child setup {args.child_setup}" if args.child_setup else "",
    ]
    return ", ".join(p for p in parts if p)


def report(results: dict[str, Any], args: argparse.Namespace) -> str:
    env = results["environment"]
    lines = [
        f"machine: {env['cores']} cores, {env['cpu']}; {env['platform']}",
        f"python {env['python']}; " + ", ".join(f"{k} {v}" for k, v in env["packages"].items()),
        f"server: cds-service serve (gunicorn, {_server_setup(args)}), `make serve` environment; "
        "client: http.client, one connection per request",
        "",
    ]
    for size, info in results["payloads"].items():
        lines.append(
            f"payload {size}: {info['resources']} resources, {info['bytes']} bytes -> "
            f"{len(info['cards'])} card(s)"
        )
    lines.append("")
    lines.append(f"{'c=1 latency (ms)':<34}{'p50':>9}{'p90':>9}{'p99':>9}")
    for size, by_name in results["latency_ms"].items():
        for name, summary in by_name.items():
            lines.append(
                f"{f'{name}, {size} resources':<34}"
                + "".join(f"{summary[k]:>9.2f}" for k in ("p50", "p90", "p99"))
            )
    rps = results["rps_c16"]
    heavy = results["heavy"]
    p50s = ", ".join(f"{size}: {ms} ms" for size, ms in results["p50_ms"].items())
    lines += [
        "",
        f"heavy record: {heavy['resources']} resources, {heavy['bytes']} bytes; service p50 "
        f"{heavy['p50_ms']} ms, parse floor (read, orjson.loads, fixed card) "
        f"{heavy['parse_floor_p50_ms']} ms",
        f"service p50 by record size: {p50s}; {results['ms_per_1000_resources']} ms per 1,000 "
        f"resources ({HEAVY_SIZES[0]} to {HEAVY_SIZES[1]})",
        f"worker RSS after the heavy record (MB): {results['worker_rss_mb']}",
        f"c={args.concurrency} throughput (30 resources): service {rps['service']} rps, "
        f"baseline {rps['baseline']} rps",
    ]
    if "skipped" not in results["store"]:
        lines.append(
            f"c={args.concurrency} throughput with PostgreSQL as the store: "
            f"{results['store']['postgresql_rps']} rps (SQLite {results['store']['sqlite_rps']}); "
            f"audit rows lost: {results['store']['lost']}"
        )
    else:
        lines.append(f"PostgreSQL store: not measured ({results['store']['skipped']})")
    lines.append(f"slow clients (bench/slow_clients.py): {results['slow_clients']}")
    lines += [
        f"first hook after a restart (ms): {results['first_hook_ms']}",
        f"fetch: four searches {results['fetch']['fetch_four_ms']} ms, slowest alone "
        f"{results['fetch']['slowest_single_ms']} ms (each answered in 100 ms)",
        "",
    ]
    for key, value in results["ratios"].items():
        lines.append(f"{key:<26}{value:>8}  {_verdict(key, value)}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--json", action="store_true", help="print every figure under its own key, as JSON"
    )
    parser.add_argument("--rounds", type=int, default=300, help="interleaved rounds, 30 resources")
    parser.add_argument(
        "--rounds-200", type=int, default=200, help="interleaved rounds, 200 resources"
    )
    parser.add_argument(
        "--rounds-heavy", type=int, default=15, help="interleaved rounds, 2,000 and 10,000"
    )
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--block-seconds", type=float, default=2.0)
    parser.add_argument("--blocks", type=int, default=3, help="throughput blocks per endpoint")
    parser.add_argument(
        "--restarts", type=int, default=3, help="server restarts for the cold start"
    )
    parser.add_argument("--fetch-rounds", type=int, default=15)
    parser.add_argument(
        "--worker-class", help="override serve's gunicorn worker class (to compare)"
    )
    parser.add_argument("--threads", type=int, help="gunicorn threads (gthread)")
    parser.add_argument(
        "--workers", type=int, help="gunicorn workers (default: serve's, one per core)"
    )
    parser.add_argument(
        "--child-setup", help="python file run in the server process first (experiments)"
    )
    parser.add_argument("--full", action="store_true", help="print every figure as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the server logs and database")
    parser.add_argument("--serve-child", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_child:
        return serve_child(args)
    results = measure(args)
    if args.full:
        print(json.dumps(results, indent=1))
    elif args.json:
        print(json.dumps(flat_figures(results)))
    else:
        print(report(results, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
