"""`heron agent` stays light: the real command, run as a process, loads no server module.

The agent runs on every watched host for months, so each MiB it maps is paid many times over.
The server's modules and their libraries (FastAPI, pydantic, DuckDB, pyarrow, SQLAlchemy) cost
tens of MiB, and asyncio, ssl and the ``websockets`` package a third of the agent's memory; a
stray import would bring them back silently. ``-X importtime`` lists every module the process
actually imported, whichever file imported it.
"""

from __future__ import annotations

import secrets
import socket
import subprocess
import sys
import time

from tests.conftest import RunningServer

#: Packages the agent must never load (the server's, and heavy libraries it has no use for).
FORBIDDEN = (
    "heron.api",
    "heron.tsdb",
    "heron.meta",
    "heron.inventory",
    "heron.auth",
    "heron.protocols",
    "heron.server",
    "heron.config",
    # Monitors: the agent runs the checks (heron.probes.checks, heron.probes.spec), nothing of the server's.
    "heron.probes.monitors",
    "heron.probes.board",
    "heron.probes.state",
    "heron.probes.service",
    "heron.probes.scheduler",
    "heron.probes.history",
    "heron.probes.targets",
    "fastapi",
    "starlette",
    "uvicorn",
    "pydantic",
    "duckdb",
    "pyarrow",
    "sqlalchemy",
    "websockets",
    "asyncio",
    "ssl",
    "hashlib",
)


def imported_modules(importtime_stderr: str) -> set[str]:
    """Module names from ``-X importtime`` lines (``import time: self | cumulative | name``)."""
    names = set()
    for line in importtime_stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            if name != "package":  # the header line
                names.add(name)
    return names


def forbidden_in(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == f or m.startswith(f + ".") for f in FORBIDDEN))


def test_once_imports_no_server_module() -> None:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "heron", "agent", "--once", "--interval", "0.1"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    modules = imported_modules(done.stderr)
    assert "heron.agent.collect" in modules
    assert forbidden_in(modules) == []


def test_the_running_agent_imports_no_server_module() -> None:
    """The agent loop up to its first reconnect: collector, transport and WebSocket client all loaded."""
    with socket.socket() as closed_port_holder:
        closed_port_holder.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        port = closed_port_holder.getsockname()[1]
        command = [sys.executable, "-X", "importtime", "-m", "heron", "agent", "--server", f"http://127.0.0.1:{port}"]
        command += ["--token", "heron_test", "--interval", "0.2", "--agent-id", "import-test"]
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        lines = []
        try:
            assert process.stderr is not None
            for line in process.stderr:
                lines.append(line)
                if "reconnecting in" in line:
                    break
        finally:
            process.terminate()
            process.wait(timeout=30)
    assert any("reconnecting in" in line for line in lines), "".join(lines[-20:])
    modules = imported_modules("".join(lines))
    assert {"heron.agent.transport", "heron.agent.websocket", "heron.agent.collect"} <= modules
    assert forbidden_in(modules) == []


def test_an_agent_running_monitors_loads_only_what_its_checks_need(server: RunningServer) -> None:
    """TCP, plain-HTTP and ICMP monitors assigned: the runner, those checks and h11; no asyncio, no ssl,
    no icmplib (the agent's echo is its own), no DNS library, none of the server's monitor modules."""
    name = "import-probes-" + secrets.token_hex(3)
    with server.client() as c, socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        port = listener.getsockname()[1]
        token = c.post("/api/v1/token", json={"note": "imports"}).json()["data"]["token"]
        monitors = (("tcp", f"127.0.0.1:{port}"), ("http", f"http://127.0.0.1:{port}/"), ("icmp", "127.0.0.1"))
        created = [
            c.post("/api/v1/service", json={"name": f"{name} {kind}", "type": kind, "target": target, "duration": 1,
                                            "heron_vantage": "never"}).json()["data"]
            for kind, target in monitors
        ]  # fmt: skip
        command = [sys.executable, "-X", "importtime", "-m", "heron", "agent", "--server", server.url]
        command += ["--token", token, "--interval", "1", "--agent-id", name, "--name", name]
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 60
            while True:
                reported = [
                    s
                    for m in created
                    for s in c.get(f"/api/v1/service/{m}/server").json()["data"]
                    if s["last_check_at"]
                ]
                if len(reported) == len(created):
                    break
                assert time.monotonic() < deadline, "the agent's monitor results did not arrive"
                time.sleep(0.2)
        finally:
            process.terminate()
            _, stderr = process.communicate(timeout=30)
            c.post("/api/v1/batch-delete/service", json=created)
    modules = imported_modules(stderr.decode())
    # Kind modules are loaded with importlib.import_module, which -X importtime does not list; their
    # imports are (h11 for HTTP), and the results that arrived show both checks ran.
    wanted = {"heron.agent.probes", "heron.probes.checks", "h11"}
    assert wanted <= modules
    assert forbidden_in(modules) == []
    assert not modules & {
        "icmplib",
        "dns",
        "heron.probes.checks.icmp",
        "heron.probes.checks.dns",
        "heron.probes.checks.tls",
    }
