"""The agent endpoint's hook into remote operations: a command channel per connection, DDNS on connect.

:mod:`heron.api.inventory.agent_ws` calls :func:`agent_connected` after its welcome and hands
every later message to the returned link first (:meth:`heron.ops.channel.AgentLink.feed`),
then :func:`agent_disconnected` when the connection ends.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import WebSocket

from heron.api.ops.state import ops_state
from heron.ops.channel import AgentLink

CAPABILITIES = frozenset({"exec", "terminal", "files", "nat"})


def agent_connected(
    websocket: WebSocket,
    server_id: int,
    hello: dict[str, Any],
    host: dict[str, Any],
    *,
    send: Callable[[str | bytes], Awaitable[None]],
) -> AgentLink | None:
    """Register the agent's command channel (None when it offers none) and check its DNS records.

    ``send`` writes one frame on the agent's connection, serialised with every other sender's.
    """
    state = ops_state(websocket)
    header = websocket.app.state.services.settings.real_ip_header
    peer = websocket.headers.get(header, "").split(",")[0].strip() if header else ""
    peer = peer or (websocket.client.host if websocket.client else "")
    state.ddns.address_seen(server_id, host, peer)
    offer = hello.get("ops")
    if not isinstance(offer, dict):
        return None
    raw = offer.get("allow")
    allow = (
        frozenset(a for a in raw if isinstance(a, str) and a in CAPABILITIES) if isinstance(raw, list) else frozenset()
    )
    raw_version = offer.get("version")
    version = raw_version if isinstance(raw_version, int) else 1

    link = AgentLink(server_id, send, allow=allow, version=version)
    state.ops.hub.attach(link)
    return link


def agent_disconnected(websocket: WebSocket, link: AgentLink | None) -> None:
    if link is not None:
        ops_state(websocket).ops.hub.detach(link)
