"""The ``mcp`` SDK's own client against ``POST /mcp`` with personal tokens, scoped and not."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.ops.conftest import Fleet


def _token(fleet: Fleet, scopes: list[str] | None) -> str:
    body: dict[str, Any] = {"note": "assistant"}
    if scopes is not None:
        body["scopes"] = scopes
    r = httpx.post(f"{fleet.server.url}/api/v1/token", json=body, headers=fleet.headers, timeout=30)
    assert r.status_code == 201, r.text
    return str(r.json()["data"]["token"])


async def _session(url: str, token: str, calls: list[tuple[str, dict[str, Any]]]) -> tuple[list[str], list[Any]]:
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=60) as http,
        Client(streamable_http_client(f"{url}/mcp", http_client=http)) as client,
    ):
        tools = await client.list_tools()
        results = [await client.call_tool(name, args) for name, args in calls]
    return [t.name for t in tools.tools], results


def _text(result: Any) -> str:
    return " ".join(getattr(part, "text", "") for part in result.content)


def test_an_assistant_lists_the_tools_and_gets_rows_from_sql(fleet: Fleet) -> None:
    token = _token(fleet, ["nezha:tsdb:read", "nezha:inventory:read", "nezha:server:read"])
    calls = [
        ("sql.query", {"sql": "SELECT 40 + 2 AS answer"}),
        ("server.list", {}),
        ("server.exec", {"server_id": fleet.allowed_id, "command": "echo no"}),
    ]
    names, (sql, servers, exec_refused) = asyncio.run(_session(fleet.server.url, token, calls))
    assert {"server.list", "server.get", "server.metrics", "sql.query", "server.exec"} <= set(names)
    assert not sql.is_error and sql.structured_content["rows"] == [{"answer": 42}]
    assert not servers.is_error and "allowed" in _text(servers)
    assert exec_refused.is_error and "nezha:server:exec" in _text(exec_refused)


def test_the_exec_scope_runs_a_command_on_an_agent_that_allows_it(fleet: Fleet) -> None:
    token = _token(fleet, ["nezha:server:exec"])
    calls = [
        ("server.exec", {"server_id": fleet.allowed_id, "command": "echo mcp-$((2*21))"}),
        ("server.exec", {"server_id": fleet.plain_id, "command": "echo never"}),
    ]
    _names, (ran, refused) = asyncio.run(_session(fleet.server.url, token, calls))
    assert not ran.is_error and "mcp-42" in _text(ran)
    assert refused.is_error and "--allow exec" in _text(refused)
    with fleet.client() as c:
        audit = c.get("/api/v1/audit", params={"action": "mcp.", "limit": 50}).json()["data"]["value"]
    assert {"mcp.server.exec"} <= {a["action"] for a in audit}
    assert all("mcp-42" not in str(a) for a in audit), "command output never reaches the audit log"


def test_mcp_needs_credentials(fleet: Fleet) -> None:
    r = httpx.post(f"{fleet.server.url}/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"}, timeout=30)
    assert r.status_code == 401
