"""The agent's footprint: RSS and CPU of `heron agent` at a 1 s and a 3 s interval.

One Heron server runs locally; `heron agent` (the working tree's, from this interpreter)
reports to it with a personal token, first every second, then every three seconds, each for
a fixed time after a short warm-up (imports, the first connection and the host block are not
the steady state). psutil samples the agent's RSS every second and reads its CPU time at
both ends. During the 3 s phase Debian's `prometheus-node-exporter` runs beside it, scraped
every 3 s by a small scraper thread here, and is measured the same way: the nearest thing
Debian ships to a host agent. The rows the server stored in `server_status` show that the
reports arrived. The local server is plain HTTP, so a last check measures what TLS would add.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil

from bench import results
from bench.procs import free_port, machine_busy_seconds, tree_cpu_seconds, tree_rss_bytes, wait_until
from bench.progress import say
from bench.results import Metric
from bench.systems.base import PHASE_ERRORS, debian_version, describe_failure, running
from bench.systems.heron import REPO_ROOT, Heron, first_row_values

NODE_EXPORTER = "prometheus-node-exporter"
#: Seconds of measurement per interval in the default run (two phases: about 3 minutes in all).
DEFAULT_SECONDS = 75
WARMUP_S = 5.0
RSS_SAMPLE_S = 1.0
SCRAPE_INTERVAL_S = 3.0
#: The issue's targets for the agent at a 3 s interval.
TARGET_RSS_MIB = 25.0
TARGET_CPU_PERCENT = 0.5
MIB = 2**20

METRICS = [
    Metric("rss_mib_3s", "RSS at a 3 s interval (sampled peak)", "MiB", "lower"),
    Metric("rss_mean_mib_3s", "RSS at a 3 s interval (mean)", "MiB", "lower"),
    Metric("cpu_percent_3s", "CPU at a 3 s interval (% of one core)", "%", "lower"),
    Metric("cpu_ms_per_report_3s", "CPU per report (per scrape for node exporter) at 3 s", "ms", "lower"),
    Metric("rss_mib_1s", "RSS at a 1 s interval (sampled peak)", "MiB", "lower"),
    Metric("cpu_percent_1s", "CPU at a 1 s interval (% of one core)", "%", "lower"),
    Metric("cpu_ms_per_report_1s", "CPU per report at 1 s", "ms", "lower"),
]


@dataclass(frozen=True, slots=True)
class Footprint:
    """What one process used over a measured window."""

    wall_s: float
    cpu_s: float
    peak_rss_bytes: int
    mean_rss_bytes: float
    machine_busy_s: float

    @property
    def cpu_percent(self) -> float:
        return 100.0 * self.cpu_s / self.wall_s if self.wall_s else 0.0


def measure(pids: list[int], seconds: float) -> dict[int, Footprint]:
    """RSS (sampled every second) and CPU time of each of ``pids`` over ``seconds``."""
    procs = {pid: psutil.Process(pid) for pid in pids}
    cpu0 = {pid: tree_cpu_seconds(p) for pid, p in procs.items()}
    samples: dict[int, list[int]] = {pid: [] for pid in pids}
    busy0, start = machine_busy_seconds(), time.monotonic()
    deadline = start + seconds
    while True:
        for pid, p in procs.items():
            samples[pid].append(tree_rss_bytes(p))
        now = time.monotonic()
        if now >= deadline:
            break
        time.sleep(min(RSS_SAMPLE_S, deadline - now))
    wall, busy = time.monotonic() - start, machine_busy_seconds() - busy0
    return {
        pid: Footprint(
            wall_s=wall,
            cpu_s=tree_cpu_seconds(p) - cpu0[pid],
            peak_rss_bytes=max(samples[pid]),
            mean_rss_bytes=sum(samples[pid]) / len(samples[pid]),
            machine_busy_s=busy,
        )
        for pid, p in procs.items()
    }


@contextmanager
def agent(
    server: Heron, token: str, *, interval_s: int, workdir: Path
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """A `heron agent` process reporting to ``server`` every ``interval_s``; yields it and its server name."""
    name = f"bench-agent-{interval_s}s-{secrets.token_hex(3)}"
    log = (workdir / f"{name}.log").open("ab")
    command = [
        sys.executable, "-m", "heron", "agent",
        "--server", server.base_url, "--token", token,
        "--interval", str(interval_s), "--name", name, "--agent-id", name,
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env)
    log.close()
    try:
        yield process, name
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@contextmanager
def node_exporter(workdir: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """Debian's node exporter on a free loopback port; yields it and its metrics URL."""
    port = free_port()
    log = (workdir / "node-exporter.log").open("ab")
    process = subprocess.Popen(
        [NODE_EXPORTER, f"--web.listen-address=127.0.0.1:{port}"],
        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=workdir,
    )  # fmt: skip
    log.close()
    url = f"http://127.0.0.1:{port}/metrics"
    try:

        def answers() -> bool:
            if process.poll() is not None:
                raise RuntimeError(f"{NODE_EXPORTER} exited with {process.returncode}")
            try:
                return httpx.get(url, timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(answers, timeout_s=30, what=f"{NODE_EXPORTER} ready")
        yield process, url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


class Scraper:
    """Scrapes a URL every ``SCRAPE_INTERVAL_S`` in a thread, as Prometheus would."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.scrapes = 0
        self.errors = 0
        self.bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="scraper", daemon=True)

    def _run(self) -> None:
        with httpx.Client(timeout=SCRAPE_INTERVAL_S) as client:
            while not self._stop.is_set():
                try:
                    response = client.get(self.url)
                    response.raise_for_status()
                    self.scrapes += 1
                    self.bytes += len(response.content)
                except httpx.HTTPError:
                    self.errors += 1
                self._stop.wait(SCRAPE_INTERVAL_S)

    def __enter__(self) -> Scraper:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def stored_reports(server: Heron, name: str) -> int:
    """Rows of ``server_status`` the server holds for the agent named ``name``."""
    with server.client(timeout_s=30) as client:
        response = client.post(
            "/api/v1/sql",
            params={"db": "public"},
            content=f"SELECT count(*) FROM server_status WHERE server_name = '{name}'",
            headers={"Accept": "application/json"},
        )
        response.raise_for_status()
        return int(first_row_values(response.json())[0])


#: Run in a fresh interpreter: RSS after the agent's imports, then after what https adds.
_TLS_COST_SCRIPT = "\n".join(
    [
        "def rss():",
        "    for line in open('/proc/self/status'):",
        "        if line.startswith('VmRSS:'):",
        "            return int(line.split()[1]) * 1024",
        "import heron.cli, heron.agent.collect, heron.agent.transport",
        "before = rss()",
        "import ssl",
        "ssl.create_default_context()",
        "print(rss() - before)",
    ]
)


def tls_extra_bytes() -> int:
    """What an ``https://`` server adds to the agent: importing ssl and one default context.

    The phases talk plain ``ws://`` to a local server, so they never load ssl; this measures
    the difference in a fresh interpreter that first imports what the agent imports (the
    default context parses the system's CA bundle, which is most of the rest).
    """
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", _TLS_COST_SCRIPT], capture_output=True, text=True, check=True, env=env, timeout=60
    )
    return int(done.stdout.strip())


def _mib(value: float) -> float:
    return round(value / MIB, 1)


def _phase(
    server: Heron, token: str, *, interval_s: int, seconds: int, workdir: Path, beside_url: bool
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Run the agent at ``interval_s``; with ``beside_url``, node exporter and its scraper too.

    Returns the agent's values, node exporter's values (empty without it) and checks.
    """
    agent_values: dict[str, Any] = {}
    peer_values: dict[str, Any] = {}
    checks: dict[str, Any] = {}
    with agent(server, token, interval_s=interval_s, workdir=workdir) as (process, name):
        say(f"agent: {seconds} s at a {interval_s} s interval" + (f", {NODE_EXPORTER} beside it" if beside_url else ""))
        if beside_url:
            with node_exporter(workdir) as (exporter, url), Scraper(url) as scraper:
                time.sleep(WARMUP_S)
                before = scraper.scrapes
                usage = measure([process.pid, exporter.pid], seconds)
                scrapes = scraper.scrapes - before
            peer = usage[exporter.pid]
            peer_values = {
                f"rss_mib_{interval_s}s": _mib(peer.peak_rss_bytes),
                f"rss_mean_mib_{interval_s}s": _mib(peer.mean_rss_bytes),
                f"cpu_percent_{interval_s}s": round(peer.cpu_percent, 3),
                f"cpu_ms_per_report_{interval_s}s": round(1000 * peer.cpu_s / scrapes, 2) if scrapes else None,
            }
            checks["node_exporter_scrapes"] = scraper.scrapes
            checks["node_exporter_scrape_errors"] = scraper.errors
            checks["node_exporter_bytes_per_scrape"] = round(scraper.bytes / scraper.scrapes) if scraper.scrapes else 0
        else:
            time.sleep(WARMUP_S)
            usage = measure([process.pid], seconds)
        if process.poll() is not None:
            raise RuntimeError(f"heron agent exited with {process.returncode}; see {workdir}/{name}.log")
        mine = usage[process.pid]
        agent_values = {
            f"rss_mib_{interval_s}s": _mib(mine.peak_rss_bytes),
            f"rss_mean_mib_{interval_s}s": _mib(mine.mean_rss_bytes),
            f"cpu_percent_{interval_s}s": round(mine.cpu_percent, 3),
            f"cpu_ms_per_report_{interval_s}s": round(1000 * mine.cpu_s * interval_s / mine.wall_s, 2),
        }
        checks[f"machine_busy_percent_{interval_s}s"] = round(100 * mine.machine_busy_s / mine.wall_s, 1)
    time.sleep(2.5)  # the server writes history about once a second
    expected = (seconds + WARMUP_S) / interval_s
    checks[f"reports_stored_{interval_s}s"] = stored_reports(server, name)
    checks[f"reports_expected_about_{interval_s}s"] = round(expected)
    return agent_values, peer_values, checks


def run_agent(*, seconds: int = DEFAULT_SECONDS, workdir: Path) -> dict[str, Any]:
    """Measure the agent at 1 s and 3 s for ``seconds`` each; return the results document."""
    agent_entry: dict[str, Any] = {"label": "heron agent", "values": {}}
    peer_entry: dict[str, Any] = {"label": f"{NODE_EXPORTER} (scraped every 3 s)", "values": {}}
    checks: dict[str, Any] = {}
    if shutil.which(NODE_EXPORTER) is None:
        peer_entry["error"] = f"{NODE_EXPORTER} is not installed (bench/install-peers.sh installs it)"
    else:
        peer_entry["version"] = debian_version(NODE_EXPORTER)
    try:
        server = Heron(workdir / "heron-agent")
        agent_entry["version"] = server.version()
        with running(server) as started:
            assert isinstance(started, Heron)
            with started.client(timeout_s=30) as client:
                created = client.post("/api/v1/token", json={"note": "bench agent"})
                created.raise_for_status()
                token = str(created.json()["data"]["token"])
            for interval_s in (1, 3):
                beside = interval_s == 3 and "error" not in peer_entry
                mine, peer, found = _phase(
                    started, token, interval_s=interval_s, seconds=seconds, workdir=workdir, beside_url=beside
                )
                agent_entry["values"].update(mine)
                peer_entry["values"].update(peer)
                checks.update(found)
    except PHASE_ERRORS as exc:
        agent_entry["error"] = describe_failure(exc)
    values = agent_entry["values"]
    if "rss_mib_3s" in values:
        checks["target_rss_mib"] = TARGET_RSS_MIB
        checks["target_cpu_percent"] = TARGET_CPU_PERCENT
        checks["rss_within_target"] = values["rss_mib_3s"] <= TARGET_RSS_MIB
        checks["cpu_within_target"] = values["cpu_percent_3s"] <= TARGET_CPU_PERCENT
        checks["tls_extra_mib"] = _mib(tls_extra_bytes())
    return results.build(
        benchmark="agent",
        title="Agent footprint",
        description=(
            f"`heron agent` reporting to a local Heron every 1 s and every 3 s, {seconds} s each after a "
            f"{WARMUP_S:.0f} s warm-up; RSS sampled every second, CPU from the process's CPU time. "
            f"Beside the 3 s phase, Debian's {NODE_EXPORTER} scraped every 3 s."
        ),
        parameters={"seconds_per_interval": seconds, "warmup_s": WARMUP_S, "scrape_interval_s": SCRAPE_INTERVAL_S},
        metrics=METRICS,
        systems={"heron": agent_entry, "node_exporter": peer_entry},
        checks=checks,
        notes=[
            f"Targets: agent RSS <= {TARGET_RSS_MIB:.0f} MiB and <= {TARGET_CPU_PERCENT} % "
            "of one core at 3 s.",
            "The agent is the working tree's Python package run by the benchmark's interpreter; a node exporter "
            "scrape collects far more series than an agent report holds, so CPU per report is not like for like.",
            "Node exporter has no 1 s phase (Prometheus would scrape it, not the reverse); its 1 s cells are empty.",
            "Heron's server runs on the same 2 cores; machine_busy_percent shows how busy they were meanwhile.",
            "The agent talks plain ws:// here and never loads ssl; tls_extra_mib is what an https:// server "
            "adds to its RSS (importing ssl and one default context with the system's CA bundle).",
        ],
    )
