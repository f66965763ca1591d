"""`python -m bench`: install missing peers, run the benchmarks, write results and report.

Exits 1 when a system failed in a benchmark (the results still record the others), so
`make bench` does not look green when Heron, say, could not start.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import results
from bench.agent import DEFAULT_SECONDS as AGENT_SECONDS
from bench.agent import run_agent
from bench.alerts import run_alerts
from bench.fleet import DEFAULT_AGENTS as FLEET_AGENTS
from bench.fleet import run_fleet
from bench.ingest import run_ingest
from bench.ops import DEFAULT_CRON_AGENTS, DEFAULT_FILE_MIB, run_ops
from bench.overload import run_overload
from bench.probe_history import run_probe_history
from bench.probes import DEFAULT_SECONDS as PROBE_SECONDS
from bench.probes import run_probes
from bench.procs import machine_busy_seconds
from bench.progress import say
from bench.promql import DEFAULT_HOURS as PROMQL_HOURS
from bench.promql import DEFAULT_SERIES as PROMQL_SERIES
from bench.promql import run_promql
from bench.push_routes import run_push_routes
from bench.query import run_query
from bench.remote_write import run_remote_write
from bench.report import write_report
from bench.ui import DEFAULT_SECONDS as UI_SECONDS
from bench.ui import run_ui

INSTALL_SCRIPT = Path(__file__).with_name("install-peers.sh")
PEER_BINARIES = (
    "influxd",
    "victoria-metrics",
    "wrk",
    "prometheus",
    "prometheus-node-exporter",
    "prometheus-blackbox-exporter",
    "prometheus-alertmanager",
)
DEFAULT_DURATION_S = 20
BUSY_PROBE_S = 2.0
BUSY_WARN_PERCENT = 25.0


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only",
        choices=(
            "ingest",
            "overload",
            "query",
            "remote_write",
            "push_routes",
            "agent",
            "fleet",
            "probes",
            "probe_history",
            "ui",
            "alerts",
            "promql",
            "ops",
        ),
        help="run one benchmark (default: all)",
    )
    parser.add_argument(
        "--duration",
        type=int,
        default=DEFAULT_DURATION_S,
        metavar="SECONDS",
        help=f"wrk run per system in the ingest benchmark (default {DEFAULT_DURATION_S})",
    )
    parser.add_argument(
        "--agent-seconds",
        type=int,
        default=AGENT_SECONDS,
        metavar="SECONDS",
        help=f"measured time per report interval in the agent benchmark (default {AGENT_SECONDS})",
    )
    parser.add_argument(
        "--fleet-agents",
        type=int,
        default=FLEET_AGENTS,
        metavar="N",
        help=f"simulated agents in the fleet benchmark (default {FLEET_AGENTS})",
    )
    parser.add_argument(
        "--probe-seconds",
        type=int,
        default=PROBE_SECONDS,
        metavar="SECONDS",
        help=f"measured time per system in the monitor scheduler benchmark (default {PROBE_SECONDS})",
    )
    parser.add_argument(
        "--ui-seconds",
        type=int,
        default=UI_SECONDS,
        metavar="SECONDS",
        help=f"stream updates measured per view in the UI benchmark (default {UI_SECONDS}; the issue asks 600)",
    )
    parser.add_argument(
        "--promql-hours",
        type=float,
        default=PROMQL_HOURS,
        metavar="HOURS",
        help=f"hours of data in the PromQL benchmark (default {PROMQL_HOURS})",
    )
    parser.add_argument(
        "--promql-series",
        type=int,
        default=PROMQL_SERIES,
        metavar="N",
        help=f"series per instance in the PromQL benchmark (default {PROMQL_SERIES}; the issue's size is 1000)",
    )
    parser.add_argument(
        "--ops-file-mib",
        type=int,
        default=DEFAULT_FILE_MIB,
        metavar="MIB",
        help=f"size of the file sent through the agent in the ops benchmark (default {DEFAULT_FILE_MIB})",
    )
    parser.add_argument(
        "--ops-agents",
        type=int,
        default=DEFAULT_CRON_AGENTS,
        metavar="N",
        help=f"simulated agents a cron task runs on in the ops benchmark (default {DEFAULT_CRON_AGENTS})",
    )
    args = parser.parse_args(argv)
    if args.ui_seconds < 10:
        parser.error("--ui-seconds must be at least 10 seconds")
    if args.ops_file_mib < 1 or args.ops_agents < 1:
        parser.error("--ops-file-mib and --ops-agents must be at least 1")
    if args.fleet_agents < 1:
        parser.error("--fleet-agents must be at least 1")
    if args.duration < 5:
        parser.error("--duration must be at least 5 seconds")
    if args.probe_seconds < 30:
        parser.error("--probe-seconds must be at least 30 seconds (one cycle)")
    if args.agent_seconds < 10:
        parser.error("--agent-seconds must be at least 10 seconds")
    return args


def ensure_peers() -> None:
    """Run install-peers.sh only when a peer binary is missing (it needs root and apt)."""
    missing = [name for name in PEER_BINARIES if shutil.which(name) is None]
    if not missing:
        return
    say(f"installing peers ({', '.join(missing)} missing)")
    subprocess.run(["sh", str(INSTALL_SCRIPT)], check=True)


def warn_if_busy() -> None:
    """Say when other processes already keep the cores busy: the figures will be noisy."""
    before = machine_busy_seconds()
    time.sleep(BUSY_PROBE_S)
    busy_percent = 100 * (machine_busy_seconds() - before) / BUSY_PROBE_S
    if busy_percent > BUSY_WARN_PERCENT:
        say(f"warning: other processes use {busy_percent:.0f}% CPU (of 200%); expect noisy figures")


def failures(document: dict[str, Any]) -> list[str]:
    """Systems that recorded an error in ``document``."""
    return [
        f"{document['benchmark']}: {system.get('label', key)}: {system['error']}"
        for key, system in document["systems"].items()
        if system.get("error")
    ]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    started = time.monotonic()
    ensure_peers()
    warn_if_busy()
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="heron-bench-") as temp:
        workdir = Path(temp)
        if args.only in (None, "ingest"):
            document = run_ingest(duration_s=args.duration, workdir=workdir)
            say(f"wrote {results.write(document)}")
            problems += failures(document)
        if args.only in (None, "overload"):
            document = run_overload(duration_s=args.duration, workdir=workdir)
            say(f"wrote {results.write(document)}")
            problems += failures(document)
        if args.only in (None, "query"):
            document = run_query(workdir=workdir)
            say(f"wrote {results.write(document)}")
            problems += failures(document)
        if args.only in (None, "remote_write"):
            document = run_remote_write(duration_s=args.duration, workdir=workdir)
            say(f"wrote {results.write(document)}")
            problems += failures(document)
        if args.only in (None, "push_routes"):
            document = run_push_routes(duration_s=min(args.duration, 10), workdir=workdir)
            say(f"wrote {results.write(document)}")
            problems += failures(document)
        if args.only in (None, "agent"):
            document = run_agent(seconds=args.agent_seconds, workdir=workdir)
            say(f"wrote {results.write(document)}")
            problems += failures(document)
        if args.only in (None, "promql"):
            document = run_promql(workdir=workdir, series=args.promql_series, hours=args.promql_hours)
            say(f"wrote {results.write(document)}")
            problems += failures(document)
        if args.only in (None, "ops"):
            document = run_ops(workdir=workdir, file_mib=args.ops_file_mib, cron_agents=args.ops_agents)
            say(f"wrote {results.write(document)}")
            problems += failures(document)
        if args.only in (None, "fleet"):
            document = run_fleet(agents=args.fleet_agents, workdir=workdir)
            say(f"wrote {results.write(document)}")
            problems += failures(document)
        if args.only in (None, "probes"):
            document = run_probes(seconds=args.probe_seconds, workdir=workdir)
            say(f"wrote {results.write(document)}")
            problems += failures(document)
        if args.only in (None, "probe_history"):
            document = run_probe_history(workdir=workdir)
            say(f"wrote {results.write(document)}")
            problems += failures(document)
        if args.only in (None, "ui"):
            document = run_ui(agents=args.fleet_agents, seconds=args.ui_seconds, workdir=workdir)
            say(f"wrote {results.write(document)}")
            problems += failures(document)
        if args.only in (None, "alerts"):
            document = run_alerts(workdir=workdir, agents=args.fleet_agents)
            say(f"wrote {results.write(document)}")
            problems += failures(document)
    say(f"wrote {write_report()}")
    say(f"done in {time.monotonic() - started:.0f} s")
    for problem in problems:
        print(f"Error: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
