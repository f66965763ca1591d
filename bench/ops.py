"""Remote operations: terminal echo latency, file transfer speed, NAT overhead, cron fan-out to a fleet.

One Heron server and one real `heron agent --allow exec,terminal,files,nat` on this machine:

* **terminal**: 50 web terminals open at once (`POST /api/v1/terminal`, then the
  WebSocket); one keystroke at a time, round robin over the sessions, timed from the send on
  the browser's WebSocket to the echo coming back (browser -> Heron -> agent -> PTY -> back);
  Heron's CPU meanwhile.
* **files**: a file downloaded and uploaded with `curl` through `GET|PUT
  /api/v1/server/{id}/file`, against `curl` to and from a local HTTP server in the same run;
  Heron's and the agent's peak RSS (sampled) during the transfers.
* **nat**: sequential requests for latency (p50) and 8 concurrent clients for throughput,
  through a NAT domain and straight to the same local HTTP server.
* **cron**: a fleet of simulated agents (one asyncio process, the agent protocol with the
  command channel, answering each command at once) and one manual cron run on all of them:
  every result stored, trigger to result per server (from the trigger's send time to the
  run's ``finished_at``, when Heron received it), and how long until all were stored (a
  poll of the runs, checks: all_stored_within_s).

The fleet runs as `python -m bench.ops agents ...`; the local HTTP server as `python -m bench.ops http ...`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from datetime import datetime
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import psutil
from websockets.asyncio.client import connect
from websockets.exceptions import WebSocketException

from bench import results
from bench.fleet import percentile, raise_fd_limit
from bench.procs import Sampler, free_port, tree_rss_bytes, wait_until
from bench.progress import say
from bench.results import Metric
from bench.systems.base import PHASE_ERRORS, describe_failure, running
from bench.systems.heron import REPO_ROOT, Heron

SESSIONS = 50
KEYSTROKES = 500
DEFAULT_FILE_MIB = 1024
NAT_REQUESTS = 300
NAT_THREADS = 8
NAT_SECONDS = 5.0
DEFAULT_CRON_AGENTS = 2000
CRON_RAMP_S = 20.0
MIB = 2**20
TARGETS = {
    "terminal_p99_ms": 20.0,
    "file_mib_s": 100.0,
    "nat_added_p50_ms": 2.0,
    "nat_throughput_ratio": 0.5,
    "cron_p99_s": 2.0,
}

METRICS = [
    Metric("terminal_echo_p50_ms", f"Terminal keystroke to echo, p50 ({SESSIONS} sessions open)", "ms", "lower"),
    Metric("terminal_echo_p99_ms", f"Terminal keystroke to echo, p99 ({SESSIONS} sessions open)", "ms", "lower"),
    Metric("terminal_heron_cpu_percent", "Heron CPU while typing (% of one core)", "%", "lower"),
    Metric("download_mib_s", "File download", "MiB/s", "higher"),
    Metric("upload_mib_s", "File upload", "MiB/s", "higher"),
    Metric("transfer_heron_rss_peak_mib", "Heron RSS during transfers (sampled peak)", "MiB", "lower"),
    Metric("transfer_agent_rss_peak_mib", "Agent RSS during transfers (sampled peak)", "MiB", "lower"),
    Metric("nat_p50_ms", "HTTP request p50 (sequential)", "ms", "lower"),
    Metric("nat_requests_per_s", f"HTTP requests/s ({NAT_THREADS} clients)", "/s", "higher"),
    Metric("cron_dispatch_p50_s", "Cron: trigger to result received, p50", "s", "lower"),
    Metric("cron_dispatch_p99_s", "Cron: trigger to result received, p99", "s", "lower"),
]


# -- helper processes ------------------------------------------------------------------------


class _Handler(SimpleHTTPRequestHandler):
    """Files from the directory for GET; PUT stores the body (the upload baseline)."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as separate writes: no 40 ms delayed-ACK stall

    def do_PUT(self) -> None:
        left = int(self.headers["Content-Length"])
        with open(os.path.join(self.directory, "put.bin"), "wb") as out:
            while left:
                chunk = self.rfile.read(min(left, MIB))
                if not chunk:
                    break
                out.write(chunk)
                left -= len(chunk)
        self.send_response(201)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def http_main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.ops http")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--directory", required=True)
    args = parser.parse_args(argv)

    def handler(*a: Any) -> _Handler:
        return _Handler(*a, directory=args.directory)

    ThreadingHTTPServer(("127.0.0.1", args.port), handler).serve_forever()


async def _fake_agent(
    index: int, url: str, token: str, delay: float, stop: asyncio.Event, tally: dict[str, Any]
) -> None:
    await asyncio.sleep(delay)
    name = f"cron-{index:05d}"
    try:
        async with connect(url, additional_headers={"Authorization": f"Bearer {token}"}, open_timeout=120) as ws:
            hello = {
                "type": "host",
                "agent_id": name,
                "name": name,
                "host": {"Platform": "linux"},
                "ops": {"version": 1, "allow": ["exec"]},
            }
            await ws.send(json.dumps(hello))
            await asyncio.wait_for(ws.recv(), 120)
            tally["connected"] += 1
            reader = asyncio.ensure_future(ws.recv())
            waiter = asyncio.ensure_future(stop.wait())
            while True:
                done, _ = await asyncio.wait({reader, waiter}, return_when=asyncio.FIRST_COMPLETED)
                if waiter in done:
                    reader.cancel()
                    return
                msg = json.loads(reader.result())
                if msg.get("type") == "op.open" and msg.get("kind") == "exec":
                    result = {
                        "exit_code": 0,
                        "output": "ok\n",
                        "output_bytes": 3,
                        "truncated": False,
                        "timed_out": False,
                        "duration_ms": 0.1,
                    }
                    await ws.send(json.dumps({"type": "op.end", "id": msg["id"], "result": result}))
                    tally["answered"] += 1
                reader = asyncio.ensure_future(ws.recv())
    except (OSError, TimeoutError, ValueError, RuntimeError, WebSocketException) as exc:
        tally["errors"].append(f"{name}: {type(exc).__name__}: {exc}"[:200])


async def _fleet(args: argparse.Namespace) -> dict[str, Any]:
    url = args.url.replace("http://", "ws://") + "/api/v1/agent/ws"
    tally: dict[str, Any] = {"connected": 0, "answered": 0, "errors": []}
    stop = asyncio.Event()
    stop_file = Path(args.stop_file)

    async def watch() -> None:
        while not stop_file.exists():
            await asyncio.sleep(0.2)
        stop.set()

    watcher = asyncio.create_task(watch())
    await asyncio.gather(
        *(_fake_agent(i, url, args.token, i * args.ramp / args.count, stop, tally) for i in range(args.count))
    )
    watcher.cancel()
    return tally


def agents_main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.ops agents")
    for name in ("--url", "--token", "--out", "--stop-file"):
        parser.add_argument(name, required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--ramp", type=float, default=CRON_RAMP_S)
    args = parser.parse_args(argv)
    raise_fd_limit()
    tally = asyncio.run(_fleet(args))
    tally["error_count"] = len(tally["errors"])
    tally["errors"] = tally["errors"][:10]
    Path(args.out).write_text(json.dumps(tally))


# -- the phases ------------------------------------------------------------------------------


async def _terminal(base: str, token: str, server_id: int) -> tuple[list[float], int]:
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as api:
        sessions = []
        for _ in range(SESSIONS):
            r = await api.post("/api/v1/terminal", json={"server_id": server_id})
            r.raise_for_status()
            sessions.append(r.json()["data"]["session_id"])
    sockets = [
        await connect(f"{base.replace('http://', 'ws://')}/api/v1/ws/terminal/{s}", additional_headers=headers)
        for s in sessions
    ]
    try:
        for ws in sockets:
            await ws.send(b"\x00stty -icanon\n")
        await asyncio.sleep(2.0)
        for ws in sockets:
            await _drain(ws)
        latencies = []
        for i in range(KEYSTROKES):
            ws = sockets[i % SESSIONS]
            if i % (SESSIONS * 20) == SESSIONS * 20 - 1:
                await ws.send(b"\x00\x15")  # Ctrl-U: keep the line short
                await asyncio.sleep(0.05)
                await _drain(ws)
            started = time.perf_counter()
            await ws.send(b"\x00a")
            seen = b""
            while b"a" not in seen:
                seen += await asyncio.wait_for(ws.recv(), 30)  # type: ignore[operator]
            latencies.append(time.perf_counter() - started)
        return latencies, len(sockets)
    finally:
        for ws in sockets:  # let the shells exit by themselves before the sessions end
            await ws.send(b"\x00\x15exit\n")
        await asyncio.sleep(2.0)
        for ws in sockets:
            await ws.close()


async def _drain(ws: Any) -> None:
    while True:
        try:
            await asyncio.wait_for(ws.recv(), 0.05)
        except TimeoutError:
            return


def _curl(args: list[str]) -> float:
    done = subprocess.run(
        ["curl", "-sS", "--fail", "-w", "%{time_total}", *args], capture_output=True, text=True, check=True
    )
    return float(done.stdout.strip().split()[-1])


def _transfers(
    base: str, token: str, server_id: int, files: Path, http_port: int, size: int, pids: list[int]
) -> dict[str, Any]:
    auth = ["-H", f"Authorization: Bearer {token}"]
    big = files / "big.bin"
    before = [tree_rss_bytes(psutil.Process(pid)) for pid in pids]
    samplers = [Sampler(pid) for pid in pids]
    for sampler in samplers:
        sampler.start()
    heron_down = _curl([*auth, "-o", "/dev/null", f"{base}/api/v1/server/{server_id}/file?path={big}"])
    heron_up = _curl(
        [*auth, "-o", "/dev/null", "-T", str(big), f"{base}/api/v1/server/{server_id}/file?path=uploaded.bin"]
    )
    usages = [s.stop() for s in samplers]
    intact = (files / "uploaded.bin").stat().st_size == size
    direct_down = _curl(["-o", "/dev/null", f"http://127.0.0.1:{http_port}/big.bin"])
    direct_up = _curl(["-o", "/dev/null", "-T", str(big), f"http://127.0.0.1:{http_port}/put.bin"])
    mib = size / MIB
    return {
        "heron": {
            "download_mib_s": round(mib / heron_down, 1),
            "upload_mib_s": round(mib / heron_up, 1),
            "transfer_heron_rss_peak_mib": round(usages[0].peak_rss_bytes / MIB, 1),
            "transfer_agent_rss_peak_mib": round(usages[1].peak_rss_bytes / MIB, 1),
        },
        "rss_before_mib": {"heron": round(before[0] / MIB, 1), "agent": round(before[1] / MIB, 1)},
        "direct": {"download_mib_s": round(mib / direct_down, 1), "upload_mib_s": round(mib / direct_up, 1)},
        "upload_intact": intact,
    }


def _nat(base: str, nat_host: str, http_port: int) -> dict[str, Any]:
    def sequential(url: str, headers: dict[str, str]) -> list[float]:
        times = []
        with httpx.Client(timeout=30) as c:
            for _ in range(NAT_REQUESTS):
                started = time.perf_counter()
                c.get(url, headers=headers).raise_for_status()
                times.append(time.perf_counter() - started)
        return times

    def throughput(url: str, headers: dict[str, str]) -> float:
        counts = [0] * NAT_THREADS
        end = time.monotonic() + NAT_SECONDS

        def worker(k: int) -> None:
            with httpx.Client(timeout=30) as c:
                while time.monotonic() < end:
                    c.get(url, headers=headers).raise_for_status()
                    counts[k] += 1

        threads = [threading.Thread(target=worker, args=(k,)) for k in range(NAT_THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return sum(counts) / NAT_SECONDS

    direct_url, nat_url = f"http://127.0.0.1:{http_port}/small.txt", f"{base}/small.txt"
    direct = sequential(direct_url, {})
    tunnel = sequential(nat_url, {"Host": nat_host})
    return {
        "heron": {
            "nat_p50_ms": round(1000 * (percentile(tunnel, 50) or 0), 2),
            "nat_requests_per_s": round(throughput(nat_url, {"Host": nat_host}), 1),
        },
        "direct": {
            "nat_p50_ms": round(1000 * (percentile(direct, 50) or 0), 2),
            "nat_requests_per_s": round(throughput(direct_url, {}), 1),
        },
    }


def _cron(server: Heron, token: str, agents: int, workdir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    out, stop = workdir / "cron-agents.json", workdir / "cron-agents.stop"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    command = [
        sys.executable,
        "-m",
        "bench.ops",
        "agents",
        "--url",
        server.base_url,
        "--token",
        token,
        "--count",
        str(agents),
        "--out",
        str(out),
        "--stop-file",
        str(stop),
    ]
    fleet = subprocess.Popen(command, env=env, cwd=REPO_ROOT)
    headers = {"Authorization": f"Bearer {token}"}
    try:
        with httpx.Client(base_url=server.base_url, headers=headers, timeout=120) as c:

            def online() -> bool:
                names = [s["name"] for s in c.get("/api/v1/server").json()["data"] if s["online"]]
                return sum(n.startswith("cron-") for n in names) >= agents

            wait_until(online, timeout_s=CRON_RAMP_S + 120, what=f"{agents} simulated agents online")
            ids = [s["id"] for s in c.get("/api/v1/server").json()["data"] if s["name"].startswith("cron-")]
            form = {"name": "fleet", "task_type": 1, "command": "echo ok", "servers": ids, "cover": 0}
            task_id = c.post("/api/v1/cron", json=form).json()["data"]
            sent = time.time()
            c.post(f"/api/v1/cron/{task_id}/manual").raise_for_status()

            def stored() -> bool:
                total = c.get(f"/api/v1/cron/{task_id}/runs", params={"limit": 1}).json()["data"]["pagination"]["total"]
                return int(total) >= agents

            wait_until(stored, timeout_s=120, what="every cron result stored")
            all_stored_s = time.time() - sent
            runs: list[dict[str, Any]] = []
            while len(runs) < agents:
                page = c.get(f"/api/v1/cron/{task_id}/runs", params={"limit": 1000, "offset": len(runs)}).json()
                runs += page["data"]["value"]
        delays = [datetime.fromisoformat(r["finished_at"]).timestamp() - sent for r in runs]
        # Where the time goes: until Heron sent the command, and from there to the answer.
        dispatched = [datetime.fromisoformat(r["started_at"]).timestamp() - sent for r in runs]
        round_trips = [r["duration_ms"] / 1000 for r in runs]
    finally:
        stop.touch()
        fleet.wait(timeout=60)
    tally = json.loads(out.read_text()) if out.exists() else {}
    values = {
        "cron_dispatch_p50_s": round(percentile(delays, 50) or 0, 3),
        "cron_dispatch_p99_s": round(percentile(delays, 99) or 0, 3),
    }
    checks = {
        "agents": agents,
        "all_stored_within_s": round(all_stored_s, 2),
        "trigger_to_send_p99_s": round(percentile(dispatched, 99) or 0, 3),
        "send_to_answer_p50_s": round(percentile(round_trips, 50) or 0, 3),
        "send_to_answer_p99_s": round(percentile(round_trips, 99) or 0, 3),
        "runs_stored": len(runs),
        "runs_ok": sum(r["status"] == "ok" for r in runs),
        "fleet_connected": tally.get("connected"),
        "fleet_errors": tally.get("error_count"),
    }
    return values, checks


def run_ops(
    *, workdir: Path, file_mib: int = DEFAULT_FILE_MIB, cron_agents: int = DEFAULT_CRON_AGENTS
) -> dict[str, Any]:
    """Run every phase against one fresh Heron and one real agent; return the results document."""
    heron: dict[str, Any] = {"label": "Heron (through the agent)", "values": {}}
    direct: dict[str, Any] = {"label": "Direct (curl / client to a local HTTP server)", "values": {}}
    checks: dict[str, Any] = {"targets": TARGETS}
    raise_fd_limit()
    files = workdir / "ops-files"
    files.mkdir(parents=True, exist_ok=True)
    size = file_mib * MIB
    block = os.urandom(MIB)
    with open(files / "big.bin", "wb") as out:
        for _ in range(file_mib):
            out.write(block)
    (files / "small.txt").write_bytes(b"x" * 1024)
    http_port = free_port()
    backend = subprocess.Popen(
        [sys.executable, "-m", "bench.ops", "http", "--port", str(http_port), "--directory", str(files)],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    agent: subprocess.Popen[bytes] | None = None
    try:
        server = Heron(workdir / "heron-ops")
        heron["version"] = server.version()
        with running(server) as started:
            assert isinstance(started, Heron)
            with started.client(timeout_s=30) as client:
                token = str(client.post("/api/v1/token", json={"note": "bench ops"}).json()["data"]["token"])
            agent = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "heron",
                    "agent",
                    "--server",
                    started.base_url,
                    "--token",
                    token,
                    "--name",
                    "bench-ops",
                    "--agent-id",
                    "bench-ops",
                    "--allow",
                    "exec,terminal,files,nat",
                    "--files-root",
                    str(files),
                ],
                cwd=REPO_ROOT,
                env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            headers = {"Authorization": f"Bearer {token}"}
            with httpx.Client(base_url=started.base_url, headers=headers, timeout=60) as c:

                def agent_id() -> int | None:
                    found = [
                        s["id"]
                        for s in c.get("/api/v1/server").json()["data"]
                        if s["name"] == "bench-ops" and s["online"]
                    ]
                    return found[0] if found else None

                wait_until(lambda: agent_id() is not None, timeout_s=60, what="the agent online")
                server_id = agent_id()
                assert server_id is not None
                wait_until(
                    lambda: c.get(f"http://127.0.0.1:{http_port}/small.txt").status_code == 200,
                    timeout_s=30,
                    what="the local HTTP server",
                )
                c.post(
                    "/api/v1/nat",
                    json={
                        "name": "bench",
                        "enabled": True,
                        "server_id": server_id,
                        "host": f"127.0.0.1:{http_port}",
                        "domain": "bench.nat.test",
                    },
                ).raise_for_status()

            say(f"ops: terminal, {SESSIONS} sessions, {KEYSTROKES} keystrokes")
            sampler = Sampler(started.pid)
            sampler.start()
            latencies, opened = asyncio.run(_terminal(started.base_url, token, server_id))
            usage = sampler.stop()
            heron["values"].update(
                {
                    "terminal_echo_p50_ms": round(1000 * (percentile(latencies, 50) or 0), 2),
                    "terminal_echo_p99_ms": round(1000 * (percentile(latencies, 99) or 0), 2),
                    "terminal_heron_cpu_percent": round(usage.cpu_percent, 1),
                }
            )
            checks["terminal"] = {"sessions": opened, "keystrokes": len(latencies)}

            say(f"ops: files, {file_mib} MiB down and up")
            moved = _transfers(started.base_url, token, server_id, files, http_port, size, [started.pid, agent.pid])
            heron["values"].update(moved["heron"])
            direct["values"].update(moved["direct"])
            checks["files"] = {
                "mib": file_mib,
                "upload_intact": moved["upload_intact"],
                "rss_before_transfers_mib": moved["rss_before_mib"],
            }

            say(f"ops: NAT, {NAT_REQUESTS} sequential requests, {NAT_THREADS} clients for {NAT_SECONDS:g} s")
            nat = _nat(started.base_url, "bench.nat.test", http_port)
            heron["values"].update(nat["heron"])
            direct["values"].update(nat["direct"])

            say(f"ops: cron on {cron_agents} simulated agents")
            values, cron_checks = _cron(started, token, cron_agents, workdir)
            heron["values"].update(values)
            checks["cron"] = cron_checks
            started.assert_alive()
    except PHASE_ERRORS as exc:
        heron["error"] = describe_failure(exc)
    finally:
        for process in (agent, backend):
            if process is not None and process.poll() is None:
                process.terminate()
                process.wait(timeout=30)
        shutil.rmtree(files, ignore_errors=True)
    v = heron["values"]
    d = direct["values"]
    if v.get("nat_p50_ms") is not None and d.get("nat_p50_ms") is not None:
        checks["nat_added_p50_ms"] = round(v["nat_p50_ms"] - d["nat_p50_ms"], 2)
    return results.build(
        benchmark="ops",
        title="Remote operations: terminal, files, NAT, cron",
        description=__doc__.split("\n\n", 1)[1].split("\n\nThe fleet runs")[0],
        parameters={
            "sessions": SESSIONS,
            "keystrokes": KEYSTROKES,
            "file_mib": file_mib,
            "nat_requests": NAT_REQUESTS,
            "nat_threads": NAT_THREADS,
            "cron_agents": cron_agents,
        },
        metrics=METRICS,
        systems={"heron": heron, "direct": direct},
        checks=checks,
        notes=[
            "Targets: terminal p99 <= 20 ms with 50 sessions; files >= 100 MiB/s with flat RSS; NAT adds <= 2 ms "
            "at p50 and keeps >= 0.5x the direct throughput; cron p99 dispatch to result <= 2 s on 2,000 agents.",
            "The direct column is the same transfer or request without Heron and the agent: curl to Python's "
            "http.server (GET) and a PUT handler of the same server, on the same machine.",
            "The simulated agents answer each command at once (they run nothing); the real agent runs `sh -c`.",
            "The agent masks every frame it sends (RFC 6455) in pure Python, which bounds downloads from the agent "
            "(about 1-2 ms per 256 KiB frame here); uploads are not masked by the server and run faster.",
            f"This run: {file_mib} MiB file, {cron_agents:,} simulated agents; the machine's load average is above.",
        ],
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["agents"]:
        agents_main(sys.argv[2:])
    elif sys.argv[1:2] == ["http"]:
        http_main(sys.argv[2:])
    else:
        sys.exit("usage: python -m bench.ops agents|http ...")
