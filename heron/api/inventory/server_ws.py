"""``GET /api/v1/ws/server``: the browsers' live stream of servers, in Nezha v1's message shape.

On connect and then every :data:`PUSH_INTERVAL_SECONDS` (the second frame comes a little
sooner, at a random point of the interval's second half), one JSON text frame::

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
``force_auth`` is on; bad credentials are refused the same way. The servers come from the
snapshot ``GET /api/v1/server`` answers from (:mod:`heron.api.inventory.server_list`), rebuilt at most
once a second, and the list of servers each caller may see is encoded once per snapshot,
however many browsers are watching.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from starlette.concurrency import run_in_threadpool

from heron.api.inventory.server_list import STREAM_KEYS as STREAM_KEYS
from heron.api.inventory.server_list import ServerListing
from heron.auth.principal import SESSION_COOKIE, Authenticator, Presented
from heron.auth.scopes import missing_scopes
from heron.auth.users import GUEST, Principal
from heron.core.errors import Forbidden, HeronError, Unauthorized

log = logging.getLogger(__name__)

router = APIRouter(tags=["heron"])

#: Seconds between two frames (Nezha v1's dashboard streams every two seconds).
PUSH_INTERVAL_SECONDS = 2.0
#: The wait after the first frame is between this share of the interval and all of it, at
#: random, so browsers that connected together (a dashboard reloaded on many screens, the fleet
#: benchmark) do not all send their megabyte in the same turn of the event loop, which then
#: serves nothing else until the last of them is written.
FIRST_WAIT_MIN_SHARE = 0.5
CLOSE_POLICY = 1008


class _Viewers:
    """How many browsers are connected to the stream (each frame's ``online``)."""

    def __init__(self) -> None:
        self.count = 0


def _viewers(websocket: WebSocket) -> _Viewers:
    state = websocket.app.state
    viewers = getattr(state, "server_viewers", None)
    if not isinstance(viewers, _Viewers):
        viewers = _Viewers()
        state.server_viewers = viewers
    return viewers


async def frame(listing: ServerListing, viewers: _Viewers, principal: Principal) -> bytes:
    """One message of the stream for ``principal``.

    The servers are the snapshot's bytes for this caller, spliced in rather than decoded and
    encoded again: with 2,000 servers they are about a megabyte.
    """
    part = await listing.part(principal)
    head = b'{"now":%d,"online":%d,"servers":' % (int(time.time() * 1000), viewers.count)
    return head + part.stream_servers + b"}"


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
        if missing_scopes(principal.scopes, "GET", "/api/v1/ws/server"):
            raise Forbidden("the token lacks the scope nezha:inventory:read that /api/v1/ws/server needs")
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
    try:
        principal = await _principal(websocket)
    except HeronError as exc:
        await websocket.close(code=CLOSE_POLICY, reason=exc.message[:120])
        return
    await websocket.accept()
    listing: ServerListing = websocket.app.state.server_listing
    viewers = _viewers(websocket)
    viewers.count += 1
    closed = asyncio.ensure_future(_wait_for_close(websocket))
    wait = PUSH_INTERVAL_SECONDS * random.uniform(FIRST_WAIT_MIN_SHARE, 1.0)
    try:
        while not closed.done():
            payload = await frame(listing, viewers, principal)
            await websocket.send_text(payload.decode())
            await asyncio.wait({closed}, timeout=wait)
            wait = PUSH_INTERVAL_SECONDS
    except (WebSocketDisconnect, RuntimeError):
        pass  # the browser left between two frames
    finally:
        viewers.count -= 1
        closed.cancel()
