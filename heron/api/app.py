"""The ASGI application: assembles the routers; nothing else lives here."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

from fastapi import FastAPI
from fastapi.routing import APIRoute

from heron import __version__
from heron.api import docs, health, own_metrics
from heron.api.access import apikeys, session, settings, tokens, users, waf
from heron.api.admission import ByteBudget, WriteAdmission
from heron.api.alerts import build_alert_service
from heron.api.alerts import events as alert_events
from heron.api.alerts import notifications as alert_notifications
from heron.api.alerts import rules as alert_rules
from heron.api.alerts import silences as alert_silences
from heron.api.compat import n9e as n9e_compat
from heron.api.compat import n9e_alerts, n9e_targets, nezha_v0, oitc_hosts
from heron.api.compat import oitc as oitc_compat
from heron.api.errors import install_error_handlers
from heron.api.ingest import logs, push_n9e, push_prom, traces, write
from heron.api.ingest.batches import write_batches
from heron.api.inventory import agent_ws, server_groups, server_metrics, server_ws, servers
from heron.api.inventory.server_list import ServerListing
from heron.api.ops import audit as ops_audit
from heron.api.ops import cron as ops_cron
from heron.api.ops import ddns as ops_ddns
from heron.api.ops import files as ops_files
from heron.api.ops import maintenance as ops_maintenance
from heron.api.ops import mcp as ops_mcp
from heron.api.ops import nat as ops_nat
from heron.api.ops import server_config as ops_server_config
from heron.api.ops import terminal as ops_terminal
from heron.api.ops.nat_ingress import NatIngress
from heron.api.ops.state import build_ops
from heron.api.probes import monitor_v0, push, runtime, services
from heron.api.query import prometheus, remote_read, sql
from heron.api.services import Services
from heron.api.web import assets as web_assets
from heron.api.web import status as web_status
from heron.api.web import status_pages as web_status_pages
from heron.auth.principal import Authenticator
from heron.auth.ratelimit import WafPolicy
from heron.tsdb.names import schema_for

log = logging.getLogger(__name__)

#: Where server status history and online/offline changes are written (SQL: ``db=public``).
LIVE_TENANT = "cnosdb"
LIVE_DATABASE = "public"


async def _retention_loop(svc: Services) -> None:
    """Delete expired rows of every database with a TTL, every few seconds as configured."""
    while True:
        await asyncio.sleep(svc.settings.retention_interval_seconds)
        for info in svc.namespaces.list():
            if info.ttl_seconds <= 0 and not info.rollups:
                continue
            schema = schema_for(info.tenant, info.name)
            try:
                expired = await asyncio.wrap_future(svc.writer.expire(schema, ttl_seconds=info.ttl_seconds))
            except Exception:
                log.exception("retention failed", extra={"tenant": info.tenant, "database": info.name})
                continue
            if expired.rows:
                log.info(
                    "expired rows deleted",
                    extra={
                        "tenant": info.tenant,
                        "database": info.name,
                        "rows": expired.rows,
                        "series": expired.series,
                    },
                )


# -- storage engine maintenance (issue 17) --------------------------------------------------

#: How often the compaction loop looks for settled windows when none was due.
COMPACTION_POLL_SECONDS = 1.0


async def _compaction_loop(svc: Services) -> None:
    """Compact settled windows one step at a time (each on the applier thread, between flushes)."""
    while True:
        await asyncio.sleep(COMPACTION_POLL_SECONDS)
        while (started := svc.writer.compact_next()) is not None:
            try:
                await asyncio.wrap_future(started)
            except Exception:  # noqa: BLE001 - the compactor logged and counted it; tried again later
                break


async def _host_flush_loop(svc: Services) -> None:
    """Write buffered host sightings about once a second (never a metadata write per point)."""
    while True:
        await asyncio.sleep(1.0)
        try:
            await asyncio.to_thread(svc.hosts.flush)
        except Exception:
            log.exception("saving host sightings failed; will retry")


async def _live_loop(svc: Services) -> None:
    """Detect servers gone silent, and write status history and state changes to the TSDB in batches.

    Runs at least once a second, and four times per offline timeout when that is shorter, so
    a server is shown offline at most a quarter of the timeout late.
    """
    period = max(0.05, min(1.0, svc.settings.host_offline_seconds / 4))
    while True:
        await asyncio.sleep(period)
        for change in svc.live.sweep(now=time.time(), offline_after_seconds=svc.settings.host_offline_seconds):
            log.info("server offline", extra={"server_id": change.server_id, "server": change.name})
        await _write_live_history(svc)


async def _write_live_history(svc: Services) -> None:
    """Write the buffered status rows and state changes (also at shutdown, so the last second is kept)."""
    batches = svc.live.drain()
    if not batches:
        return
    try:
        await write_batches(svc, tenant=LIVE_TENANT, database=LIVE_DATABASE, batches=batches, atomic=False)
    except Exception:
        svc.live.count_lost(batches)
        log.exception("writing server status history failed; these rows are lost")


def create_app(svc: Services) -> FastAPI:
    """The application over already-opened services (the caller closes them)."""
    listing = ServerListing(svc, item_of=partial(servers.v1_server, show_note=True))
    # -- alerts and notifications (issue 13) --
    alerts = build_alert_service(svc, live_tenant=LIVE_TENANT, live_database=LIVE_DATABASE)
    ops = build_ops(svc)
    mcp = ops_mcp.McpEndpoint(svc, ops, alerts=alerts, probes=lambda: getattr(app.state, "probes", None))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        tasks = [
            asyncio.create_task(_retention_loop(svc)),
            asyncio.create_task(_compaction_loop(svc)),  # storage engine (issue 17)
            asyncio.create_task(_host_flush_loop(svc)),
            asyncio.create_task(_live_loop(svc)),
            asyncio.create_task(listing.keep_fresh()),
            *alerts.start(),
        ]
        # -- service monitors: scheduler, history writer, agent channel (heron.api.probes) --
        tasks += [asyncio.create_task(job) for job in runtime.start(app, svc)]
        # -- alerts beside monitors and cron: service rules, monitor notify, trigger tasks, cron results --
        alerts.attach_probes(app.state.probes)
        alerts.attach_trigger(ops.run_for_alert)
        ops.cron.failure_listeners.append(alerts.cron_ran)
        # --- PromQL and Heron's own metrics (issue 15) ---
        if svc.settings.self_metrics_interval_seconds > 0:
            tasks.append(asyncio.create_task(own_metrics.store_loop(svc)))
        await ops.start()  # remote operations: the cron scheduler, audit and run writes
        try:
            async with mcp.running():
                yield
        finally:
            for task in tasks:
                task.cancel()
            await runtime.stop(app, svc)
            await ops.stop()
            await _write_live_history(svc)
            await alerts.close()
            # Closing here, not after uvicorn returns: on SIGTERM uvicorn re-raises the
            # signal once the lifespan has ended, so code after server.run() never runs.
            await asyncio.to_thread(svc.close)

    app = FastAPI(
        title="Heron",
        version=__version__,
        description="Self-hosted monitoring: time series, SQL, servers, monitors and alerts.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.services = svc
    app.state.server_listing = listing
    app.state.alerts = alerts
    app.state.auth = _authenticator(svc)
    app.state.ops = ops
    app.state.mcp = mcp
    install_error_handlers(app)
    docs.install_openapi(app)
    # --- PromQL, the Prometheus API and Heron's own metrics (issue 15) ---
    own_metrics.watch_services(svc)
    ingest = (
        write.cnosdb,
        write.influx_v1,
        write.influx_v2,
        push_n9e.n9e,
        push_n9e.datadog,
        push_n9e.cnosdb,
        push_prom.n9e,
        push_prom.cnosdb,
        logs.cnosdb,
        logs.elasticsearch,
        logs.loki,
        traces.cnosdb,
        traces.otlp,
    )
    for router in (
        health.cnosdb,
        health.influx,
        health.heron,
        *ingest,
        sql.router,
        servers.router,
        servers.managed,
        servers.admin,
        server_groups.router,
        server_metrics.router,
        server_ws.router,
        nezha_v0.router,
        agent_ws.router,
    ):
        app.include_router(router)
    for router in (
        session.public,
        session.signed_in,
        session.admin,
        users.admin,
        users.profile,
        tokens.router,
        apikeys.router,
        settings.public,
        settings.admin,
        waf.router,
        n9e_compat.router,
        n9e_targets.router,
        oitc_compat.router,
        oitc_compat.admin,
        oitc_hosts.router,
        docs.router,
    ):
        app.include_router(router)
    # -- service monitors (heron.api.probes); the fixed paths before /api/v1/service/{id} --
    for router in (services.managed, services.admin, services.router, push.router, monitor_v0.router):
        app.include_router(router)
    # -- alerts and notifications (issue 13) --
    for router in (
        alert_rules.router,
        alert_notifications.router,
        alert_events.router,
        alert_silences.router,
        n9e_alerts.router,
    ):
        app.include_router(router)
    # -- remote operations: cron, terminal, files, NAT, DDNS, agent config, maintenance, audit --
    for router in (
        ops_cron.router,
        ops_terminal.router,
        ops_terminal.sockets,
        ops_files.router,
        ops_files.sockets,
        ops_nat.router,
        ops_ddns.router,
        ops_server_config.router,
        ops_maintenance.router,
        ops_audit.router,
        ops_mcp.router,
    ):
        app.include_router(router)
    # --- PromQL and the Prometheus API, Heron's own /metrics (issue 15): after every other
    # route, so none of theirs can change ---
    for router in (prometheus.router, remote_read.router, own_metrics.router):
        app.include_router(router)
    # -- web UI (issue 16): the status pages' API, the public status pages, then the UI's pages
    # and files last, so no API path is ever answered by the UI.
    for router in (web_status_pages.router, web_status.router, web_assets.router):
        app.include_router(router)
    writes = [
        r.path_regex
        for router in ingest
        for r in router.routes
        if isinstance(r, APIRoute) and (r.methods or set()) & _WRITES
    ]
    app.state.write_budget = budget = ByteBudget(svc.settings.max_inflight_write_bytes)
    app.add_middleware(
        WriteAdmission, budget=budget, wait_seconds=svc.settings.write_admission_wait_seconds, paths=writes
    )
    # Outermost, so refused writes are counted too.
    app.add_middleware(own_metrics.MetricsMiddleware)
    app.add_middleware(NatIngress, state=ops)  # outermost: a NAT domain's requests never reach the API
    return app


#: Methods that carry a body to write: what admission control counts.
_WRITES = frozenset({"POST", "PUT"})


def _authenticator(svc: Services) -> Authenticator:
    """Credential checks over the metadata store; creates the JWT signing key on first start."""
    s = svc.settings
    policy = WafPolicy(
        max_failures=s.auth_max_failures,
        failure_window_seconds=s.auth_failure_window_seconds,
        ban_seconds=s.auth_ban_seconds,
        login_attempts_per_minute=s.login_attempts_per_minute,
    )
    return Authenticator(svc.meta, svc.users, policy=policy, session_ttl_seconds=s.session_ttl_seconds)
