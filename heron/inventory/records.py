"""Changes to server records made through the peers' APIs: create, page through, note, tags.

openITCOCKPIT's ``/hosts/*.json`` and Nightingale's ``/api/n9e/targets*`` are two mounts of
these functions; only their serialization differs. Everything here works on the existing
``servers`` columns: a created server's address is ``host_ip`` and its description ``note``;
Nightingale's tags are the ``labels`` JSON object (``key=value`` becomes ``{"key": "value"}``).

Paging runs in SQL with the permission rule of :mod:`heron.auth.permissions` for servers as a
filter (admins every server, members those they own), so a page never loads the whole table
and scroll mode runs no count.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime

import orjson
from sqlalchemy import ColumnElement, func, select

from heron.auth.users import Principal
from heron.core.errors import BadRequest, NotFound
from heron.inventory.registry import MAX_NAME_CHARS, ServerInfo, _info
from heron.meta.db import MetaStore
from heron.meta.models import Server

#: Size of the ``labels`` column; tags beyond it are refused rather than cut.
MAX_LABELS_CHARS = 4096
#: Size of the ``note`` column.
MAX_NOTE_CHARS = 4096
#: A tag key: what Prometheus accepts as a label name (Nightingale's rule for tag keys too).
TAG_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _readable(principal: Principal, name_like: str) -> list[ColumnElement[bool]]:
    """Conditions for the servers ``principal`` (a signed-in user) may read, by part of their name."""
    where: list[ColumnElement[bool]] = []
    if not principal.is_admin:
        where.append(Server.owner_id == principal.user_id)
    if name_like:
        where.append(Server.name.contains(name_like, autoescape=True))
    return where


def create(meta: MetaStore, *, name: str, host_ip: str, note: str, owner_id: int) -> ServerInfo:
    """A new server of ``owner_id``, created through an API (``source`` "api"); its name must be free."""
    name = name.strip()
    if not name:
        raise BadRequest("the host needs a name")
    if len(name) > MAX_NAME_CHARS:
        raise BadRequest(f"the host name is longer than {MAX_NAME_CHARS} characters")
    with meta.session() as s:
        if s.scalar(select(Server.id).where(Server.name == name)) is not None:
            raise BadRequest(f"a host named {name!r} already exists")
        srv = Server(name=name, source="api", host_ip=host_ip, note=note, owner_id=owner_id)
        s.add(srv)
        s.flush()
        return _info(srv)


def page(meta: MetaStore, principal: Principal, *, offset: int, limit: int, name_like: str = "") -> list[ServerInfo]:
    """Servers ``principal`` may read, by name, ``limit`` of them from ``offset``."""
    stmt = select(Server).where(*_readable(principal, name_like))
    with meta.session() as s:
        rows = s.scalars(stmt.order_by(Server.name, Server.id).offset(offset).limit(limit))
        return [_info(srv) for srv in rows]


def count(meta: MetaStore, principal: Principal, *, name_like: str = "") -> int:
    with meta.session() as s:
        return int(s.scalar(select(func.count(Server.id)).where(*_readable(principal, name_like))) or 0)


def owners(meta: MetaStore, names: Sequence[str]) -> dict[str, int | None]:
    """The owner of each named server; :class:`NotFound` names the first that does not exist."""
    with meta.session() as s:
        found = {n: o for n, o in s.execute(select(Server.name, Server.owner_id).where(Server.name.in_(list(names))))}
    missing = [n for n in names if n not in found]
    if missing:
        raise NotFound(f"no such target: {missing[0]}")
    return found


def set_note(meta: MetaStore, names: Sequence[str], note: str) -> None:
    if len(note) > MAX_NOTE_CHARS:
        raise BadRequest(f"the note is longer than {MAX_NOTE_CHARS} characters")
    with meta.session() as s:
        for srv in s.scalars(select(Server).where(Server.name.in_(list(names)))):
            srv.note = note


def parse_tags(tags: Sequence[str]) -> dict[str, str]:
    """Nightingale's ``key=value`` tags as a mapping; a malformed one is a :class:`BadRequest`."""
    parsed: dict[str, str] = {}
    for tag in tags:
        key, sep, value = tag.strip().partition("=")
        if not sep or not TAG_KEY.match(key) or not value:
            raise BadRequest(f"invalid tag {tag!r}: expected key=value with a key of letters, digits and _")
        parsed[key] = value
    return parsed


def change_tags(meta: MetaStore, names: Sequence[str], *, add: dict[str, str], remove: dict[str, str]) -> None:
    """Add ``add`` to and drop ``remove`` (key and value both matching) from each server's labels."""
    with meta.session() as s:
        for srv in s.scalars(select(Server).where(Server.name.in_(list(names)))):
            labels: dict[str, str] = orjson.loads(srv.labels or "{}")
            for key, value in remove.items():
                if labels.get(key) == value:
                    del labels[key]
            labels.update(add)
            encoded = orjson.dumps(labels, option=orjson.OPT_SORT_KEYS).decode()
            if len(encoded) > MAX_LABELS_CHARS:
                raise BadRequest(f"the tags of {srv.name!r} would exceed {MAX_LABELS_CHARS} characters")
            srv.labels = encoded


def unix(value: datetime | None) -> int:
    return int(value.astimezone(UTC).timestamp()) if value else 0
