"""Forwarding to Alertmanager, as Prometheus does: ``POST /api/v2/alerts`` with the current alerts.

Alertmanager keeps an alert until its ``endsAt``; Prometheus therefore sends every firing
alert again every minute with ``endsAt`` a few resends ahead, and a resolved one with its
resolution time. Heron does the same from its events: firing events (not silenced) and
events resolved in the last :data:`RESOLVED_RESEND_SECONDS`, on every change and every
``resend_seconds``. The events are in the metadata database, so a restart or an
Alertmanager that was away only delays this, and Alertmanager's own deduplication by labels
makes sending again harmless.
"""

from __future__ import annotations

import logging
import urllib.parse
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
from sqlalchemy import and_, or_, select

from heron.meta.alert_models import AlertEvent
from heron.meta.db import MetaStore

log = logging.getLogger(__name__)

#: How long a resolved alert is still sent (Prometheus: 15 minutes).
RESOLVED_RESEND_SECONDS = 900.0
#: ``endsAt`` of a firing alert: this many resends ahead.
ENDS_AFTER_RESENDS = 4


def _rfc3339(value: datetime) -> str:
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat().replace("+00:00", "Z")


def current_alerts(meta: MetaStore, *, now: datetime, resend_seconds: float, external_url: str) -> list[dict[str, Any]]:
    since = now - timedelta(seconds=RESOLVED_RESEND_SECONDS)
    with meta.session() as s:
        rows = list(
            s.scalars(
                select(AlertEvent).where(
                    AlertEvent.silenced.is_(False),
                    or_(
                        AlertEvent.state == "firing",
                        and_(AlertEvent.state == "resolved", AlertEvent.resolved_at >= since),
                    ),
                )
            )
        )
    out = []
    for row in rows:
        ends = (
            row.resolved_at
            if row.state == "resolved" and row.resolved_at
            else now + timedelta(seconds=resend_seconds * ENDS_AFTER_RESENDS)
        )
        out.append(
            {
                "labels": orjson.loads(row.labels or "{}"),
                "annotations": orjson.loads(row.annotations or "{}"),
                "startsAt": _rfc3339(row.fired_at or row.started_at),
                "endsAt": _rfc3339(ends),
                "generatorURL": f"{external_url}/api/v1/alert-event?rule_id={row.rule_id}" if external_url else "",
            }
        )
    return out


def alerts_endpoint(base: str) -> str:
    base = base.rstrip("/")
    return base if base.endswith("/api/v2/alerts") else base + "/api/v2/alerts"


def masked(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}:{parts.port}" if parts.port else f"{parts.scheme}://{parts.hostname}"


class Forwarder:
    def __init__(self, meta: MetaStore, urls: list[str], *, resend_seconds: float, external_url: str) -> None:
        self._meta = meta
        self._urls = [alerts_endpoint(u) for u in urls if u.strip()]
        self._resend = resend_seconds
        self._external_url = external_url
        self._client = httpx.AsyncClient(timeout=10.0)
        self.last_error: dict[str, str] = {}

    @property
    def enabled(self) -> bool:
        return bool(self._urls)

    async def push(self, alerts: list[dict[str, Any]]) -> None:
        if not alerts:
            return
        body = orjson.dumps(alerts)
        for url in self._urls:
            try:
                r = await self._client.post(url, content=body, headers={"Content-Type": "application/json"})
                ok = 200 <= r.status_code < 300
                self.last_error[masked(url)] = "" if ok else f"status {r.status_code}: {r.text[:200]}"
            except httpx.HTTPError as exc:
                ok = False
                self.last_error[masked(url)] = type(exc).__name__
            if not ok:
                log.warning("alertmanager did not take the alerts", extra={"alertmanager": masked(url)})

    def collect(self) -> list[dict[str, Any]]:
        return current_alerts(
            self._meta, now=datetime.now(UTC), resend_seconds=self._resend, external_url=self._external_url
        )

    async def close(self) -> None:
        await self._client.aclose()
