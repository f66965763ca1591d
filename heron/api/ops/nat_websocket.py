"""A WebSocket through a NAT tunnel: Heron is the backend's client and the browser's server.

The handshake is made with ``websockets``' sans-I/O client over the tunnel's bytes, carrying
the browser's path, cookies and subprotocols. Only when the backend accepted it is the
browser's socket accepted, with the subprotocol the backend chose; then each message is
passed on whole, both ways, until either side closes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.uri import parse_uri

from heron.core.errors import HeronError
from heron.ops.channel import Stream
from heron.ops.nat import NatRouteInfo

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
#: Browser headers passed to the backend's handshake.
PASSED = frozenset({b"cookie", b"authorization", b"user-agent", b"origin", b"sec-websocket-protocol"})
MAX_MESSAGE_BYTES = 16 * 1024 * 1024


async def relay_websocket(scope: Scope, receive: Receive, send: Send, stream: Stream, route: NatRouteInfo) -> str:
    """Handshake with the backend, accept the browser, relay messages; returns the audit outcome."""
    target = scope.get("raw_path") or scope["path"].encode()
    query = scope.get("query_string", b"")
    uri = f"ws://{route.host}{target.decode('latin-1')}" + (f"?{query.decode('latin-1')}" if query else "")
    subprotocols = list(scope.get("subprotocols") or [])
    client = ClientProtocol(parse_uri(uri), subprotocols=subprotocols or None, max_size=MAX_MESSAGE_BYTES)
    request = client.connect()
    for key, value in scope.get("headers", []):
        if key in PASSED and key != b"sec-websocket-protocol":
            request.headers[key.decode("latin-1")] = value.decode("latin-1")
    request.headers["Host"] = route.domain
    client.send_request(request)
    await _flush(client, stream)
    response, early = await _handshake(client, stream)
    if response is None or response.status_code != 101 or client.handshake_exc is not None:
        await send({"type": "websocket.close", "code": 1011, "reason": "the backend refused the WebSocket"})
        return "failed"
    chosen = response.headers.get("Sec-WebSocket-Protocol")
    await send({"type": "websocket.accept", "subprotocol": chosen})

    async def browser_to_backend() -> None:
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                client.send_close(1000)
                await _flush(client, stream)
                return
            if message.get("bytes") is not None:
                client.send_binary(message["bytes"])
            else:
                client.send_text((message.get("text") or "").encode())
            await _flush(client, stream)

    async def backend_to_browser() -> None:
        parts: list[bytes] = []
        kind = Opcode.TEXT
        pending: list[Any] = list(early)  # frames that came with the handshake's answer
        while True:
            data: bytes | None = b""
            if not pending:
                data = await stream.read()
                if data is None:
                    client.receive_eof()
                else:
                    client.receive_data(data)
                pending = list(client.events_received())
            events, pending = pending, []
            for frame in events:
                if not isinstance(frame, Frame):
                    continue
                if frame.opcode in (Opcode.TEXT, Opcode.BINARY):
                    kind, parts = frame.opcode, [bytes(frame.data)]
                elif frame.opcode == Opcode.CONT:
                    parts.append(bytes(frame.data))
                else:
                    continue
                if frame.fin:
                    payload = b"".join(parts)
                    if kind == Opcode.TEXT:
                        await send({"type": "websocket.send", "text": payload.decode("utf-8", errors="replace")})
                    else:
                        await send({"type": "websocket.send", "bytes": payload})
            await _flush(client, stream)
            if data is None or client.close_code is not None:
                await send({"type": "websocket.close", "code": client.close_code or 1000})
                return

    pumps = [asyncio.create_task(browser_to_backend()), asyncio.create_task(backend_to_browser())]
    try:
        await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in pumps:
            task.cancel()
        await asyncio.gather(*pumps, return_exceptions=True)
    return "ok"


async def _flush(client: ClientProtocol, stream: Stream) -> None:
    for chunk in client.data_to_send():
        if chunk:
            await stream.write(chunk)


async def _handshake(client: ClientProtocol, stream: Stream) -> tuple[Response | None, list[Any]]:
    """The backend's answer to the handshake, and any frames that arrived with it."""
    while True:
        try:
            data = await stream.read()
        except HeronError:
            return None, []
        if data is None:
            client.receive_eof()
        else:
            client.receive_data(data)
        events = client.events_received()
        for i, event in enumerate(events):
            if isinstance(event, Response):
                return event, events[i + 1 :]
        if data is None:
            return None, []
