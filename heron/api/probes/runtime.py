"""Monitors inside the server process: the service object, its background tasks, the agent channel.

:func:`start` makes the :class:`heron.probes.service.ProbeService` (kept on
``app.state.probes``), joins the agent WebSocket (message type ``probe_results`` and the
connection listeners of :mod:`heron.api.inventory.agent_ws`) and returns the background
coroutines the application runs: the scheduler, the history writer (results, state changes
and rollups to tenant ``cnosdb``, database ``public``, about once a second, like server
status) and a refresher that picks up monitors changed by another node.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine
from typing import Any

from fastapi import FastAPI, Request
from starlette.concurrency import run_in_threadpool

from heron.api.ingest.batches import write_batches
from heron.api.inventory import agent_ws
from heron.api.services import Services
from heron.meta.namespaces import DEFAULT_DATABASE, DEFAULT_TENANT
from heron.probes import history
from heron.probes.service import ProbeService, node_name
from heron.probes.spec import ProbeResult
from heron.tsdb.names import schema_for

log = logging.getLogger(__name__)

#: How often buffered results are written, and how often monitors are re-read for other nodes' changes.
WRITE_INTERVAL_SECONDS = 1.0
REFRESH_INTERVAL_SECONDS = 10.0
#: Most results one ``probe_results`` message may carry.
MAX_RESULTS_PER_MESSAGE = 5000


def probes_of(request: Request) -> ProbeService:
    probes: ProbeService = request.app.state.probes
    return probes


def reader(svc: Services) -> history.Reader:
    """History lives where server status does (tenant cnosdb, database public)."""
    schema = schema_for(DEFAULT_TENANT, DEFAULT_DATABASE)
    return history.Reader(
        svc.tsdb,
        schema,
        svc.writer.table_names(schema),
        svc.settings.query_timeout_seconds,
        svc.settings.max_result_rows,
    )


class _AgentChannel:
    """The agent WebSocket's side of monitors: assignments out, results in."""

    def __init__(self, probes: ProbeService) -> None:
        self.probes = probes

    async def opened(self, session: agent_ws.AgentSession) -> None:
        await self.probes.agent_connected(session.server_id, session.name, session.send)

    def closed(self, session: agent_ws.AgentSession) -> None:
        self.probes.agent_disconnected(session.server_id)

    async def results(self, session: agent_ws.AgentSession, msg: dict[str, Any]) -> None:
        raw = msg.get("results")
        if not isinstance(raw, list) or len(raw) > MAX_RESULTS_PER_MESSAGE:
            raise agent_ws.BadMessage(f"probe_results needs a list of at most {MAX_RESULTS_PER_MESSAGE} results")
        now = time.time()
        parsed = [item for item in (ProbeResult.from_wire(r, now=now) for r in raw) if item is not None]
        self.probes.record_agent(session.server_id, parsed)


async def _write_history(svc: Services, probes: ProbeService, *, final: bool = False) -> None:
    batches = probes.board.drain(now=time.time(), final=final)
    if not batches:
        return
    try:
        await write_batches(svc, tenant=DEFAULT_TENANT, database=DEFAULT_DATABASE, batches=batches, atomic=False)
    except Exception:
        probes.board.count_lost(batches)
        log.exception("writing monitor results failed; these rows are lost")


async def _write_loop(svc: Services, probes: ProbeService) -> None:
    while True:
        await asyncio.sleep(WRITE_INTERVAL_SECONDS)
        await _write_history(svc, probes)


async def _refresh_loop(probes: ProbeService) -> None:
    while True:
        await asyncio.sleep(REFRESH_INTERVAL_SECONDS)
        try:
            await run_in_threadpool(probes.monitors.reload)
            await probes.refresh_agents()
        except Exception:
            log.exception("re-reading monitors failed; will retry")


async def _load_daily(svc: Services, probes: ProbeService) -> None:
    """The overview's 30 days of totals from history, once, in the background."""
    try:
        await asyncio.wrap_future(svc.writer.sync())
        rows = await run_in_threadpool(lambda: history.daily_totals(reader(svc), until=probes.started_at))
        probes.board.load_daily(rows)
    except Exception:
        log.exception("reading monitor totals from history failed; the overview starts from zero")


def start(app: FastAPI, svc: Services) -> list[Coroutine[Any, Any, None]]:
    """Create the service, join the agent channel; the coroutines to run while the app serves."""
    probes = ProbeService(
        svc.meta, node=node_name(svc.settings.probe_node_name), concurrency=svc.settings.probe_concurrency
    )
    app.state.probes = probes
    channel = _AgentChannel(probes)
    agent_ws.MESSAGE_HANDLERS["probe_results"] = channel.results
    agent_ws.SESSION_LISTENERS.append(channel)
    return [probes.run(), _write_loop(svc, probes), _refresh_loop(probes), _load_daily(svc, probes)]


async def stop(app: FastAPI, svc: Services) -> None:
    """Write what is buffered, open rollup buckets included (also at shutdown, so nothing is lost)."""
    probes: ProbeService | None = getattr(app.state, "probes", None)
    if probes is not None:
        await _write_history(svc, probes, final=True)
