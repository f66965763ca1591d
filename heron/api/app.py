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
from heron.api import docs, health
from heron.api.access import apikeys, session, settings, tokens, users, waf
from heron.api.admission import ByteBudget, WriteAdmission
from heron.api.compat import n9e as n9e_compat
from heron.api.compat import n9e_targets, nezha_v0, oitc_hosts
from heron.api.compat import oitc as oitc_compat
from heron.api.errors import install_error_handlers
from heron.api.ingest import logs, push_n9e, push_prom, traces, write
from heron.api.ingest.batches import write_batches
from heron.api.inventory import agent_ws, server_groups, server_metrics, server_ws, servers
from heron.api.inventory.server_list import ServerListing
from heron.api.query import sql
from heron.api.services import Services
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

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        tasks = [
            asyncio.create_task(_retention_loop(svc)),
            asyncio.create_task(_compaction_loop(svc)),  # storage engine (issue 17)
            asyncio.create_task(_host_flush_loop(svc)),
            asyncio.create_task(_live_loop(svc)),
            asyncio.create_task(listing.keep_fresh()),
        ]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await _write_live_history(svc)
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
    app.state.auth = _authenticator(svc)
    install_error_handlers(app)
    docs.install_openapi(app)
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
