"""``heron agent``: run the agent, print one report (``--once``), or write its systemd unit (``install``).

Imports here stay few and cheap: this module is loaded by every ``heron`` command and runs
for the agent's whole life, so what only one path needs (``uuid``, ``shlex``, the
collectors, the transport) is imported on that path.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import socket
import sys
from pathlib import Path
from typing import Any

from heron.core.errors import HeronError

#: Where ``heron agent install`` writes the unit unless told otherwise.
DEFAULT_UNIT_PATH = Path("/etc/systemd/system/heron-agent.service")
#: Where the agent keeps the id it made up when the host has no machine id (under the home directory).
DEFAULT_STATE_FILE = Path(".local") / "state" / "heron" / "agent-id"
DEFAULT_INTERVAL_SECONDS = 3.0


def add_agent_parser(sub: Any) -> None:
    """Add ``agent`` to the ``heron`` subcommands (``sub`` is argparse's subparsers object)."""
    agent = sub.add_parser("agent", help="run the host agent, print one report, or install its systemd unit")
    agent.add_argument(
        "action", nargs="?", choices=("run", "install"), default="run", help="run (default) or install a systemd unit"
    )
    agent.add_argument("--once", action="store_true", help="print one report (host and status) as JSON and exit")
    agent.add_argument("--server", help="the Heron server's URL, e.g. http://monitor:8902")
    agent.add_argument("--token", help="a personal API token of the user who will own this server")
    agent.add_argument(
        "--secret", help="the agent secret of a server created beforehand (POST /api/v1/server); instead of --token"
    )
    agent.add_argument("--interval", type=float, help="seconds between status reports (default 3)")
    agent.add_argument("--name", help="the server's name (default: the host name)")
    agent.add_argument("--agent-id", help="a stable id for this host (default: machine id, else one kept in a file)")
    agent.add_argument(
        "--state-file", type=Path, help="where a made-up agent id is kept (default ~/.local/state/heron/agent-id)"
    )
    agent.add_argument("--backlog", type=int, default=1200, help="reports kept while the server is away")
    agent.add_argument("--unit-path", type=Path, default=DEFAULT_UNIT_PATH, help="where install writes the unit")
    agent.add_argument(
        "--allow",
        action="append",
        metavar="CAPS",
        help="let the server use these on this host: exec,terminal,files,nat (default: none)",
    )
    agent.add_argument(
        "--files-root",
        action="append",
        metavar="DIR",
        help="a directory the file manager may use (repeatable; default: the home directory)",
    )
    agent.add_argument(
        "--config", type=Path, help="TOML file with allow, files_roots, interval, disabled_collectors (see docs)"
    )


def agent_id_of(explicit: str | None, state_file: Path | None, machine_id_file: Path = Path("/etc/machine-id")) -> str:
    """The id the server knows this host by: explicit, the machine id, or a UUID kept in ``state_file``.

    The machine id survives reinstalling the agent and renaming the host, so the server keeps one
    record (and one history) per machine.
    """
    if explicit:
        return explicit.strip()
    try:
        machine_id = machine_id_file.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        machine_id = ""
    if machine_id:
        return machine_id
    state_file = state_file or Path.home() / DEFAULT_STATE_FILE
    try:
        kept = state_file.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        kept = ""
    if kept:
        return kept
    import uuid

    made = str(uuid.uuid4())
    try:
        state_file.parent.mkdir(parents=True, exist_ok=True)
        state_file.write_text(made + "\n", encoding="ascii")
    except OSError as exc:
        raise HeronError(f"cannot keep the agent id in {state_file}: {exc.strerror}; pass --agent-id") from None
    return made


def unit_text(args: argparse.Namespace, *, python: str = sys.executable) -> str:
    """The systemd unit that runs this agent with the same server, token and interval."""
    import shlex

    credential = ["--secret", args.secret] if args.secret else ["--token", args.token]
    command = [python, "-m", "heron", "agent", "--server", args.server, *credential]
    if args.interval is not None or not args.config:  # else the config file's interval holds
        command += ["--interval", f"{args.interval or DEFAULT_INTERVAL_SECONDS:g}"]
    for allowed in args.allow or ():
        command += ["--allow", allowed]
    for root in args.files_root or ():
        command += ["--files-root", root]
    if args.config:
        command += ["--config", str(args.config)]
    if args.name:
        command += ["--name", args.name]
    if args.agent_id:
        command += ["--agent-id", args.agent_id]
    return "\n".join(
        [
            "[Unit]",
            "Description=Heron agent (host info and status for the Heron server)",
            "After=network-online.target",
            "Wants=network-online.target",
            "",
            "[Service]",
            f"ExecStart={shlex.join(command)}",
            "Restart=always",
            "RestartSec=5",
            "",
            "[Install]",
            "WantedBy=multi-user.target",
            "",
        ]
    )


def _need_server(args: argparse.Namespace) -> None:
    if not args.server or not (args.token or args.secret):
        raise HeronError("--server and --token (or --secret) are required (or --once to print one report)")
    if args.token and args.secret:
        raise HeronError("give --token or --secret, not both")
    if args.interval is not None and args.interval <= 0:
        raise HeronError(f"--interval must be positive, got {args.interval:g}")
    if args.backlog <= 0:
        raise HeronError(f"--backlog must be positive, got {args.backlog}")


def run_agent_command(args: argparse.Namespace) -> None:
    """Carry out ``heron agent ...``; expected failures raise :class:`HeronError`."""
    from heron.agent.collect import StatusCollector, host_info

    if args.action == "install":
        _need_server(args)
        path: Path = args.unit_path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(unit_text(args), encoding="utf-8")
        path.chmod(0o600)  # it holds the token or secret
        print(f"wrote {path}; start it with: systemctl daemon-reload && systemctl enable --now {path.stem}")
        return
    if args.once:
        status = StatusCollector()
        # A short pause so CPU % and network speeds describe a real interval.
        status.collect()
        import time

        time.sleep(min(args.interval or DEFAULT_INTERVAL_SECONDS, 1.0))
        print(json.dumps({"host": host_info(), "status": status.collect()}, indent=2))
        return
    _need_server(args)
    from heron.agent.commands import CommandChannel
    from heron.agent.options import AgentOptions
    from heron.agent.transport import AgentLink, Backlog

    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s")
    options = AgentOptions.build(
        allow=args.allow,
        files_roots=args.files_root,
        interval_seconds=args.interval,
        disabled_collectors=None,
        config_path=args.config,
    )
    collector = StatusCollector()
    runner: list[Any] = []

    def run_probes(message: dict[str, Any]) -> None:
        """The server's monitors for this host; the runner (and its imports) start with the first list."""
        if not runner:
            if not message.get("probes"):
                return
            from heron.agent.probes import ProbeRunner

            runner.append(ProbeRunner(link.send))
        runner[0].assign(message)

    collector.disabled = options.disabled_collectors
    link = AgentLink(
        server_url=args.server,
        token=args.secret or args.token,
        agent_id=agent_id_of(args.agent_id, args.state_file),
        name=args.name or socket.gethostname(),
        interval_seconds=options.interval_seconds,
        collect_host=host_info,
        collect_status=collector.collect,
        backlog=Backlog(limit=args.backlog),
        handlers={"probes": run_probes},
        channel=CommandChannel(options),
    )

    def changed(new: AgentOptions) -> None:
        link.interval_seconds = new.interval_seconds
        collector.disabled = new.disabled_collectors

    options.on_change = changed
    if options.allow:
        logging.getLogger("heron.agent").warning(
            "the server may use on this host: %s (files under %s)",
            ", ".join(sorted(options.allow)),
            ", ".join(str(r) for r in options.files_roots),
        )
    # systemd stops the agent with SIGTERM: close the WebSocket properly instead of dying mid-frame.
    signal.signal(signal.SIGTERM, lambda _signum, _frame: link.stop())
    link.run()
