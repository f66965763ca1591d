"""``GET /api/v1/ws/server``: the browsers' live stream of servers, in Nezha v1's message shape.

On connect and then every :data:`PUSH_INTERVAL_SECONDS`, one JSON text frame::

    {"now": 1764140000000, "online": 3, "servers": [{"id", "name", "public_note",
     "display_index", "host", "state", "country_code", "last_active", "online"}]}

``now`` is the server's clock in milliseconds, ``online`` the number of browsers connected
to this stream (Nezha counts its online users the same way), and ``servers`` the servers the
caller may read, in display order, with ``host`` and ``state`` as ``GET /api/v1/server`` has
them; ``online`` per server is Heron's addition. Who sees what is decided for every frame,
so hiding a server from guests takes effect at the next one.

The caller is resolved once, at the upgrade, from the same credentials as any API call
(``Authorization``, ``X-User-Token``, or the web UI's session cookie). Without credentials
the caller is a guest, refused (close code 1008, or ``403`` before the upgrade) when
``force_auth`` is on; bad credentials are refused the same way. The stored servers are read
from the metadata database at most once a second, and each caller's frame is built at most
once a second, however many browsers are watching.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time

import orjson
from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from starlette.concurrency import run_in_threadpool

from heron.api.servers import server_resource, v1_server
from heron.api.services import Services
from heron.auth.permissions import visible
from heron.auth.principal import SESSION_COOKIE, Authenticator, Presented
from heron.auth.users import GUEST, Principal
from heron.core.errors import HeronError, Unauthorized
from heron.inventory.registry import ServerInfo
from heron.inventory.view import server_views

log = logging.getLogger(__name__)

router = APIRouter(tags=["heron"])

#: Seconds between two frames (Nezha v1's dashboard streams every two seconds).
PUSH_INTERVAL_SECONDS = 2.0
#: How long the stored servers are reused between frames of all connections.
SNAPSHOT_SECONDS = 1.0
CLOSE_POLICY = 1008
#: Keys of a server in a frame (Nezha v1's ``StreamServer``), read off ``GET /api/v1/server``'s item.
STREAM_KEYS = ("id", "name", "public_note", "display_index", "host", "state", "last_active", "online")


class _Feed:
    """What all connections share: a short-lived copy of the stored servers, and the viewer count."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._infos: list[ServerInfo] = []
        self._read_at = float("-inf")
        self._frames: dict[tuple[int, str], tuple[float, bytes]] = {}
        self._frame_lock = threading.Lock()
        self.viewers = 0

    def frame_for(self, svc: Services, principal: Principal) -> bytes:
        """The frame for ``principal``, built at most once per :data:`SNAPSHOT_SECONDS` for all
        connections of the same caller (visibility depends only on who is asking), so fifty
        browsers of one account cost one build per tick instead of fifty."""
        key = (principal.user_id, principal.role)
        with self._frame_lock:
            cached = self._frames.get(key)
            if cached is not None and time.monotonic() - cached[0] < SNAPSHOT_SECONDS:
                return cached[1]
            payload = frame(svc, self, principal)
            self._frames[key] = (time.monotonic(), payload)
            return payload

    def infos(self, svc: Services) -> list[ServerInfo]:
        with self._lock:
            if time.monotonic() - self._read_at >= SNAPSHOT_SECONDS:
                self._infos = svc.hosts.list()
                self._read_at = time.monotonic()
            return self._infos


def _feed(websocket: WebSocket) -> _Feed:
    state = websocket.app.state
    feed = getattr(state, "server_feed", None)
    if not isinstance(feed, _Feed):
        feed = _Feed()
        state.server_feed = feed
    return feed


def frame(svc: Services, feed: _Feed, principal: Principal) -> bytes:
    """One message of the stream for ``principal``."""
    now = time.time()
    views = server_views(feed.infos(svc), svc.live, now=now, offline_after_seconds=svc.settings.host_offline_seconds)
    servers = []
    for view in visible(principal, views, server_resource):
        item = v1_server(view, show_note=False)
        shown = {key: item[key] for key in STREAM_KEYS}
        shown["country_code"] = item["geoip"]["country_code"]
        servers.append(shown)
    return orjson.dumps({"now": int(now * 1000), "online": feed.viewers, "servers": servers})


async def _principal(websocket: WebSocket) -> Principal:
    """The caller, the guest, or :class:`HeronError` (bad credentials, or a guest under ``force_auth``)."""
    auth: Authenticator = websocket.app.state.auth
    presented = Presented(
        authorization=websocket.headers.get("authorization"),
        user_token=websocket.headers.get("x-user-token"),
        session_cookie=websocket.cookies.get(SESSION_COOKIE),
        method="GET",
        ip=websocket.client.host if websocket.client else "",
        user_agent=websocket.headers.get("user-agent", ""),
    )
    principal = await run_in_threadpool(auth.resolve, presented)
    if principal is not None:
        return principal
    if auth.site.get().force_auth:
        raise Unauthorized("authentication required: this site does not allow guests (force_auth)")
    return GUEST


async def _wait_for_close(websocket: WebSocket) -> None:
    """Read (and ignore) what the browser sends until it goes away."""
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return


@router.websocket("/api/v1/ws/server")
async def server_stream(websocket: WebSocket) -> None:
    """Stream the servers the caller may see, with their online state and live status."""
    svc: Services = websocket.app.state.services
    try:
        principal = await _principal(websocket)
    except HeronError as exc:
        await websocket.close(code=CLOSE_POLICY, reason=exc.message[:120])
        return
    await websocket.accept()
    feed = _feed(websocket)
    feed.viewers += 1
    closed = asyncio.ensure_future(_wait_for_close(websocket))
    try:
        while not closed.done():
            payload = await run_in_threadpool(feed.frame_for, svc, principal)
            await websocket.send_text(payload.decode())
            await asyncio.wait({closed}, timeout=PUSH_INTERVAL_SECONDS)
    except (WebSocketDisconnect, RuntimeError):
        pass  # the browser left between two frames
    finally:
        feed.viewers -= 1
        closed.cancel()
