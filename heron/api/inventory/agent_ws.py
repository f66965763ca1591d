"""``GET /api/v1/agent/ws``: the WebSocket ``heron agent`` reports over.

The agent authenticates either with the agent secret of a server created beforehand
(``POST /api/v1/server``; ``Authorization: Bearer hsrv_...``), which it then reports as, or
with a personal API token of the user who will own the server (``Authorization: Bearer
<token>``, or any other credential form a user has), which enrols the server on first
contact. Its first message is its host block and stable id; every later message is a
status report or a message of another family, found by its ``type`` in :data:`MESSAGE_HANDLERS`
(service monitors add ``probe_results``), whose listeners (:data:`SESSION_LISTENERS`) also
hear when a connection opens and closes and may send to the agent. Reports go to the live state
and its history buffer only: no database write happens per report (the last-active time is
a buffered sighting, flushed with the others about once a second). The wire format is
described in :mod:`heron.agent.transport`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson
from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from starlette.concurrency import run_in_threadpool

from heron.api.ops.agent_hook import agent_connected, agent_disconnected
from heron.api.services import Services
from heron.auth.principal import Authenticator, Presented
from heron.auth.scopes import covers
from heron.auth.tokens import hash_secret
from heron.auth.users import Principal
from heron.core.errors import HeronError
from heron.inventory.live import clean_host, clean_status
from heron.inventory.registry import SERVER_SECRET_PREFIX
from heron.ops.channel import AgentLink

log = logging.getLogger(__name__)

router = APIRouter(tags=["heron"])

#: How long a new connection may take to send its host block.
HELLO_TIMEOUT_SECONDS = 30.0
#: Longest agent id kept (machine ids are 32 characters, UUIDs 36).
MAX_AGENT_ID_CHARS = 128
#: WebSocket close codes (RFC 6455 §7.4.1): policy violation, unsupported data.
CLOSE_POLICY = 1008
CLOSE_BAD_DATA = 1003


class BadMessage(Exception):
    """An agent message that is not the JSON object the protocol expects."""


@dataclass
class AgentSession:
    """One agent's open connection, as the message families see it."""

    server_id: int
    name: str
    websocket: WebSocket
    _send_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def send(self, message: dict[str, Any]) -> None:
        """Send one JSON message; safe from any task (frames of two senders never interleave)."""
        await self.send_raw(orjson.dumps(message).decode())

    async def send_raw(self, message: str | bytes) -> None:
        """Send one text or binary frame as it is (the command channel's), under the same lock."""
        async with self._send_lock:
            if isinstance(message, bytes):
                await self.websocket.send_bytes(message)
            else:
                await self.websocket.send_text(message)


class SessionListener(Protocol):
    async def opened(self, session: AgentSession) -> None: ...
    def closed(self, session: AgentSession) -> None: ...


MessageHandler = Callable[[AgentSession, dict[str, Any]], Awaitable[None]]
#: Handlers of the agent's messages by ``type``, besides ``status``; a family adds its own.
MESSAGE_HANDLERS: dict[str, MessageHandler] = {}
#: Told of every connection that opens (after the welcome) and closes.
SESSION_LISTENERS: list[SessionListener] = []


def _message(text: str, *expected: str) -> dict[str, Any]:
    try:
        msg = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise BadMessage("a message is not JSON") from None
    if not isinstance(msg, dict) or msg.get("type") not in expected:
        raise BadMessage(f"expected a message of type {' or '.join(map(repr, expected))}")
    return msg


async def _receive(websocket: WebSocket) -> str | bytes:
    """The next frame's text, or bytes for a binary frame (``receive_text`` would raise KeyError on those)."""
    message = await websocket.receive()
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000))
    text = message.get("text")
    if isinstance(text, str):
        return text
    data = message.get("bytes")
    return data if isinstance(data, bytes) else b""


async def _receive_text(websocket: WebSocket) -> str:
    """The next text frame; a binary frame is a protocol error, not a crash."""
    message = await _receive(websocket)
    if not isinstance(message, str):
        raise BadMessage("messages must be JSON in text frames")
    return message


def _server_secret_hash(websocket: WebSocket) -> str | None:
    """The stored form of a per-server agent secret sent as ``Authorization: Bearer hsrv_...``,
    if that is what came."""
    scheme, _, value = (websocket.headers.get("authorization") or "").partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer" and value.startswith(SERVER_SECRET_PREFIX):
        return hash_secret(value)
    return None


async def _principal(websocket: WebSocket) -> Principal | None:
    auth: Authenticator = websocket.app.state.auth
    presented = Presented(
        authorization=websocket.headers.get("authorization"),
        user_token=websocket.headers.get("x-user-token"),
        ip=websocket.client.host if websocket.client else "",
        user_agent=websocket.headers.get("user-agent", ""),
    )
    principal = await run_in_threadpool(auth.resolve, presented)
    if principal is not None and principal.scopes is not None and not covers(principal.scopes, "nezha:server:write"):
        return None  # a scoped token enrols servers only with nezha:server:write
    return principal if principal is not None and principal.is_user else None


@router.websocket("/api/v1/agent/ws")
async def agent_socket(websocket: WebSocket) -> None:
    """Enrol the agent's server, then take its status reports until it goes away."""
    svc: Services = websocket.app.state.services
    secret_hash = _server_secret_hash(websocket)
    principal: Principal | None = None
    if secret_hash is not None:
        if not await run_in_threadpool(svc.hosts.secret_known, secret_hash):
            await websocket.close(code=CLOSE_POLICY, reason="no server has this agent secret")
            return
    else:
        try:
            principal = await _principal(websocket)
        except HeronError as exc:
            await websocket.close(code=CLOSE_POLICY, reason=exc.message[:120])
            return
        if principal is None:
            await websocket.close(
                code=CLOSE_POLICY, reason="a server's agent secret or a Heron user's token is required"
            )
            return
    await websocket.accept()
    server_id: int | None = None
    session: AgentSession | None = None
    link: AgentLink | None = None
    try:
        hello = _message(await asyncio.wait_for(_receive_text(websocket), HELLO_TIMEOUT_SECONDS), "host")
        agent_id = str(hello.get("agent_id") or "").strip()[:MAX_AGENT_ID_CHARS]
        if not agent_id:
            raise BadMessage("the host message needs an agent_id")
        host = clean_host(hello.get("host"))
        if principal is None:
            assert secret_hash is not None
            info = await run_in_threadpool(
                svc.hosts.connect_by_secret, secret_hash=secret_hash, agent_id=agent_id, host=host
            )
        else:
            user = principal
            info = await run_in_threadpool(
                lambda: svc.hosts.enroll(
                    agent_id=agent_id,
                    name=str(hello.get("name") or ""),
                    owner_id=user.user_id,
                    may_adopt_any=user.is_admin,
                    host=host,
                )
            )
        server_id = info.id
        svc.live.connected(info.id, info.name, host, at=time.time())
        session = AgentSession(info.id, info.name, websocket)
        await session.send({"type": "welcome", "server_id": info.id, "name": info.name})
        who = principal.username if principal is not None else "server secret"
        log.info("agent connected", extra={"server_id": info.id, "server": info.name, "user": who})
        for listener in SESSION_LISTENERS:
            await listener.opened(session)
        # Remote operations: the agent's command channel takes its own messages first.
        link = agent_connected(websocket, info.id, hello, host, send=session.send_raw)
        while True:
            message = await _receive(websocket)
            if link is not None and link.feed(message):
                continue
            if not isinstance(message, str):
                raise BadMessage("messages must be JSON in text frames")
            msg = _message(message, "status", *MESSAGE_HANDLERS)
            if msg["type"] != "status":
                await MESSAGE_HANDLERS[msg["type"]](session, msg)
                await _ack(session, msg)
                continue
            received = time.time()
            sent = msg.get("ts")
            sent_at = float(sent) if isinstance(sent, int | float) and not isinstance(sent, bool) else received
            name = svc.live.name_of(info.id)
            if name is None:
                # Deleted while connected: the agent enrols again as a new server when it reconnects.
                await websocket.close(code=CLOSE_POLICY, reason="this server was deleted")
                return
            svc.live.report(info.id, clean_status(msg.get("status")), sent_at=sent_at, received_at=received)
            svc.hosts.seen([name], at=received, source="agent")
            await _ack(session, msg)
    except WebSocketDisconnect:
        pass
    except (BadMessage, TimeoutError) as exc:
        await websocket.close(code=CLOSE_BAD_DATA, reason=str(exc)[:120] or "no host message in time")
    except HeronError as exc:
        await websocket.close(code=CLOSE_POLICY, reason=exc.message[:120])
    finally:
        if session is not None:
            for listener in SESSION_LISTENERS:
                listener.closed(session)
        agent_disconnected(websocket, link)
        if server_id is not None:
            svc.live.disconnected(server_id)
            log.info("agent disconnected", extra={"server_id": server_id})


async def _ack(session: AgentSession, msg: dict[str, Any]) -> None:
    """Acknowledge a message that carries a ``seq``: the agent forgets it only then."""
    seq = msg.get("seq")
    if isinstance(seq, int) and not isinstance(seq, bool):
        await session.send({"type": "ack", "seq": seq})
