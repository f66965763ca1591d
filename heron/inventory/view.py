"""One server as the APIs show it: the stored record merged with the live state.

A server enrolled by an agent has a host block and live status; one known from pushed data
(``ident``) or a heartbeat has only what the heartbeat told, mapped onto the same keys, and a
status of zeros, as Nezha shows a server whose agent never reported.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from heron.inventory.live import LiveServer, LiveState, clean_host, empty_status
from heron.inventory.registry import ServerInfo


@dataclass(frozen=True, slots=True)
class ServerView:
    info: ServerInfo
    host: dict[str, Any]
    status: dict[str, Any]
    last_active: float | None
    online: bool

    @property
    def ipv4(self) -> str:
        return str(self.host.get("IPv4", ""))

    @property
    def ipv6(self) -> str:
        return str(self.host.get("IPv6", ""))


def _host_of(info: ServerInfo, live: LiveServer | None) -> dict[str, Any]:
    if live is not None and live.host:
        return live.host
    if info.host:
        return clean_host(info.host)
    ipv4 = ipv6 = ""
    try:
        ip = ipaddress.ip_address(info.host_ip)
        ipv4, ipv6 = (str(ip), "") if ip.version == 4 else ("", str(ip))
    except ValueError:
        pass
    return clean_host(
        {"Platform": info.os, "Arch": info.arch, "Version": info.agent_version, "IPv4": ipv4, "IPv6": ipv6}
    )


def view_of(info: ServerInfo, live: LiveServer | None, *, now: float, offline_after_seconds: float) -> ServerView:
    stored = info.last_active.timestamp() if info.last_active else None
    last = max(stored or 0.0, live.last_active if live else 0.0) or None
    if live is not None and live.last_active:
        online = live.online and now - live.last_active <= offline_after_seconds
    else:
        online = last is not None and now - last <= offline_after_seconds
    status = live.status if live is not None else empty_status()
    return ServerView(info, _host_of(info, live), status, last, online)


def server_views(
    infos: list[ServerInfo], live: LiveState, *, now: float, offline_after_seconds: float
) -> list[ServerView]:
    """Views of ``infos``, highest ``display_index`` first, then by id (Nezha's order)."""
    views = [view_of(i, live.get(i.id), now=now, offline_after_seconds=offline_after_seconds) for i in infos]
    views.sort(key=lambda v: (-v.info.display_index, v.info.id))
    return views
