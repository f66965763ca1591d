"""``POST /mcp``: the Model Context Protocol (Streamable HTTP, the official ``mcp`` SDK) for AI assistants.

An assistant with a token (a scoped one is the point: ``nezha:server:read`` and
``nezha:tsdb:read`` let it look, not touch) can list and inspect servers, read their metric
history, run SQL through the same read-only sandbox as ``/api/v1/sql`` and PromQL through the
engine behind ``/api/v1/query`` (``promql.query``), see the service monitors' current state
(``service.status``, ``nezha:service:read``) and the firing alerts (``alert.firing``,
``nezha:alertrule:read``), and, only with
``nezha:server:exec`` on an agent that allows ``exec``, run a command. Each tool checks the
token's scopes and the owner's rights, and every call is audited (``mcp.<tool>``).

The SDK runs statelessly with JSON answers: each POST is one JSON-RPC exchange, authenticated
like any request. The caller's identity reaches the tools through a per-call key in a
private header (the SDK hands tools the request's headers), never through anything a client
could set itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import AsyncIterator, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import orjson
from fastapi import APIRouter, Depends, Request
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from starlette.responses import Response

from heron import __version__
from heron.alerts import events
from heron.alerts.service import AlertService
from heron.api.deps import current_user
from heron.api.ingest.body import read_body
from heron.api.inventory.servers import current_view, visible_servers
from heron.api.ops.state import OpsState, actor_of, ops_state
from heron.api.query.prom_format import parse_duration_ms, parse_time_ms, render_instant, render_range
from heron.api.query.prometheus import evaluate
from heron.api.services import Services
from heron.auth.permissions import Action, allowed
from heron.auth.scopes import covers
from heron.auth.users import Principal
from heron.core.errors import Forbidden, HeronError
from heron.ops.audit import Actor
from heron.probes.service import HERON_NODE_ID, ProbeService
from heron.tsdb.names import schema_for
from heron.tsdb.sandbox import run_select

router = APIRouter(tags=["heron"], dependencies=[Depends(current_user)])

#: The private header that carries a call's key from the route to the tools.
CALL_HEADER = b"x-heron-mcp-call"
MAX_BODY_BYTES = 4 * 1024 * 1024
MAX_SQL_ROWS = 10_000
DEFAULT_SQL_ROWS = 500
MAX_ALERTS = 1000
DEFAULT_ALERTS = 100
METRICS = (
    "cpu",
    "mem_used",
    "swap_used",
    "disk_used",
    "net_in_speed",
    "net_out_speed",
    "load1",
    "load5",
    "load15",
    "tcp_conn",
    "udp_conn",
    "process_count",
    "temperature",
    "uptime",
)


@dataclass(frozen=True, slots=True)
class Caller:
    principal: Principal
    actor: Actor


class McpEndpoint:
    """The MCP server, its session manager, and the calls in progress."""

    def __init__(
        self,
        svc: Services,
        state: OpsState,
        *,
        alerts: AlertService | None = None,
        probes: Callable[[], ProbeService | None] = lambda: None,
    ) -> None:
        self.svc = svc
        self.state = state
        self.alerts = alerts
        #: The service monitors, once they run (they start with the application).
        self.probes = probes
        self.calls: dict[str, Caller] = {}
        self.server: MCPServer[Any] = MCPServer(
            name="heron",
            version=__version__,
            instructions=(
                "Heron's monitoring data: servers, their metrics, service monitors, firing alerts,"
                " SQL and PromQL over the time series, and commands."
            ),
        )
        self._tools()
        self.manager = StreamableHTTPSessionManager(
            app=self.server._lowlevel_server, json_response=True, stateless=True
        )

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        async with self.manager.run():
            yield

    # -- who is calling ------------------------------------------------------------------------

    def _caller(self, ctx: Context[Any, Any], scope: str, tool: str) -> Caller:
        key = (ctx.headers or {}).get(CALL_HEADER.decode(), "")
        caller = self.calls.get(key)
        if caller is None:
            raise ToolError("this call is not authenticated")
        scopes = caller.principal.scopes
        if scopes is not None and not covers(scopes, scope):
            self.state.ops.audit.record(caller.actor, f"mcp.{tool}", outcome="refused", missing_scope=scope)
            raise ToolError(f"the token lacks the scope {scope} that {tool} needs")
        return caller

    def _tools(self) -> None:
        mcp = self.server

        @mcp.tool(name="server.list", description="List the servers you may see, with online state and key figures.")
        async def server_list(ctx: Context[Any, Any]) -> list[dict[str, Any]]:
            caller = self._caller(ctx, "nezha:inventory:read", "server.list")
            views = await asyncio.to_thread(visible_servers, self.svc, caller.principal)
            self.state.ops.audit.record(caller.actor, "mcp.server.list", count=len(views))
            return [
                {
                    "id": v.info.id,
                    "name": v.info.name,
                    "online": v.online,
                    "ipv4": v.ipv4,
                    "ipv6": v.ipv6,
                    "platform": v.host.get("Platform", ""),
                    "cpu_percent": v.status.get("CPU", 0),
                    "mem_used": v.status.get("MemUsed", 0),
                    "mem_total": v.host.get("MemTotal", 0),
                }
                for v in views
            ]

        @mcp.tool(name="server.get", description="One server: host facts, live status, last report.")
        async def server_get(server_id: int, ctx: Context[Any, Any]) -> dict[str, Any]:
            caller = self._caller(ctx, "nezha:server:read", "server.get")
            info = await self._readable(caller, server_id)
            view = current_view(self.svc, info)
            self.state.ops.audit.record(caller.actor, "mcp.server.get", server_id=server_id)
            link = self.state.ops.hub.get(info.id)
            return {
                "id": info.id,
                "name": info.name,
                "online": view.online,
                "last_active": view.last_active,
                "host": view.host,
                "status": view.status,
                "labels": info.labels,
                "agent_allows": sorted(link.allow) if link is not None else [],
            }

        @mcp.tool(
            name="server.metrics",
            description=f"A server's status history over the last minutes, oldest first; metric: {', '.join(METRICS)}.",
        )
        async def server_metrics(
            server_id: int, metric: str, ctx: Context[Any, Any], minutes: int = 60
        ) -> list[dict[str, Any]]:
            caller = self._caller(ctx, "nezha:server:read", "server.metrics")
            if metric not in METRICS:
                raise ToolError(f"metric: expected one of {', '.join(METRICS)}, got {metric!r}")
            await self._readable(caller, server_id)
            minutes = max(1, min(minutes, 60 * 24 * 31))
            sql = (
                f"SELECT time, {metric} AS value FROM server_status WHERE server_id = '{int(server_id)}' "
                f"AND time > now() - INTERVAL {minutes} MINUTE ORDER BY time"
            )
            rows = await self._sql("cnosdb", "public", sql, MAX_SQL_ROWS)
            self.state.ops.audit.record(caller.actor, "mcp.server.metrics", server_id=server_id, metric=metric)
            return rows

        @mcp.tool(
            name="sql.query",
            description="Run one read-only SQL SELECT on a database (default: public, where server_status lives).",
        )
        async def sql_query(
            sql: str,
            ctx: Context[Any, Any],
            db: str = "public",
            tenant: str = "cnosdb",
            max_rows: int = DEFAULT_SQL_ROWS,
        ) -> dict[str, Any]:
            caller = self._caller(ctx, "nezha:tsdb:read", "sql.query")
            started = time.monotonic()
            try:
                rows = await self._sql(tenant, db, sql, max(1, min(max_rows, MAX_SQL_ROWS)))
            except HeronError as exc:
                self.state.ops.audit.record(
                    caller.actor, "mcp.sql.query", outcome="error", sql=sql[:500], error=exc.message
                )
                raise ToolError(exc.message) from None
            self.state.ops.audit.record(
                caller.actor,
                "mcp.sql.query",
                sql=sql[:500],
                rows=len(rows),
                duration_ms=round((time.monotonic() - started) * 1000, 3),
            )
            return {"rows": rows, "row_count": len(rows)}

        @mcp.tool(
            name="promql.query",
            description=(
                "Evaluate PromQL: an instant query at `time` (default now), or a range query when"
                " `start`, `end` and `step` are given. Times are Unix seconds or RFC 3339; step is"
                " seconds or a duration such as 1m. Answers Prometheus's data: resultType and result."
                " Server status is heron_server_*{server=...}, service results heron_service_*{service=...}."
            ),
        )
        async def promql_query(
            query: str,
            ctx: Context[Any, Any],
            time: str = "",
            start: str = "",
            end: str = "",
            step: str = "",
            db: str = "public",
            tenant: str = "cnosdb",
        ) -> dict[str, Any]:
            caller = self._caller(ctx, "nezha:tsdb:read", "promql.query")
            ranged = bool(start or end or step)
            try:
                data = await asyncio.to_thread(self._promql, query, tenant, db, time, start, end, step)
            except HeronError as exc:
                self.state.ops.audit.record(
                    caller.actor, "mcp.promql.query", outcome="error", query=query[:500], error=exc.message
                )
                raise ToolError(exc.message) from None
            self.state.ops.audit.record(
                caller.actor, "mcp.promql.query", query=query[:500], range=ranged, series=len(data["result"])
            )
            return data

        @mcp.tool(
            name="service.status",
            description=(
                "Service monitors you may see and their current state from each vantage point"
                " (up, degraded, down, pending), with the last latency and the reason of a failure."
            ),
        )
        async def service_status(ctx: Context[Any, Any], service_id: int = 0) -> list[dict[str, Any]]:
            caller = self._caller(ctx, "nezha:service:read", "service.status")
            probes = self.probes()
            if probes is None:
                raise ToolError("the service monitors are not running yet")
            found = await asyncio.to_thread(self._services, probes, caller.principal, service_id)
            if service_id and not found:
                raise ToolError(f"service_id: no monitor with id {service_id}")
            self.state.ops.audit.record(caller.actor, "mcp.service.status", count=len(found))
            return found

        @mcp.tool(
            name="alert.firing",
            description="Alerts firing now on rules you may see, newest first: rule, severity, labels, value.",
        )
        async def alert_firing(
            ctx: Context[Any, Any], severity: str = "", limit: int = DEFAULT_ALERTS
        ) -> dict[str, Any]:
            caller = self._caller(ctx, "nezha:alertrule:read", "alert.firing")
            if self.alerts is None:
                raise ToolError("alerting is not running")
            f = events.EventFilter(state="firing", severity=severity)
            meta = self.alerts.meta
            try:
                rows = await asyncio.to_thread(
                    events.page, meta, caller.principal, f, offset=0, limit=max(1, min(limit, MAX_ALERTS))
                )
            except HeronError as exc:
                raise ToolError(exc.message) from None
            found = [
                {
                    k: v
                    for k, v in events.event_json(row).items()
                    if k not in ("values", "fingerprint", "resolved_at", "acked_at", "notify_count")
                }
                for row in rows
            ]
            self.state.ops.audit.record(caller.actor, "mcp.alert.firing", count=len(found))
            return {"alerts": found, "count": len(found)}

        @mcp.tool(
            name="server.exec",
            description="Run a command (sh -c) on a server whose agent allows exec; returns exit code and output.",
        )
        async def server_exec(
            server_id: int, command: str, ctx: Context[Any, Any], timeout_seconds: float = 60.0
        ) -> dict[str, Any]:
            caller = self._caller(ctx, "nezha:server:exec", "server.exec")
            try:
                info = await asyncio.to_thread(self.state.ops.server_for, caller.principal, server_id)
                link = self.state.ops.link_for(info, "exec")
                limit = max(1.0, min(timeout_seconds, self.svc.settings.ops_command_timeout_seconds))
                result = await link.call("exec", {"command": command, "timeout": limit}, timeout_seconds=limit + 30)
            except HeronError as exc:
                self.state.ops.audit.record(
                    caller.actor,
                    "mcp.server.exec",
                    server_id=server_id,
                    target=command[:200],
                    outcome="refused" if exc.status == 403 else "error",
                    error=exc.message,
                )
                raise ToolError(exc.message) from None
            self.state.ops.audit.record(
                caller.actor,
                "mcp.server.exec",
                server_id=server_id,
                target=command[:200],
                exit_code=result.get("exit_code"),
                duration_ms=result.get("duration_ms"),
            )
            return result

    def _promql(self, query: str, tenant: str, db: str, at: str, start: str, end: str, step: str) -> dict[str, Any]:
        """An instant or range query through the engine and limits of ``/api/v1/query``."""
        svc = self.svc
        if not (start or end or step):
            at_ms = parse_time_ms(at, "time") if at else int(time.time() * 1000)
            value, _steps = evaluate(svc, tenant, db, query, start_ms=at_ms, end_ms=at_ms, step_ms=1)
            return render_instant(value, at_ms)
        if not (start and end and step):
            raise HeronError("start, end, step: a range query needs all three")
        start_ms, end_ms = parse_time_ms(start, "start"), parse_time_ms(end, "end")
        step_ms = parse_duration_ms(step, "step")
        if end_ms < start_ms or step_ms <= 0:
            raise HeronError("start, end, step: end must not be before start and step must be positive")
        limit = svc.settings.promql_max_points_per_series
        if (end_ms - start_ms) / step_ms > limit:
            raise HeronError(f"step: more than {limit} points per series; use a larger step")
        value, steps = evaluate(svc, tenant, db, query, start_ms=start_ms, end_ms=end_ms, step_ms=step_ms)
        return render_range(value, steps)

    def _services(self, probes: ProbeService, principal: Principal, service_id: int) -> list[dict[str, Any]]:
        names = {view.info.id: view.info.name for view in visible_servers(self.svc, principal)}
        names[HERON_NODE_ID] = probes.node
        by_monitor: dict[int, list[dict[str, Any]]] = {}
        for st in probes.board.current(service_id or None):
            if st.server_id not in names:
                continue
            by_monitor.setdefault(st.monitor_id, []).append(
                {
                    "server_id": st.server_id,
                    "server_name": names[st.server_id],
                    "state": st.state.value,
                    "since": st.since,
                    "reason": st.reason,
                    "last_check_at": st.last_at,
                    "last_up": st.last_up,
                    "last_latency_ms": st.last_delay_ms,
                }
            )
        out = []
        for monitor in sorted(probes.monitors.all().values(), key=lambda m: m.id):
            if service_id and monitor.id != service_id:
                continue
            if not allowed(principal, Action.READ, monitor.resource):
                continue
            vantage = by_monitor.get(monitor.id, [])
            out.append(
                {
                    "id": monitor.id,
                    "name": monitor.name,
                    "kind": monitor.kind,
                    "target": monitor.target,
                    "up": sum(1 for v in vantage if v["state"] in ("up", "degraded")),
                    "down": sum(1 for v in vantage if v["state"] == "down"),
                    "vantage_points": vantage,
                }
            )
        return out

    async def _readable(self, caller: Caller, server_id: int) -> Any:
        views = await asyncio.to_thread(visible_servers, self.svc, caller.principal)
        for view in views:
            if view.info.id == server_id:
                return view.info
        raise ToolError(f"server_id: server {server_id} does not exist or is not yours")

    async def _sql(self, tenant: str, db: str, sql: str, max_rows: int) -> list[dict[str, Any]]:
        svc = self.svc
        await asyncio.wrap_future(svc.writer.sync())

        def run() -> list[dict[str, Any]]:
            svc.namespaces.get(tenant, db)
            schema = schema_for(tenant, db)
            stream = run_select(
                svc.tsdb,
                schema,
                sql,
                timeout_seconds=svc.settings.query_timeout_seconds,
                max_rows=max_rows,
                tables=svc.writer.table_names(schema),
            )
            rows: list[dict[str, Any]] = []
            try:
                for batch in stream:
                    rows.extend(batch.to_pylist())
                    if len(rows) >= max_rows:
                        break
            finally:
                stream.close()
            return orjson.loads(orjson.dumps(rows[:max_rows], default=str))  # type: ignore[no-any-return]

        return await asyncio.to_thread(run)

    async def handle(self, request: Request, caller: Caller) -> Response:
        """One JSON-RPC exchange: the body goes to the SDK, its JSON answer comes back."""
        body = await read_body(request, max_bytes=MAX_BODY_BYTES)
        key = secrets.token_hex(16)
        headers = [(k, v) for k, v in request.scope["headers"] if k != CALL_HEADER]
        headers.append((CALL_HEADER, key.encode()))
        scope = {**request.scope, "headers": headers}
        answered = asyncio.Event()
        status, out_headers, chunks = 500, [], []
        delivered = False

        async def receive() -> dict[str, Any]:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            await answered.wait()
            return {"type": "http.disconnect"}

        async def send(message: MutableMapping[str, Any]) -> None:
            nonlocal status, out_headers
            if message["type"] == "http.response.start":
                status, out_headers = message["status"], message.get("headers", [])
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body"):
                    answered.set()

        self.calls[key] = caller
        try:
            await self.manager.handle_request(scope, receive, send)
        finally:
            answered.set()
            self.calls.pop(key, None)
        kept = {k.decode("latin-1"): v.decode("latin-1") for k, v in out_headers if k.lower() != b"content-length"}
        body = b"".join(chunks)
        if status >= 400 and not kept.get("content-type", "").startswith("application/json"):
            # The SDK refuses a malformed request in plain text; Heron's clients get its envelope.
            error = HeronError(f"MCP: {body.decode('utf-8', errors='replace').strip() or 'request refused'}")
            error.status = status
            raise error
        return Response(body, status_code=status, headers=kept)


def mcp_endpoint(request: Request) -> McpEndpoint:
    endpoint: McpEndpoint = request.app.state.mcp
    return endpoint


@router.post(
    "/mcp",
    summary="Model Context Protocol (Streamable HTTP, JSON answers): tools over servers, metrics, SQL and commands",
    response_model=dict[str, Any],
)
async def mcp_call(
    request: Request,
    user: Principal = Depends(current_user),
    endpoint: McpEndpoint = Depends(mcp_endpoint),
    state: OpsState = Depends(ops_state),
) -> Response:
    origin = request.headers.get("origin")
    if origin and urlsplit(origin).netloc != request.headers.get("host", ""):
        raise Forbidden("the MCP endpoint does not answer other sites' pages (Origin differs from Host)")
    return await endpoint.handle(request, Caller(user, actor_of(request, user)))
