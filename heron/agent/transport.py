"""The agent's connection: one WebSocket, host info on connect, status every interval.

Collection and sending are separate tasks joined by a bounded backlog: reports are collected
on schedule whether or not the server is reachable, and sent oldest first once it is. The
backlog drops the oldest report when full, so a long outage costs bounded memory and the
server still gets the most recent stretch of history. A report is forgotten only when the
server acknowledges its ``seq``: a WebSocket ``send`` returns once the bytes are in the
socket's buffer, so reports in flight when a connection dies would otherwise be lost. Sent
but unacknowledged reports go back to the front of the backlog; the price is that a report
whose ack was lost is sent twice.

Reconnects wait with exponential backoff and full jitter (a random delay between zero and the
current cap), so a fleet of agents that lost the server at the same moment does not come
back at the same moment.

The wire format, one JSON text message each::

    {"type": "host", "agent_id": "...", "name": "...", "host": {...}}   first, once per connection
    {"type": "status", "seq": 1, "ts": 1700000000.5, "status": {...}} then one per report

The server answers the first message with ``{"type": "welcome", "server_id": 1, "name": "..."}``
and each report with ``{"type": "ack", "seq": 1}``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus, WebSocketException

log = logging.getLogger(__name__)

#: Reports kept while the server is away: one hour at the default 3 s interval.
DEFAULT_BACKLOG_REPORTS = 1200
#: First reconnect delay and the most a delay may grow to.
BACKOFF_BASE_SECONDS = 1.0
BACKOFF_CAP_SECONDS = 60.0
#: The server's path for agents.
AGENT_PATH = "/api/v1/agent/ws"


def backoff_delays(
    *, base_seconds: float = BACKOFF_BASE_SECONDS, cap_seconds: float = BACKOFF_CAP_SECONDS, rng: random.Random
) -> Iterator[float]:
    """Delays before each reconnect: uniform in [0, min(cap, base * 2**attempt)] ("full jitter")."""
    attempt = 0
    while True:
        yield rng.uniform(0, min(cap_seconds, base_seconds * 2**attempt))
        attempt = min(attempt + 1, 32)


@dataclass
class Backlog:
    """Reports not yet sent, oldest first; the oldest is dropped when ``limit`` is reached."""

    limit: int = DEFAULT_BACKLOG_REPORTS
    items: deque[dict[str, Any]] = field(default_factory=deque)
    dropped: int = 0

    def add(self, report: dict[str, Any]) -> None:
        if len(self.items) >= self.limit:
            self.items.popleft()
            self.dropped += 1
        self.items.append(report)

    def requeue(self, reports: deque[dict[str, Any]]) -> None:
        """Put back reports sent but not acknowledged, before the newer ones, within ``limit``."""
        self.items.extendleft(reversed(reports))
        while len(self.items) > self.limit:
            self.items.popleft()
            self.dropped += 1

    def __len__(self) -> int:
        return len(self.items)


def ws_url(server_url: str) -> str:
    """The agent endpoint for a server's base URL (``http://h:p`` -> ``ws://h:p/api/v1/agent/ws``)."""
    base = server_url.rstrip("/")
    if base.startswith("https://"):
        base = "wss://" + base[len("https://") :]
    elif base.startswith("http://"):
        base = "ws://" + base[len("http://") :]
    elif not base.startswith(("ws://", "wss://")):
        base = "ws://" + base
    return base + AGENT_PATH


@dataclass
class AgentLink:
    """Everything the connection loop needs; ``collect_host`` and ``collect_status`` are the collectors."""

    server_url: str
    token: str
    agent_id: str
    name: str
    interval_seconds: float
    collect_host: Callable[[], dict[str, Any]]
    collect_status: Callable[[], dict[str, Any]]
    backlog: Backlog = field(default_factory=Backlog)
    rng: random.Random = field(default_factory=random.Random)
    wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    _seq: int = field(default=0, init=False)
    _connected_once: bool = field(default=False, init=False)

    async def run(self) -> None:
        """Collect and send until cancelled."""
        collector = asyncio.create_task(self._collect_forever())
        try:
            await self._connect_forever()
        finally:
            collector.cancel()

    async def _collect_forever(self) -> None:
        while True:
            started = time.monotonic()
            try:
                status = await asyncio.to_thread(self.collect_status)
            except Exception:  # one failed collection must not end the reports
                log.exception("collecting status failed; trying again next interval")
            else:
                self._seq += 1
                self.backlog.add({"type": "status", "seq": self._seq, "ts": time.time(), "status": status})
                self.wakeup.set()
            await asyncio.sleep(max(0.0, self.interval_seconds - (time.monotonic() - started)))

    async def _connect_forever(self) -> None:
        delays = backoff_delays(rng=self.rng)
        url = ws_url(self.server_url)
        while True:
            try:
                async with connect(
                    url,
                    additional_headers={"Authorization": f"Bearer {self.token}"},
                    open_timeout=10,
                    close_timeout=5,
                ) as ws:
                    await self._session(ws)
            except InvalidStatus as exc:
                log.warning("the server refused the agent: HTTP %s", exc.response.status_code)
            except (OSError, WebSocketException, TimeoutError) as exc:
                log.warning("connection to %s lost: %s", url, exc)
            else:
                continue
            delays = self._reset_if_connected(delays)
            delay = next(delays)
            log.info("reconnecting in %.1f s (%d reports waiting)", delay, len(self.backlog))
            await asyncio.sleep(delay)

    def _reset_if_connected(self, delays: Iterator[float]) -> Iterator[float]:
        """A connection that got as far as the welcome starts the backoff over."""
        if self._connected_once:
            self._connected_once = False
            return backoff_delays(rng=self.rng)
        return delays

    async def _session(self, ws: ClientConnection) -> None:
        try:
            host = await asyncio.to_thread(self.collect_host)
        except Exception:  # status is still worth sending without host facts
            log.exception("collecting host info failed; connecting without it")
            host = {}
        await ws.send(json.dumps({"type": "host", "agent_id": self.agent_id, "name": self.name, "host": host}))
        welcome = json.loads(await asyncio.wait_for(ws.recv(), timeout=30))
        self._connected_once = True
        log.info("connected as server %s (%s)", welcome.get("server_id"), welcome.get("name"))
        inflight: deque[dict[str, Any]] = deque()
        reader = asyncio.create_task(_read_acks(ws, inflight))
        try:
            while True:
                self.wakeup.clear()
                while self.backlog.items:
                    report = self.backlog.items.popleft()
                    inflight.append(report)
                    await ws.send(json.dumps(report))
                waiter = asyncio.ensure_future(self.wakeup.wait())
                await asyncio.wait({waiter, reader}, return_when=asyncio.FIRST_COMPLETED)
                waiter.cancel()
                if reader.done():
                    reader.result()  # raises ConnectionClosed when the connection broke
                    raise OSError("the server closed the connection")
        finally:
            reader.cancel()
            self.backlog.requeue(inflight)


async def _read_acks(ws: ClientConnection, inflight: deque[dict[str, Any]]) -> None:
    """Forget sent reports as the server acknowledges them (``{"type": "ack", "seq": n}``)."""
    async for text in ws:
        try:
            msg = json.loads(text)
        except ValueError:
            continue
        if isinstance(msg, dict) and msg.get("type") == "ack" and isinstance(msg.get("seq"), int):
            while inflight and inflight[0]["seq"] <= msg["seq"]:
                inflight.popleft()
