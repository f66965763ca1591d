"""Nightingale's targets: ``GET /api/n9e/targets``, tags, and the note.

A target is a server: hosts registered by pushed data (``ident``), by a categraf heartbeat,
by ``heron agent`` or through an API all appear. The list answers Nightingale's
``{"dat": {"list": [...], "total": N}, "err": ""}`` and takes its filters: ``query`` (words,
separated by spaces, each of which must appear in the ident, the IP, the note or a tag),
``limit`` and ``p`` (the page, from 1). Tags are Nightingale's ``key=value`` strings, kept in
the server's ``labels``; a categraf heartbeat sends its own labels, which replace them.
Changes take ``{"idents": [...], ...}`` and need the right to change every named server.

Business groups are joined with ``PUT /api/n9e/targets/bgids`` (:mod:`heron.api.compat.n9e_alerts`):
``group_id`` is the first of a target's business groups (0 for none) and ``group_objs`` lists
them (``id``, ``name``); members of a business group's teams see its targets too.
``target_up`` is 1 while the server is online and 0 otherwise; ``cpu_util`` and ``mem_util``
come from the agent's live status (0 without an agent).
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from heron.alerts.busi import BusiGroups
from heron.api.deps import current_user, services
from heron.api.inventory.servers import visible_servers
from heron.api.schemas import N9eOk
from heron.api.services import Services
from heron.auth.permissions import Action, Resource, require
from heron.auth.users import Principal
from heron.inventory import records
from heron.inventory.registry import MAX_NAME_CHARS
from heron.inventory.view import ServerView, server_views

router = APIRouter(tags=["n9e"], dependencies=[Depends(current_user)])

#: Most idents (and tags) one change may name.
MAX_IDENTS = 1000
#: Page size when the client names none (Nightingale's UI default).
DEFAULT_LIMIT = 30
MAX_LIMIT = 1000


class N9eTarget(BaseModel):
    id: int
    group_id: int
    group_objs: list[dict[str, Any]] | None
    ident: str
    note: str
    tags: list[str]
    host_ip: str
    agent_version: str
    engine_name: str
    os: str
    arch: str
    cpu_num: int
    cpu_util: float
    mem_util: float
    update_at: int
    target_up: int
    offset: int


class N9eTargetList(BaseModel):
    list: list[N9eTarget]
    total: int


class N9eIdents(BaseModel):
    idents: list[str] = Field(min_length=1, max_length=MAX_IDENTS)


class N9eTagsIn(N9eIdents):
    tags: list[str] = Field(min_length=1, max_length=MAX_IDENTS)


class N9eNoteIn(N9eIdents):
    note: str = Field("", max_length=records.MAX_NOTE_CHARS)


def _tags(labels: dict[str, str]) -> list[str]:
    return [f"{k}={v}" for k, v in sorted(labels.items())]


def _target(view: ServerView, *, show_note: bool) -> N9eTarget:
    info = view.info
    mem_total = int(view.host.get("MemTotal") or 0)
    mem_used = int(view.status.get("MemUsed") or 0)
    cpus = view.host.get("CPU") or []
    return N9eTarget(
        id=info.id,
        group_id=0,
        group_objs=None,
        ident=info.name,
        note=info.note if show_note else "",
        tags=_tags(info.labels),
        host_ip=info.host_ip or view.ipv4 or view.ipv6,
        agent_version=info.agent_version or str(view.host.get("Version") or ""),
        engine_name="",
        os=info.os or str(view.host.get("Platform") or ""),
        arch=info.arch or str(view.host.get("Arch") or ""),
        cpu_num=info.cpu_num or len(cpus),
        cpu_util=float(view.status.get("CPU") or 0.0),
        mem_util=round(100.0 * mem_used / mem_total, 2) if mem_total else 0.0,
        update_at=int(view.last_active or 0),
        target_up=1 if view.online else 0,
        offset=info.clock_offset_ms,
    )


def _matches(target: N9eTarget, words: list[str]) -> bool:
    haystack = " ".join([target.ident, target.host_ip, target.note, *target.tags]).lower()
    return all(word in haystack for word in words)


def _with_groups(target: N9eTarget, gids: list[int], names: dict[int, str]) -> N9eTarget:
    if not gids:
        return target
    objs = [{"id": g, "name": names.get(g, "")} for g in gids]
    return target.model_copy(update={"group_id": gids[0], "group_objs": objs})


def _list(svc: Services, user: Principal, query: str, limit: int, p: int) -> N9eTargetList:
    words = query.lower().split()
    busi = BusiGroups(svc.meta)
    bgids = busi.groups_of_servers()
    names = busi.name_of(sorted({g for gs in bgids.values() for g in gs}))
    views = visible_servers(svc, user)
    mine = set(busi.perms(user)) if not user.is_admin else set()
    if mine:
        seen = {v.info.id for v in views}
        extra = [i for i in svc.hosts.list() if i.id not in seen and mine.intersection(bgids.get(i.id, ()))]
        views += server_views(extra, svc.live, now=time.time(), offline_after_seconds=svc.settings.host_offline_seconds)
    targets = [
        t
        for t in (
            _with_groups(_target(v, show_note=True), bgids.get(v.info.id, []), names)
            for v in sorted(views, key=lambda v: (v.info.name, v.info.id))
        )
        if _matches(t, words)
    ]
    start = (p - 1) * limit
    return N9eTargetList(list=targets[start : start + limit], total=len(targets))


@router.get("/api/n9e/targets", summary="Targets (servers), filtered and paged (Nightingale)")
async def list_targets(
    query: str = Query("", max_length=1024, description="words that must each appear in ident, IP, note or a tag"),
    limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
    p: int = Query(1, ge=1, le=1_000_000, description="page, from 1"),
    svc: Services = Depends(services),
    user: Principal = Depends(current_user),
) -> N9eOk[N9eTargetList]:
    found = await run_in_threadpool(_list, svc, user, query, limit, p)
    return N9eOk[N9eTargetList](dat=found)


def _require_each(svc: Services, user: Principal, idents: list[str]) -> list[str]:
    """The distinct ``idents``, once ``user`` may change every one of them."""
    names = list(dict.fromkeys(i.strip()[:MAX_NAME_CHARS] for i in idents if i.strip()))
    for owner in records.owners(svc.meta, names).values():
        require(user, Action.UPDATE, Resource("server", owner_id=owner))
    return names


def _change_tags(svc: Services, user: Principal, body: N9eTagsIn, *, remove: bool) -> None:
    tags = records.parse_tags(body.tags)
    names = _require_each(svc, user, body.idents)
    records.change_tags(svc.meta, names, add={} if remove else tags, remove=tags if remove else {})


@router.post("/api/n9e/targets/tags", summary="Add key=value tags to targets (Nightingale)")
async def add_target_tags(
    body: N9eTagsIn, svc: Services = Depends(services), user: Principal = Depends(current_user)
) -> N9eOk[None]:
    await run_in_threadpool(_change_tags, svc, user, body, remove=False)
    return N9eOk[None](dat=None)


@router.delete("/api/n9e/targets/tags", summary="Remove key=value tags from targets (Nightingale)")
async def remove_target_tags(
    body: N9eTagsIn, svc: Services = Depends(services), user: Principal = Depends(current_user)
) -> N9eOk[None]:
    await run_in_threadpool(_change_tags, svc, user, body, remove=True)
    return N9eOk[None](dat=None)


def _set_note(svc: Services, user: Principal, body: N9eNoteIn) -> None:
    records.set_note(svc.meta, _require_each(svc, user, body.idents), body.note)


@router.put("/api/n9e/targets/note", summary="Set the note of targets (Nightingale)")
async def put_target_note(
    body: N9eNoteIn, svc: Services = Depends(services), user: Principal = Depends(current_user)
) -> N9eOk[None]:
    await run_in_threadpool(_set_note, svc, user, body)
    return N9eOk[None](dat=None)
