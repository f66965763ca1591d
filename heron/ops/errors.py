"""Errors of remote operations, in Heron's tree (:mod:`heron.core.errors`)::

HeronError
 ├── Forbidden              403
 │    ├── AgentRefused      403  the agent's owner has not allowed this capability
 │    └── PathOutside       403  a path outside the directories the agent serves
 ├── ServerOffline          409  the server's agent is not connected
 │    └── AgentGone         409  the connection ended during the operation
 └── OpFailed               502  the agent tried and failed (status 504 for a time limit)
"""

from __future__ import annotations

from heron.core.errors import Forbidden, HeronError


class AgentRefused(Forbidden):
    """The agent does not allow what was asked (``heron agent --allow ...`` is its owner's call)."""

    code = "agent_refused"

    def __init__(self, server_id: int, message: str) -> None:
        self.server_id = server_id
        super().__init__(f"server {server_id}: {message}")


class PathOutside(Forbidden):
    code = "path_outside"


class ServerOffline(HeronError):
    """The server exists but its agent is not connected, so nothing can be sent to it."""

    status = 409
    code = "server_offline"

    def __init__(self, server_id: int, message: str = "") -> None:
        self.server_id = server_id
        super().__init__(message or f"server {server_id} is offline: its agent is not connected")


class AgentGone(ServerOffline):
    def __init__(self, server_id: int) -> None:
        super().__init__(server_id, f"server {server_id}: the agent's connection ended during the operation")


class OpFailed(HeronError):
    """The agent could not carry the operation out; ``reason`` is the agent's short word for why."""

    status = 502
    code = "op_failed"

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(message)
        if reason == "timeout":
            self.status = 504
        elif reason in ("not_found",):
            self.status = 404
        elif reason in ("bad_request",):
            self.status = 400
        elif reason in ("outside", "forbidden"):
            self.status = 403
