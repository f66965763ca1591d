"""The monitor scheduler under load, beside Prometheus driving blackbox_exporter, on the same targets.

Targets, all on 127.0.0.0/8 and served by one helper process: a small HTTP server (1,000
URLs), 1,000 listening sockets on 127.0.0.2-21 (one per TCP monitor: Prometheus merges
identical targets, so each must differ) and 200 loopback addresses for ICMP. Heron gets
1,000 HTTP + 1,000 TCP + 200 ICMP monitors (one echo each) every 30 s through its API and
runs them from the node; after a warm-up cycle the benchmark measures Heron's CPU and RSS
over whole cycles and reads the scheduler's lag (due time to start, p50 and p99) and missed
cycles from ``GET /api/v1/service/scheduler``.

The peer is the usual Prometheus way: Debian's ``prometheus-blackbox-exporter`` probing the
same 2,200 targets (modules ``http_2xx``, ``tcp_connect``, ``icmp``), driven by Debian's
``prometheus`` scraping it every 30 s; their CPU and RSS are summed. ``probe_success`` per
job in Prometheus shows that every target was probed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psutil

from bench import results
from bench.agent import measure
from bench.procs import free_port, wait_until
from bench.progress import say
from bench.results import Metric
from bench.systems.base import PHASE_ERRORS, debian_version, describe_failure, running
from bench.systems.heron import Heron
from bench.systems.prometheus import Prometheus

BLACKBOX = "prometheus-blackbox-exporter"
HTTP_MONITORS, TCP_MONITORS, ICMP_MONITORS = 1000, 1000, 200
TCP_ADDRESSES = 20
INTERVAL_S = 30
WARMUP_S = 40.0
DEFAULT_SECONDS = 90
MIB = 2**20
#: The issue's targets.
TARGET_LAG_P99_MS = 500.0
TARGET_CPU_PERCENT = 30.0

METRICS = [
    Metric("cpu_percent", "CPU (% of one core)", "%", "lower"),
    Metric("rss_mib", "RSS (sampled peak)", "MiB", "lower"),
    Metric("lag_p50_ms", "Lag from due time to start, p50", "ms", "lower"),
    Metric("lag_p99_ms", "Lag from due time to start, p99", "ms", "lower"),
    Metric("missed_cycles", "Missed cycles", "count", "lower"),
    Metric("checks_per_s", "Checks per second", "1/s", "higher"),
]

#: The targets process: prints its ports as one JSON line, then serves until killed.
_TARGETS = r"""
import http.server, json, resource, selectors, socket, sys, threading
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        self.send_response(200); self.send_header("Content-Length", "2"); self.end_headers(); self.wfile.write(b"OK")
    def log_message(self, *a): pass
web = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H); web.daemon_threads = True
threading.Thread(target=web.serve_forever, daemon=True).start()
sel = selectors.DefaultSelector(); tcp = []
for i in range(int(sys.argv[1])):
    s = socket.socket(); s.bind((f"127.0.0.{2 + i % int(sys.argv[2])}", 0)); s.listen(64); s.setblocking(False)
    sel.register(s, selectors.EVENT_READ); tcp.append("%s:%d" % s.getsockname())
print(json.dumps({"http": web.server_address[1], "tcp": tcp}), flush=True)
while True:
    for key, _ in sel.select():
        try:
            conn, _ = key.fileobj.accept(); conn.close()
        except OSError:
            pass
"""


@contextmanager
def targets() -> Iterator[dict[str, Any]]:
    process = subprocess.Popen(
        [sys.executable, "-c", _TARGETS, str(TCP_MONITORS), str(TCP_ADDRESSES)],
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    try:
        assert process.stdout is not None
        ports: dict[str, Any] = json.loads(process.stdout.readline())
        yield ports
    finally:
        process.terminate()
        process.wait(timeout=10)


def target_list(ports: dict[str, Any]) -> dict[str, list[str]]:
    return {
        "http": [f"http://127.0.0.1:{ports['http']}/m{i}" for i in range(HTTP_MONITORS)],
        "tcp": list(ports["tcp"]),
        "icmp": [f"127.0.{1 + i // 250}.{1 + i % 250}" for i in range(ICMP_MONITORS)],
    }


def _heron_phase(workdir: Path, listed: dict[str, list[str]], seconds: int) -> tuple[dict[str, Any], dict[str, Any]]:
    server = Heron(workdir / "heron-probes")
    values: dict[str, Any] = {}
    checks: dict[str, Any] = {}
    with running(server) as started, started.client(timeout_s=60) as client:
        say(f"probes: creating {sum(map(len, listed.values()))} monitors in Heron")
        for kind, items in listed.items():
            for i, target in enumerate(items):
                body: dict[str, Any] = {"name": f"{kind} {i}", "type": kind, "target": target, "duration": INTERVAL_S}
                body["timeout"] = 5
                if kind == "icmp":
                    body["options"] = {"count": 1}
                response = client.post("/api/v1/service", json=body)
                response.raise_for_status()
        say(f"probes: Heron warming up {WARMUP_S:.0f} s, then measuring {seconds} s")
        time.sleep(WARMUP_S)
        before = client.get("/api/v1/service/scheduler").json()["data"]
        usage = measure([started.pid], seconds)[started.pid]
        after = client.get("/api/v1/service/scheduler", params={"since_check": before["checks_started"]}).json()["data"]
        down = client.get("/api/v1/service").json()["data"]["services"]
        checks["monitors_down_at_end"] = sum(1 for s in down.values() if s["current_down"])
    started_checks = after["checks_started"] - before["checks_started"]
    values.update(
        cpu_percent=round(usage.cpu_percent, 2),
        rss_mib=round(usage.peak_rss_bytes / MIB, 1),
        lag_p50_ms=after["lag_p50_ms"],
        lag_p99_ms=after["lag_p99_ms"],
        missed_cycles=after["missed_cycles"] - before["missed_cycles"],
        checks_per_s=round(started_checks / usage.wall_s, 1),
    )
    checks["checks_expected_per_s"] = round(sum(map(len, listed.values())) / INTERVAL_S, 1)
    checks["heron_machine_busy_percent"] = round(100 * usage.machine_busy_s / usage.wall_s, 1)
    return values, checks


_BLACKBOX_CONFIG = """modules:
  http_2xx: {prober: http, timeout: 5s}
  tcp_connect: {prober: tcp, timeout: 5s}
  icmp: {prober: icmp, timeout: 5s, icmp: {preferred_ip_protocol: ip4}}
"""


def _prometheus_config(blackbox_port: int, listed: dict[str, list[str]]) -> str:
    jobs = []
    for kind, module in (("http", "http_2xx"), ("tcp", "tcp_connect"), ("icmp", "icmp")):
        jobs.append(
            {
                "job_name": f"blackbox_{kind}",
                "metrics_path": "/probe",
                "params": {"module": [module]},
                "scrape_interval": f"{INTERVAL_S}s",
                "scrape_timeout": "10s",
                "static_configs": [{"targets": listed[kind]}],
                "relabel_configs": [
                    {"source_labels": ["__address__"], "target_label": "__param_target"},
                    {"source_labels": ["__param_target"], "target_label": "instance"},
                    {"target_label": "__address__", "replacement": f"127.0.0.1:{blackbox_port}"},
                ],
            }
        )
    return json.dumps({"global": {"scrape_interval": f"{INTERVAL_S}s"}, "scrape_configs": jobs})


@contextmanager
def blackbox(workdir: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    port = free_port()
    config = workdir / "blackbox.yml"
    config.write_text(_BLACKBOX_CONFIG)
    log = (workdir / "blackbox.log").open("ab")
    process = subprocess.Popen(
        [BLACKBOX, f"--config.file={config}", f"--web.listen-address=127.0.0.1:{port}"],
        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=workdir,
    )  # fmt: skip
    log.close()
    try:

        def answers() -> bool:
            if process.poll() is not None:
                raise RuntimeError(f"{BLACKBOX} exited with {process.returncode}")
            try:
                return httpx.get(f"http://127.0.0.1:{port}/-/healthy", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(answers, timeout_s=30, what=f"{BLACKBOX} ready")
        yield process, port
    finally:
        process.terminate()
        process.wait(timeout=10)


def _peer_phase(workdir: Path, listed: dict[str, list[str]], seconds: int) -> tuple[dict[str, Any], dict[str, Any]]:
    peer_dir = workdir / "blackbox"
    peer_dir.mkdir(parents=True, exist_ok=True)
    with blackbox(peer_dir) as (exporter, port):
        prometheus = Prometheus(peer_dir, config=_prometheus_config(port, listed), receiver=False)
        with running(prometheus) as started:
            say(f"probes: Prometheus and blackbox_exporter warming up {WARMUP_S:.0f} s, then measuring {seconds} s")
            time.sleep(WARMUP_S)
            prometheus_pid = started.pid
            usage = measure([exporter.pid, prometheus_pid], seconds)
            with started.client(timeout_s=30) as client:
                query = "count by (job) (probe_success == 1)"
                probed = client.get("/api/v1/query", params={"query": query}).json()["data"]["result"]
    wall = usage[exporter.pid].wall_s
    values = {
        "cpu_percent": round(100 * (usage[exporter.pid].cpu_s + usage[prometheus_pid].cpu_s) / wall, 2),
        "rss_mib": round((usage[exporter.pid].peak_rss_bytes + usage[prometheus_pid].peak_rss_bytes) / MIB, 1),
    }
    checks = {
        "peer_targets_succeeding": {r["metric"]["job"]: int(r["value"][1]) for r in probed},
        "peer_blackbox_cpu_percent": round(usage[exporter.pid].cpu_percent, 2),
        "peer_prometheus_cpu_percent": round(usage[prometheus_pid].cpu_percent, 2),
    }
    return values, checks


def run_probes(*, seconds: int = DEFAULT_SECONDS, workdir: Path) -> dict[str, Any]:
    """Heron's scheduler, then Prometheus with blackbox_exporter, each over ``seconds``; the results document."""
    heron_entry: dict[str, Any] = {"label": "Heron (monitors from the node)", "values": {}}
    peer_entry: dict[str, Any] = {"label": "Prometheus + blackbox_exporter", "values": {}}
    checks: dict[str, Any] = {}
    with targets() as ports:
        listed = target_list(ports)
        try:
            server = Heron(workdir / "heron-probes-version")
            heron_entry["version"] = server.version()
            heron_entry["values"], found = _heron_phase(workdir, listed, seconds)
            checks.update(found)
        except PHASE_ERRORS as exc:
            heron_entry["error"] = describe_failure(exc)
        if shutil.which(BLACKBOX) is None or shutil.which("prometheus") is None:
            peer_entry["error"] = f"{BLACKBOX} or prometheus is not installed (bench/install-peers.sh installs them)"
        else:
            peer_entry["version"] = f"{debian_version(BLACKBOX)}; {debian_version('prometheus')}"
            try:
                peer_entry["values"], found = _peer_phase(workdir, listed, seconds)
                checks.update(found)
            except PHASE_ERRORS as exc:
                peer_entry["error"] = describe_failure(exc)
    values = heron_entry["values"]
    if "lag_p99_ms" in values:
        checks["target_lag_p99_ms"] = TARGET_LAG_P99_MS
        checks["target_cpu_percent"] = TARGET_CPU_PERCENT
        checks["lag_within_target"] = values["lag_p99_ms"] <= TARGET_LAG_P99_MS
        checks["no_missed_cycles"] = values["missed_cycles"] == 0
        checks["cpu_within_target"] = values["cpu_percent"] <= TARGET_CPU_PERCENT
    checks["cores"] = psutil.cpu_count()
    return results.build(
        benchmark="probes",
        title="Service monitors: the scheduler under load",
        description=(
            f"{HTTP_MONITORS} HTTP + {TCP_MONITORS} TCP + {ICMP_MONITORS} ICMP monitors every {INTERVAL_S} s against "
            f"local targets on 127.0.0.0/8, measured for {seconds} s after a {WARMUP_S:.0f} s warm-up: Heron running "
            "them from the node, then Prometheus scraping blackbox_exporter for the same targets."
        ),
        parameters={
            "interval_s": INTERVAL_S,
            "seconds": seconds,
            "warmup_s": WARMUP_S,
            "monitors": {"http": HTTP_MONITORS, "tcp": TCP_MONITORS, "icmp": ICMP_MONITORS},
        },
        metrics=METRICS,
        systems={"heron": heron_entry, "blackbox": peer_entry},
        checks=checks,
        notes=[
            f"Targets: lag p99 <= {TARGET_LAG_P99_MS:.0f} ms, 0 missed cycles, "
            f"<= {TARGET_CPU_PERCENT:.0f} % of one core.",
            "The peer's CPU and RSS are blackbox_exporter's and Prometheus's summed; Prometheus has no scheduler "
            "lag or missed-cycle figure of this kind, so those cells are empty.",
            "Uptime Kuma is not installable here; its users report about a core for a few hundred monitors.",
            "Heron's figures include its API, its TSDB writes of every result and its state tracking.",
        ],
    )
