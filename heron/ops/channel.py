"""The server's end of the command channel: requests and streams to agents over their WebSockets.

One :class:`AgentLink` per connected agent, kept by the :class:`Hub` under the server's id.
The agent endpoint hands every message it does not understand as a report to
:meth:`AgentLink.feed`, which never waits: data goes to the stream it belongs to, whose
buffer the credit scheme bounds (see :mod:`heron.agent.commands` for the wire format). So
a slow consumer (a browser on a bad line, a stalled download) slows its own stream only,
never the reports of that agent or of any other.

An operation is either a call (:meth:`AgentLink.call`: one answer, e.g. a command's exit
code and output) or a stream (:meth:`AgentLink.open`: data both ways, then an end).
Both fail with :class:`AgentGone` when the connection ends, and a call with a time limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import struct
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from heron.ops.errors import AgentGone, AgentRefused, OpFailed

#: Unread data one side may have in flight per stream (the agent uses the same window).
WINDOW_BYTES = 1024 * 1024
#: Largest payload of one data frame.
MAX_FRAME_BYTES = 256 * 1024
_ID = struct.Struct("!I")


@dataclass
class Stream:
    """One operation's stream on the server: read the agent's data, write to it, await its end."""

    link: AgentLink
    id: int
    kind: str
    opened: asyncio.Future[dict[str, Any]]
    ended: asyncio.Future[dict[str, Any]]
    _inbox: deque[bytes | None] = field(default_factory=deque)
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)
    _credit: int = WINDOW_BYTES
    _credit_changed: asyncio.Event = field(default_factory=asyncio.Event)
    _unacked: int = 0
    closed: bool = False
    bytes_in: int = 0
    bytes_out: int = 0

    async def read(self) -> bytes | None:
        """The next data from the agent; ``None`` once it ended its side. Raises the operation's error."""
        while not self._inbox:
            if self.ended.done() and self.ended.exception() is not None:
                raise self.ended.exception()  # type: ignore[misc]
            if self.closed:
                return None
            self._arrived.clear()
            await self._arrived.wait()
        data = self._inbox.popleft()
        if data is None:
            return None
        self._unacked += len(data)
        if self._unacked >= WINDOW_BYTES // 4:
            grant, self._unacked = self._unacked, 0
            await self.link.send_control({"type": "op.credit", "id": self.id, "bytes": grant})
        return data

    async def write(self, data: bytes) -> None:
        """Send ``data`` to the agent, waiting for credit; raises once the operation ended."""
        view = memoryview(data)
        while view:
            while self._credit <= 0:
                if self.ended.done():
                    self.ended.result()  # raises the operation's error, if any
                    raise OpFailed("closed", "the operation on the agent has ended")
                self._credit_changed.clear()
                await self._credit_changed.wait()
            size = min(len(view), self._credit, MAX_FRAME_BYTES)
            self._credit -= size
            self.bytes_out += size
            await self.link.send_data(self.id, bytes(view[:size]))
            view = view[size:]

    async def end_write(self) -> None:
        """Tell the agent nothing more comes from this side (EOF)."""
        await self.link.send_data(self.id, b"")

    async def control(self, message: dict[str, Any]) -> None:
        """A control message for this operation (a terminal's new size, say)."""
        await self.link.send_control({**message, "id": self.id})

    async def cancel(self) -> None:
        """Stop the operation on the agent; reading then ends."""
        if not self.ended.done():
            await self.link.send_control({"type": "op.cancel", "id": self.id})
            self.link._finish(self.id, error=OpFailed("cancelled", "the operation was cancelled"))

    # -- from the link ------------------------------------------------------------------------

    def _feed(self, payload: bytes) -> None:
        if payload:
            self.bytes_in += len(payload)
            self._inbox.append(payload)
        else:
            self._inbox.append(None)
        self._arrived.set()

    def _grant(self, count: int) -> None:
        self._credit += count
        self._credit_changed.set()

    def _close(self) -> None:
        self.closed = True
        self._arrived.set()
        self._credit_changed.set()


Sender = Callable[[str | bytes], Awaitable[None]]


class AgentLink:
    """The command channel of one agent connection."""

    def __init__(self, server_id: int, send: Sender, *, allow: frozenset[str], version: int) -> None:
        self.server_id = server_id
        self.allow = allow
        self.version = version
        self._send = send
        self._ids = itertools.count(1)
        self._streams: dict[int, Stream] = {}
        self.closed = False

    def allows(self, capability: str) -> bool:
        return capability in self.allow

    async def send_control(self, message: dict[str, Any]) -> None:
        if self.closed:
            raise AgentGone(self.server_id)
        await self._send(orjson.dumps(message).decode())

    async def send_data(self, op_id: int, payload: bytes) -> None:
        if self.closed:
            raise AgentGone(self.server_id)
        await self._send(_ID.pack(op_id) + payload)

    async def open(self, kind: str, args: dict[str, Any], *, wait: bool = True) -> Stream:
        """Start a stream operation; returns once the agent said it is open (``op.reply``).

        With ``wait=False`` it returns at once, so data can follow the request without a
        round trip (the agent keeps it for the operation); a refusal then surfaces on read.
        """
        stream = self._start(kind)
        await self.send_control({"type": "op.open", "id": stream.id, "kind": kind, "args": args})
        if not wait:
            return stream
        done, _ = await asyncio.wait({stream.opened, stream.ended}, return_when=asyncio.FIRST_COMPLETED)
        if stream.ended in done and not stream.opened.done():
            stream.ended.result()  # raises the agent's refusal or error
        return stream

    async def call(self, kind: str, args: dict[str, Any], *, timeout_seconds: float) -> dict[str, Any]:
        """Run a one-answer operation and return its result; cancelled on the agent at the time limit."""
        stream = self._start(kind)
        await self.send_control({"type": "op.open", "id": stream.id, "kind": kind, "args": args})
        try:
            return await asyncio.wait_for(asyncio.shield(stream.ended), timeout_seconds)
        except TimeoutError:
            with contextlib.suppress(AgentGone):
                await stream.cancel()
            raise OpFailed("timeout", f"the agent did not answer within {timeout_seconds:g} s") from None
        except asyncio.CancelledError:
            with contextlib.suppress(AgentGone):
                await stream.cancel()
            raise

    def _start(self, kind: str) -> Stream:
        if self.closed:
            raise AgentGone(self.server_id)
        loop = asyncio.get_running_loop()
        stream = Stream(self, next(self._ids), kind, loop.create_future(), loop.create_future())
        # Nobody may await these (a caller that gave up): mark exceptions as retrieved.
        stream.ended.add_done_callback(_retrieve)
        stream.opened.add_done_callback(_retrieve)
        self._streams[stream.id] = stream
        return stream

    def feed(self, message: str | bytes) -> bool:
        """Take a message of the channel; ``False`` when it is not one (a report). Never waits."""
        if isinstance(message, bytes):
            if len(message) >= _ID.size:
                (op_id,) = _ID.unpack_from(message)
                stream = self._streams.get(op_id)
                if stream is not None:
                    stream._feed(message[_ID.size :])
            return True
        if '"op.' not in message[:24]:  # a report: '{"type": "status", ...}'
            return False
        try:
            msg = orjson.loads(message)
        except orjson.JSONDecodeError:
            return True
        op_id = msg.get("id") if isinstance(msg, dict) else None
        stream = self._streams.get(op_id) if isinstance(op_id, int) else None
        if stream is None:
            return True
        kind = msg.get("type")
        if kind == "op.credit" and isinstance(msg.get("bytes"), int):
            stream._grant(msg["bytes"])
        elif kind == "op.reply":
            if not stream.opened.done():
                stream.opened.set_result(msg.get("result") if isinstance(msg.get("result"), dict) else {})
        elif kind == "op.end":
            self._finish(op_id, result=msg.get("result") if isinstance(msg.get("result"), dict) else {})  # type: ignore[arg-type]
        elif kind == "op.error":
            code, text = str(msg.get("code", "failed")), str(msg.get("error", "the operation failed"))[:1000]
            error: Exception = AgentRefused(self.server_id, text) if code == "refused" else OpFailed(code, text)
            self._finish(op_id, error=error)  # type: ignore[arg-type]
        return True

    def _finish(self, op_id: int, *, result: dict[str, Any] | None = None, error: Exception | None = None) -> None:
        stream = self._streams.pop(op_id, None)
        if stream is None:
            return
        if not stream.ended.done():
            if error is not None:
                stream.ended.set_exception(error)
            else:
                stream.ended.set_result(result or {})
        if not stream.opened.done():
            if error is not None:
                stream.opened.set_exception(error)
            else:
                stream.opened.set_result({})
        stream._close()

    def close(self) -> None:
        """The connection ended: every operation fails with :class:`AgentGone`."""
        self.closed = True
        for op_id in list(self._streams):
            self._finish(op_id, error=AgentGone(self.server_id))


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


class Hub:
    """The command channels of connected agents, by server id (the newest connection wins)."""

    def __init__(self) -> None:
        self._links: dict[int, AgentLink] = {}
        self.on_connect: list[Callable[[int, dict[str, Any], str], None]] = []

    def attach(self, link: AgentLink) -> None:
        old = self._links.get(link.server_id)
        self._links[link.server_id] = link
        if old is not None and old is not link:
            old.close()

    def detach(self, link: AgentLink) -> None:
        link.close()
        if self._links.get(link.server_id) is link:
            del self._links[link.server_id]

    def get(self, server_id: int) -> AgentLink | None:
        link = self._links.get(server_id)
        return link if link is not None and not link.closed else None

    def connected(self) -> list[int]:
        return [sid for sid, link in self._links.items() if not link.closed]
