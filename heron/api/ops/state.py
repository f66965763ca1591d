"""The family's services, built once per application and reached through ``app.state.ops``."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from starlette.requests import HTTPConnection

from heron.api.services import Services
from heron.ops.audit import Actor, AuditLog
from heron.ops.channel import Hub
from heron.ops.cron import CronService
from heron.ops.ddns import DdnsService
from heron.ops.nat import NatDirectory
from heron.ops.service import Operations
from heron.ops.sessions import SessionTable

log = logging.getLogger(__name__)

#: How often queued audit records and cron runs are written.
FLUSH_INTERVAL_SECONDS = 0.5


@dataclass
class OpsState:
    ops: Operations
    cron: CronService
    nat: NatDirectory
    ddns: DdnsService
    sessions: SessionTable
    idle_seconds: float = 900.0
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)

    async def start(self) -> None:
        await asyncio.to_thread(self.nat.reload)
        self.tasks = [
            asyncio.create_task(self.cron.schedule_forever()),
            asyncio.create_task(self._flush_forever()),
        ]

    async def run_for_alert(self, task_id: int, server_id: int | None, rule: Any, state: str) -> Any:
        """Run a rule's trigger task (``fail_trigger_tasks`` on firing, ``recover_trigger_tasks`` on
        resolving), audited as the rule's doing."""
        actor = Actor(None, f"alert rule {rule.id}", f"alert {state}", "")
        return await self.cron.run_task(task_id, trigger="alert", server_id=server_id, actor=actor)

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.to_thread(self.flush)

    def flush(self) -> None:
        for part in (self.ops.audit.flush, self.cron.flush):
            try:
                part()
            except Exception:
                log.exception("writing audit records or cron runs failed; will retry")

    async def _flush_forever(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_INTERVAL_SECONDS)
            await asyncio.to_thread(self.flush)


def build_ops(svc: Services) -> OpsState:
    """The family's services over the application's."""
    s = svc.settings
    ops = Operations(svc.hosts, Hub(), AuditLog(svc.meta))
    reserved = {h for h in s.ops_reserved_hosts.split(",") if h.strip()}
    reserved.add(s.listen_host_port()[0])
    return OpsState(
        ops=ops,
        cron=CronService(svc.meta, ops, command_timeout_seconds=s.ops_command_timeout_seconds),
        nat=NatDirectory(svc.meta, ops, reserved_hosts=reserved),
        ddns=DdnsService(svc.meta, ops, allow_private_targets=s.ops_ddns_private_targets),
        sessions=SessionTable(attach_seconds=s.ops_session_attach_seconds),
        idle_seconds=s.ops_terminal_idle_seconds,
    )


def ops_state(conn: HTTPConnection) -> OpsState:
    state: OpsState = conn.app.state.ops
    return state


def actor_of(request: Request | HTTPConnection, principal: Any) -> Actor:
    """Who is asking, for the audit log (the address as :func:`heron.api.deps.client_ip` sees it)."""
    from heron.api.deps import services

    header = services(request).settings.real_ip_header  # type: ignore[arg-type]
    ip = ""
    if header:
        ip = request.headers.get(header, "").split(",")[0].strip()
    if not ip and request.client:
        ip = request.client.host
    return Actor.of(principal, ip)
