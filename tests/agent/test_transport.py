"""The agent's connection loop against a WebSocket peer that drops it: host first, then the backlog in order.

The peer speaks the agent protocol (welcome, acks) and nothing else; Heron's own endpoint is
driven by the real-process tests in tests/inventory/test_agent_live.py.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
from typing import Any

from websockets.asyncio.server import ServerConnection, serve

from heron.agent.transport import AgentLink, Backlog


async def _scenario() -> list[list[dict[str, Any]]]:
    sessions: list[list[dict[str, Any]]] = []
    enough = asyncio.Event()

    async def handler(ws: ServerConnection) -> None:
        got: list[dict[str, Any]] = []
        sessions.append(got)
        got.append(json.loads(await ws.recv()))
        await ws.send(json.dumps({"type": "welcome", "server_id": 1, "name": "h"}))
        if len(sessions) == 1:
            got.append(json.loads(await ws.recv()))
            await ws.send(json.dumps({"type": "ack", "seq": got[-1]["seq"]}))
            # Reports sent now reach the socket but are never read nor acknowledged: a dying server.
            await asyncio.sleep(0.5)
            return
        while len(got) < 8:
            got.append(json.loads(await ws.recv()))
            await ws.send(json.dumps({"type": "ack", "seq": got[-1]["seq"]}))
        enough.set()
        await ws.wait_closed()

    async with serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        counter = itertools.count()
        link = AgentLink(
            server_url=f"http://127.0.0.1:{port}",
            token="heron_test",
            agent_id="a1",
            name="h",
            interval_seconds=0.05,
            collect_host=lambda: {"Platform": "test"},
            collect_status=lambda: {"n": next(counter)},
            backlog=Backlog(limit=1000),
            rng=random.Random(1),
        )
        # The agent blocks in its own threads; the peer keeps this event loop.
        task = asyncio.create_task(asyncio.to_thread(link.run))
        try:
            await asyncio.wait_for(enough.wait(), timeout=20)
        finally:
            link.stop()
            await asyncio.wait_for(task, timeout=20)
    return sessions


def test_reports_collected_while_away_are_sent_in_order_after_the_host_block() -> None:
    first, second = asyncio.run(_scenario())[:2]
    for session in (first, second):
        assert session[0] == {"type": "host", "agent_id": "a1", "name": "h", "host": {"Platform": "test"}}
    numbers = [m["status"]["n"] for m in second[1:]]
    assert numbers == sorted(numbers) and numbers == list(range(numbers[0], numbers[0] + len(numbers)))
    assert numbers[0] == first[1]["status"]["n"] + 1, "every report not acknowledged was sent again"
    assert all(m["type"] == "status" and m["ts"] > 0 for m in second[1:])
    assert [m["seq"] for m in second[1:]] == [n + 1 for n in numbers]


def test_a_server_that_stops_answering_is_given_up_after_a_ping_and_reconnected() -> None:
    """A server whose connection stays open but that reads nothing (a hung process, a lost route)."""

    async def scenario() -> int:
        sessions = 0
        second = asyncio.Event()

        async def handler(ws: ServerConnection) -> None:
            nonlocal sessions
            sessions += 1
            await ws.recv()
            await ws.send(json.dumps({"type": "welcome", "server_id": 1, "name": "h"}))
            if sessions == 1:
                ws.transport.pause_reading()  # from now on no ping is read, so none is answered
                await ws.wait_closed()
                return
            second.set()
            await ws.wait_closed()

        # The paused connection cannot finish its closing handshake: do not wait long for it.
        async with serve(handler, "127.0.0.1", 0, close_timeout=0.5) as server:
            port = server.sockets[0].getsockname()[1]
            link = AgentLink(
                server_url=f"http://127.0.0.1:{port}",
                token="heron_test",
                agent_id="a1",
                name="h",
                interval_seconds=60,  # no report traffic: only the ping can notice the silence
                collect_host=dict,
                collect_status=dict,
                rng=random.Random(1),
                ping_interval_seconds=0.1,
                ping_timeout_seconds=0.2,
            )
            task = asyncio.create_task(asyncio.to_thread(link.run))
            try:
                await asyncio.wait_for(second.wait(), timeout=20)
            finally:
                link.stop()
                await asyncio.wait_for(task, timeout=20)
        return sessions

    assert asyncio.run(scenario()) >= 2
