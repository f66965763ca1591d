"""``/api/v1/alert-rule``: Nezha v1's alert rules, and Heron's SQL rules beside them.

A server rule is Nezha's ``AlertRuleForm`` (``name``, ``rules``, ``enable``, ``trigger_mode``,
``notification_group_id``, ``fail_trigger_tasks``, ``recover_trigger_tasks``); a query rule
has ``kind: "sql"`` and ``query``, ``threshold``, ``interval_seconds``, ``for_seconds``,
``keep_firing_for_seconds``, ``labels``, ``annotations``; a PromQL rule has ``kind: "promql"``
and ``expr``, ``interval_seconds``, ``for_seconds``, ``keep_firing_for_seconds``, ``labels`` and
``annotations`` in Prometheus's template syntax; a service rule has ``kind: "service"`` and
``rules`` of types ``down``, ``latency``, ``cert_expiry`` over monitors. Prometheus rule files
come in through ``POST /api/v1/alert-rule/import`` and PromQL rules go out as one through
``GET /api/v1/alert-rule/export`` (:mod:`heron.alerts.promfile`). Every rule answers with its
``status`` (``ok``, ``error`` and why, ``waiting``, ``disabled``), when it last ran and how
many alerts it holds. ``fail_trigger_tasks`` and ``recover_trigger_tasks`` name triggered
cron tasks (``task_type`` 1), run when an alert of the rule fires or resolves.

``POST /api/v1/alert-rule/preview`` takes the same form and evaluates it once, saving nothing
and raising no alert: which servers, monitors, rows or series it would fire for now. Durations
(``duration``, ``for_seconds``) are not waited for: the preview answers whether each condition
is out of range now.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from fastapi import APIRouter, Body, Depends, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from heron.alerts.evaluator import iso
from heron.alerts.promfile import read_rule_file, write_rule_file
from heron.alerts.rules import RuleDef, parse_rule
from heron.alerts.service import AlertService
from heron.api.alerts import alert_service
from heron.api.deps import current_user
from heron.api.inventory.servers import Ids
from heron.api.schemas import MAX_ID, ObjectId
from heron.auth.users import Principal
from heron.core.errors import BadRequest, HeronError

router = APIRouter(tags=["heron"], dependencies=[Depends(current_user)])


def rule_json(rule: RuleDef, service: AlertService) -> dict[str, Any]:
    status = service.status_of(rule)
    out: dict[str, Any] = {
        "id": rule.id,
        "created_at": rule.created_at.isoformat() if rule.created_at else None,
        "updated_at": rule.updated_at.isoformat() if rule.updated_at else None,
        "name": rule.name,
        "kind": rule.kind,
        "enable": rule.enabled,
        "trigger_mode": rule.trigger_mode,
        "notification_group_id": rule.notification_group_id or 0,
        "fail_trigger_tasks": list(rule.fail_trigger_tasks),
        "recover_trigger_tasks": list(rule.recover_trigger_tasks),
        "severity": rule.severity,
        "labels": dict(rule.labels),
        "annotations": dict(rule.annotations),
        "owner_id": rule.owner_id,
        "status": {
            "state": status.state,
            "message": status.message,
            "last_eval_at": iso(status.last_eval_at),
            "active": status.active,
        },
    }
    if rule.kind in ("server", "service"):
        out["rules"] = [c.to_json() for c in rule.conditions]
    elif rule.promql is not None and isinstance(rule.spec.get("promql"), dict):
        out.update(
            tenant=rule.promql.tenant,
            database=rule.promql.database,
            expr=rule.promql.queries[0],
            interval_seconds=rule.promql.interval_seconds,
            group=rule.promql.group,
            for_seconds=rule.for_seconds,
            keep_firing_for_seconds=rule.keep_firing_for_seconds,
            # As written (Prometheus's syntax), not as the renderer runs them.
            labels=dict(rule.spec.get("labels") or {}),
            annotations=dict(rule.spec.get("annotations") or {}),
        )
    elif rule.sql is not None:
        out.update(
            tenant=rule.sql.tenant,
            database=rule.sql.database,
            query=rule.sql.query,
            threshold=rule.sql.threshold,
            value_column=rule.sql.value_column,
            label_columns=list(rule.sql.label_columns) if rule.sql.label_columns is not None else None,
            interval_seconds=rule.sql.interval_seconds,
            for_seconds=rule.for_seconds,
            keep_firing_for_seconds=rule.keep_firing_for_seconds,
        )
    return out


@router.get("/api/v1/alert-rule", summary="List alert rules (yours; every rule for admins), with their status")
async def list_rules(
    id: int | None = Query(None, ge=1, le=MAX_ID, description="only this rule"),
    service: AlertService = Depends(alert_service),
    user: Principal = Depends(current_user),
) -> dict[str, Any]:
    rules = await run_in_threadpool(service.rules.visible, user, rule_id=id)
    return {"success": True, "data": [rule_json(r, service) for r in rules]}


def _parse(service: AlertService, body: dict[str, Any], rule_id: int = 0) -> RuleDef:
    return parse_rule(body, check_sql=service.check_sql, rule_id=rule_id)


@router.post("/api/v1/alert-rule", summary="Create an alert rule; answers its id")
async def create_rule(
    body: dict[str, Any] = Body(...),
    service: AlertService = Depends(alert_service),
    user: Principal = Depends(current_user),
) -> dict[str, Any]:
    rule = await run_in_threadpool(_parse, service, body)
    saved = await run_in_threadpool(service.rules.create, user, rule)
    return {"success": True, "data": saved.id}


@router.patch("/api/v1/alert-rule/{rule_id}", summary="Change an alert rule (the whole form, as Nezha sends it)")
async def update_rule(
    rule_id: ObjectId,
    body: dict[str, Any] = Body(...),
    service: AlertService = Depends(alert_service),
    user: Principal = Depends(current_user),
) -> dict[str, Any]:
    current = await run_in_threadpool(service.rules.get, rule_id)
    if current.busi_group_id is not None:
        raise BadRequest("this rule belongs to a business group; change it through /api/n9e/busi-group/{id}/alert-rule")
    merged = {**rule_json(current, service), **body}
    rule = await run_in_threadpool(_parse, service, merged, rule_id)
    saved = await run_in_threadpool(service.rules.update, user, rule_id, rule)
    return {"success": True, "data": rule_json(saved, service)}


@router.post("/api/v1/batch-delete/alert-rule", summary="Delete alert rules (body: a list of ids)")
async def delete_rules(
    ids: Ids = Body(..., max_length=1000),
    service: AlertService = Depends(alert_service),
    user: Principal = Depends(current_user),
) -> dict[str, Any]:
    gone = await run_in_threadpool(service.rules.delete, user, list(dict.fromkeys(ids)))
    return {"success": True, "data": gone}


def _import(
    service: AlertService, user: Principal, text: bytes, skip_recording: bool, group_id: int | None
) -> dict[str, Any]:
    """Check every rule of the file first, then save them (a rule of the same group and name is replaced)."""
    found = read_rule_file(text, skip_recording=skip_recording)
    parsed: list[RuleDef] = []
    for body in found.rules:
        where = body.pop("heron_where")
        if group_id is not None:
            body["notification_group_id"] = group_id
        try:
            parsed.append(_parse(service, body))
        except HeronError as exc:
            err = HeronError(f"{where}.{exc.message}")
            err.status, err.code = exc.status, exc.code
            raise err from None
    existing = {
        (r.promql.group, r.name): r.id
        for r in service.rules.visible(user)
        if r.kind == "promql" and r.promql is not None and r.owner_id == (user.user_id or None)
    }
    created, updated = [], []
    for rule in parsed:
        assert rule.promql is not None
        known = existing.get((rule.promql.group, rule.name))
        if known is not None:
            updated.append(service.rules.update(user, known, rule).id)
        else:
            saved = service.rules.create(user, rule)
            existing[(rule.promql.group, rule.name)] = saved.id
            created.append(saved.id)
    return {"created": created, "updated": updated, "skipped_recording_rules": found.skipped}


@router.post(
    "/api/v1/alert-rule/import",
    summary="Import a Prometheus rule file (YAML body): its alerting rules become PromQL rules",
)
async def import_rules(
    request: Request,
    skip_recording: bool = Query(False, description="leave recording rules out instead of refusing the file"),
    notification_group_id: int | None = Query(None, ge=1, le=MAX_ID, description="notify this group"),
    service: AlertService = Depends(alert_service),
    user: Principal = Depends(current_user),
) -> dict[str, Any]:
    text = await request.body()
    if not text.strip():
        raise BadRequest("file: the body is empty; send the rule file's YAML")
    result = await run_in_threadpool(_import, service, user, text, skip_recording, notification_group_id)
    return {"success": True, "data": result}


@router.get(
    "/api/v1/alert-rule/export",
    summary="Your PromQL rules as a Prometheus rule file (YAML) that promtool check rules accepts",
    response_class=Response,
)
async def export_rules(
    service: AlertService = Depends(alert_service), user: Principal = Depends(current_user)
) -> Response:
    rules = await run_in_threadpool(service.rules.visible, user)
    return Response(write_rule_file(rules), media_type="application/yaml")


#: Most matches one preview lists (the count is exact).
PREVIEW_LIMIT = 200


@router.post(
    "/api/v1/alert-rule/preview",
    summary="Evaluate a rule once without saving it: the servers or rows it would fire for now",
)
async def preview_rule(
    body: dict[str, Any] = Body(...),
    service: AlertService = Depends(alert_service),
    user: Principal = Depends(current_user),
) -> dict[str, Any]:
    rule = replace(await run_in_threadpool(_parse, service, body), owner_id=user.user_id)
    checked, found = await run_in_threadpool(service.preview, rule, time.time())
    matches = [
        {
            "server_id": obs.server_id,
            "labels": dict(obs.labels),
            "value": obs.value,
            "values": dict(obs.values),
            "message": obs.message,
        }
        for obs in found[:PREVIEW_LIMIT]
    ]
    return {
        "success": True,
        "data": {"kind": rule.kind, "checked": checked, "count": len(found), "matches": matches},
    }
