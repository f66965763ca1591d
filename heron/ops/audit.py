"""The audit log: every command, terminal session, file operation, NAT request, config change, MCP call.

Each record says who (user, credential form, address), which server, what (an action such as
``terminal.end`` and its target), and the outcome. The ``detail`` holds sizes, exit codes and
durations, never what was carried: command output, keystrokes and file contents are neither
audited nor logged. Writes are queued and flushed in batches by :meth:`AuditLog.flush`, so an
event on the request path costs no database round trip (a crash can lose the last second).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Select, func, insert, select

from heron.auth.users import Principal, aware
from heron.meta.db import MetaStore
from heron.meta.ops_models import AuditRecord

log = logging.getLogger(__name__)

#: Records waiting for the database; past this the oldest are dropped (and counted).
MAX_PENDING = 100_000
MAX_TARGET_CHARS = 1024


@dataclass(frozen=True, slots=True)
class Actor:
    """Who did it and from where; ``system`` for the scheduler and other background work."""

    user_id: int | None
    username: str
    via: str = ""
    ip: str = ""

    @classmethod
    def of(cls, principal: Principal, ip: str) -> Actor:
        return cls(principal.user_id or None, principal.username, principal.via, ip)


SYSTEM = Actor(None, "system", "scheduler", "")


@dataclass(frozen=True, slots=True)
class AuditFilter:
    action: str | None = None
    user_id: int | None = None
    server_id: int | None = None
    outcome: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass
class AuditLog:
    meta: MetaStore
    dropped: int = 0
    _pending: list[dict[str, Any]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(
        self,
        actor: Actor,
        action: str,
        *,
        server_id: int | None = None,
        target: str = "",
        outcome: str = "ok",
        **detail: Any,
    ) -> None:
        """Queue one record (cheap, no I/O); :meth:`flush` writes it."""
        row = {
            "at": datetime.now(UTC),
            "user_id": actor.user_id,
            "username": actor.username[:64],
            "via": actor.via[:16],
            "ip": actor.ip[:64],
            "server_id": server_id,
            "action": action[:64],
            "target": target[:MAX_TARGET_CHARS],
            "outcome": outcome[:16],
            "detail": orjson.dumps(detail, default=str).decode(),
        }
        with self._lock:
            if len(self._pending) >= MAX_PENDING:
                del self._pending[: MAX_PENDING // 10]
                self.dropped += MAX_PENDING // 10
            self._pending.append(row)
        log.debug(  # the table is the record; at info, a busy NAT domain would flood the log
            "audit",
            extra={"action": action, "user": actor.username, "server_id": server_id, "outcome": outcome},
        )

    def flush(self) -> int:
        """Write queued records in one transaction; returns how many."""
        with self._lock:
            rows, self._pending = self._pending, []
        if not rows:
            return 0
        try:
            with self.meta.session() as s:
                s.execute(insert(AuditRecord), rows)
        except Exception:
            with self._lock:
                self._pending[:0] = rows
            raise
        return len(rows)

    @staticmethod
    def _where(q: Select[Any], f: AuditFilter) -> Select[Any]:
        if f.action:
            q = (
                q.where(AuditRecord.action.startswith(f.action))
                if f.action.endswith(".")
                else q.where(AuditRecord.action == f.action)
            )
        if f.user_id is not None:
            q = q.where(AuditRecord.user_id == f.user_id)
        if f.server_id is not None:
            q = q.where(AuditRecord.server_id == f.server_id)
        if f.outcome:
            q = q.where(AuditRecord.outcome == f.outcome)
        if f.since is not None:
            q = q.where(AuditRecord.at >= f.since)
        if f.until is not None:
            q = q.where(AuditRecord.at < f.until)
        return q

    def listing(self, f: AuditFilter, *, offset: int, limit: int) -> list[dict[str, Any]]:
        """Records matching ``f``, newest first (queued records are written first)."""
        self.flush()
        with self.meta.session() as s:
            q = self._where(select(AuditRecord), f).order_by(AuditRecord.id.desc()).offset(offset).limit(limit)
            return [_out(r) for r in s.scalars(q)]

    def count(self, f: AuditFilter) -> int:
        with self.meta.session() as s:
            return int(s.scalar(self._where(select(func.count()).select_from(AuditRecord), f)) or 0)


def _out(r: AuditRecord) -> dict[str, Any]:
    return {
        "id": r.id,
        "at": aware(r.at).isoformat(),
        "user_id": r.user_id,
        "username": r.username,
        "via": r.via,
        "ip": r.ip,
        "server_id": r.server_id,
        "action": r.action,
        "target": r.target,
        "outcome": r.outcome,
        "detail": orjson.loads(r.detail or "{}"),
    }
