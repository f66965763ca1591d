"""Nightingale's page API for alerting: teams, business groups, targets' groups, rules, mutes, events.

Routes and field names follow Nightingale's (``center/router/router.go``), in its
``{"dat", "err"}`` envelope. A member of a business group's team sees (``ro``) or changes
(``rw``) only that group's rules and mutes; admins all. Rules keep Nightingale's shape
(``prom_ql``, ``rule_config.queries[]``...) and run as PromQL rules
(:mod:`heron.alerts.sources.promql`); each rule's ``heron_status`` says how its last
evaluation went. Mutes are Heron
silences scoped to the group (``tags`` are matchers; periodic mutes are refused: use a
maintenance window). Events are Heron's events in Nightingale's ``AlertCurEvent`` shape.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from functools import partial
from typing import Any

import orjson
from fastapi import APIRouter, Body, Depends, Query
from starlette.concurrency import run_in_threadpool

from heron.alerts import events
from heron.alerts.busi import BusiGroups
from heron.alerts.matchers import parse_matchers
from heron.alerts.rules import SEVERITY_N9E, RuleDef, n9e_rule
from heron.alerts.service import AlertService
from heron.alerts.silences import SilenceDef
from heron.api.alerts import alert_service
from heron.api.deps import current_user, services
from heron.api.schemas import MAX_ID, ObjectId
from heron.api.services import Services
from heron.auth.users import Principal
from heron.core.errors import BadRequest, NotFound
from heron.meta.alert_models import AlertEvent

router = APIRouter(tags=["n9e"], dependencies=[Depends(current_user)])

MAX_IDS = 1000
#: Latest time accepted in a query (the end of year 9999, Python's datetime limit).
MAX_UNIX_SECONDS = 253_402_300_799


def busi(svc: Services = Depends(services)) -> BusiGroups:
    return BusiGroups(svc.meta)


def _ok(dat: Any) -> dict[str, Any]:
    return {"dat": dat, "err": ""}


def _ids(body: Any, key: str = "ids") -> list[int]:
    raw = body.get(key) if isinstance(body, dict) else None
    if not isinstance(raw, list) or not raw or len(raw) > MAX_IDS:
        raise BadRequest(f"{key}: expected a list of 1 to {MAX_IDS} ids")
    if not all(isinstance(i, int) and not isinstance(i, bool) and 0 < i <= MAX_ID for i in raw):
        raise BadRequest(f"{key}: expected ids (positive integers)")
    return list(dict.fromkeys(raw))


# -- teams ----------------------------------------------------------------------------------


@router.get("/api/n9e/user-groups", summary="Teams you are in; every team for admins (Nightingale)")
async def list_user_groups(bg: BusiGroups = Depends(busi), user: Principal = Depends(current_user)) -> dict[str, Any]:
    return _ok(await run_in_threadpool(bg.user_groups, user))


@router.post("/api/n9e/user-groups", summary="Create a team; you are its first member (Nightingale)")
async def add_user_group(
    body: dict[str, Any] = Body(...), bg: BusiGroups = Depends(busi), user: Principal = Depends(current_user)
) -> dict[str, Any]:
    name, note = body.get("name"), body.get("note", "")
    if not isinstance(name, str) or not isinstance(note, str):
        raise BadRequest("name, note: expected strings")
    return _ok(await run_in_threadpool(bg.add_user_group, user, name, note))


@router.post("/api/n9e/user-group/{group_id}/members", summary="Add users to a team (body: {ids}) (Nightingale)")
async def add_user_group_members(
    group_id: ObjectId,
    body: dict[str, Any] = Body(...),
    bg: BusiGroups = Depends(busi),
    user: Principal = Depends(current_user),
) -> dict[str, Any]:
    await run_in_threadpool(lambda: bg.change_members(user, group_id, _ids(body), add=True))
    return _ok(None)


@router.delete("/api/n9e/user-group/{group_id}/members", summary="Remove users from a team (Nightingale)")
async def remove_user_group_members(
    group_id: ObjectId,
    body: dict[str, Any] = Body(...),
    bg: BusiGroups = Depends(busi),
    user: Principal = Depends(current_user),
) -> dict[str, Any]:
    await run_in_threadpool(lambda: bg.change_members(user, group_id, _ids(body), add=False))
    return _ok(None)


@router.delete("/api/n9e/user-group/{group_id}", summary="Delete a team (Nightingale)")
async def delete_user_group(
    group_id: ObjectId, bg: BusiGroups = Depends(busi), user: Principal = Depends(current_user)
) -> dict[str, Any]:
    await run_in_threadpool(bg.delete_user_group, user, group_id)
    return _ok(None)


# -- business groups ------------------------------------------------------------------------


@router.get("/api/n9e/busi-groups", summary="Business groups you may see (Nightingale)")
async def list_busi_groups(
    query: str = Query("", max_length=255),
    limit: int = Query(5000, ge=1, le=5000),
    bg: BusiGroups = Depends(busi),
    user: Principal = Depends(current_user),
) -> dict[str, Any]:
    return _ok(await run_in_threadpool(lambda: bg.visible(user, query=query, limit=limit)))


@router.post("/api/n9e/busi-groups", summary="Create a business group with its teams (Nightingale)")
async def add_busi_group(
    body: dict[str, Any] = Body(...), bg: BusiGroups = Depends(busi), user: Principal = Depends(current_user)
) -> dict[str, Any]:
    return _ok(await run_in_threadpool(bg.add, user, body))


@router.get("/api/n9e/busi-group/{group_id}", summary="One business group with its teams (Nightingale)")
async def get_busi_group(
    group_id: ObjectId, bg: BusiGroups = Depends(busi), user: Principal = Depends(current_user)
) -> dict[str, Any]:
    return _ok(await run_in_threadpool(bg.get, user, group_id))


@router.put("/api/n9e/busi-group/{group_id}", summary="Change a business group (rw) (Nightingale)")
async def put_busi_group(
    group_id: ObjectId,
    body: dict[str, Any] = Body(...),
    bg: BusiGroups = Depends(busi),
    user: Principal = Depends(current_user),
) -> dict[str, Any]:
    await run_in_threadpool(bg.update, user, group_id, body)
    return _ok(None)


@router.delete("/api/n9e/busi-group/{group_id}", summary="Delete an empty business group (rw) (Nightingale)")
async def delete_busi_group(
    group_id: ObjectId, bg: BusiGroups = Depends(busi), user: Principal = Depends(current_user)
) -> dict[str, Any]:
    await run_in_threadpool(bg.delete, user, group_id)
    return _ok(None)


@router.put("/api/n9e/targets/bgids", summary="Add, remove or reset the business groups of targets (Nightingale)")
async def put_target_bgids(
    body: dict[str, Any] = Body(...), bg: BusiGroups = Depends(busi), user: Principal = Depends(current_user)
) -> dict[str, Any]:
    idents = body.get("idents")
    if not isinstance(idents, list) or not idents or not all(isinstance(i, str) and i for i in idents):
        raise BadRequest("idents or host_ips must be provided")
    bgids = body.get("bgids") or []
    if not isinstance(bgids, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in bgids):
        raise BadRequest("bgids: expected a list of business group ids")
    action = body.get("action") or "add"
    await run_in_threadpool(bg.bind_targets, user, idents, bgids, str(action))
    return _ok({})


# -- rules ----------------------------------------------------------------------------------


def n9e_rule_json(rule: RuleDef, service: AlertService) -> dict[str, Any]:
    status = service.status_of(rule)
    out = dict(rule.spec)
    out.update(
        id=rule.id,
        group_id=rule.busi_group_id or 0,
        name=rule.name,
        disabled=0 if rule.enabled else 1,
        severity=SEVERITY_N9E.get(rule.severity, 2),
        create_at=int(rule.created_at.timestamp()) if rule.created_at else 0,
        create_by=rule.created_by,
        update_at=int(rule.updated_at.timestamp()) if rule.updated_at else 0,
        update_by=rule.updated_by,
        heron_status={"state": status.state, "message": status.message},
    )
    return out


@router.get("/api/n9e/busi-group/{group_id}/alert-rules", summary="Alert rules of a business group (Nightingale)")
async def list_n9e_rules(
    group_id: ObjectId,
    bg: BusiGroups = Depends(busi),
    service: AlertService = Depends(alert_service),
    user: Principal = Depends(current_user),
) -> dict[str, Any]:
    await run_in_threadpool(bg.require, user, group_id, "ro")
    rules = await run_in_threadpool(service.rules.in_busi_group, group_id)
    return _ok([n9e_rule_json(r, service) for r in rules])


@router.post("/api/n9e/busi-group/{group_id}/alert-rules", summary="Create alert rules (a list); answers name -> error")
async def add_n9e_rules(
    group_id: ObjectId,
    body: list[dict[str, Any]] = Body(..., max_length=MAX_IDS),
    bg: BusiGroups = Depends(busi),
    service: AlertService = Depends(alert_service),
    user: Principal = Depends(current_user),
) -> dict[str, Any]:
    if not body:
        raise BadRequest("input json is empty")
    await run_in_threadpool(bg.require, user, group_id, "rw")
    rules = [n9e_rule(item, busi_group_id=group_id) for item in body]
    existing = {r.name for r in await run_in_threadpool(service.rules.in_busi_group, group_id)}
    result: dict[str, str] = {}
    for rule in rules:
        if rule.name in existing:
            result[rule.name] = "AlertRule already exists"
            continue
        await run_in_threadpool(partial(service.rules.create, user, rule, busi_group_id=group_id))
        existing.add(rule.name)
        result[rule.name] = ""
    return _ok(result)


@router.delete("/api/n9e/busi-group/{group_id}/alert-rules", summary="Delete alert rules (body: {ids}) (Nightingale)")
async def delete_n9e_rules(
    group_id: ObjectId,
    body: dict[str, Any] = Body(...),
    bg: BusiGroups = Depends(busi),
    service: AlertService = Depends(alert_service),
    user: Principal = Depends(current_user),
) -> dict[str, Any]:
    await run_in_threadpool(bg.require, user, group_id, "rw")
    await run_in_threadpool(lambda: service.rules.delete(user, _ids(body), busi_group_id=group_id))
    return _ok(None)


@router.put("/api/n9e/busi-group/{group_id}/alert-rule/{rule_id}", summary="Change an alert rule (Nightingale)")
async def put_n9e_rule(
    group_id: ObjectId,
    rule_id: ObjectId,
    body: dict[str, Any] = Body(...),
    bg: BusiGroups = Depends(busi),
    service: AlertService = Depends(alert_service),
    user: Principal = Depends(current_user),
) -> dict[str, Any]:
    await run_in_threadpool(bg.require, user, group_id, "rw")
    current = await run_in_threadpool(service.rules.get, rule_id)
    if current.busi_group_id != group_id:
        raise NotFound("No such AlertRule")
    rule = n9e_rule({**n9e_rule_json(current, service), **body}, busi_group_id=group_id)
    await run_in_threadpool(lambda: service.rules.update(user, rule_id, rule, busi_group_id=group_id))
    return _ok(None)


@router.get("/api/n9e/alert-rule/{rule_id}", summary="One alert rule (Nightingale)")
async def get_n9e_rule(
    rule_id: ObjectId,
    bg: BusiGroups = Depends(busi),
    service: AlertService = Depends(alert_service),
    user: Principal = Depends(current_user),
) -> dict[str, Any]:
    rule = await run_in_threadpool(service.rules.get, rule_id)
    if rule.busi_group_id is None:
        if not (user.is_admin or rule.owner_id == user.user_id):
            raise NotFound("No such AlertRule")
    else:
        await run_in_threadpool(bg.require, user, rule.busi_group_id, "ro")
    return _ok(n9e_rule_json(rule, service))


# -- mutes ----------------------------------------------------------------------------------


def _mute(body: dict[str, Any]) -> SilenceDef:
    if body.get("mute_time_type", 0) != 0:
        raise BadRequest("mute_time_type: periodic mutes are not supported; use a maintenance window")
    tags = body.get("tags")
    if not isinstance(tags, list) or not tags:
        raise BadRequest("tags: a mute needs at least one tag filter")
    matchers = parse_matchers(
        [
            {"name": t.get("key"), "op": t.get("func") or t.get("op"), "value": _tag_value(t.get("value"))}
            if isinstance(t, dict)
            else t
            for t in tags
        ],
        where="tags",
    )
    btime, etime = body.get("btime"), body.get("etime")
    for key, value in (("btime", btime), ("etime", etime)):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_UNIX_SECONDS:
            raise BadRequest(f"{key}: expected Unix seconds, got {value!r}")
    assert isinstance(btime, int) and isinstance(etime, int)
    if etime <= btime:
        raise BadRequest("etime: must be after btime")
    cause = body.get("cause", "")
    if not isinstance(cause, str):
        raise BadRequest("cause: expected text")
    return SilenceDef(
        0, None, None, tuple(matchers), datetime.fromtimestamp(btime, UTC), datetime.fromtimestamp(etime, UTC), cause
    )


def _tag_value(value: Any) -> Any:
    return " ".join(map(str, value)) if isinstance(value, list) else value


def _mute_json(s: SilenceDef, group_id: int) -> dict[str, Any]:
    extra = dict(s.extra or {})
    now = datetime.now(UTC)
    extra.update(
        id=s.id, group_id=group_id, cause=s.comment,
        tags=[{"key": m.name, "func": "==" if m.op == "=" else m.op, "value": m.value} for m in s.matchers],
        btime=int(s.starts_at.timestamp()), etime=int(s.ends_at.timestamp()),
        activated=1 if s.active(now) else 0, create_by=s.created_by,
        create_at=int(s.created_at.timestamp()) if s.created_at else 0,
        update_at=int(s.updated_at.timestamp()) if s.updated_at else 0,
    )  # fmt: skip
    extra.setdefault("disabled", 0)
    extra.setdefault("mute_time_type", 0)
    return extra


@router.get("/api/n9e/busi-group/{group_id}/alert-mutes", summary="Mutes of a business group (Nightingale)")
async def list_mutes(
    group_id: ObjectId,
    bg: BusiGroups = Depends(busi),
    service: AlertService = Depends(alert_service),
    user: Principal = Depends(current_user),
) -> dict[str, Any]:
    await run_in_threadpool(bg.require, user, group_id, "ro")
    found = await run_in_threadpool(lambda: service.silences.silences(user, busi_group_id=group_id))
    return _ok([_mute_json(s, group_id) for s in found])


@router.post("/api/n9e/busi-group/{group_id}/alert-mutes", summary="Create a mute; answers its id (Nightingale)")
async def add_mute(
    group_id: ObjectId,
    body: dict[str, Any] = Body(...),
    bg: BusiGroups = Depends(busi),
    service: AlertService = Depends(alert_service),
    user: Principal = Depends(current_user),
) -> dict[str, Any]:
    await run_in_threadpool(bg.require, user, group_id, "rw")
    silence = _mute(body)
    keep = {k: v for k, v in body.items() if k not in ("id", "group_id", "tags", "btime", "etime", "cause")}
    saved = await run_in_threadpool(
        lambda: service.silences.add_silence(user, silence, busi_group_id=group_id, extra=keep)
    )
    service.invalidate()
    return _ok(saved.id)


@router.delete("/api/n9e/busi-group/{group_id}/alert-mutes", summary="Delete mutes (body: {ids}) (Nightingale)")
async def delete_mutes(
    group_id: ObjectId,
    body: dict[str, Any] = Body(...),
    bg: BusiGroups = Depends(busi),
    service: AlertService = Depends(alert_service),
    user: Principal = Depends(current_user),
) -> dict[str, Any]:
    await run_in_threadpool(bg.require, user, group_id, "rw")
    await run_in_threadpool(lambda: service.silences.delete_silences(user, _ids(body), busi_group_id=group_id))
    service.invalidate()
    return _ok(None)


# -- events ---------------------------------------------------------------------------------


def _unix(value: datetime | None) -> int:
    if value is None:
        return 0
    return int((value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp())


def n9e_event(row: AlertEvent, group_names: dict[int, str]) -> dict[str, Any]:
    labels: dict[str, str] = orjson.loads(row.labels or "{}")
    values = orjson.loads(row.values or "[]")
    first = row.fired_at or row.started_at
    recovered = row.state == "resolved"
    return {
        "id": row.id, "cate": "heron", "cluster": "", "datasource_id": 0,
        "group_id": row.busi_group_id or 0, "group_name": group_names.get(row.busi_group_id or 0, ""),
        "hash": row.fingerprint, "rule_id": row.rule_id or 0, "rule_name": row.rule_name, "rule_note": "",
        "rule_prod": "host" if row.rule_kind == "server" else "metric", "rule_algo": "",
        "severity": SEVERITY_N9E.get(row.severity, 2), "prom_for_duration": 0, "prom_ql": "",
        "rule_config": None, "prom_eval_interval": 0, "callbacks": [], "runbook_url": "",
        "notify_recovered": 1, "notify_channels": [], "notify_groups": [],
        "target_ident": labels.get("server_name", ""), "target_note": "",
        "trigger_time": _unix(first),
        "trigger_value": "" if row.value is None else f"{row.value:g}",
        "tags": [f"{k}={v}" for k, v in sorted(labels.items())],
        "original_tags": [f"{k}={v}" for k, v in sorted(labels.items())],
        "annotations": orjson.loads(row.annotations or "{}"),
        "is_recovered": recovered,
        "recover_time": _unix(row.resolved_at),
        "last_eval_time": _unix(row.updated_at),
        "first_trigger_time": _unix(row.started_at),
        "notify_cur_number": row.notify_count, "status": 0 if row.state == "firing" else 1,
        "claimant": row.acked_by, "heron_state": row.state, "heron_values": values,
    }  # fmt: skip


def _event_filter(
    state: str, hours: int, stime: int, etime: int, severity: str, query: str, rid: int, bgid: int
) -> events.EventFilter:
    since = until = None
    if stime and etime:
        since, until = datetime.fromtimestamp(stime, UTC), datetime.fromtimestamp(etime, UTC)
    elif hours:
        since = datetime.fromtimestamp(time.time() - hours * 3600, UTC)
    levels = [s for s in severity.split(",") if s.strip()]
    sev = ""
    if len(levels) == 1:
        names = {v: k for k, v in SEVERITY_N9E.items()}
        if levels[0].strip() not in ("1", "2", "3"):
            raise BadRequest(f"severity: expected 1, 2 or 3, got {levels[0]!r}")
        sev = names[int(levels[0].strip())]
    return events.EventFilter(
        state=state, rule_id=rid or None, severity=sev, since=since, until=until, query=query,
        busi_group_ids=[bgid] if bgid else None,
    )  # fmt: skip


async def _events(state: str, user: Principal, bg: BusiGroups, service: AlertService, **params: Any) -> dict[str, Any]:
    p, limit = params.pop("p"), params.pop("limit")
    f = _event_filter(state, **params)

    def run() -> dict[str, Any]:
        visible = [g for g in bg.perms(user)]
        rows = events.page(service.meta, user, f, offset=(p - 1) * limit, limit=limit, visible_groups=visible)
        total = events.count(service.meta, user, f, visible_groups=visible)
        names = bg.name_of([r.busi_group_id for r in rows if r.busi_group_id])
        return {"list": [n9e_event(r, names) for r in rows], "total": total}

    return _ok(await run_in_threadpool(run))


def _event_params(
    p: int = Query(1, ge=1, le=1_000_000),
    limit: int = Query(20, ge=1, le=1000),
    hours: int = Query(0, ge=0, le=24 * 366),
    stime: int = Query(0, ge=0, le=MAX_UNIX_SECONDS),
    etime: int = Query(0, ge=0, le=MAX_UNIX_SECONDS),
    severity: str = Query("", max_length=16),
    query: str = Query("", max_length=256),
    rid: int = Query(0, ge=0, le=MAX_ID),
    bgid: int = Query(0, ge=0, le=MAX_ID),
) -> dict[str, Any]:
    return {
        "p": p, "limit": limit, "hours": hours, "stime": stime, "etime": etime,
        "severity": severity, "query": query, "rid": rid, "bgid": bgid,
    }  # fmt: skip


@router.get("/api/n9e/alert-cur-events/list", summary="Active alerts (Nightingale)")
@router.post("/api/n9e/alert-cur-events/list", summary="Active alerts (Nightingale)")
async def list_cur_events(
    params: dict[str, Any] = Depends(_event_params),
    bg: BusiGroups = Depends(busi),
    service: AlertService = Depends(alert_service),
    user: Principal = Depends(current_user),
) -> dict[str, Any]:
    return await _events("firing", user, bg, service, **params)


@router.get("/api/n9e/alert-his-events/list", summary="Alert history: resolved and firing events (Nightingale)")
async def list_his_events(
    params: dict[str, Any] = Depends(_event_params),
    bg: BusiGroups = Depends(busi),
    service: AlertService = Depends(alert_service),
    user: Principal = Depends(current_user),
) -> dict[str, Any]:
    return await _events("", user, bg, service, **params)
