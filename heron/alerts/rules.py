"""Alert rules: their shapes, the checks made when one is saved, and the table that keeps them.

Three kinds share one table and one evaluator:

* ``server``: Nezha's ``AlertRule`` (``rules`` is a list of :mod:`heron.alerts.conditions`);
* ``sql``: a query over the TSDB run every ``interval_seconds``; each result row that passes
  ``threshold`` is one alert keyed by its label columns (Nightingale's and Prometheus's model);
* ``service``: conditions over the service monitors (:mod:`heron.alerts.service_conditions`),
  one alert per monitor and vantage point;
* ``promql``: a PromQL expression evaluated every ``interval_seconds``; each series of the
  answer is one alert keyed by its labels (Prometheus's alerting rules). Heron's own (``expr``,
  ``for_seconds``, ``keep_firing_for_seconds``, labels and annotations in Prometheus's template
  syntax, :mod:`heron.alerts.promtemplates`) and Nightingale's (``prom_ql``,
  ``rule_config.queries[]``, kept in their shape) run the same way.

Everything a client sends is checked here when it is saved: an unknown condition type,
``min`` above ``max``, a negative duration, SQL that does not compile or that the sandbox
refuses, a PromQL expression that does not parse, a label or annotation template that does not
render: each is a 4xx naming the field.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from heron.alerts.conditions import Condition, parse_conditions
from heron.alerts.promtemplates import context_functions, to_jinja
from heron.alerts.service_conditions import parse_service_conditions
from heron.alerts.templates import check_template, render
from heron.auth.permissions import Action, Resource, require
from heron.auth.users import Principal
from heron.core.errors import BadRequest, HeronError, NotFound, Unprocessable
from heron.meta.alert_models import AlertRule, NotificationGroup
from heron.meta.db import MetaStore
from heron.meta.ops_models import CronTask
from heron.promql.engine import parse as parse_promql

KINDS = ("server", "sql", "promql", "service")
#: Nezha's ``task_type`` of a cron task an alert rule may run.
TRIGGERED_TASK = 1
TRIGGER_ALWAYS = 0
TRIGGER_ONCE = 1
SEVERITIES = ("critical", "warning", "info")
#: Nightingale's severities: 1 critical, 2 warning, 3 info.
N9E_SEVERITY = {1: "critical", 2: "warning", 3: "info"}
SEVERITY_N9E = {v: k for k, v in N9E_SEVERITY.items()}
LABEL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MIN_INTERVAL_SECONDS = 1.0
MAX_SECONDS = 30 * 86_400
MAX_LABELS = 64
MAX_TASKS = 100
#: How often a Nightingale rule runs when it does not say (its ``prom_eval_interval`` is 0).
N9E_DEFAULT_INTERVAL_SECONDS = 15.0
#: How often one of Heron's PromQL rules runs when it does not say.
DEFAULT_INTERVAL_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class SqlSpec:
    tenant: str
    database: str
    query: str
    threshold: str
    value_column: str
    label_columns: tuple[str, ...] | None
    interval_seconds: float

    def statement(self) -> str:
        """The query the evaluator runs: the rule's query, filtered by its threshold."""
        if not self.threshold:
            return self.query
        return f"SELECT * FROM ({self.query}) AS heron_rule WHERE ({self.threshold})"


@dataclass(frozen=True, slots=True)
class PromqlSpec:
    """What a PromQL rule evaluates: one expression (Nightingale's rules may have several)."""

    tenant: str
    database: str
    queries: tuple[str, ...]
    interval_seconds: float
    #: Per query, the severity its alerts carry ("" for the rule's own).
    severities: tuple[str, ...] = ()
    #: The group of a rule imported from a Prometheus rule file (kept for the export).
    group: str = ""


@dataclass(frozen=True, slots=True)
class RuleDef:
    id: int
    name: str
    kind: str
    owner_id: int | None
    busi_group_id: int | None
    enabled: bool
    notification_group_id: int | None
    trigger_mode: int
    severity: str
    conditions: tuple[Condition, ...] = ()
    sql: SqlSpec | None = None
    promql: PromqlSpec | None = None
    for_seconds: float = 0.0
    keep_firing_for_seconds: float = 0.0
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    fail_trigger_tasks: tuple[int, ...] = ()
    recover_trigger_tasks: tuple[int, ...] = ()
    spec: Mapping[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None
    updated_at: datetime | None = None
    created_by: str = ""
    updated_by: str = ""


#: Checks SQL against the store when a rule is saved: (tenant, database, statement) -> None or raise.
SqlChecker = Callable[[str, str, str], None]


def _seconds(raw: Any, where: str, *, default: float = 0.0, minimum: float = 0.0) -> float:
    if raw is None:
        return default
    if isinstance(raw, bool) or not isinstance(raw, int | float) or raw != raw:
        raise BadRequest(f"{where}: expected a number of seconds, got {raw!r}")
    if raw < 0:
        raise BadRequest(f"{where}: must not be negative, got {raw:g}")
    if raw < minimum:
        raise BadRequest(f"{where}: at least {minimum:g} seconds, got {raw:g}")
    if raw > MAX_SECONDS:
        raise BadRequest(f"{where}: at most {MAX_SECONDS} seconds, got {raw:g}")
    return float(raw)


def _string_map(raw: Any, where: str, *, names: bool, go: bool = False) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise BadRequest(f"{where}: expected an object of strings, got {type(raw).__name__}")
    if len(raw) > MAX_LABELS:
        raise BadRequest(f"{where}: at most {MAX_LABELS} entries")
    out = {}
    for key, value in raw.items():
        if names and not LABEL_NAME.match(str(key)):
            raise BadRequest(f"{where}.{key}: a label name is letters, digits and _, not starting with a digit")
        if not isinstance(value, str):
            raise BadRequest(f"{where}.{key}: expected a string, got {type(value).__name__}")
        check_template(to_jinja(value, f"{where}.{key}") if go else value, field=f"{where}.{key}")
        out[str(key)] = value
    return out


def _tasks(raw: Any, where: str) -> tuple[int, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or len(raw) > MAX_TASKS:
        raise BadRequest(f"{where}: expected a list of at most {MAX_TASKS} task ids")
    for item in raw:
        if isinstance(item, bool) or not isinstance(item, int) or item < 1:
            raise BadRequest(f"{where}: expected task ids (positive integers), got {item!r}")
    return tuple(raw)


def _severity(raw: Any) -> str:
    if raw is None:
        return "warning"
    if raw not in SEVERITIES:
        raise BadRequest(f"severity: expected one of {', '.join(SEVERITIES)}, got {raw!r}")
    return str(raw)


def _trigger_mode(raw: Any) -> int:
    if raw is None:
        return TRIGGER_ALWAYS
    if raw not in (TRIGGER_ALWAYS, TRIGGER_ONCE) or isinstance(raw, bool):
        raise BadRequest(f"trigger_mode: expected 0 (always) or 1 (once), got {raw!r}")
    return int(raw)


def sample_context(labels: Mapping[str, str]) -> dict[str, Any]:
    """What templates see when they are checked at save time (and the shape they get later)."""
    return {
        "labels": dict(labels),
        "value": 0.0,
        "row": {},
        "server": {},
        "rule": {"name": "", "id": 0},
        "external_labels": {},
        "external_url": "",
        **context_functions(),
    }


def parse_sql_spec(body: Mapping[str, Any], check_sql: SqlChecker) -> SqlSpec:
    query = body.get("query")
    if not isinstance(query, str) or not query.strip():
        raise BadRequest("query: a sql rule needs its SELECT statement in 'query'")
    query = query.strip().rstrip(";").strip()
    threshold = body.get("threshold") or ""
    if not isinstance(threshold, str):
        raise BadRequest(f"threshold: expected an SQL condition such as 'value > 90', got {type(threshold).__name__}")
    if ";" in threshold:
        raise BadRequest("threshold: one SQL condition, without ';'")
    tenant = body.get("tenant") or "cnosdb"
    database = body.get("database") or "public"
    if not isinstance(tenant, str) or not isinstance(database, str):
        raise BadRequest("tenant, database: expected names")
    value_column = body.get("value_column") or "value"
    if not isinstance(value_column, str):
        raise BadRequest("value_column: expected a column name")
    raw_labels = body.get("label_columns")
    label_columns: tuple[str, ...] | None = None
    if raw_labels is not None:
        if not isinstance(raw_labels, list) or not all(isinstance(c, str) and c for c in raw_labels):
            raise BadRequest("label_columns: expected a list of column names")
        label_columns = tuple(raw_labels)
    spec = SqlSpec(
        tenant=tenant,
        database=database,
        query=query,
        threshold=threshold.strip(),
        value_column=value_column,
        label_columns=label_columns,
        interval_seconds=_seconds(
            body.get("interval_seconds"), "interval_seconds", default=30.0, minimum=MIN_INTERVAL_SECONDS
        ),
    )
    try:
        check_sql(tenant, database, spec.statement())
    except HeronError as exc:
        err = Unprocessable(f"{'query or threshold' if spec.threshold else 'query'}: {exc.message}")
        err.status = exc.status if 400 <= exc.status < 500 else 422
        raise err from None
    return spec


def check_promql(expr: Any, where: str) -> str:
    """``expr`` if it is a PromQL expression an alerting rule can evaluate; a 400 naming ``where``."""
    if not isinstance(expr, str) or not expr.strip():
        raise BadRequest(f"{where}: a PromQL rule needs its expression")
    try:
        tree = parse_promql(expr)
    except HeronError as exc:
        raise BadRequest(f"{where}: {exc.message}") from None
    kind = type(tree).__name__
    if kind in ("MatrixSelector", "SubqueryExpr", "StringLiteral"):
        raise BadRequest(f"{where}: an alerting rule's expression must give an instant vector or a scalar, not {kind}")
    return expr.strip()


def _go_map(raw: Mapping[str, str], where: str) -> dict[str, str]:
    """Prometheus templates translated for the renderer (checked when saved; see :func:`_safe_jinja`)."""
    return {k: _safe_jinja(v, f"{where}.{k}") for k, v in raw.items()}


def _safe_jinja(text: str, where: str) -> str:
    try:
        return to_jinja(text, where)
    except HeronError:
        # Stored before templates were checked: rendered as written rather than stopping the rule.
        return "{{ " + orjson.dumps(text).decode() + " }}"


def parse_promql_spec(body: Mapping[str, Any], check_sql: SqlChecker | None = None) -> PromqlSpec:
    tenant = body.get("tenant") or "cnosdb"
    database = body.get("database") or "public"
    if not isinstance(tenant, str) or not isinstance(database, str):
        raise BadRequest("tenant, database: expected names")
    if check_sql is not None:
        try:
            check_sql(tenant, database, "SELECT 1")
        except HeronError as exc:
            err = BadRequest(f"database: {exc.message}")
            err.status = exc.status if 400 <= exc.status < 500 else 422
            raise err from None
    group = body.get("group") or ""
    if not isinstance(group, str) or len(group) > 255:
        raise BadRequest("group: expected a name of at most 255 characters")
    return PromqlSpec(
        tenant=tenant,
        database=database,
        queries=(check_promql(body.get("expr"), "expr"),),
        interval_seconds=_seconds(
            body.get("interval_seconds"),
            "interval_seconds",
            default=DEFAULT_INTERVAL_SECONDS,
            minimum=MIN_INTERVAL_SECONDS,
        ),
        group=group,
    )


def _promql_spec_json(spec: PromqlSpec) -> dict[str, Any]:
    return {
        "tenant": spec.tenant,
        "database": spec.database,
        "expr": spec.queries[0],
        "interval_seconds": spec.interval_seconds,
        "group": spec.group,
    }


def parse_rule(body: Mapping[str, Any], *, check_sql: SqlChecker, rule_id: int = 0) -> RuleDef:
    """A rule from the API's JSON (Nezha's ``AlertRuleForm`` for servers, Heron's fields for
    SQL, PromQL and service rules)."""
    kind = body.get("kind") or ("sql" if "query" in body else "promql" if "expr" in body else "server")
    if kind not in ("server", "sql", "promql", "service"):
        raise BadRequest(f"kind: expected 'server', 'service', 'sql' or 'promql', got {kind!r}")
    name = body.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 255:
        raise BadRequest("name: a rule needs a name of 1 to 255 characters")
    enabled = body.get("enable", True)
    if not isinstance(enabled, bool):
        raise BadRequest(f"enable: expected true or false, got {enabled!r}")
    group = body.get("notification_group_id") or None
    if group is not None and (isinstance(group, bool) or not isinstance(group, int) or group < 1):
        raise BadRequest(f"notification_group_id: expected a group id, got {group!r}")
    go = kind == "promql"
    labels = _string_map(body.get("labels"), "labels", names=True, go=go)
    annotations = _string_map(body.get("annotations"), "annotations", names=False, go=go)
    shown_labels, shown_annotations = labels, annotations
    if go:
        labels, annotations = _go_map(labels, "labels"), _go_map(annotations, "annotations")
    ctx = sample_context(labels)
    for key, text in {**{f"labels.{k}": v for k, v in labels.items()}, **annotations}.items():
        render(text, ctx, field=key if key.startswith("labels.") else f"annotations.{key}", strict=False)
    common: dict[str, Any] = {
        "id": rule_id,
        "name": name.strip(),
        "kind": kind,
        "owner_id": None,
        "busi_group_id": None,
        "enabled": enabled,
        "notification_group_id": group,
        "trigger_mode": _trigger_mode(body.get("trigger_mode")),
        "severity": _severity(body.get("severity")),
        "labels": labels,
        "annotations": annotations,
        "fail_trigger_tasks": _tasks(body.get("fail_trigger_tasks"), "fail_trigger_tasks"),
        "recover_trigger_tasks": _tasks(body.get("recover_trigger_tasks"), "recover_trigger_tasks"),
    }
    if kind == "server":
        return RuleDef(**common, conditions=tuple(parse_conditions(body.get("rules"))))
    if kind == "promql":
        promql = parse_promql_spec(body, check_sql)
        for_seconds = _seconds(body.get("for_seconds"), "for_seconds")
        keep = _seconds(body.get("keep_firing_for_seconds"), "keep_firing_for_seconds")
        spec = {
            "promql": _promql_spec_json(promql),
            "labels": shown_labels,
            "annotations": shown_annotations,
            "for_seconds": for_seconds,
            "keep_firing_for_seconds": keep,
        }
        return RuleDef(**common, promql=promql, for_seconds=for_seconds, keep_firing_for_seconds=keep, spec=spec)
    if kind == "service":
        return RuleDef(**common, conditions=tuple(parse_service_conditions(body.get("rules"))))
    return RuleDef(
        **common,
        sql=parse_sql_spec(body, check_sql),
        for_seconds=_seconds(body.get("for_seconds"), "for_seconds"),
        keep_firing_for_seconds=_seconds(body.get("keep_firing_for_seconds"), "keep_firing_for_seconds"),
    )


def _n9e_queries(spec: Mapping[str, Any]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A Nightingale rule's expressions (``prom_ql`` and ``rule_config.queries[]``, each once) and severities."""
    found: dict[str, str] = {}
    prom_ql = spec.get("prom_ql")
    if isinstance(prom_ql, str) and prom_ql.strip():
        found[prom_ql.strip()] = ""
    config = spec.get("rule_config")
    queries = config.get("queries") if isinstance(config, dict) else None
    for q in queries if isinstance(queries, list) else ():
        text = q.get("prom_ql") if isinstance(q, dict) else None
        if isinstance(text, str) and text.strip():
            level = q.get("severity")
            severity = N9E_SEVERITY.get(level, "") if isinstance(level, int) else ""
            found[text.strip()] = severity or found.get(text.strip(), "")
    return tuple(found), tuple(found.values())


def _n9e_labels(spec: Mapping[str, Any]) -> dict[str, str]:
    """``append_tags`` (``["key=value", ...]``): labels every alert of the rule carries."""
    raw = spec.get("append_tags")
    out: dict[str, str] = {}
    for item in raw if isinstance(raw, list) else ():
        if isinstance(item, str) and "=" in item:
            key, _, value = item.partition("=")
            if LABEL_NAME.match(key.strip()):
                out[key.strip()] = value.strip()
    return out


def _n9e_promql(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of a :class:`RuleDef` that evaluate a stored Nightingale rule."""
    queries, severities = _n9e_queries(spec)
    interval = spec.get("prom_eval_interval") or 0
    annotations = spec.get("annotations") if isinstance(spec.get("annotations"), dict) else {}
    return {
        "promql": PromqlSpec(
            tenant="cnosdb",
            database="public",
            queries=queries,
            severities=severities,
            interval_seconds=float(max(interval, MIN_INTERVAL_SECONDS)) if interval else N9E_DEFAULT_INTERVAL_SECONDS,
        ),
        "for_seconds": float(spec.get("prom_for_duration") or 0),
        "keep_firing_for_seconds": float(spec.get("recover_duration") or 0),
        "labels": _go_map(_n9e_labels(spec), "append_tags"),
        "annotations": _go_map({str(k): str(v) for k, v in (annotations or {}).items()}, "annotations"),
    }


def n9e_rule(body: Mapping[str, Any], *, busi_group_id: int) -> RuleDef:
    """A Nightingale rule, stored in its own shape and evaluated as a PromQL rule."""
    name = body.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 255:
        raise BadRequest("name: a rule needs a name of 1 to 255 characters")
    prom_ql = body.get("prom_ql") or ""
    config = body.get("rule_config")
    queries = config.get("queries") if isinstance(config, dict) else None
    if not isinstance(prom_ql, str):
        raise BadRequest("prom_ql: expected a PromQL expression")
    if not prom_ql and not (isinstance(queries, list) and queries):
        raise BadRequest("prom_ql: a rule needs prom_ql or rule_config.queries[] with a query")
    if isinstance(queries, list):
        for i, q in enumerate(queries):
            if not isinstance(q, dict) or not isinstance(q.get("prom_ql", ""), str):
                raise BadRequest(f"rule_config.queries[{i}]: expected an object with prom_ql")
            if q.get("prom_ql"):
                check_promql(q["prom_ql"], f"rule_config.queries[{i}].prom_ql")
    if prom_ql:
        check_promql(prom_ql, "prom_ql")
    if not _n9e_queries(body)[0]:
        raise BadRequest("prom_ql: a rule needs prom_ql or rule_config.queries[] with a query")
    severity = body.get("severity", 2)
    if severity not in N9E_SEVERITY:
        raise BadRequest(f"severity: expected 1, 2 or 3, got {severity!r}")
    for key in ("prom_for_duration", "prom_eval_interval", "notify_repeat_step", "recover_duration"):
        value = body.get(key, 0)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0 or value > MAX_SECONDS:
            raise BadRequest(f"{key}: expected a non-negative integer of at most {MAX_SECONDS}, got {value!r}")
    disabled = body.get("disabled", 0)
    if disabled not in (0, 1):
        raise BadRequest(f"disabled: expected 0 or 1, got {disabled!r}")
    annotations = body.get("annotations") or {}
    if not isinstance(annotations, dict):
        raise BadRequest("annotations: expected an object of strings")
    _string_map(annotations, "annotations", names=False, go=True)
    server_side = ("id", "group_id", "create_at", "update_at", "create_by", "update_by", "heron_status")
    keep = {k: v for k, v in body.items() if k not in server_side}
    return RuleDef(
        id=0,
        name=name.strip(),
        kind="promql",
        owner_id=None,
        busi_group_id=busi_group_id,
        enabled=disabled == 0,
        notification_group_id=None,
        trigger_mode=TRIGGER_ALWAYS,
        severity=N9E_SEVERITY[severity],
        spec=keep,
        **_n9e_promql(keep),
    )


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def rule_from_row(row: AlertRule) -> RuleDef:
    """A stored rule as the evaluator and the API see it."""
    spec: dict[str, Any] = orjson.loads(row.spec or "{}")
    common: dict[str, Any] = {
        "id": row.id,
        "name": row.name,
        "kind": row.kind,
        "owner_id": row.owner_id,
        "busi_group_id": row.busi_group_id,
        "enabled": bool(row.enabled),
        "notification_group_id": row.notification_group_id,
        "trigger_mode": row.trigger_mode,
        "severity": row.severity,
        "labels": spec.get("labels") or {},
        "annotations": spec.get("annotations") or {},
        "fail_trigger_tasks": tuple(orjson.loads(row.fail_trigger_tasks or "[]")),
        "recover_trigger_tasks": tuple(orjson.loads(row.recover_trigger_tasks or "[]")),
        "spec": spec,
        "created_at": _aware(row.created_at),
        "updated_at": _aware(row.updated_at),
        "created_by": row.created_by,
        "updated_by": row.updated_by,
    }
    if row.kind == "server":
        return RuleDef(
            **common, conditions=tuple(parse_conditions(spec.get("rules"), now=datetime.max.replace(tzinfo=UTC)))
        )
    if row.kind == "service":
        return RuleDef(**common, conditions=tuple(parse_service_conditions(spec.get("rules"))))
    if row.kind == "sql":
        sql = spec["sql"]
        return RuleDef(
            **common,
            sql=SqlSpec(
                tenant=sql["tenant"],
                database=sql["database"],
                query=sql["query"],
                threshold=sql["threshold"],
                value_column=sql["value_column"],
                label_columns=tuple(sql["label_columns"]) if sql.get("label_columns") is not None else None,
                interval_seconds=float(sql["interval_seconds"]),
            ),
            for_seconds=float(spec.get("for_seconds", 0.0)),
            keep_firing_for_seconds=float(spec.get("keep_firing_for_seconds", 0.0)),
        )
    if row.kind == "promql" and isinstance(spec.get("promql"), dict):
        p = spec["promql"]
        common["labels"] = _go_map(common["labels"], "labels")
        common["annotations"] = _go_map(common["annotations"], "annotations")
        return RuleDef(
            **common,
            promql=PromqlSpec(
                tenant=p["tenant"],
                database=p["database"],
                queries=(p["expr"],),
                interval_seconds=float(p["interval_seconds"]),
                group=p.get("group") or "",
            ),
            for_seconds=float(spec.get("for_seconds", 0.0)),
            keep_firing_for_seconds=float(spec.get("keep_firing_for_seconds", 0.0)),
        )
    if row.kind == "promql":
        return RuleDef(**{**common, **_n9e_promql(spec)})
    return RuleDef(**common)


def _spec_json(rule: RuleDef) -> str:
    if rule.kind == "promql":
        return orjson.dumps(dict(rule.spec)).decode()
    spec: dict[str, Any] = {"labels": dict(rule.labels), "annotations": dict(rule.annotations)}
    if rule.kind in ("server", "service"):
        spec["rules"] = [c.to_json() for c in rule.conditions]
    elif rule.sql is not None:
        s = rule.sql
        spec["sql"] = {
            "tenant": s.tenant,
            "database": s.database,
            "query": s.query,
            "threshold": s.threshold,
            "value_column": s.value_column,
            "label_columns": list(s.label_columns) if s.label_columns is not None else None,
            "interval_seconds": s.interval_seconds,
        }
        spec["for_seconds"] = rule.for_seconds
        spec["keep_firing_for_seconds"] = rule.keep_firing_for_seconds
    return orjson.dumps(spec).decode()


def _resource(row: AlertRule) -> Resource:
    return Resource("alert_rule", owner_id=row.owner_id)


def _check_group(s: Session, principal: Principal, group_id: int | None) -> None:
    if group_id is None:
        return
    group = s.get(NotificationGroup, group_id)
    if group is None:
        raise NotFound(f"notification_group_id: no notification group with id {group_id}")
    require(principal, Action.READ, Resource("notification_group", owner_id=group.owner_id))


def _check_tasks(s: Session, principal: Principal, rule: RuleDef) -> None:
    """The trigger lists name triggered cron tasks (Nezha's ``task_type`` 1) the caller may use."""
    lists = (("fail_trigger_tasks", rule.fail_trigger_tasks), ("recover_trigger_tasks", rule.recover_trigger_tasks))
    for where, ids in lists:
        for task_id in ids:
            task = s.get(CronTask, task_id)
            if task is None:
                raise BadRequest(f"{where}: cron task {task_id} does not exist")
            # Running a task is operating its servers: its owner or an admin only (as for the cron API).
            require(principal, Action.UPDATE, Resource("server", owner_id=task.owner_id))
            if task.task_type != TRIGGERED_TASK:
                raise BadRequest(
                    f"{where}: cron task {task_id} is a scheduled task; "
                    "a rule runs only tasks of task_type 1 (triggered)"
                )


class RuleStore:
    """Saved rules; changes check the caller's rights (members manage their own rules)."""

    def __init__(self, meta: MetaStore) -> None:
        self._meta = meta

    def all(self) -> list[RuleDef]:
        with self._meta.session() as s:
            return [rule_from_row(r) for r in s.scalars(select(AlertRule).order_by(AlertRule.id))]

    def visible(self, principal: Principal, *, rule_id: int | None = None) -> list[RuleDef]:
        with self._meta.session() as s:
            query = select(AlertRule).where(AlertRule.busi_group_id.is_(None)).order_by(AlertRule.id)
            if not principal.is_admin:
                query = query.where(AlertRule.owner_id == principal.user_id)
            if rule_id is not None:
                query = query.where(AlertRule.id == rule_id)
            return [rule_from_row(r) for r in s.scalars(query)]

    def get(self, rule_id: int) -> RuleDef:
        with self._meta.session() as s:
            row = s.get(AlertRule, rule_id)
            if row is None:
                raise NotFound(f"no alert rule with id {rule_id}")
            return rule_from_row(row)

    def create(self, principal: Principal, rule: RuleDef, *, busi_group_id: int | None = None) -> RuleDef:
        if busi_group_id is None:
            require(principal, Action.CREATE, Resource("alert_rule"))
        with self._meta.session() as s:
            _check_group(s, principal, rule.notification_group_id)
            _check_tasks(s, principal, rule)
            row = AlertRule(
                owner_id=principal.user_id or None,
                busi_group_id=busi_group_id,
                created_by=principal.username,
                updated_by=principal.username,
            )
            self._fill(row, rule)
            s.add(row)
            s.flush()
            return rule_from_row(row)

    def update(self, principal: Principal, rule_id: int, rule: RuleDef, *, busi_group_id: int | None = None) -> RuleDef:
        with self._meta.session() as s:
            row = s.get(AlertRule, rule_id)
            if row is None or row.busi_group_id != busi_group_id:
                raise NotFound(f"no alert rule with id {rule_id}")
            if busi_group_id is None:
                require(principal, Action.UPDATE, _resource(row))
            _check_group(s, principal, rule.notification_group_id)
            _check_tasks(s, principal, rule)
            self._fill(row, rule)
            row.updated_by = principal.username
            row.updated_at = datetime.now(UTC)
            s.flush()
            return rule_from_row(row)

    def delete(self, principal: Principal, ids: list[int], *, busi_group_id: int | None = None) -> list[int]:
        with self._meta.session() as s:
            rows = list(s.scalars(select(AlertRule).where(AlertRule.id.in_(ids)))) if ids else []
            found = {r.id: r for r in rows if r.busi_group_id == busi_group_id}
            missing = [i for i in ids if i not in found]
            if missing:
                raise NotFound(f"no alert rule with id {', '.join(map(str, missing))}")
            if busi_group_id is None:
                for row in rows:
                    require(principal, Action.DELETE, _resource(row))
            s.execute(delete(AlertRule).where(AlertRule.id.in_(ids)))
        self._meta.touched(AlertRule.__tablename__)
        return ids

    def in_busi_group(self, busi_group_id: int) -> list[RuleDef]:
        with self._meta.session() as s:
            query = select(AlertRule).where(AlertRule.busi_group_id == busi_group_id).order_by(AlertRule.id)
            return [rule_from_row(r) for r in s.scalars(query)]

    @staticmethod
    def _fill(row: AlertRule, rule: RuleDef) -> None:
        row.kind = rule.kind
        row.name = rule.name
        row.enabled = rule.enabled
        row.notification_group_id = rule.notification_group_id
        row.trigger_mode = rule.trigger_mode
        row.severity = rule.severity
        row.spec = _spec_json(rule)
        row.fail_trigger_tasks = orjson.dumps(list(rule.fail_trigger_tasks)).decode()
        row.recover_trigger_tasks = orjson.dumps(list(rule.recover_trigger_tasks)).decode()
