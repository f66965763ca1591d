"""The web terminal: ``POST /api/v1/terminal`` makes a session, ``GET /api/v1/ws/terminal/{id}`` carries it.

Frames from the browser are Nezha's: binary, first byte ``0`` then keystrokes, or ``1``
then ``{"Cols": 120, "Rows": 40}`` to resize (a text frame counts as keystrokes). Frames to
the browser are the terminal's output, binary. The agent runs a real PTY with the login
shell of the user it runs as. The session ends when either side closes, the shell exits, or
nothing passed for ``ops_terminal_idle_seconds``. Start and end are audited with the byte
counts, never the bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import orjson
from fastapi import APIRouter, Depends, Request, WebSocket
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocketDisconnect

from heron.api.deps import current_user
from heron.api.ops.state import OpsState, actor_of, ops_state
from heron.api.ops.wsauth import ws_principal
from heron.api.schemas import MAX_ID
from heron.auth.users import Principal
from heron.core.errors import HeronError
from heron.ops.audit import Actor
from heron.ops.channel import Stream
from heron.ops.errors import AgentGone

log = logging.getLogger(__name__)

router = APIRouter(tags=["heron"], dependencies=[Depends(current_user)])
sockets = APIRouter(tags=["heron"])

CLOSE_POLICY = 1008
WS_PATH = "/api/v1/ws/terminal/{session_id}"
DEFAULT_COLS, DEFAULT_ROWS = 80, 24


class TerminalIn(BaseModel):
    """Nezha's ``TerminalForm``."""

    server_id: int = Field(ge=1, le=MAX_ID)
    protocol: str = Field("", max_length=16, description="ignored (Nezha's field)")


async def checked(
    state: OpsState, actor: Actor, user: Principal, server_id: int, capability: str, action: str
) -> tuple[Any, Any]:
    """The server and its link, or the 4xx, audited either way as ``action``."""
    try:
        info = await run_in_threadpool(state.ops.server_for, user, server_id)
        link = state.ops.link_for(info, capability)
    except HeronError as exc:
        state.ops.audit.record(
            actor, action, server_id=server_id, outcome="refused" if exc.status == 403 else "error", error=exc.message
        )
        raise
    return info, link


@router.post("/api/v1/terminal", summary="Open a terminal session on a server; attach at /api/v1/ws/terminal/{id}")
async def create_terminal(
    body: TerminalIn, request: Request, user: Principal = Depends(current_user), state: OpsState = Depends(ops_state)
) -> dict[str, Any]:
    actor = actor_of(request, user)
    info, _link = await checked(state, actor, user, body.server_id, "terminal", "terminal.create")
    session = state.sessions.create("terminal", server_id=info.id, server_name=info.name, principal=user)
    state.ops.audit.record(actor, "terminal.create", server_id=info.id, target=info.name)
    return {"success": True, "data": {"session_id": session.id, "server_id": info.id, "server_name": info.name}}


@sockets.websocket(WS_PATH)
async def terminal_socket(websocket: WebSocket, session_id: str) -> None:
    """Carry keystrokes to the agent's PTY and its output back, until one side ends."""
    state = ops_state(websocket)
    try:
        user = await ws_principal(websocket, WS_PATH)
        session = state.sessions.take(session_id, "terminal", user)
        info = await run_in_threadpool(state.ops.server_for, user, session.server_id)
        link = state.ops.link_for(info, "terminal")
    except HeronError as exc:
        await websocket.close(code=CLOSE_POLICY, reason=exc.message[:120])
        return
    actor = actor_of(websocket, user)
    try:
        stream = await link.open("pty", {"cols": DEFAULT_COLS, "rows": DEFAULT_ROWS})
    except HeronError as exc:
        state.ops.audit.record(actor, "terminal.start", server_id=info.id, outcome="error", error=exc.message)
        await websocket.close(code=CLOSE_POLICY, reason=exc.message[:120])
        return
    await websocket.accept()
    state.ops.audit.record(actor, "terminal.start", server_id=info.id, target=info.name)
    started = time.monotonic()
    reason = await relay(websocket, stream, idle_seconds=state.idle_seconds)
    with contextlib.suppress(HeronError):
        await stream.cancel()
    with contextlib.suppress(RuntimeError, WebSocketDisconnect):
        await websocket.close()
    state.ops.audit.record(
        actor,
        "terminal.end",
        server_id=info.id,
        target=info.name,
        reason=reason,
        bytes_in=stream.bytes_out,
        bytes_out=stream.bytes_in,
        duration_s=round(time.monotonic() - started, 3),
    )


async def relay(websocket: WebSocket, stream: Stream, *, idle_seconds: float) -> str:
    """Pump both ways until one ends; returns why the session ended."""
    last = [time.monotonic()]

    async def to_agent() -> str:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return "browser closed"
            last[0] = time.monotonic()
            data = message.get("bytes")
            if data is None:
                await stream.write((message.get("text") or "").encode())
            elif data[:1] == b"\x00":
                await stream.write(data[1:])
            elif data[:1] == b"\x01":
                await _resize(stream, data[1:])

    async def to_browser() -> str:
        while True:
            data = await stream.read()
            if data is None:
                return "shell exited"
            last[0] = time.monotonic()
            await websocket.send_bytes(data)

    pumps = [asyncio.create_task(to_agent()), asyncio.create_task(to_browser())]
    try:
        while True:
            done, _ = await asyncio.wait(pumps, timeout=min(idle_seconds, 5.0), return_when=asyncio.FIRST_COMPLETED)
            if done:
                task = done.pop()
                try:
                    return task.result()
                except AgentGone:
                    return "agent disconnected"
                except (HeronError, WebSocketDisconnect, RuntimeError) as exc:
                    return f"ended: {type(exc).__name__}"
            if time.monotonic() - last[0] > idle_seconds:
                return "idle timeout"
    finally:
        for task in pumps:
            task.cancel()
        await asyncio.gather(*pumps, return_exceptions=True)


async def _resize(stream: Stream, payload: bytes) -> None:
    try:
        size = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return
    if isinstance(size, dict):
        cols, rows = size.get("Cols", size.get("cols")), size.get("Rows", size.get("rows"))
        if isinstance(cols, int) and isinstance(rows, int):
            await stream.control({"type": "op.resize", "cols": cols, "rows": rows})
