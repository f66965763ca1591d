"""Alerting's routes, and building the alert service over the server's other services."""

from __future__ import annotations

import time
from collections.abc import Iterable

from fastapi import Request

from heron.alerts.service import AlertService, AlertSettings
from heron.alerts.sources.servers import ServerSnapshot
from heron.alerts.tsdb_reads import TsdbReads
from heron.api.query.prometheus import instant_samples
from heron.api.services import Services
from heron.inventory.live import STATUS_TABLE
from heron.inventory.manage import Inventory
from heron.inventory.registry import ServerInfo
from heron.inventory.view import server_views
from heron.tsdb.names import schema_for

#: Longest time server records are reused between two evaluation rounds.
RECORDS_MAX_AGE_SECONDS = 5.0


class _Records:
    """The server records, read again when the table changed or every few seconds: a round
    needs the servers' live state (in memory) every second, not 2,000 rows from the database."""

    def __init__(self, svc: Services) -> None:
        self._svc = svc
        self._version = -1
        self._read_at = 0.0
        self._infos: list[ServerInfo] = []

    def get(self) -> list[ServerInfo]:
        now = time.monotonic()
        version = self._svc.meta.version("servers")
        if version != self._version or now - self._read_at >= RECORDS_MAX_AGE_SECONDS:
            self._infos, self._version, self._read_at = self._svc.hosts.list(), version, now
        return self._infos


def alert_service(request: Request) -> AlertService:
    service: AlertService = request.app.state.alerts
    return service


def build_alert_service(svc: Services, *, live_tenant: str, live_database: str) -> AlertService:
    """The alert service over the live inventory, the TSDB's sandbox and the metadata store."""
    s = svc.settings
    records = _Records(svc)

    def servers() -> Iterable[ServerSnapshot]:
        views = server_views(records.get(), svc.live, now=time.time(), offline_after_seconds=s.host_offline_seconds)
        return [
            ServerSnapshot(
                v.info.id, v.info.name, v.info.owner_id, v.online, v.last_active, v.host, v.status, v.last_active
            )
            for v in views
        ]

    reads = TsdbReads(
        svc.tsdb,
        svc.namespaces,
        svc.writer.table_names,
        sync=lambda: svc.writer.sync().result(),
        timeout_seconds=s.query_timeout_seconds,
        status_schema=schema_for(live_tenant, live_database),
        status_table=STATUS_TABLE,
    )
    settings = AlertSettings(
        eval_interval_seconds=s.alert_eval_interval_seconds,
        delivery_poll_seconds=s.alert_delivery_poll_seconds,
        retry_base_seconds=s.alert_retry_base_seconds,
        retry_max_seconds=s.alert_retry_max_seconds,
        delivery_max_age_seconds=s.alert_delivery_max_age_seconds,
        flap_changes=s.alert_flap_changes,
        flap_window_seconds=s.alert_flap_window_seconds,
        alertmanager_urls=tuple(u.strip() for u in s.alertmanager_urls.split(",") if u.strip()),
        alertmanager_resend_seconds=s.alertmanager_resend_seconds,
        external_url=s.external_url.rstrip("/"),
    )
    return AlertService(
        svc.meta,
        settings,
        servers=servers,
        groups_of_servers=Inventory(svc.meta).groups_of_servers,
        run_sql=reads.run,
        check_sql=reads.check,
        transfer_since=reads.transfer_since,
        run_promql=lambda tenant, database, query, at: [
            (dict(labels), value) for labels, value in instant_samples(svc, tenant, database, query, at)
        ],
    )
