"""Nightingale's teams and business groups: who sees (``ro``) and manages (``rw``) which hosts and rules.

A business group grants rights to user groups (teams), each with ``ro`` or ``rw``; a user has
the best right of the teams they are in. Admins have ``rw`` everywhere. Servers join business
groups through ``PUT /api/n9e/targets/bgids``; rules and mutes are created inside one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from heron.auth.permissions import Action, Resource, require
from heron.auth.users import Principal
from heron.core.errors import BadRequest, Forbidden, NotFound
from heron.meta.alert_models import BusiGroup, BusiGroupMember, ServerBusiGroup, UserGroup, UserGroupMember
from heron.meta.db import MetaStore
from heron.meta.models import Server, User

PERMS = ("ro", "rw")


def _unix(value: datetime | None) -> int:
    if value is None:
        return 0
    return int((value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp())


@dataclass(frozen=True, slots=True)
class Member:
    user_group_id: int
    perm_flag: str


def parse_members(raw: Any, *, required: bool) -> list[Member]:
    if raw is None and not required:
        return []
    if not isinstance(raw, list) or (required and not raw):
        raise BadRequest("members empty")
    out = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise BadRequest(f"members[{i}]: expected an object with user_group_id and perm_flag")
        gid, perm = item.get("user_group_id"), item.get("perm_flag")
        if isinstance(gid, bool) or not isinstance(gid, int) or gid < 1:
            raise BadRequest(f"members[{i}].user_group_id: expected a user group id, got {gid!r}")
        if perm not in PERMS:
            raise BadRequest(f"members[{i}].perm_flag: expected 'ro' or 'rw', got {perm!r}")
        out.append(Member(gid, str(perm)))
    if required and not any(m.perm_flag == "rw" for m in out):
        raise BadRequest("At least one team have rw permission")
    return out


class BusiGroups:
    def __init__(self, meta: MetaStore) -> None:
        self._meta = meta

    # -- rights ----------------------------------------------------------------------------

    def perms(self, principal: Principal) -> dict[int, str]:
        """The caller's right on each business group they may see (admins: every group, rw)."""
        with self._meta.session() as s:
            if principal.is_admin:
                return {gid: "rw" for gid in s.scalars(select(BusiGroup.id))}
            rows = s.execute(
                select(BusiGroupMember.busi_group_id, BusiGroupMember.perm_flag)
                .join(UserGroupMember, UserGroupMember.group_id == BusiGroupMember.user_group_id)
                .where(UserGroupMember.user_id == principal.user_id)
            )
            found: dict[int, str] = {}
            for gid, perm in rows:
                if found.get(gid) != "rw":
                    found[gid] = perm
            return found

    def require(self, principal: Principal, busi_group_id: int, perm: str) -> None:
        """Return when the caller has ``perm`` on the group; 404 if it does not exist, 403 otherwise."""
        with self._meta.session() as s:
            if s.get(BusiGroup, busi_group_id) is None:
                raise NotFound(f"no business group with id {busi_group_id}")
        have = self.perms(principal).get(busi_group_id)
        if have is None or (perm == "rw" and have != "rw"):
            raise Forbidden(f"'{principal.username}' has no {perm} right on business group {busi_group_id}")

    # -- user groups -----------------------------------------------------------------------

    def user_groups(self, principal: Principal) -> list[dict[str, Any]]:
        with self._meta.session() as s:
            query = select(UserGroup).order_by(UserGroup.id)
            if not principal.is_admin:
                mine = select(UserGroupMember.group_id).where(UserGroupMember.user_id == principal.user_id)
                query = query.where(UserGroup.id.in_(mine))
            groups = list(s.scalars(query))
            return [self._user_group(s, g) for g in groups]

    def _user_group(self, s: Session, g: UserGroup) -> dict[str, Any]:
        users = s.execute(
            select(User.id, User.username, User.nickname)
            .join(UserGroupMember, UserGroupMember.user_id == User.id)
            .where(UserGroupMember.group_id == g.id)
            .order_by(User.id)
        )
        return {
            "id": g.id, "name": g.name, "note": g.note,
            "create_at": _unix(g.created_at), "create_by": g.created_by,
            "update_at": _unix(g.updated_at), "update_by": g.updated_by,
            "users": [{"id": i, "username": u, "nickname": n} for i, u, n in users],
        }  # fmt: skip

    def add_user_group(self, principal: Principal, name: str, note: str) -> int:
        name = name.strip()
        if not name or len(name) > 255:
            raise BadRequest("name: a user group needs a name of 1 to 255 characters")
        with self._meta.session() as s:
            if s.scalar(select(UserGroup.id).where(UserGroup.name == name)) is not None:
                raise BadRequest(f"UserGroup {name} already exists")
            g = UserGroup(name=name, note=note, created_by=principal.username, updated_by=principal.username)
            s.add(g)
            s.flush()
            s.add(UserGroupMember(group_id=g.id, user_id=principal.user_id))
            return g.id

    def _may_manage_user_group(self, s: Session, principal: Principal, group_id: int) -> UserGroup:
        g = s.get(UserGroup, group_id)
        if g is None:
            raise NotFound(f"no user group with id {group_id}")
        if principal.is_admin or g.created_by == principal.username:
            return g
        member = s.scalar(
            select(UserGroupMember.user_id).where(
                UserGroupMember.group_id == group_id, UserGroupMember.user_id == principal.user_id
            )
        )
        if member is None:
            raise Forbidden(f"'{principal.username}' is not a member of user group {group_id}")
        return g

    def change_members(self, principal: Principal, group_id: int, user_ids: Sequence[int], *, add: bool) -> None:
        with self._meta.session() as s:
            g = self._may_manage_user_group(s, principal, group_id)
            known = set(s.scalars(select(User.id).where(User.id.in_(list(user_ids)))))
            missing = [u for u in user_ids if u not in known]
            if missing:
                raise NotFound(f"ids: no user with id {', '.join(map(str, missing))}")
            current = set(s.scalars(select(UserGroupMember.user_id).where(UserGroupMember.group_id == g.id)))
            if add:
                s.add_all(
                    UserGroupMember(group_id=g.id, user_id=u) for u in dict.fromkeys(user_ids) if u not in current
                )
            else:
                s.execute(
                    delete(UserGroupMember).where(
                        UserGroupMember.group_id == g.id, UserGroupMember.user_id.in_(list(user_ids))
                    )
                )
            g.updated_by, g.updated_at = principal.username, datetime.now(UTC)

    def delete_user_group(self, principal: Principal, group_id: int) -> None:
        with self._meta.session() as s:
            g = self._may_manage_user_group(s, principal, group_id)
            s.delete(g)

    # -- business groups -------------------------------------------------------------------

    def _busi(self, s: Session, g: BusiGroup, *, members: bool) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": g.id, "name": g.name, "label_enable": g.label_enable, "label_value": g.label_value,
            "create_at": _unix(g.created_at), "create_by": g.created_by,
            "update_at": _unix(g.updated_at), "update_by": g.updated_by, "update_by_nickname": g.updated_by,
            "user_groups": None,
        }  # fmt: skip
        if members:
            rows = s.execute(
                select(UserGroup, BusiGroupMember.perm_flag)
                .join(BusiGroupMember, BusiGroupMember.user_group_id == UserGroup.id)
                .where(BusiGroupMember.busi_group_id == g.id)
                .order_by(UserGroup.id)
            )
            out["user_groups"] = [
                {"user_group": {k: v for k, v in self._user_group(s, ug).items() if k != "users"}, "perm_flag": perm}
                for ug, perm in rows
            ]
        return out

    def visible(self, principal: Principal, *, query: str = "", limit: int = 5000) -> list[dict[str, Any]]:
        perms = self.perms(principal)
        with self._meta.session() as s:
            stmt = select(BusiGroup).where(BusiGroup.id.in_(list(perms))).order_by(BusiGroup.name)
            if query:
                stmt = stmt.where(BusiGroup.name.contains(query, autoescape=True))
            return [self._busi(s, g, members=False) for g in s.scalars(stmt.limit(limit))]

    def get(self, principal: Principal, busi_group_id: int) -> dict[str, Any]:
        self.require(principal, busi_group_id, "ro")
        with self._meta.session() as s:
            g = s.get(BusiGroup, busi_group_id)
            assert g is not None
            return self._busi(s, g, members=True)

    def name_of(self, ids: Sequence[int]) -> dict[int, str]:
        with self._meta.session() as s:
            return dict(s.execute(select(BusiGroup.id, BusiGroup.name).where(BusiGroup.id.in_(list(ids)))).all())

    def add(self, principal: Principal, body: Mapping[str, Any]) -> int:
        name = body.get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > 255:
            raise BadRequest("name: a business group needs a name of 1 to 255 characters")
        members = parse_members(body.get("members"), required=True)
        label_enable = body.get("label_enable", 0)
        if label_enable not in (0, 1):
            raise BadRequest(f"label_enable: expected 0 or 1, got {label_enable!r}")
        label_value = body.get("label_value") or ""
        if not isinstance(label_value, str):
            raise BadRequest("label_value: expected a string")
        with self._meta.session() as s:
            if s.scalar(select(BusiGroup.id).where(BusiGroup.name == name.strip())) is not None:
                raise BadRequest(f"BusiGroup {name.strip()} already exists")
            known = set(s.scalars(select(UserGroup.id).where(UserGroup.id.in_([m.user_group_id for m in members]))))
            missing = [m.user_group_id for m in members if m.user_group_id not in known]
            if missing:
                raise NotFound(f"members: no user group with id {', '.join(map(str, missing))}")
            g = BusiGroup(
                name=name.strip(), label_enable=label_enable, label_value=label_value,
                created_by=principal.username, updated_by=principal.username,
            )  # fmt: skip
            s.add(g)
            s.flush()
            s.add_all(
                BusiGroupMember(busi_group_id=g.id, user_group_id=m.user_group_id, perm_flag=m.perm_flag)
                for m in members
            )
            return g.id

    def update(self, principal: Principal, busi_group_id: int, body: Mapping[str, Any]) -> None:
        self.require(principal, busi_group_id, "rw")
        with self._meta.session() as s:
            g = s.get(BusiGroup, busi_group_id)
            assert g is not None
            name = body.get("name", g.name)
            if not isinstance(name, str) or not name.strip() or len(name) > 255:
                raise BadRequest("name: a business group needs a name of 1 to 255 characters")
            taken = s.scalar(select(BusiGroup.id).where(BusiGroup.name == name.strip(), BusiGroup.id != g.id))
            if taken is not None:
                raise BadRequest(f"BusiGroup {name.strip()} already exists")
            g.name = name.strip()
            if "label_enable" in body:
                if body["label_enable"] not in (0, 1):
                    raise BadRequest("label_enable: expected 0 or 1")
                g.label_enable = body["label_enable"]
            if "label_value" in body:
                g.label_value = str(body["label_value"] or "")
            g.updated_by, g.updated_at = principal.username, datetime.now(UTC)

    def delete(self, principal: Principal, busi_group_id: int) -> None:
        self.require(principal, busi_group_id, "rw")
        with self._meta.session() as s:
            if s.scalar(
                select(ServerBusiGroup.server_id).where(ServerBusiGroup.busi_group_id == busi_group_id).limit(1)
            ):
                raise BadRequest("Some targets still in the BusiGroup; move them out first")
            g = s.get(BusiGroup, busi_group_id)
            if g is not None:
                s.delete(g)

    # -- targets ---------------------------------------------------------------------------

    def bind_targets(self, principal: Principal, idents: Sequence[str], bgids: Sequence[int], action: str) -> None:
        """``add``, ``del`` or ``reset`` the business groups of the named servers."""
        if action not in ("add", "del", "reset"):
            raise BadRequest(f"action: expected add, del or reset, got {action!r}")
        perms = self.perms(principal)
        with self._meta.session() as s:
            known = set(s.scalars(select(BusiGroup.id).where(BusiGroup.id.in_(list(bgids)))))
            missing = [b for b in bgids if b not in known]
            if missing:
                raise NotFound(f"bgids: no business group with id {', '.join(map(str, missing))}")
            servers = {srv.name: srv for srv in s.scalars(select(Server).where(Server.name.in_(list(idents))))}
            absent = [i for i in idents if i not in servers]
            if absent:
                raise NotFound(f"idents: no such target: {absent[0]}")
            touched = list(bgids)
            if action == "reset":
                touched += list(
                    s.scalars(
                        select(ServerBusiGroup.busi_group_id).where(
                            ServerBusiGroup.server_id.in_([srv.id for srv in servers.values()])
                        )
                    )
                )
            for gid in set(touched):
                if perms.get(gid) != "rw":
                    raise Forbidden(f"'{principal.username}' has no rw right on business group {gid}")
            for srv in servers.values():
                if not perms_cover(s, srv.id, perms):
                    require(principal, Action.UPDATE, Resource("server", owner_id=srv.owner_id))
            ids = [srv.id for srv in servers.values()]
            if action in ("del", "reset"):
                stmt = delete(ServerBusiGroup).where(ServerBusiGroup.server_id.in_(ids))
                if action == "del":
                    stmt = stmt.where(ServerBusiGroup.busi_group_id.in_(list(bgids)))
                s.execute(stmt)
            if action in ("add", "reset"):
                present = set(
                    s.execute(
                        select(ServerBusiGroup.server_id, ServerBusiGroup.busi_group_id).where(
                            ServerBusiGroup.server_id.in_(ids)
                        )
                    ).all()
                )
                s.add_all(
                    ServerBusiGroup(server_id=sid, busi_group_id=gid)
                    for sid in ids
                    for gid in dict.fromkeys(bgids)
                    if (sid, gid) not in present
                )

    def groups_of_servers(self) -> dict[int, list[int]]:
        with self._meta.session() as s:
            found: dict[int, list[int]] = {}
            for sid, gid in s.execute(select(ServerBusiGroup.server_id, ServerBusiGroup.busi_group_id)):
                found.setdefault(sid, []).append(gid)
            return found


def perms_cover(s: Session, server_id: int, perms: Mapping[int, str]) -> bool:
    """Whether the caller manages the server through one of its business groups (rw)."""
    groups = s.scalars(select(ServerBusiGroup.busi_group_id).where(ServerBusiGroup.server_id == server_id))
    return any(perms.get(g) == "rw" for g in groups)
