"""The servers table: hosts that register by pushing data, and hosts enrolled by their agent.

Every push request may name hosts (an ``ident`` tag, an Open-Falcon ``endpoint``, a
heartbeat). Writing metadata per point would cost more than the point, so sightings are
merged in memory and flushed in one transaction about once a second: a new name becomes a
server, a known one gets its ``last_active`` moved forward. An agent's status reports are
sightings too; its connection enrols it (:meth:`HostRegistry.enroll`), once per connection.
"""

from __future__ import annotations

import logging
import secrets
import threading
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, cast

import orjson
from sqlalchemy import Row, Table, bindparam, insert, select, update

from heron.core.errors import Forbidden
from heron.meta.db import MetaStore
from heron.meta.models import Server

log = logging.getLogger(__name__)

#: Longest host name kept; longer idents are cut so one bad client cannot bloat the table.
MAX_NAME_CHARS = 255


@dataclass(slots=True)
class HostMeta:
    """What a heartbeat tells about a host (categraf's ``/v1/n9e/heartbeat`` body)."""

    host_ip: str = ""
    os: str = ""
    arch: str = ""
    cpu_num: int = 0
    agent_version: str = ""
    clock_offset_ms: int = 0
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ServerInfo:
    id: int
    name: str
    source: str
    created_at: datetime
    last_active: datetime | None
    host_ip: str
    os: str
    arch: str
    cpu_num: int
    agent_version: str
    clock_offset_ms: int
    labels: dict[str, str]
    owner_id: int | None = None
    agent_id: str | None = None
    note: str = ""
    public_note: str = ""
    display_index: int = 0
    hidden_for_guest: bool = False
    host: dict[str, Any] = field(default_factory=dict)


#: What a per-server agent secret starts with: the agent endpoint tells it from a user's token by it.
SERVER_SECRET_PREFIX = "hsrv_"


def new_server_secret() -> str:
    """A server's agent secret (256 random bits); only its SHA-256 is stored."""
    return SERVER_SECRET_PREFIX + secrets.token_urlsafe(32)


class HostRegistry:
    """Buffers sightings; :meth:`flush` writes them (called by a background task)."""

    def __init__(self, meta: MetaStore) -> None:
        self._meta = meta
        self._infos: dict[int, tuple[tuple[Any, ...], ServerInfo]] = {}  # what list() read last
        self._lock = threading.Lock()
        self._seen: dict[str, tuple[float, str]] = {}
        self._meta_updates: dict[str, HostMeta] = {}

    def seen(self, names: list[str], *, at: float, source: str = "ident") -> None:
        """Record that ``names`` sent data at Unix time ``at``; cheap, no I/O."""
        with self._lock:
            for raw in names:
                name = raw.strip()[:MAX_NAME_CHARS]
                if not name:
                    continue
                previous = self._seen.get(name)
                if previous is None or previous[0] < at:
                    self._seen[name] = (at, source)

    def heartbeat(self, name: str, meta: HostMeta, *, at: float) -> None:
        self.seen([name], at=at, source="heartbeat")
        with self._lock:
            self._meta_updates[name.strip()[:MAX_NAME_CHARS]] = meta

    def discard(self, names: list[str]) -> None:
        """Drop buffered sightings of ``names`` (a server renamed or deleted must not come back by its old name)."""
        with self._lock:
            for name in names:
                self._seen.pop(name, None)
                self._meta_updates.pop(name, None)

    def pending(self) -> int:
        with self._lock:
            return len(self._seen)

    def flush(self) -> int:
        """Write buffered sightings in one transaction; returns how many hosts were touched."""
        with self._lock:
            seen, self._seen = self._seen, {}
            updates, self._meta_updates = self._meta_updates, {}
        if not seen:
            return 0
        try:
            changed = self._write(seen, updates)
        except Exception:
            # Keep the sightings for the next flush rather than lose them to a passing error.
            with self._lock:
                for name, value in seen.items():
                    self._seen.setdefault(name, value)
                for name, meta in updates.items():
                    self._meta_updates.setdefault(name, meta)
            raise
        if changed:
            self._meta.touched(Server.__tablename__)
        return len(seen)

    def _write(self, seen: dict[str, tuple[float, str]], updates: dict[str, HostMeta]) -> bool:
        """One transaction of plain statements; True if it added servers or changed their meta.

        Plain statements rather than ORM objects: loading each seen server as an object made
        about 30 objects in reference cycles per host per second, and with 2,000 agents the
        collections that freed them stopped the event loop for up to 0.1 s (fleet benchmark).
        """
        table = cast(Table, Server.__table__)
        by_name = table.c.name == bindparam("b_name")
        with self._meta.session() as s:
            query = select(table.c.name, table.c.last_active).where(table.c.name.in_(list(seen)))
            stored = dict(s.execute(query).all())
            added, moved = [], []
            for name, (at, source) in seen.items():
                when = datetime.fromtimestamp(at, UTC)
                if name not in stored:
                    added.append({"name": name, "source": source, "last_active": when})
                elif stored[name] is None or _aware(stored[name]) < when:
                    moved.append({"b_name": name, "b_at": when})
            if added:
                s.execute(insert(table), added)
            if moved:
                s.execute(update(table).where(by_name).values(last_active=bindparam("b_at")), moved)
            metas = [
                {
                    "b_name": name,
                    "host_ip": meta.host_ip,
                    "os": meta.os,
                    "arch": meta.arch,
                    "cpu_num": meta.cpu_num,
                    "agent_version": meta.agent_version,
                    "clock_offset_ms": meta.clock_offset_ms,
                    "labels": orjson.dumps(meta.labels).decode(),
                }
                for name, meta in updates.items()
                if name in seen
            ]
            if metas:
                columns = [k for k in metas[0] if k != "b_name"]
                s.execute(
                    update(table).where(by_name).values({c: bindparam(c) for c in columns}),
                    metas,
                )
        return bool(added or metas)

    def enroll(
        self, *, agent_id: str, name: str, owner_id: int, may_adopt_any: bool, host: dict[str, Any]
    ) -> ServerInfo:
        """The server of ``agent_id``, created for ``owner_id`` on its first connection.

        A known agent keeps its record (and its name, which users may have changed) and gets
        its host block updated. A new agent adopts a server of the same name that no agent
        holds yet (the host pushed data before the agent ran) when that server has no owner,
        is the caller's, or the caller is an admin (``may_adopt_any``); otherwise its name is
        made unique with the start of its id. An agent id that belongs to another user's server
        is refused unless the caller is an admin: a token must not take over someone's machine.
        """
        name = name.strip()[:MAX_NAME_CHARS] or agent_id[:MAX_NAME_CHARS]
        host_json = orjson.dumps(host).decode()
        with self._meta.session() as s:
            srv = s.scalar(select(Server).where(Server.agent_id == agent_id))
            if srv is not None and srv.owner_id not in (None, owner_id) and not may_adopt_any:
                raise Forbidden(f"agent id {agent_id!r} belongs to a server of another user")
            if srv is None:
                same = s.scalar(select(Server).where(Server.name == name))
                adoptable = (
                    same is not None
                    and same.agent_id is None
                    and (same.owner_id is None or same.owner_id == owner_id or may_adopt_any)
                )
                if same is not None and adoptable:
                    srv = same
                    srv.agent_id = agent_id
                    if srv.owner_id is None:
                        srv.owner_id = owner_id
                else:
                    if same is not None:
                        name = f"{name[: MAX_NAME_CHARS - 9]}-{agent_id[:8]}"
                    srv = Server(name=name, source="agent", agent_id=agent_id, owner_id=owner_id)
                    s.add(srv)
            srv.host_info = host_json
            srv.last_active = datetime.now(UTC)
            s.flush()
            return _info(srv)

    def secret_known(self, secret_hash: str) -> bool:
        with self._meta.session() as s:
            return s.scalar(select(Server.id).where(Server.secret_hash == secret_hash)) is not None

    def connect_by_secret(self, *, secret_hash: str, agent_id: str, host: dict[str, Any]) -> ServerInfo:
        """The server whose agent secret hashes to ``secret_hash``, now held by ``agent_id``.

        The first agent to connect with a secret binds the server to its id; another agent
        with the same secret is refused (a copied secret must not make two machines one).
        """
        with self._meta.session() as s:
            srv = s.scalar(select(Server).where(Server.secret_hash == secret_hash))
            if srv is None:
                raise Forbidden("no server has this agent secret (it may have been replaced)")
            if srv.agent_id is not None and srv.agent_id != agent_id:
                raise Forbidden("this secret belongs to another agent's server; create a server for this machine")
            if srv.agent_id is None:
                holder = s.scalar(select(Server.id).where(Server.agent_id == agent_id, Server.id != srv.id))
                if holder is not None:
                    raise Forbidden(f"agent id {agent_id!r} already reports as server {holder}")
                srv.agent_id = agent_id
            srv.host_info = orjson.dumps(host).decode()
            srv.last_active = datetime.now(UTC)
            s.flush()
            return _info(srv)

    def list(self) -> list[ServerInfo]:
        """Every server, by name.

        The server list reads them every second, so: plain rows, not ORM objects (2,000
        servers: 32 ms instead of 66), and a row equal to the last one read for its server
        but for ``last_active`` (moved by every sighting) keeps its :class:`ServerInfo`
        rather than decoding its JSON columns again.
        """
        table = cast(Table, Server.__table__)
        at = list(table.c.keys()).index("last_active")
        known = self._infos
        fresh: dict[int, tuple[tuple[Any, ...], ServerInfo]] = {}
        out = []
        with self._meta.session() as s:
            for row in s.execute(select(table).order_by(table.c.name)):
                key = (*row[:at], *row[at + 1 :])
                cached = known.get(row.id)
                if cached is not None and cached[0] == key:
                    info = cached[1]
                    last = _aware(row.last_active) if row.last_active else None
                    if info.last_active != last:
                        info = replace(info, last_active=last)
                else:
                    info = _info(row)
                fresh[row.id] = (key, info)
                out.append(info)
        self._infos = fresh
        return out

    def by_id(self, server_id: int) -> ServerInfo | None:
        with self._meta.session() as s:
            srv = s.get(Server, server_id)
            return _info(srv) if srv is not None else None

    def get(self, name: str) -> ServerInfo | None:
        with self._meta.session() as s:
            srv = s.scalar(select(Server).where(Server.name == name))
            return _info(srv) if srv is not None else None


def _aware(value: datetime) -> datetime:
    """SQLite returns naive datetimes; Heron stores UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _info(srv: Server | Row[Any]) -> ServerInfo:
    """A server record as the layers above see it, from an ORM object or a row of the table."""
    return ServerInfo(
        id=srv.id,
        name=srv.name,
        source=srv.source,
        created_at=_aware(srv.created_at),
        last_active=_aware(srv.last_active) if srv.last_active else None,
        host_ip=srv.host_ip,
        os=srv.os,
        arch=srv.arch,
        cpu_num=srv.cpu_num,
        agent_version=srv.agent_version,
        clock_offset_ms=srv.clock_offset_ms,
        labels=orjson.loads(srv.labels or "{}"),
        owner_id=srv.owner_id,
        agent_id=srv.agent_id,
        note=srv.note or "",
        public_note=srv.public_note or "",
        display_index=srv.display_index or 0,
        hidden_for_guest=bool(srv.hidden_for_guest),
        host=orjson.loads(srv.host_info or "{}"),
    )
