"""The server under a fleet: N simulated agents, 50 browsers, and `GET /api/v1/server` meanwhile.

One Heron server runs locally. A load-generator process opens N agent WebSockets
(`GET /api/v1/agent/ws`, the protocol of :mod:`heron.agent.transport`: a personal token as
``Authorization: Bearer``, the host message, then one status message with a ``seq`` every 3 s,
each acknowledged by the server). Connections are opened evenly over a ramp and each agent
reports at its own random phase, so reports are spread over time. A second process holds 50
browser connections on `GET /api/v1/ws/server`. Each report carries its send time (Unix
microseconds) in its ``Uptime`` field, which the stream shows as ``state.uptime``, so the
fan-out latency is exact: from a report's send to the first frame, on each browser, that
carries it. Meanwhile this process asks `GET /api/v1/server` every half second and psutil
measures Heron's and the load generator's CPU and RSS over a fixed window after the ramp.

The load generator's two processes run as `python -m bench.fleet agents|browsers ...`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
import psutil
from websockets.asyncio.client import connect
from websockets.exceptions import WebSocketException

from bench import results
from bench.procs import machine_busy_seconds, tree_cpu_seconds, tree_rss_bytes
from bench.progress import say
from bench.results import Metric
from bench.systems.base import PHASE_ERRORS, describe_failure, running
from bench.systems.heron import REPO_ROOT, Heron

DEFAULT_AGENTS = 2000
DEFAULT_SECONDS = 60
BROWSERS = 50
REPORT_INTERVAL_S = 3.0
#: Agents connect evenly over this many seconds, then a short settling time before measuring.
RAMP_S = 20.0
SETTLE_S = 5.0
#: How long agents wait for the last acks once the window ends.
DRAIN_S = 15.0
API_SAMPLE_S = 0.5
RSS_SAMPLE_S = 1.0
#: The issue's targets for the fleet.
TARGET_API_P99_MS = 50.0
MIB = 2**20
WS_PATH_AGENT = "/api/v1/agent/ws"
WS_PATH_BROWSER = "/api/v1/ws/server"
#: What ends one simulated connection (recorded, counted), not the run.
FAILURES = (OSError, WebSocketException, TimeoutError, ValueError, KeyError, RuntimeError)

METRICS = [
    Metric("api_server_p50_ms", "GET /api/v1/server p50", "ms", "lower"),
    Metric("api_server_p99_ms", "GET /api/v1/server p99", "ms", "lower"),
    Metric("fanout_p50_ms", "Fan-out: agent report to browser frame, p50", "ms", "lower"),
    Metric("fanout_p99_ms", "Fan-out: agent report to browser frame, p99", "ms", "lower"),
    Metric("ack_p50_ms", "Agent report to its ack, p50", "ms", "lower"),
    Metric("ack_p99_ms", "Agent report to its ack, p99", "ms", "lower"),
    Metric("reports_per_s", "Reports acknowledged per second", "/s", "higher"),
    Metric("heron_cpu_percent", "Heron CPU (% of one core)", "%", "lower"),
    Metric("heron_rss_peak_mib", "Heron RSS (sampled peak)", "MiB", "lower"),
    Metric("heron_rss_mean_mib", "Heron RSS (mean)", "MiB", "lower"),
    Metric("loadgen_cpu_percent", "Load generator CPU (% of one core, both processes)", "%", "lower"),
]


def raise_fd_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit; return the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        target = 1 << 20 if hard == resource.RLIM_INFINITY else hard
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile of ``values`` (None when empty)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def _ms(value: float | None) -> float | None:
    return None if value is None else round(1000 * value, 2)


# The agents process.


async def _agent(
    index: int,
    url: str,
    token: str,
    *,
    start_delay: float,
    end_at: float,
    window: tuple[float, float],
    tally: dict[str, Any],
) -> None:
    await asyncio.sleep(start_delay)
    name = f"fleet-{index:05d}"
    pending: dict[int, float] = {}
    try:
        async with connect(
            url, additional_headers={"Authorization": f"Bearer {token}"}, open_timeout=60, max_size=None
        ) as ws:
            host = {"Platform": "linux", "Arch": "x86_64", "MemTotal": 8 * 2**30, "Version": "bench-fleet"}
            await ws.send(json.dumps({"type": "host", "agent_id": name, "name": name, "host": host}))
            welcome = json.loads(await asyncio.wait_for(ws.recv(), timeout=60))
            if welcome.get("type") != "welcome":
                raise RuntimeError(f"no welcome: {welcome!r}")
            tally["connected"] += 1

            async def read_acks() -> None:
                async for text in ws:
                    msg = json.loads(text)
                    if msg.get("type") == "ack":
                        sent = pending.pop(msg.get("seq"), None)
                        if sent is not None:
                            tally["acked"] += 1
                            if window[0] <= sent < window[1]:
                                tally["ack_s"].append(time.time() - sent)

            reader = asyncio.create_task(read_acks())
            seq = 0
            await asyncio.sleep(random.uniform(0, REPORT_INTERVAL_S))
            next_at = time.monotonic()
            while time.time() < end_at:
                seq += 1
                now = time.time()
                status = {"CPU": random.uniform(0, 100), "MemUsed": 2**30, "Uptime": int(now * 1e6), "Load1": 0.5}
                pending[seq] = now
                await ws.send(json.dumps({"type": "status", "seq": seq, "ts": now, "status": status}))
                tally["sent"] += 1
                next_at += REPORT_INTERVAL_S
                await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            deadline = time.monotonic() + DRAIN_S
            while pending and time.monotonic() < deadline and not reader.done():
                await asyncio.sleep(0.1)
            reader.cancel()
    except FAILURES as exc:  # one failed agent is a finding, not the end of the run
        tally["errors"].append(f"{name}: {type(exc).__name__}: {exc}"[:200])
    finally:
        tally["unacked"] += len(pending)


async def run_agents(args: argparse.Namespace) -> dict[str, Any]:
    url = args.url.replace("http://", "ws://") + WS_PATH_AGENT
    tally: dict[str, Any] = {"connected": 0, "sent": 0, "acked": 0, "unacked": 0, "errors": [], "ack_s": []}
    window = (args.window_start, args.window_end)
    tasks = [
        _agent(i, url, args.token, start_delay=i * args.ramp / args.count, end_at=args.window_end,
               window=window, tally=tally)
        for i in range(args.count)
    ]  # fmt: skip
    await asyncio.gather(*tasks)
    ack = tally.pop("ack_s")
    return {
        **tally,
        "error_count": len(tally["errors"]),
        "errors": tally["errors"][:10],
        "ack_p50_ms": _ms(percentile(ack, 50)),
        "ack_p99_ms": _ms(percentile(ack, 99)),
        "acks_in_window": len(ack),
    }


# The browsers process.


async def _browser(url: str, token: str, *, window: tuple[float, float], tally: dict[str, Any]) -> None:
    seen: dict[int, int] = {}
    last_frame: float | None = None
    try:
        async with connect(
            url, additional_headers={"Authorization": f"Bearer {token}"}, open_timeout=60, max_size=None
        ) as ws:
            tally["connected"] += 1
            while True:
                remaining = window[1] + 1.0 - time.time()
                if remaining <= 0:
                    break
                try:
                    raw = await asyncio.wait_for(ws.recv(), timeout=remaining)
                except TimeoutError:
                    break
                arrived = time.time()
                frame = orjson.loads(raw)
                measuring = window[0] <= arrived < window[1]
                if measuring:
                    tally["frames"] += 1
                    tally["frame_bytes"] += len(raw)
                    tally["servers_per_frame"].append(len(frame["servers"]))
                    if last_frame is not None:
                        tally["interval_s"].append(arrived - last_frame)
                last_frame = arrived
                first = not seen
                for server in frame["servers"]:
                    uptime = server["state"]["uptime"]
                    if uptime and seen.get(server["id"]) != uptime:
                        seen[server["id"]] = uptime
                        sent = uptime / 1e6
                        # The first frame shows reports sent before this browser listened: not fan-out.
                        if not first and window[0] <= sent < window[1]:
                            tally["fanout_s"].append(arrived - sent)
    except FAILURES as exc:
        tally["errors"].append(f"{type(exc).__name__}: {exc}"[:200])


async def run_browsers(args: argparse.Namespace) -> dict[str, Any]:
    url = args.url.replace("http://", "ws://") + WS_PATH_BROWSER
    tally: dict[str, Any] = {
        "connected": 0, "frames": 0, "frame_bytes": 0, "errors": [],
        "servers_per_frame": [], "interval_s": [], "fanout_s": [],
    }  # fmt: skip
    window = (args.window_start, args.window_end)
    await asyncio.gather(*(_browser(url, args.token, window=window, tally=tally) for _ in range(args.count)))
    fanout, interval, servers = tally["fanout_s"], tally["interval_s"], tally["servers_per_frame"]
    return {
        "connected": tally["connected"],
        "frames": tally["frames"],
        "mean_frame_kib": round(tally["frame_bytes"] / tally["frames"] / 1024, 1) if tally["frames"] else None,
        "servers_per_frame_min": min(servers) if servers else None,
        "servers_per_frame_max": max(servers) if servers else None,
        "fanout_samples": len(fanout),
        "fanout_p50_ms": _ms(percentile(fanout, 50)),
        "fanout_p99_ms": _ms(percentile(fanout, 99)),
        "fanout_max_ms": _ms(max(fanout) if fanout else None),
        "frame_interval_p50_ms": _ms(percentile(interval, 50)),
        "frame_interval_p99_ms": _ms(percentile(interval, 99)),
        "error_count": len(tally["errors"]),
        "errors": tally["errors"][:10],
    }


def worker_main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.fleet")
    parser.add_argument("role", choices=("agents", "browsers"))
    parser.add_argument("--url", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--ramp", type=float, default=RAMP_S)
    parser.add_argument("--window-start", type=float, required=True)
    parser.add_argument("--window-end", type=float, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    raise_fd_limit()
    runner = run_agents if args.role == "agents" else run_browsers
    args.out.write_text(json.dumps(asyncio.run(runner(args))))


# The orchestrator.


class ApiSampler:
    """Times `GET /api/v1/server` every ``API_SAMPLE_S`` in a thread, one request at a time."""

    def __init__(self, base_url: str, token: str) -> None:
        self.base_url, self.token = base_url, token
        self.latencies: list[float] = []
        self.errors = 0
        self.items: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="api-sampler", daemon=True)

    def _run(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        with httpx.Client(base_url=self.base_url, headers=headers, timeout=30) as client:
            while not self._stop.is_set():
                started = time.perf_counter()
                try:
                    response = client.get("/api/v1/server")
                    response.raise_for_status()
                    self.latencies.append(time.perf_counter() - started)
                    self.items.append(len(response.json()["data"]))
                except (httpx.HTTPError, ValueError, KeyError):
                    self.errors += 1
                self._stop.wait(API_SAMPLE_S)

    def __enter__(self) -> ApiSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def _spawn(
    role: str, server: Heron, token: str, *, count: int, window: tuple[float, float], workdir: Path
) -> tuple[subprocess.Popen[bytes], Path]:
    out = workdir / f"fleet-{role}.json"
    log = (workdir / f"fleet-{role}.log").open("ab")
    command = [
        sys.executable, "-m", "bench.fleet", role, "--url", server.base_url, "--token", token,
        "--count", str(count), "--window-start", str(window[0]), "--window-end", str(window[1]), "--out", str(out),
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env)
    log.close()
    return process, out


def _measure_window(heron_pid: int, load_pids: list[int], window: tuple[float, float]) -> dict[str, Any]:
    """Heron's CPU and RSS, and the load generator's CPU, between the window's wall times."""
    heron = psutil.Process(heron_pid)
    loads = [psutil.Process(pid) for pid in load_pids]
    time.sleep(max(0.0, window[0] - time.time()))
    cpu0, load0 = tree_cpu_seconds(heron), sum(tree_cpu_seconds(p) for p in loads)
    busy0, start = machine_busy_seconds(), time.monotonic()
    rss: list[int] = []
    load_rss: list[int] = []
    while time.time() < window[1]:
        rss.append(tree_rss_bytes(heron))
        load_rss.append(sum(tree_rss_bytes(p) for p in loads))
        time.sleep(min(RSS_SAMPLE_S, max(0.0, window[1] - time.time())))
    wall = time.monotonic() - start
    cpu, load = tree_cpu_seconds(heron) - cpu0, sum(tree_cpu_seconds(p) for p in loads) - load0
    busy = machine_busy_seconds() - busy0
    return {
        "wall_s": round(wall, 1),
        "heron_cpu_percent": round(100 * cpu / wall, 1),
        "heron_rss_peak_mib": round(max(rss) / MIB, 1),
        "heron_rss_mean_mib": round(sum(rss) / len(rss) / MIB, 1),
        "loadgen_cpu_percent": round(100 * load / wall, 1),
        "loadgen_rss_peak_mib": round(max(load_rss) / MIB, 1),
        "machine_busy_percent": round(100 * busy / wall, 1),
    }


def _fleet(
    server: Heron, token: str, *, agents: int, seconds: int, workdir: Path
) -> tuple[dict[str, Any], dict[str, Any]]:
    start = time.time() + 2.0  # the workers' imports
    window = (start + RAMP_S + SETTLE_S, start + RAMP_S + SETTLE_S + seconds)
    browsers, browsers_out = _spawn("browsers", server, token, count=BROWSERS, window=window, workdir=workdir)
    fleet, fleet_out = _spawn("agents", server, token, count=agents, window=window, workdir=workdir)
    processes = [browsers, fleet]
    try:
        say(f"fleet: {agents} agents over a {RAMP_S:.0f} s ramp, {BROWSERS} browsers, then {seconds} s measured")
        with ApiSampler(server.base_url, token) as sampler:
            time.sleep(max(0.0, window[0] - time.time()))
            sampler.latencies.clear()
            sampler.items.clear()
            sampler.errors = 0
            usage = _measure_window(server.pid, [p.pid for p in processes], window)
            api = list(sampler.latencies)
            items = list(sampler.items)
            api_errors = sampler.errors
        server.assert_alive()
        for process in processes:
            process.wait(timeout=RAMP_S + DRAIN_S + 120)
            if process.returncode != 0:
                raise RuntimeError(f"a load-generator process exited with {process.returncode}; see {workdir}")
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    agent_side = json.loads(fleet_out.read_text())
    browser_side = json.loads(browsers_out.read_text())
    window_s = window[1] - window[0]
    values = {
        "api_server_p50_ms": _ms(percentile(api, 50)),
        "api_server_p99_ms": _ms(percentile(api, 99)),
        "fanout_p50_ms": browser_side["fanout_p50_ms"],
        "fanout_p99_ms": browser_side["fanout_p99_ms"],
        "ack_p50_ms": agent_side["ack_p50_ms"],
        "ack_p99_ms": agent_side["ack_p99_ms"],
        "reports_per_s": round(agent_side["acks_in_window"] / window_s, 1),
        **{
            key: usage[key]
            for key in ("heron_cpu_percent", "heron_rss_peak_mib", "heron_rss_mean_mib", "loadgen_cpu_percent")
        },
    }
    checks = {
        "agents": {
            "connected": agent_side["connected"], "reports_sent": agent_side["sent"],
            "reports_acked": agent_side["acked"], "reports_unacked": agent_side["unacked"],
            "errors": agent_side["error_count"],
        },
        "browsers": {key: browser_side[key] for key in (
            "connected", "frames", "mean_frame_kib", "servers_per_frame_min", "servers_per_frame_max",
            "fanout_samples", "fanout_max_ms", "frame_interval_p50_ms", "frame_interval_p99_ms", "error_count",
        )},
        "api_server": {
            "samples": len(api), "errors": api_errors, "max_ms": _ms(max(api) if api else None),
            "servers_listed_min": min(items) if items else None,
        },
        "machine": {
            "machine_busy_percent": usage["machine_busy_percent"],
            "loadgen_rss_peak_mib": usage["loadgen_rss_peak_mib"], "window_s": usage["wall_s"],
        },
        "target_api_p99_ms": TARGET_API_P99_MS,
        "api_p99_within_target": values["api_server_p99_ms"] is not None
        and values["api_server_p99_ms"] <= TARGET_API_P99_MS,
        "no_report_dropped": agent_side["sent"] > 0 and agent_side["acked"] == agent_side["sent"]
        and agent_side["error_count"] == 0,
    }  # fmt: skip
    errors = agent_side["errors"] + browser_side["errors"]
    if errors:
        checks["first_errors"] = errors[:5]
    return values, checks


def run_fleet(*, agents: int = DEFAULT_AGENTS, seconds: int = DEFAULT_SECONDS, workdir: Path) -> dict[str, Any]:
    """Run the fleet benchmark against a fresh Heron; return the results document."""
    entry: dict[str, Any] = {"label": "Heron", "values": {}}
    checks: dict[str, Any] = {}
    raise_fd_limit()  # Heron inherits it: it holds a socket per agent and browser
    try:
        server = Heron(workdir / "heron-fleet")
        entry["version"] = server.version()
        with running(server) as started:
            assert isinstance(started, Heron)
            with started.client(timeout_s=30) as client:
                created = client.post("/api/v1/token", json={"note": "bench fleet"})
                created.raise_for_status()
                token = str(created.json()["data"]["token"])
            values, checks = _fleet(started, token, agents=agents, seconds=seconds, workdir=workdir)
            entry["values"] = values
    except PHASE_ERRORS as exc:
        entry["error"] = describe_failure(exc)
    return results.build(
        benchmark="fleet",
        title="Server under a fleet of agents",
        description=(
            f"One Heron with {agents:,} simulated agents on `{WS_PATH_AGENT}` (one WebSocket each, a personal "
            f"token, the host message, then a status report with a `seq` every {REPORT_INTERVAL_S:.0f} s at a "
            f"random phase, each acked), connected evenly over {RAMP_S:.0f} s, and {BROWSERS} browser "
            f"connections on `{WS_PATH_BROWSER}`; measured for {seconds} s after the ramp and {SETTLE_S:.0f} s "
            f"of settling. `GET /api/v1/server` is timed every {API_SAMPLE_S} s, one request at a time. "
            "Fan-out latency is exact: each report carries its send time in `Uptime`, and each browser "
            "times the first frame that shows it. Heron's and the load generator's CPU and RSS come from psutil."
        ),
        parameters={
            "agents": agents,
            "browsers": BROWSERS,
            "report_interval_s": REPORT_INTERVAL_S,
            "ramp_s": RAMP_S,
            "settle_s": SETTLE_S,
            "seconds": seconds,
            "api_sample_s": API_SAMPLE_S,
        },
        metrics=METRICS,
        systems={"heron": entry},
        checks=checks,
        notes=[
            f"Targets: GET /api/v1/server p99 <= {TARGET_API_P99_MS:.0f} ms with {agents:,} agents "
            "reporting, and no report dropped (every report sent is acknowledged).",
            "The browser stream pushes a frame every 2 s, so fan-out latency includes waiting for the next "
            "frame: about 1 s on average by design, up to 2 s plus the frame's build and send time.",
            "The load generator (agents in one asyncio process, browsers in another, websockets with its default "
            "permessage-deflate offer) shares the 2 cores with Heron; its CPU is recorded beside Heron's, "
            "and machine_busy_percent is every core's use meanwhile (200 % is both cores).",
            "Every agent belongs to the admin's token, so every browser and API call sees every server.",
            "GET /api/v1/server is timed one request at a time, so slow answers mean few samples (checks: "
            "api_server / samples); with few samples p99 is about the slowest answer.",
            "Frames a browser receives in the window may have been built from the servers stored before the "
            "last agents enrolled (checks: servers_per_frame_min).",
        ],
    )


if __name__ == "__main__":
    worker_main(sys.argv[1:])
