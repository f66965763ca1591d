"""What every remote operation does first: find the server, check the caller, reach its agent.

:class:`Operations` holds the family's shared parts (the agents' command channels, the audit
log) and the checks, so each operation reads the same way: :meth:`Operations.server_for`
(exists, the caller may operate it), then :meth:`Operations.link_for` (its agent is connected
and allows the capability), each failure a 4xx that names the field.
"""

from __future__ import annotations

from dataclasses import dataclass

from heron.auth.permissions import Action, Resource, allowed
from heron.auth.users import Principal
from heron.core.errors import Forbidden, NotFound
from heron.inventory.registry import HostRegistry, ServerInfo
from heron.ops.audit import AuditLog
from heron.ops.channel import AgentLink, Hub
from heron.ops.errors import AgentRefused, ServerOffline


@dataclass
class Operations:
    hosts: HostRegistry
    hub: Hub
    audit: AuditLog

    def server_for(self, principal: Principal, server_id: int, *, field: str = "server_id") -> ServerInfo:
        """The server ``server_id`` if ``principal`` may operate it (its owner or an admin)."""
        info = self.hosts.by_id(server_id)
        if info is None:
            raise NotFound(f"{field}: server {server_id} does not exist")
        if not allowed(principal, Action.UPDATE, Resource("server", owner_id=info.owner_id)):
            if not allowed(principal, Action.READ, Resource("server", owner_id=info.owner_id)):
                raise NotFound(f"{field}: server {server_id} does not exist")
            raise Forbidden(
                f"{field}: server {server_id} belongs to another user; only its owner or an admin may operate it"
            )
        return info

    def link_for(self, info: ServerInfo, capability: str | None) -> AgentLink:
        """The command channel of the server's agent, which must allow ``capability`` (None: any agent)."""
        link = self.hub.get(info.id)
        if link is None:
            raise ServerOffline(info.id, f"server {info.id} ({info.name}) is offline: its agent is not connected")
        if capability is not None and not link.allows(capability):
            raise AgentRefused(
                info.id,
                f"the agent of {info.name} does not allow {capability}; "
                f"its owner can allow it with: heron agent --allow {capability}",
            )
        return link
