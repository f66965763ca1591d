"""A Heron server with two real agents: one whose owner allowed everything, one that allows nothing."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import RunningServer, start_server

DEADLINE_SECONDS = 60.0


@dataclass
class Fleet:
    server: RunningServer
    token: str
    allowed_id: int
    plain_id: int
    files_root: Path

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.server.url, headers=self.headers, timeout=30)


def wait_for(check, what: str, timeout: float = DEADLINE_SECONDS):  # type: ignore[no-untyped-def]
    """Poll ``check`` until it returns something truthy (never a timed assertion: a generous deadline)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"gave up waiting for {what}")


def start_agent(url: str, token: str, name: str, *extra: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HERON_")}
    command = [sys.executable, "-m", "heron", "agent", "--server", url, "--token", token]
    command += ["--interval", "1", "--agent-id", f"ops-test-{name}", "--name", name, *extra]
    return subprocess.Popen(
        command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env
    )


def server_id_of(client: httpx.Client, name: str) -> int | None:
    for item in client.get("/api/v1/server").json()["data"]:
        if item["name"] == name and item["online"]:
            return int(item["id"])
    return None


@pytest.fixture(scope="package")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    srv = start_server(tmp_path_factory.mktemp("heron-ops"), env={"HERON_OPS_DDNS_PRIVATE_TARGETS": "true"})
    root = tmp_path_factory.mktemp("agent-files")
    agents: list[subprocess.Popen[bytes]] = []
    try:
        r = httpx.post(f"{srv.url}/api/v1/token", json={"note": "ops"}, auth=srv.auth, timeout=30)
        token = r.json()["data"]["token"]
        agents.append(
            start_agent(
                srv.url, token, "allowed", "--allow", "exec,terminal", "--allow", "files,nat", "--files-root", str(root)
            )
        )
        agents.append(start_agent(srv.url, token, "plain"))
        with httpx.Client(base_url=srv.url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as c:
            allowed = wait_for(lambda: server_id_of(c, "allowed"), "the allowed agent")
            plain = wait_for(lambda: server_id_of(c, "plain"), "the plain agent")
        yield Fleet(srv, token, allowed, plain, root)
    finally:
        for agent in agents:
            agent.terminate()
        for agent in agents:
            try:
                agent.wait(timeout=20)
            except subprocess.TimeoutExpired:
                agent.kill()
                agent.wait(timeout=10)
        srv.stop()
