"""NAT traffic: a request whose Host is a NAT profile's domain goes through the agent to its ``host``.

An ASGI layer in front of the application: it looks the Host up (one dictionary look-up, so
other requests pay nothing), and on a match opens a tunnel on the server's command channel
(the agent connects to ``host`` on its network), writes the request as HTTP/1.1 with
``Connection: close``, and streams the answer back as it arrives. h11 frames both directions,
so a chunked upload or answer passes intact. A WebSocket upgrade is carried too: the
handshake goes through the tunnel, and once the backend accepts it the client's socket is
accepted with the same subprotocol and messages flow both ways.

Like Nezha's, the NAT domain is a public door to the backend: Heron adds no login in front
of it (the backend's own authentication applies). Each request is audited with the domain,
method, path, status and sizes; bodies are not.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import h11

from heron.api.ops.state import OpsState
from heron.core.errors import HeronError
from heron.ops.audit import Actor
from heron.ops.channel import Stream
from heron.ops.nat import NatRouteInfo

log = logging.getLogger(__name__)

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Request and answer headers that belong to one connection, not to the message (RFC 9110 §7.6.1).
HOP_BY_HOP = frozenset(
    {b"connection", b"keep-alive", b"proxy-connection", b"te", b"trailer", b"transfer-encoding", b"upgrade"}
)
#: The largest answer head h11 accepts from the backend.
MAX_HEAD_BYTES = 64 * 1024


class NatIngress:
    """ASGI middleware: NAT domains to the tunnel, everything else to ``app``."""

    def __init__(self, app: ASGIApp, state: OpsState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            host = _header(scope, b"host")
            route = self.state.nat.route_for(host) if host else None
            if route is not None:
                if scope["type"] == "http":
                    await self._http(scope, receive, send, route)
                else:
                    await self._websocket(scope, receive, send, route)
                return
        await self.app(scope, receive, send)

    def _audit(self, scope: Scope, route: NatRouteInfo, outcome: str, **detail: Any) -> None:
        client = scope.get("client") or ("", 0)
        self.state.ops.audit.record(
            Actor(None, "nat", "nat", str(client[0])),
            "nat.request",
            server_id=route.server_id,
            target=f"{scope.get('method', 'GET')} {route.domain}{scope.get('path', '')}",
            outcome=outcome,
            **detail,
        )

    async def _open(self, route: NatRouteInfo) -> Stream:
        if not route.enabled:
            raise _Refusal(503, f"NAT domain {route.domain} is disabled")
        link = self.state.ops.hub.get(route.server_id)
        if link is None:
            raise _Refusal(502, f"the agent of server {route.server_id} is not connected")
        if not link.allows("nat"):
            raise _Refusal(502, f"the agent of server {route.server_id} does not allow nat (heron agent --allow nat)")
        try:
            # The request follows at once: no round trip waiting for the agent's connection.
            return await link.open("tunnel", {"host": route.host, "reply": False}, wait=False)
        except HeronError as exc:
            raise _Refusal(502, f"cannot reach {route.host} through the agent: {exc.message}") from None

    async def _http(self, scope: Scope, receive: Receive, send: Send, route: NatRouteInfo) -> None:
        started = time.monotonic()
        try:
            stream = await self._open(route)
        except _Refusal as refusal:
            self._audit(scope, route, "refused", status=refusal.status, error=refusal.message)
            await _plain(send, refusal.status, refusal.message)
            return
        status = 0
        sent = received = 0
        try:
            conn = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD_BYTES)
            headers, has_length = _request_headers(scope, route)
            if not has_length:
                headers.append((b"transfer-encoding", b"chunked"))
            await stream.write(conn.send(h11.Request(method=scope["method"], target=_target(scope), headers=headers)))
            more = True
            while more:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                body = message.get("body", b"")
                more = message.get("more_body", False)
                if body:
                    sent += len(body)
                    await stream.write(conn.send(h11.Data(data=body)))
            await stream.write(conn.send(h11.EndOfMessage()))
            started_answer = False
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    data = await stream.read()
                    conn.receive_data(data or b"")
                    continue
                if isinstance(event, h11.InformationalResponse):
                    continue
                if isinstance(event, h11.Response):
                    status = event.status_code
                    answer = [(k.lower(), v) for k, v in event.headers if k.lower() not in HOP_BY_HOP]
                    await send({"type": "http.response.start", "status": status, "headers": answer})
                    started_answer = True
                elif isinstance(event, h11.Data):
                    received += len(event.data)
                    await send({"type": "http.response.body", "body": bytes(event.data), "more_body": True})
                elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                    break
            if started_answer:
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        except (h11.RemoteProtocolError, HeronError) as exc:
            if status == 0:
                status = 502
                reason = exc.message if isinstance(exc, HeronError) else f"no HTTP answer ({exc})"
                await _plain(send, 502, f"cannot reach {route.host} through the agent: {reason}")
        finally:
            with contextlib.suppress(HeronError):
                await stream.cancel()
            self._audit(
                scope, route, "ok" if 0 < status < 500 else "failed", status=status, bytes_in=sent, bytes_out=received,
                duration_ms=round((time.monotonic() - started) * 1000, 3),
            )  # fmt: skip

    async def _websocket(self, scope: Scope, receive: Receive, send: Send, route: NatRouteInfo) -> None:
        from heron.api.ops.nat_websocket import relay_websocket

        first = await receive()
        if first["type"] != "websocket.connect":
            return
        try:
            stream = await self._open(route)
        except _Refusal as refusal:
            self._audit(scope, route, "refused", status=refusal.status, error=refusal.message)
            await send({"type": "websocket.close", "code": 1011, "reason": refusal.message[:120]})
            return
        try:
            outcome = await relay_websocket(scope, receive, send, stream, route)
        finally:
            with contextlib.suppress(HeronError):
                await stream.cancel()
        self._audit(scope, route, outcome, websocket=True)


class _Refusal(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return ""


def _target(scope: Scope) -> bytes:
    raw = scope.get("raw_path") or scope["path"].encode()
    query = scope.get("query_string", b"")
    return bytes(raw) + (b"?" + query if query else b"")


def _request_headers(scope: Scope, route: NatRouteInfo) -> tuple[list[tuple[bytes, bytes]], bool]:
    """The client's headers without hop-by-hop ones, with ``Connection: close`` and X-Forwarded-*."""
    headers: list[tuple[bytes, bytes]] = []
    has_length = False
    forwarded_for = ""
    for key, value in scope.get("headers", []):
        if key in HOP_BY_HOP:
            continue
        if key == b"content-length":
            has_length = True
        if key == b"x-forwarded-for":
            forwarded_for = value.decode("latin-1") + ", "
            continue
        headers.append((key, value))
    client = scope.get("client") or ("", 0)
    headers.append((b"x-forwarded-for", (forwarded_for + str(client[0])).encode("latin-1")))
    headers.append((b"x-forwarded-host", route.domain.encode()))
    headers.append((b"x-forwarded-proto", str(scope.get("scheme", "http")).encode()))
    headers.append((b"connection", b"close"))
    if scope.get("method") in ("GET", "HEAD", "DELETE", "OPTIONS") and not has_length:
        headers.append((b"content-length", b"0"))
        has_length = True
    return headers, has_length


async def _plain(send: Send, status: int, text: str) -> None:
    body = (text + "\n").encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
