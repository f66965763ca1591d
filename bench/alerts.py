"""The alert evaluator under a fleet: 2,000 agents, 20 server rules, 100 SQL rules over a day.

Heron runs with a day of TSBS ``cpu`` data loaded (the query benchmark's generator) and N
simulated agents reporting every 3 s over the agent WebSocket (as in bench/fleet.py). It
holds 20 server rules covering every server (one fires on ``cpu > 85`` for 9 s, the other 19
watch memory, load, connections... and never fire) and 100 SQL rules every 30 s over the TSBS
day. During the measured window a set of agents ("crossers") go from 10 % to 95 % CPU, each
at its own time. For each crosser the latency is from *due* (its first hot report plus the
rule's 9 s) to the webhook request naming it arriving at a local receiver. The evaluator's
CPU is the CPU time of its rounds (``GET /api/v1/alert-stats``) over the window.

Prometheus and Alertmanager (Debian's packages) get the same series through remote write
(``heron_cpu{server_name}``, each series every 3 s at its own phase) and the equivalent rules:
``heron_cpu > 85`` for 9 s, 19 rules that never fire, and 100 ``avg_over_time`` rules every
30 s; Alertmanager posts to the same kind of receiver with ``group_wait: 0s``. Their
evaluator CPU is ``prometheus_rule_evaluation_duration_seconds_sum`` over the window (rule
evaluation time as Prometheus counts it). Prometheus cannot take a day of back-dated samples
by remote write, so its 100 query rules run over the live series instead of the TSBS day.

The load generator runs as `python -m bench.alerts load heron|prometheus ...`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import cramjam
import httpx
import psutil
from websockets.asyncio.client import connect

from bench import results
from bench.fleet import percentile, raise_fd_limit
from bench.procs import tree_cpu_seconds
from bench.progress import say
from bench.query import LINES_PER_BODY, load_day
from bench.results import Metric
from bench.systems.base import PHASE_ERRORS, Server, debian_version, describe_failure, running
from bench.systems.heron import REPO_ROOT, Heron
from bench.systems.prometheus import Prometheus
from bench.timefmt import sql_timestamp
from bench.tsbs import DEFAULT_HOSTS, INTERVAL_NS, write_bodies

DEFAULT_AGENTS = 2000
REPORT_INTERVAL_S = 3.0
RAMP_S = 20.0
SETTLE_S = 10.0
WINDOW_S = 60.0
DRAIN_S = 20.0
CROSSERS = 40
DURATION_S = 9
CPU_MAX = 85
SERVER_RULES = 20
SQL_RULES = 100
SQL_INTERVAL_S = 30
DAY_NS = 86_400 * 1_000_000_000
#: The issue's targets.
TARGET_P99_S = 2.0
TARGET_EVAL_CPU_PERCENT = 20.0

METRICS = [
    Metric("due_to_delivered_p50_s", "Due to delivered, p50", "s", "lower"),
    Metric("due_to_delivered_p99_s", "Due to delivered, p99", "s", "lower"),
    Metric("evaluator_cpu_percent", "Evaluator (% of one core)", "%", "lower"),
    Metric("server_cpu_percent", "Whole server CPU (% of one core)", "%", "lower"),
    Metric("delivered", "Crossers delivered", "alerts", "higher"),
]

#: Conditions of the 19 server rules that never fire (beside the CPU rule).
QUIET = [
    {"type": "memory", "max": 99.9}, {"type": "swap", "max": 99.9}, {"type": "disk", "max": 99.9},
    {"type": "load1", "max": 1000}, {"type": "load5", "max": 1000}, {"type": "load15", "max": 1000},
    {"type": "tcp_conn_count", "max": 1_000_000}, {"type": "udp_conn_count", "max": 1_000_000},
    {"type": "process_count", "max": 1_000_000}, {"type": "net_in_speed", "max": 1e12},
    {"type": "net_out_speed", "max": 1e12}, {"type": "net_all_speed", "max": 1e12},
    {"type": "transfer_in", "max": 1e15}, {"type": "transfer_out", "max": 1e15}, {"type": "transfer_all", "max": 1e15},
    {"type": "temperature_max", "max": 200}, {"type": "gpu_max", "max": 101}, {"type": "cpu", "max": 99.99},
    {"type": "memory", "min": 0.0001},
]  # fmt: skip


class Receiver:
    """An HTTP server that records when each firing alert for a server first arrived."""

    def __init__(self) -> None:
        self.first: dict[str, float] = {}
        self.requests = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                arrived = time.time()
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                receiver.requests += 1
                for alert in body.get("alerts", []):
                    name = alert.get("labels", {}).get("server_name", "")
                    if alert.get("status") == "firing" and name:
                        receiver.first.setdefault(name, arrived)
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def schedule(count: int, crossers: int, window: tuple[float, float]) -> dict[int, float]:
    """Agent index -> when it goes hot, spread over the window (leaving time to fire)."""
    rng = random.Random(13)
    chosen = rng.sample(range(count), min(crossers, count))
    first, last = window[0] + 5.0, window[1] - DURATION_S - 10.0
    step = (last - first) / max(1, len(chosen) - 1)
    return {index: first + i * step for i, index in enumerate(chosen)}


def server_name(index: int) -> str:
    return f"alert-{index:05d}"


# -- the load generator (a separate process) -------------------------------------------------


async def _heron_agent(index: int, url: str, token: str, args: argparse.Namespace, hot_at: float | None,
                       hot: dict[str, float], errors: list[str]) -> None:  # fmt: skip
    await asyncio.sleep(index * args.ramp / args.count)
    name = server_name(index)
    try:
        async with connect(url, additional_headers={"Authorization": f"Bearer {token}"}, open_timeout=60) as ws:
            host = {"Platform": "linux", "MemTotal": 8 * 2**30, "DiskTotal": 100 * 2**30, "Version": "bench-alerts"}
            await ws.send(json.dumps({"type": "host", "agent_id": name, "name": name, "host": host}))
            await ws.recv()

            async def drain() -> None:
                async for _ in ws:
                    pass

            reader = asyncio.create_task(drain())
            await asyncio.sleep(random.uniform(0, REPORT_INTERVAL_S))
            next_at = time.monotonic()
            seq = 0
            while time.time() < args.end:
                now = time.time()
                cpu = 95.0 if hot_at is not None and now >= hot_at else 10.0
                if cpu > CPU_MAX:
                    hot.setdefault(name, now)
                seq += 1
                status = {"CPU": cpu, "MemUsed": 2**30, "DiskUsed": 2**30, "Load1": 0.5, "ProcessCount": 100}
                await ws.send(json.dumps({"type": "status", "seq": seq, "ts": now, "status": status}))
                next_at += REPORT_INTERVAL_S
                await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            reader.cancel()
    except (OSError, TimeoutError, ValueError, RuntimeError) as exc:
        errors.append(f"{name}: {type(exc).__name__}: {exc}"[:200])


def _write_request(series: list[tuple[str, float]], ms: int) -> bytes:
    from heron.protocols._pb import remote_write_v1_pb2 as pb

    req = pb.WriteRequest()
    for name, value in series:
        ts = req.timeseries.add()
        for k, v in (("__name__", "heron_cpu"), ("server_name", name)):
            label = ts.labels.add()
            label.name, label.value = k, v
        sample = ts.samples.add()
        sample.value, sample.timestamp = value, ms
    return bytes(cramjam.snappy.compress_raw(req.SerializeToString()))


def _prometheus_load(
    args: argparse.Namespace, plan: dict[int, float], hot: dict[str, float], errors: list[str]
) -> None:
    """Every series once per 3 s, at its own phase: one request per 100 ms slot."""
    slots = 30
    rng = random.Random(7)
    phase = {i: rng.randrange(slots) for i in range(args.count)}
    headers = {
        "Content-Encoding": "snappy", "Content-Type": "application/x-protobuf",
        "X-Prometheus-Remote-Write-Version": "0.1.0",
    }  # fmt: skip
    with httpx.Client(base_url=args.url, timeout=10) as client:
        tick = 0
        next_at = time.monotonic()
        while time.time() < args.end:
            now = time.time()
            slot = tick % slots
            series = []
            for i in range(args.count):
                if phase[i] != slot:
                    continue
                hot_at = plan.get(i)
                cpu = 95.0 if hot_at is not None and now >= hot_at else 10.0
                if cpu > CPU_MAX:
                    hot.setdefault(server_name(i), now)
                series.append((server_name(i), cpu))
            try:
                client.post("/api/v1/write", content=_write_request(series, int(now * 1000)), headers=headers)
            except httpx.HTTPError as exc:
                errors.append(f"remote write: {type(exc).__name__}")
            tick += 1
            next_at += REPORT_INTERVAL_S / slots
            time.sleep(max(0.0, next_at - time.monotonic()))


def run_load(args: argparse.Namespace) -> dict[str, Any]:
    raise_fd_limit()
    plan = schedule(args.count, args.crossers, (args.window_start, args.end))
    hot: dict[str, float] = {}
    errors: list[str] = []
    if args.system == "heron":
        url = args.url.replace("http://", "ws://") + "/api/v1/agent/ws"

        async def main() -> None:
            await asyncio.gather(
                *(_heron_agent(i, url, args.token, args, plan.get(i), hot, errors) for i in range(args.count))
            )

        asyncio.run(main())
    else:
        _prometheus_load(args, plan, hot, errors)
    return {"hot": hot, "errors": errors[:10], "error_count": len(errors)}


# -- the systems -----------------------------------------------------------------------------


class HeronAlerts(Heron):
    def environment(self) -> dict[str, str]:
        return {**super().environment(), "HERON_HOST_OFFLINE_SECONDS": "30"}


def _start_load(
    system: str, url: str, token: str, count: int, window_start: float, end: float
) -> subprocess.Popen[str]:
    argv = [
        sys.executable, "-m", "bench.alerts", "load", system, "--url", url, "--token", token,
        "--count", str(count), "--ramp", str(RAMP_S), "--window-start", str(window_start), "--end", str(end),
        "--crossers", str(CROSSERS),
    ]  # fmt: skip
    return subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, cwd=REPO_ROOT)


def _latencies(hot: dict[str, float], first: dict[str, float]) -> list[float]:
    return [first[name] - (at + DURATION_S) for name, at in hot.items() if name in first]


def _summary(lat: list[float], eval_cpu_s: float, server_cpu_s: float, wall_s: float, crossers: int) -> dict[str, Any]:
    p50, p99 = percentile(lat, 50), percentile(lat, 99)
    return {
        "due_to_delivered_p50_s": None if p50 is None else round(p50, 3),
        "due_to_delivered_p99_s": None if p99 is None else round(p99, 3),
        "evaluator_cpu_percent": round(100 * eval_cpu_s / wall_s, 2),
        "server_cpu_percent": round(100 * server_cpu_s / wall_s, 1),
        "delivered": len(lat),
        "crossers": crossers,
    }


def measure_heron(workdir: Path, agents: int) -> dict[str, Any]:
    day_start_ns = time.time_ns() // DAY_NS * DAY_NS - DAY_NS
    count = DAY_NS // INTERVAL_NS * DEFAULT_HOSTS // LINES_PER_BODY
    bodies = write_bodies(workdir / "day", count=count, start_ns=day_start_ns, lines_per_body=LINES_PER_BODY)
    server = HeronAlerts(workdir / "heron-alerts")
    receiver = Receiver()
    try:
        with running(server):
            say(f"alerts: Heron: loading a day of TSBS data ({bodies.points:,} points)")
            load_day(server, bodies)
            with server.client() as c:
                token = c.post("/api/v1/token", json={"note": "bench"}).json()["data"]["token"]
                method = c.post("/api/v1/notification", json={
                    "name": "receiver", "url": receiver.url + "/hook", "preset": "alertmanager", "skip_check": True,
                }).json()["data"]  # fmt: skip
                group = c.post("/api/v1/notification-group", json={
                    "name": "bench", "notifications": [method], "group_by": ["server_name"],
                }).json()["data"]  # fmt: skip
                hot_rule = {"type": "cpu", "max": CPU_MAX, "duration": DURATION_S, "cover": 0}
                rules = [{"name": "cpu-high", "rules": [hot_rule], "notification_group_id": group, "trigger_mode": 1}]
                rules += [
                    {"name": f"quiet-{i}", "rules": [{**q, "duration": 30, "cover": 0}], "notification_group_id": group}
                    for i, q in enumerate(QUIET[: SERVER_RULES - 1])
                ]
                for i in range(SQL_RULES):
                    rules.append({
                        "name": f"sql-{i}", "kind": "sql", "database": "bench", "interval_seconds": SQL_INTERVAL_S,
                        "query": "SELECT hostname, avg(usage_user) AS value FROM cpu "
                                 f"WHERE time > {sql_timestamp(bodies.end_ns)} - INTERVAL '{5 + i % 55} minutes' "
                                 "GROUP BY hostname",
                        "threshold": "value > 200", "notification_group_id": group,
                    })  # fmt: skip
                for rule in rules:
                    r = c.post("/api/v1/alert-rule", json=rule)
                    if r.status_code != 200:
                        raise RuntimeError(f"rule {rule['name']} refused: {r.text[:300]}")
                start = time.time()
                window = (start + RAMP_S + SETTLE_S, start + RAMP_S + SETTLE_S + WINDOW_S)
                say(f"alerts: Heron: {agents} agents, {len(rules)} rules, measuring {WINDOW_S:.0f} s")
                load = _start_load("heron", server.base_url, token, agents, window[0], window[1])
                time.sleep(max(0.0, window[0] - time.time()))
                before = c.get("/api/v1/alert-stats").json()["data"]
                process = psutil.Process(server.pid)
                cpu_before, wall_before = tree_cpu_seconds(process), time.monotonic()
                time.sleep(max(0.0, window[1] - time.time()))
                after = c.get("/api/v1/alert-stats").json()["data"]
                server_cpu_s, wall_s = tree_cpu_seconds(process) - cpu_before, time.monotonic() - wall_before
                out, _ = load.communicate(timeout=DRAIN_S + 120)
                generated = json.loads(out)
                deadline = time.time() + DRAIN_S
                while len(receiver.first) < len(generated["hot"]) and time.time() < deadline:
                    time.sleep(0.5)
                statuses = [r["status"]["state"] for r in c.get("/api/v1/alert-rule").json()["data"]]
            server.stop()
    finally:
        receiver.close()
        shutil.rmtree(server.workdir, ignore_errors=True)
    lat = _latencies(generated["hot"], receiver.first)
    server_rules_s = after["eval_cpu_seconds"] - before["eval_cpu_seconds"]
    sql_rules_s = after["sql_wall_seconds"] - before["sql_wall_seconds"]
    summary = _summary(lat, server_rules_s + sql_rules_s, server_cpu_s, wall_s, len(generated["hot"]))
    summary["server_rules_cpu_percent"] = round(100 * server_rules_s / wall_s, 2)
    summary["sql_rules_wall_percent"] = round(100 * sql_rules_s / wall_s, 2)
    summary.update(rule_states={s: statuses.count(s) for s in set(statuses)}, load_errors=generated["error_count"],
                   rounds=after["rounds"] - before["rounds"])  # fmt: skip
    return summary


def prometheus_rules() -> str:
    lines = ["groups:", "  - name: servers", "    interval: 1s", "    rules:"]
    lines += [f"      - alert: cpu-high\n        expr: heron_cpu > {CPU_MAX}\n        for: {DURATION_S}s"]
    for i in range(SERVER_RULES - 1):
        lines += [f"      - alert: quiet-{i}\n        expr: heron_cpu > 1000 + {i}\n        for: 30s"]
    lines += ["  - name: queries", f"    interval: {SQL_INTERVAL_S}s", "    rules:"]
    for i in range(SQL_RULES):
        lines += [f"      - alert: sql-{i}\n        expr: avg_over_time(heron_cpu[{5 + i % 55}m]) > 200"]
    return "\n".join(lines) + "\n"


class Alertmanager(Server):
    key = "alertmanager"
    label = "Alertmanager"

    def __init__(self, workdir: Path, receiver_url: str) -> None:
        super().__init__(workdir)
        self.receiver_url = receiver_url

    def command(self) -> list[str]:
        config = self.workdir / "alertmanager.yml"
        config.write_text(
            "route:\n  receiver: hook\n  group_by: [server_name]\n  group_wait: 0s\n  group_interval: 1s\n"
            f"receivers:\n  - name: hook\n    webhook_configs:\n      - url: {self.receiver_url}/hook\n"
        )
        return [
            "prometheus-alertmanager", f"--config.file={config}", f"--storage.path={self.data_dir}",
            f"--web.listen-address=127.0.0.1:{self.port}", "--cluster.listen-address=",
        ]  # fmt: skip

    def ready(self, client: httpx.Client) -> bool:
        return client.get("/-/ready").status_code == 200

    def create_database(self, client: httpx.Client) -> None:
        """No databases."""

    def write_path(self) -> str:
        return "/api/v2/alerts"

    def count_points(self, client: httpx.Client, *, start_ns: int, end_ns: int) -> Any:
        raise NotImplementedError

    def version(self) -> str:
        return debian_version("prometheus-alertmanager")

    @classmethod
    def missing(cls) -> str | None:
        return None if shutil.which("prometheus-alertmanager") else "prometheus-alertmanager is not installed"


def _rule_eval_seconds(client: httpx.Client) -> float:
    text = client.get("/metrics").text
    for line in text.splitlines():
        if line.startswith("prometheus_rule_evaluation_duration_seconds_sum"):
            return float(line.split()[-1])
    return 0.0


def measure_prometheus(workdir: Path, agents: int) -> dict[str, Any]:
    receiver = Receiver()
    am = Alertmanager(workdir / "alertmanager", receiver.url)
    try:
        with running(am):
            rules_path = workdir / "rules.yml"
            rules_path.write_text(prometheus_rules())
            config = (
                "global:\n  evaluation_interval: 1s\n"
                f"rule_files: [{rules_path}]\n"
                f"alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['127.0.0.1:{am.port}']\n"
            )
            prom = Prometheus(workdir / "prometheus", config=config)
            with running(prom):
                start = time.time()
                window = (start + RAMP_S + SETTLE_S, start + RAMP_S + SETTLE_S + WINDOW_S)
                say(f"alerts: Prometheus + Alertmanager: {agents} series, measuring {WINDOW_S:.0f} s")
                load = _start_load("prometheus", prom.base_url, "", agents, window[0], window[1])
                time.sleep(max(0.0, window[0] - time.time()))
                with prom.client() as c:
                    eval_before = _rule_eval_seconds(c)
                    procs = [psutil.Process(prom.pid), psutil.Process(am.pid)]
                    cpu_before, wall_before = sum(tree_cpu_seconds(p) for p in procs), time.monotonic()
                    time.sleep(max(0.0, window[1] - time.time()))
                    eval_s = _rule_eval_seconds(c) - eval_before
                    server_cpu_s = sum(tree_cpu_seconds(p) for p in procs) - cpu_before
                    wall_s = time.monotonic() - wall_before
                out, _ = load.communicate(timeout=DRAIN_S + 120)
                generated = json.loads(out)
                deadline = time.time() + DRAIN_S
                while len(receiver.first) < len(generated["hot"]) and time.time() < deadline:
                    time.sleep(0.5)
    finally:
        receiver.close()
    lat = _latencies(generated["hot"], receiver.first)
    summary = _summary(lat, 0.0, server_cpu_s, wall_s, len(generated["hot"]))
    # Prometheus reports how long its rule evaluations took (wall time, groups run concurrently),
    # not their CPU: shown as a detail, not compared with Heron's evaluator figure.
    summary["evaluator_cpu_percent"] = None
    summary["rule_evaluation_wall_percent"] = round(100 * eval_s / wall_s, 2)
    summary["load_errors"] = generated["error_count"]
    return summary


def run_alerts(*, workdir: Path, agents: int = DEFAULT_AGENTS) -> dict[str, Any]:
    systems: dict[str, dict[str, Any]] = {}
    for key, label, measure, missing in (
        ("heron", "Heron", measure_heron, Heron.missing()),
        ("prometheus", "Prometheus + Alertmanager", measure_prometheus, Prometheus.missing() or Alertmanager.missing()),
    ):
        entry: dict[str, Any] = {"label": label, "values": {m.key: None for m in METRICS}}
        systems[key] = entry
        if missing:
            entry["error"] = missing
            continue
        try:
            found = measure(workdir, agents)
            entry["values"] = {m.key: found.get(m.key) for m in METRICS}
            entry["details"] = found
            say(f"alerts: {label}: {found}")
        except PHASE_ERRORS as exc:
            entry["error"] = describe_failure(exc)
            say(f"alerts: {label} failed: {entry['error']}")
    heron = systems["heron"]["values"]
    checks = {
        "p99_due_to_delivered_at_most_2s": heron.get("due_to_delivered_p99_s") is not None
        and heron["due_to_delivered_p99_s"] <= TARGET_P99_S,
        "evaluator_at_most_20_percent_of_a_core": heron.get("evaluator_cpu_percent") is not None
        and heron["evaluator_cpu_percent"] <= TARGET_EVAL_CPU_PERCENT,
    }
    return results.build(
        benchmark="alerts",
        title="Alert evaluation and delivery under a fleet",
        description=(__doc__ or "").split("\n\n")[0],
        parameters={
            "agents": agents,
            "report_interval_s": REPORT_INTERVAL_S,
            "server_rules": SERVER_RULES,
            "sql_rules": SQL_RULES,
            "sql_interval_s": SQL_INTERVAL_S,
            "crossers": CROSSERS,
            "duration_s": DURATION_S,
            "window_s": WINDOW_S,
        },
        metrics=METRICS,
        systems=systems,
        checks=checks,
        notes=[
            "Latency: from a crosser's first report above the threshold plus the rule's 9 s to the webhook "
            "request naming it; Heron evaluates server rules every second, Prometheus's rule group runs every second.",
            "Prometheus's 100 query rules run over the live series: it cannot take a day of back-dated samples "
            "through remote write.",
        ],
    )


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.alerts")
    sub = parser.add_subparsers(dest="command", required=True)
    load = sub.add_parser("load")
    load.add_argument("system", choices=("heron", "prometheus"))
    load.add_argument("--url", required=True)
    load.add_argument("--token", default="")
    load.add_argument("--count", type=int, required=True)
    load.add_argument("--ramp", type=float, default=RAMP_S)
    load.add_argument("--window-start", type=float, required=True)
    load.add_argument("--end", type=float, required=True)
    load.add_argument("--crossers", type=int, default=CROSSERS)
    run = sub.add_parser("run")
    run.add_argument("--agents", type=int, default=DEFAULT_AGENTS)
    args = parser.parse_args(argv)
    if args.command == "load":
        print(json.dumps(run_load(args)))
        return
    with tempfile.TemporaryDirectory(prefix="heron-bench-alerts-") as temp:
        document = run_alerts(workdir=Path(temp), agents=args.agents)
        say(f"wrote {results.write(document)}")


if __name__ == "__main__":
    main(sys.argv[1:])
