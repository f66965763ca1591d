"""Before a monitor is stored: its host must resolve, and members may be kept off private networks.

Monitoring internal networks is the point, so private, loopback and link-local targets are
allowed by default; an operator can refuse them to members (``probe_private_targets_for_members
= false``), admins always may. Resolution runs on the event loop's resolver with a time
limit, so a slow DNS server cannot hold a request forever.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket

from heron.auth.users import Principal
from heron.core.errors import BadRequest, Forbidden
from heron.probes import checks
from heron.probes.monitors import MonitorInfo

RESOLVE_TIMEOUT_SECONDS = 5.0


def _private(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%")[0])
    return ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved or ip.is_unspecified


async def check_target(monitor: MonitorInfo, user: Principal, *, private_for_members: bool) -> None:
    """``BadRequest`` naming ``target`` if its host does not resolve; ``Forbidden`` for a refused private one."""
    if monitor.kind == "push":
        return
    host = checks.host_of(monitor.kind, monitor.target, monitor.options)
    if not host:
        return
    try:
        async with asyncio.timeout(RESOLVE_TIMEOUT_SECONDS):
            infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except TimeoutError:
        raise BadRequest(f"target: {host!r} could not be resolved within {RESOLVE_TIMEOUT_SECONDS:g} s") from None
    except (socket.gaierror, UnicodeError) as exc:
        raise BadRequest(f"target: {host!r} does not resolve ({exc})") from None
    if user.is_admin or private_for_members:
        return
    for info in infos:
        address = str(info[4][0])
        if _private(address):
            raise Forbidden(
                f"target: {host!r} resolves to the private address {address}; "
                "this site lets only admins monitor private networks (probe_private_targets_for_members)"
            )
