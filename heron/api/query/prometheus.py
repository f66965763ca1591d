"""Prometheus's query API over Heron's series model, at ``/api/v1/…`` and ``/prometheus/api/v1/…``.

The contract is Prometheus's HTTP API document: ``query``, ``query_range``, ``series``,
``labels``, ``label/<name>/values``, ``metadata``, ``query_exemplars``,
``status/buildinfo`` and ``format_query``, GET or POST (form bodies), answering
``{"status": "success", "data": …}`` or ``{"status": "error", "errorType", "error"}``
with 400 (``bad_data``), 422 (``execution``) or 503 (``timeout``). The second mount,
VictoriaMetrics' convention, lets a Grafana data source URL end in ``/prometheus``.

Queries read the database named by ``db`` (and ``tenant``), Heron extensions defaulting
to ``public`` in ``cnosdb``, where remote write and the agents' status land.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import duckdb
import orjson
from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from heron import __version__
from heron.api.deps import current_user, services
from heron.api.query.prom_format import (
    MAX_TIME_MS,
    MIN_TIME_MS,
    Params,
    parse_duration_ms,
    parse_time_ms,
    read_params,
    render_instant,
    render_range,
)
from heron.api.services import Services
from heron.core import telemetry
from heron.inventory.live import STATUS_TABLE
from heron.meta.namespaces import DEFAULT_DATABASE, DEFAULT_TENANT
from heron.probes.board import RESULTS_TABLE
from heron.promql.engine import Evaluator, Options, matcher_groups, parse
from heron.promql.errors import BadData, ExecutionError, QueryTimeout
from heron.promql.series import Catalog, Matcher, SeriesReader, load_catalog
from heron.promql.values import I64, NAME, Labels, Scalar, Value, Vector
from heron.tsdb.names import schema_for
from heron.tsdb.sandbox import call_after

#: Where the server status history and the service results live (their series are
#: ``heron_server_*`` and ``heron_service_*``).
LIVE_SCHEMA = schema_for(DEFAULT_TENANT, DEFAULT_DATABASE)

router = APIRouter(tags=["prometheus"], dependencies=[Depends(current_user)])

#: The two places the API is mounted.
PREFIXES = ("/api/v1", "/prometheus/api/v1")
#: Prometheus's limit on the points a range query may return per series.
MAX_POINTS_PER_SERIES = 11_000
#: The Prometheus version whose API Heron answers like (``status/buildinfo``), so clients
#: that switch features on a version (Grafana) treat Heron as a Prometheus 2.x.
PROMETHEUS_API_VERSION = "2.45.0"

T = TypeVar("T")


def _json(data: Any, *, warnings: list[str] | None = None) -> Response:
    body: dict[str, Any] = {"status": "success", "data": data}
    if warnings:
        body["warnings"] = warnings
    return Response(orjson.dumps(body), media_type="application/json")


def _schema(svc: Services, params: Params) -> str:
    tenant = params.get("tenant") or DEFAULT_TENANT
    database = params.get("db") or DEFAULT_DATABASE
    svc.namespaces.get(tenant, database)
    return schema_for(tenant, database)


def _timeout_seconds(svc: Services, params: Params) -> float:
    limit = svc.settings.query_timeout_seconds
    raw = params.get("timeout")
    if raw:
        asked = parse_duration_ms(raw, "timeout") / 1000
        if asked > 0:
            return min(asked, limit)
    return limit


def read_series(svc: Services, schema: str, timeout: float, work: Callable[[SeriesReader, float], T]) -> T:
    """Run ``work`` (blocking) on a fresh cursor, once every acknowledged write is readable.

    Also what alert rules and the MCP tools evaluate PromQL with, so they read exactly what
    ``/api/v1/query`` reads.
    """
    # Every acknowledged write readable first; waited for here, in the worker thread,
    # to spare the event loop one more wake-up per query.
    deadline = time.monotonic() + timeout
    try:
        if not svc.writer.settled:
            svc.writer.sync().result(timeout=timeout)
    except TimeoutError as exc:
        raise QueryTimeout(f"the store did not catch up with acknowledged writes within {timeout:g} s") from exc
    cur = svc.tsdb.cursor()
    timer = call_after(timeout, cur.interrupt)
    try:
        catalog, labels = _catalog(svc, cur, schema)
        reader = SeriesReader(cur, catalog, max_samples=svc.settings.promql_max_samples, labels=labels)
        return work(reader, deadline)
    except duckdb.InterruptException as exc:
        raise QueryTimeout(f"the query ran longer than {timeout:g} s and was stopped") from exc
    finally:
        timer.cancel()
        cur.close()


async def with_reader(
    request: Request, svc: Services, params: Params, work: Callable[[SeriesReader, float], T], *, api: str
) -> T:
    """Run ``work`` in a worker thread on a fresh cursor, once every acknowledged write is readable."""
    schema = _schema(svc, params)
    timeout = _timeout_seconds(svc, params)
    started = time.perf_counter()
    try:
        return await run_in_threadpool(read_series, svc, schema, timeout, work)
    finally:
        telemetry.QUERY_SECONDS.labels(api=api).observe(time.perf_counter() - started)


def evaluate(
    svc: Services, tenant: str, database: str, query: str, *, start_ms: int, end_ms: int, step_ms: int
) -> tuple[Value, I64]:
    """Evaluate ``query`` (blocking) with the server's limits: its value and the steps it was taken at."""
    expr = parse(query)
    svc.namespaces.get(tenant, database)
    timeout = svc.settings.query_timeout_seconds
    lookback = int(svc.settings.promql_lookback_delta_seconds * 1000)

    def work(reader: SeriesReader, deadline: float) -> tuple[Value, I64]:
        options = Options(lookback_ms=lookback, deadline=deadline, timeout_seconds=timeout)
        ev = Evaluator(reader, start_ms=start_ms, end_ms=end_ms, step_ms=step_ms, options=options)
        return ev.run(expr), ev.steps()

    return read_series(svc, schema_for(tenant, database), timeout, work)


def instant_samples(svc: Services, tenant: str, database: str, query: str, at: float) -> list[tuple[Labels, float]]:
    """The series of an instant query at ``at`` (Unix seconds) and their values; a scalar is one unlabelled series."""
    at_ms = int(at * 1000)
    value, _steps = evaluate(svc, tenant, database, query, start_ms=at_ms, end_ms=at_ms, step_ms=1)
    if isinstance(value, Scalar):
        return [((), float(value.values[0]))]
    if isinstance(value, Vector):
        present = value.present[:, 0]
        return [(value.labels[i], float(value.values[i, 0])) for i in range(len(value)) if present[i]]
    raise ExecutionError(f"the expression gives a {type(value).__name__.lower()}, not an instant vector or a scalar")


#: Per schema: the writer's catalog version, the metric names derived from it, and the
#: labels of the metric-store series read so far (dropped with the catalog when it changes).
_CATALOGS: dict[str, tuple[int, Catalog, dict[int, Labels]]] = {}
_CATALOGS_LOCK = threading.Lock()
#: Series labels kept per database before the cache starts over (a few hundred bytes each).
MAX_CACHED_LABELS = 500_000


def _catalog(svc: Services, cur: duckdb.DuckDBPyConnection, schema: str) -> tuple[Catalog, dict[int, Labels]]:
    version = svc.writer.catalog_version
    with _CATALOGS_LOCK:
        cached = _CATALOGS.get(schema)
    if cached is not None and cached[0] == version:
        if len(cached[2]) > MAX_CACHED_LABELS:
            cached[2].clear()
        return cached[1], cached[2]
    live = schema == LIVE_SCHEMA
    catalog = load_catalog(
        cur, schema, status_table=STATUS_TABLE if live else None, service_table=RESULTS_TABLE if live else None
    )
    labels: dict[int, Labels] = {}
    with _CATALOGS_LOCK:
        _CATALOGS[schema] = (version, catalog, labels)
    return catalog, labels


def _options(svc: Services, params: Params, deadline: float, timeout: float) -> Options:
    lookback = int(svc.settings.promql_lookback_delta_seconds * 1000)
    raw = params.get("lookback_delta")
    if raw:
        lookback = parse_duration_ms(raw, "lookback_delta")
        if lookback <= 0:
            raise BadData('invalid parameter "lookback_delta": it must be positive')
    return Options(lookback_ms=lookback, deadline=deadline, timeout_seconds=timeout)


def _query_text(params: Params) -> str:
    query = params.get("query")
    if query is None:
        raise BadData('invalid parameter "query": missing')
    return query


async def instant_query(request: Request, svc: Services = Depends(services)) -> Response:
    params = await read_params(request)
    expr = parse(_query_text(params))
    raw_time = params.get("time")
    at = parse_time_ms(raw_time, "time") if raw_time else int(time.time() * 1000)
    timeout = _timeout_seconds(svc, params)

    def work(reader: SeriesReader, deadline: float) -> dict[str, Any]:
        ev = Evaluator(reader, start_ms=at, end_ms=at, step_ms=1, options=_options(svc, params, deadline, timeout))
        return render_instant(ev.run(expr), at)

    return _json(await with_reader(request, svc, params, work, api="query"))


async def range_query(request: Request, svc: Services = Depends(services)) -> Response:
    params = await read_params(request)
    expr = parse(_query_text(params))
    for name in ("start", "end", "step"):
        if not params.get(name):
            raise BadData(f'invalid parameter "{name}": missing')
    start = parse_time_ms(params.get("start") or "", "start")
    end = parse_time_ms(params.get("end") or "", "end")
    step = parse_duration_ms(params.get("step") or "", "step")
    if end < start:
        raise BadData('invalid parameter "end": end timestamp must not be before start time')
    if step <= 0:
        raise BadData(
            'invalid parameter "step": zero or negative query resolution step widths are not accepted.'
            " Try a positive integer"
        )
    limit = svc.settings.promql_max_points_per_series
    if (end - start) / step > limit:
        # 422 as the issue asks (Prometheus itself answers 400 bad_data with the same text).
        raise ExecutionError(
            f"exceeded maximum resolution of {limit:,} points per timeseries."
            " Try decreasing the query resolution (?step=XX)"
        )
    timeout = _timeout_seconds(svc, params)

    def work(reader: SeriesReader, deadline: float) -> dict[str, Any]:
        ev = Evaluator(
            reader, start_ms=start, end_ms=end, step_ms=step, options=_options(svc, params, deadline, timeout)
        )
        return render_range(ev.run(expr), ev.steps())

    return _json(await with_reader(request, svc, params, work, api="query_range"))


def _selectors(params: Params, *, required: bool) -> list[list[Matcher]]:
    """The ``match[]`` selectors, each as its groups of matchers."""
    texts = params.all("match[]")
    if not texts and required:
        raise BadData("no match[] parameter provided")
    groups: list[list[Matcher]] = []
    for text in texts:
        expr = parse(text)
        while hasattr(expr, "expr") and not hasattr(expr, "matchers"):
            expr = expr.expr
        if not hasattr(expr, "matchers"):
            raise BadData(f'invalid parameter "match[]": {text!r} is not a series selector')
        groups.extend(matcher_groups(expr))  # type: ignore[arg-type]
    return groups


def _bounds(params: Params) -> tuple[int | None, int | None]:
    raw_start, raw_end = params.get("start"), params.get("end")
    start = parse_time_ms(raw_start, "start") if raw_start else None
    end = parse_time_ms(raw_end, "end") if raw_end else None
    if start is None and end is None:
        return None, None
    return (start if start is not None else MIN_TIME_MS), (end if end is not None else MAX_TIME_MS)


def _limit(params: Params) -> int:
    raw = params.get("limit")
    if not raw:
        return 0
    try:
        value = int(raw)
    except ValueError:
        raise BadData(f'invalid parameter "limit": cannot parse "{raw}" to a valid limit') from None
    if value < 0:
        raise BadData('invalid parameter "limit": limit must be non-negative')
    return value


def _limited(items: list[T], limit: int) -> tuple[list[T], list[str]]:
    if limit and len(items) > limit:
        return items[:limit], ["results truncated due to limit"]
    return items, []


async def series(request: Request, svc: Services = Depends(services)) -> Response:
    params = await read_params(request)
    groups = _selectors(params, required=True)
    start, end = _bounds(params)
    limit = _limit(params)

    def work(reader: SeriesReader, _deadline: float) -> list[Labels]:
        return sorted(reader.series(groups, start, end))

    found, warnings = _limited(await with_reader(request, svc, params, work, api="series"), limit)
    return _json([dict(labels) for labels in found], warnings=warnings)


async def label_names(request: Request, svc: Services = Depends(services)) -> Response:
    params = await read_params(request)
    groups = _selectors(params, required=False)
    start, end = _bounds(params)
    limit = _limit(params)

    def work(reader: SeriesReader, _deadline: float) -> list[str]:
        if not groups:
            names = {NAME}
            for sources in reader.catalog.sources.values():
                for source in sources:
                    names.update(source.labels)
            return sorted(names)
        found = {name for labels in reader.series(groups, start, end) for name, _ in labels}
        return sorted(found)

    names, warnings = _limited(await with_reader(request, svc, params, work, api="labels"), limit)
    return _json(names, warnings=warnings)


async def label_values(name: str, request: Request, svc: Services = Depends(services)) -> Response:
    params = await read_params(request)
    groups = _selectors(params, required=False)
    start, end = _bounds(params)
    limit = _limit(params)

    def work(reader: SeriesReader, _deadline: float) -> list[str]:
        if name == NAME and not groups:
            return reader.catalog.names()
        wanted = groups or [[Matcher("=~", name, ".+")]]
        return sorted({v for labels in reader.series(wanted, start, end) for k, v in labels if k == name})

    values, warnings = _limited(await with_reader(request, svc, params, work, api="label_values"), limit)
    return _json(values, warnings=warnings)


async def metadata(request: Request) -> Response:
    """Heron keeps no metric metadata (type, help, unit): the answer is an empty map."""
    params = await read_params(request)
    _limit(params)
    return _json({})


async def query_exemplars(request: Request) -> Response:
    """Heron stores no exemplars: a valid query gets an empty list."""
    params = await read_params(request)
    parse(_query_text(params))
    return _json([])


async def buildinfo() -> Response:
    return _json(
        {
            "version": PROMETHEUS_API_VERSION,
            "revision": f"heron-{__version__}",
            "branch": "heron",
            "buildUser": "heron",
            "buildDate": "",
            "goVersion": "",
        }
    )


async def format_query(request: Request) -> Response:
    params = await read_params(request)
    return _json(parse(_query_text(params)).prettify())


async def prometheus_root() -> Response:
    """What clients that probe the base URL first (``prometheus-api-client``) get: a pointer to the API."""
    return Response(
        "Heron: Prometheus's query API is under /prometheus/api/v1/ (and /api/v1/)\n", media_type="text/plain"
    )


router.add_api_route(
    "/prometheus/",
    prometheus_root,
    methods=["GET", "HEAD"],
    summary="Base of the Prometheus-compatible API (a Grafana data source URL ends in /prometheus)",
    response_class=Response,
)

_ROUTES: list[tuple[str, Callable[..., Any], list[str], str]] = [
    ("/query", instant_query, ["GET", "POST"], "Evaluate a PromQL instant query (Prometheus)"),
    ("/query_range", range_query, ["GET", "POST"], "Evaluate a PromQL range query (Prometheus)"),
    ("/series", series, ["GET", "POST"], "Find series by label matchers (Prometheus)"),
    ("/labels", label_names, ["GET", "POST"], "List label names (Prometheus)"),
    ("/label/{name}/values", label_values, ["GET"], "List the values of one label (Prometheus)"),
    ("/metadata", metadata, ["GET"], "Metric metadata (Prometheus; Heron keeps none, so it is empty)"),
    ("/query_exemplars", query_exemplars, ["GET", "POST"], "Exemplars (Prometheus; Heron stores none)"),
    ("/status/buildinfo", buildinfo, ["GET"], "Build information, in Prometheus's shape"),
    ("/format_query", format_query, ["GET", "POST"], "Format a PromQL expression (Prometheus)"),
]

for _prefix in PREFIXES:
    for _path, _handler, _methods, _summary in _ROUTES:
        router.add_api_route(
            _prefix + _path,
            _handler,
            methods=_methods,
            summary=_summary,
            response_class=Response,
            include_in_schema=_prefix == PREFIXES[0],
            name=f"{_handler.__name__}{'' if _prefix == PREFIXES[0] else '_prometheus'}",
        )
