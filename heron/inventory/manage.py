"""Changing the inventory: edit and delete servers, move them to another owner, server groups.

Every function takes the caller's :class:`Principal` and asks :func:`heron.auth.permissions.require`
about each record before changing anything, so a batch is all or nothing: one server the
caller may not touch refuses the whole request. Ids that do not exist are a ``404`` naming them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from heron.auth.permissions import Action, Resource, require
from heron.auth.users import Principal
from heron.core.errors import BadRequest, NotFound
from heron.inventory.registry import MAX_NAME_CHARS, ServerInfo, _info
from heron.meta.db import MetaStore
from heron.meta.models import Server, ServerGroup, ServerGroupMember, User

#: Most ids one batch request may name.
MAX_BATCH = 1000


@dataclass(frozen=True, slots=True)
class ServerChanges:
    """The fields of ``PATCH /api/v1/server/{id}``; ``None`` leaves a field as it is."""

    name: str | None = None
    note: str | None = None
    public_note: str | None = None
    display_index: int | None = None
    hide_for_guest: bool | None = None
    server_groups: list[int] | None = None


@dataclass(frozen=True, slots=True)
class GroupInfo:
    id: int
    name: str
    owner_id: int | None
    created_at: datetime
    updated_at: datetime
    servers: list[int]


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _server_resource(srv: Server) -> Resource:
    return Resource("server", owner_id=srv.owner_id, hidden_for_guest=bool(srv.hidden_for_guest))


def _group_resource(group: ServerGroup) -> Resource:
    return Resource("server_group", owner_id=group.owner_id)


def _unique(ids: Iterable[int]) -> list[int]:
    found = list(dict.fromkeys(ids))
    if len(found) > MAX_BATCH:
        raise BadRequest(f"at most {MAX_BATCH} ids per request, got {len(found)}")
    return found


def _servers(s: Session, ids: list[int], principal: Principal, action: Action) -> list[Server]:
    rows = {srv.id: srv for srv in s.scalars(select(Server).where(Server.id.in_(ids)))} if ids else {}
    missing = [i for i in ids if i not in rows]
    if missing:
        raise NotFound(f"no server with id {', '.join(map(str, missing))}")
    for srv in rows.values():
        require(principal, action, _server_resource(srv))
    return [rows[i] for i in ids]


def _groups(s: Session, ids: list[int], principal: Principal, action: Action) -> list[ServerGroup]:
    rows = {g.id: g for g in s.scalars(select(ServerGroup).where(ServerGroup.id.in_(ids)))} if ids else {}
    missing = [i for i in ids if i not in rows]
    if missing:
        raise NotFound(f"no server group with id {', '.join(map(str, missing))}")
    for group in rows.values():
        require(principal, action, _group_resource(group))
    return [rows[i] for i in ids]


def _clean_name(name: str, what: str) -> str:
    name = name.strip()
    if not name:
        raise BadRequest(f"a {what} needs a name")
    if len(name) > MAX_NAME_CHARS:
        raise BadRequest(f"a {what} name has at most {MAX_NAME_CHARS} characters")
    return name


class Inventory:
    """Changes to servers and server groups, checked against the caller's rights."""

    def __init__(self, meta: MetaStore) -> None:
        self._meta = meta

    # -- servers ---------------------------------------------------------------------------

    def update_server(self, principal: Principal, server_id: int, changes: ServerChanges) -> tuple[str, ServerInfo]:
        """The server's name before the change, and the server after it."""
        with self._meta.session() as s:
            (srv,) = _servers(s, [server_id], principal, Action.UPDATE)
            old_name = srv.name
            if changes.name is not None:
                name = _clean_name(changes.name, "server")
                taken = s.scalar(select(Server.id).where(Server.name == name, Server.id != srv.id))
                if taken is not None:
                    raise BadRequest(f"another server is already named {name!r}")
                srv.name = name
            if changes.note is not None:
                srv.note = changes.note
            if changes.public_note is not None:
                srv.public_note = changes.public_note
            if changes.display_index is not None:
                srv.display_index = changes.display_index
            if changes.hide_for_guest is not None:
                srv.hidden_for_guest = changes.hide_for_guest
            if changes.server_groups is not None:
                groups = _groups(s, _unique(changes.server_groups), principal, Action.UPDATE)
                s.execute(delete(ServerGroupMember).where(ServerGroupMember.server_id == srv.id))
                s.add_all(ServerGroupMember(group_id=g.id, server_id=srv.id) for g in groups)
            s.flush()
            return old_name, _info(srv)

    def create_server(self, principal: Principal, changes: ServerChanges, *, secret_hash: str) -> ServerInfo:
        """A server the caller owns, before any agent reported; an agent connects to it with
        the secret whose hash is ``secret_hash``."""
        require(principal, Action.CREATE, Resource("server", owner_id=None))
        name = _clean_name(changes.name or "", "server")
        with self._meta.session() as s:
            if s.scalar(select(Server.id).where(Server.name == name)) is not None:
                raise BadRequest(f"a server named {name!r} exists already")
            srv = Server(
                name=name,
                source="api",
                owner_id=principal.user_id,
                secret_hash=secret_hash,
                note=changes.note or "",
                public_note=changes.public_note or "",
                display_index=changes.display_index or 0,
                hidden_for_guest=bool(changes.hide_for_guest),
            )
            s.add(srv)
            s.flush()
            if changes.server_groups:
                groups = _groups(s, _unique(changes.server_groups), principal, Action.UPDATE)
                s.add_all(ServerGroupMember(group_id=g.id, server_id=srv.id) for g in groups)
            return _info(srv)

    def set_secret(self, principal: Principal, server_id: int, *, secret_hash: str) -> ServerInfo:
        """Give the server a new agent secret (the old one stops working)."""
        with self._meta.session() as s:
            (srv,) = _servers(s, [server_id], principal, Action.UPDATE)
            srv.secret_hash = secret_hash
            s.flush()
            return _info(srv)

    def delete_servers(self, principal: Principal, ids: Iterable[int]) -> list[ServerInfo]:
        """Delete the servers (their history in the TSDB stays); returns what they were."""
        wanted = _unique(ids)
        with self._meta.session() as s:
            servers = _servers(s, wanted, principal, Action.DELETE)
            gone = [_info(srv) for srv in servers]
            s.execute(delete(ServerGroupMember).where(ServerGroupMember.server_id.in_(wanted)))
            for srv in servers:
                s.delete(srv)
        return gone

    def move_servers(self, principal: Principal, ids: Iterable[int], to_user: int) -> list[int]:
        """Give the servers to user ``to_user`` (admins only: the route requires it too)."""
        wanted = _unique(ids)
        with self._meta.session() as s:
            if s.get(User, to_user) is None:
                raise NotFound(f"no user with id {to_user}")
            for srv in _servers(s, wanted, principal, Action.UPDATE):
                srv.owner_id = to_user
        return wanted

    # -- server groups ---------------------------------------------------------------------

    def list_groups(self, principal: Principal) -> list[GroupInfo]:
        """Every group for admins, one's own for members, by id."""
        with self._meta.session() as s:
            query = select(ServerGroup).order_by(ServerGroup.id)
            if not principal.is_admin:
                query = query.where(ServerGroup.owner_id == principal.user_id)
            groups = list(s.scalars(query))
            return self._infos(s, groups)

    def create_group(self, principal: Principal, name: str, servers: list[int]) -> GroupInfo:
        require(principal, Action.CREATE, Resource("server_group"))
        with self._meta.session() as s:
            members = _servers(s, _unique(servers), principal, Action.UPDATE)
            group = ServerGroup(name=_clean_name(name, "server group"), owner_id=principal.user_id)
            s.add(group)
            s.flush()
            s.add_all(ServerGroupMember(group_id=group.id, server_id=srv.id) for srv in members)
            s.flush()
            return self._infos(s, [group])[0]

    def update_group(
        self, principal: Principal, group_id: int, name: str | None, servers: list[int] | None
    ) -> GroupInfo:
        with self._meta.session() as s:
            (group,) = _groups(s, [group_id], principal, Action.UPDATE)
            if name is not None:
                group.name = _clean_name(name, "server group")
            if servers is not None:
                members = _servers(s, _unique(servers), principal, Action.UPDATE)
                s.execute(delete(ServerGroupMember).where(ServerGroupMember.group_id == group.id))
                s.add_all(ServerGroupMember(group_id=group.id, server_id=srv.id) for srv in members)
            group.updated_at = datetime.now(UTC)
            s.flush()
            return self._infos(s, [group])[0]

    def delete_groups(self, principal: Principal, ids: Iterable[int]) -> list[int]:
        wanted = _unique(ids)
        with self._meta.session() as s:
            groups = _groups(s, wanted, principal, Action.DELETE)
            s.execute(delete(ServerGroupMember).where(ServerGroupMember.group_id.in_(wanted)))
            for group in groups:
                s.delete(group)
        return wanted

    def groups_of_servers(self) -> dict[int, list[int]]:
        """Group ids of every server that is in a group."""
        with self._meta.session() as s:
            found: dict[int, list[int]] = {}
            for group_id, server_id in s.execute(
                select(ServerGroupMember.group_id, ServerGroupMember.server_id).order_by(ServerGroupMember.group_id)
            ):
                found.setdefault(server_id, []).append(group_id)
            return found

    @staticmethod
    def _infos(s: Session, groups: list[ServerGroup]) -> list[GroupInfo]:
        ids = [g.id for g in groups]
        members: dict[int, list[int]] = {i: [] for i in ids}
        if ids:
            rows = s.execute(
                select(ServerGroupMember.group_id, ServerGroupMember.server_id)
                .where(ServerGroupMember.group_id.in_(ids))
                .order_by(ServerGroupMember.server_id)
            )
            for group_id, server_id in rows:
                members[group_id].append(server_id)
        return [
            GroupInfo(g.id, g.name, g.owner_id, _aware(g.created_at), _aware(g.updated_at), members[g.id])
            for g in groups
        ]
