"""A web terminal nobody types in is closed after ``ops_terminal_idle_seconds``, and the end is audited."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.conftest import start_server
from tests.ops.conftest import server_id_of, start_agent, wait_for


def test_an_idle_terminal_is_closed_and_audited(tmp_path: Path) -> None:
    srv = start_server(tmp_path / "data", env={"HERON_OPS_TERMINAL_IDLE_SECONDS": "1"})
    agent: subprocess.Popen[bytes] | None = None
    try:
        token = httpx.post(f"{srv.url}/api/v1/token", json={"note": "idle"}, auth=srv.auth, timeout=30).json()["data"]
        headers = {"Authorization": f"Bearer {token['token']}"}
        agent = start_agent(srv.url, token["token"], "idle", "--allow", "terminal")
        with httpx.Client(base_url=srv.url, headers=headers, timeout=30) as c:
            server_id = wait_for(lambda: server_id_of(c, "idle"), "the agent")
            session = c.post("/api/v1/terminal", json={"server_id": server_id}).json()["data"]["session_id"]
            url = srv.url.replace("http://", "ws://") + f"/api/v1/ws/terminal/{session}"
            with connect(url, additional_headers=headers, open_timeout=30) as ws, pytest.raises(ConnectionClosed):
                while True:
                    ws.recv(timeout=60)  # the prompt, then nothing until the server closes
            ended = wait_for(lambda: c.get("/api/v1/audit", params={"action": "terminal.end"}).json()["data"]["value"],
                             "the end record")  # fmt: skip
            assert ended[0]["detail"]["reason"] == "idle timeout"
    finally:
        if agent is not None:
            agent.terminate()
            agent.wait(timeout=20)
        srv.stop()
