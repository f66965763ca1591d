"""The delivery worker: sends what the outbox holds, retries with backoff, records every try.

Rows become due at ``next_attempt_at`` (the event time plus the group's ``group_wait``). Due
rows are batched by method and group key, so alerts of one batch go in one message; a batch
that was sent less than ``group_interval`` ago waits. A failed try is recorded with the far
end's answer and retried after an exponentially growing delay (``retry_base_seconds``,
doubled per try, at most ``retry_max_seconds``); a row that could not be sent within
``max_age_seconds`` is marked ``expired``. A row is marked ``sent`` in the transaction that
records the successful try; each message carries its rows' idempotency keys
(``Idempotency-Key``), so a receiver can tell a repeat after a crash between the two.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import select

from heron.alerts.evaluator import Routing
from heron.alerts.notifiers import Answer, Senders
from heron.meta.alert_models import AlertDelivery, AlertDeliveryAttempt, AlertEvent
from heron.meta.db import MetaStore

log = logging.getLogger(__name__)

#: Most rows read per round.
BATCH_ROWS = 1000
#: Most messages in flight at once.
MAX_CONCURRENT_SENDS = 32


@dataclass(frozen=True, slots=True)
class _Row:
    id: int
    event_id: int
    notification_id: int | None
    group_id: int | None
    group_key: str
    key: str
    attempts: int
    created_at: datetime
    payload: dict[str, Any]


@dataclass(slots=True)
class _Batch:
    method_id: int
    group_key: str
    rows: list[_Row]

    @property
    def key(self) -> str:
        if len(self.rows) == 1:
            return self.rows[0].key
        joined = ",".join(r.key for r in self.rows)
        return "batch-" + hashlib.sha256(joined.encode()).hexdigest()[:32]


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class Outbox:
    def __init__(
        self,
        meta: MetaStore,
        senders: Senders,
        routing: Callable[[], Routing],
        *,
        retry_base_seconds: float,
        retry_max_seconds: float,
        max_age_seconds: float,
    ) -> None:
        self._meta = meta
        self._senders = senders
        self._routing = routing
        self._retry_base = retry_base_seconds
        self._retry_max = retry_max_seconds
        self._max_age = max_age_seconds
        self._last_sent: dict[tuple[int, str], float] = {}
        self.sent = 0
        self.failed = 0

    def _due(self, now: datetime) -> tuple[list[_Row], list[int], list[int]]:
        """Due rows, and the ids of rows to drop (method gone) and to expire (too old)."""
        with self._meta.session() as s:
            rows = list(
                s.execute(
                    select(
                        AlertDelivery.id,
                        AlertDelivery.event_id,
                        AlertDelivery.notification_id,
                        AlertDelivery.notification_group_id,
                        AlertDelivery.group_key,
                        AlertDelivery.idempotency_key,
                        AlertDelivery.attempts,
                        AlertDelivery.created_at,
                        AlertDelivery.payload,
                    )
                    .where(AlertDelivery.status == "pending", AlertDelivery.next_attempt_at <= now)
                    .order_by(AlertDelivery.id)
                    .limit(BATCH_ROWS)
                )
            )
        due, dropped, expired = [], [], []
        for r in rows:
            created = _aware(r.created_at)
            if r.notification_id is None:
                dropped.append(r.id)
            elif (now - created).total_seconds() > self._max_age:
                expired.append(r.id)
            else:
                due.append(
                    _Row(
                        r.id,
                        r.event_id,
                        r.notification_id,
                        r.notification_group_id,
                        r.group_key,
                        r.idempotency_key,
                        r.attempts,
                        created,
                        orjson.loads(r.payload),
                    )
                )
        return due, dropped, expired

    def _close(self, ids: list[int], status: str, reason: str) -> None:
        with self._meta.session() as s:
            for row in s.scalars(select(AlertDelivery).where(AlertDelivery.id.in_(ids))):
                row.status, row.last_error = status, reason

    def _record(self, results: list[tuple[_Batch, Answer]], now: datetime) -> None:
        with self._meta.session() as s:
            for batch, answer in results:
                ids = [r.id for r in batch.rows]
                rows = list(s.scalars(select(AlertDelivery).where(AlertDelivery.id.in_(ids))))
                for row in rows:
                    row.attempts += 1
                    s.add(
                        AlertDeliveryAttempt(
                            delivery_id=row.id,
                            at=now,
                            ok=answer.ok,
                            status_code=answer.status_code,
                            response=answer.response,
                        )
                    )
                    if answer.ok:
                        row.status, row.sent_at, row.last_error = "sent", now, ""
                    else:
                        delay = min(self._retry_max, self._retry_base * 2 ** (row.attempts - 1))
                        row.next_attempt_at = now + timedelta(seconds=delay)
                        row.last_error = answer.response or f"status {answer.status_code}"

    def _batches(self, rows: list[_Row], routing: Routing, now: float) -> list[_Batch]:
        batches: dict[tuple[int, str], _Batch] = {}
        for row in rows:
            assert row.notification_id is not None
            key = (row.notification_id, row.group_key)
            batch = batches.get(key)
            if batch is None:
                batch = batches[key] = _Batch(row.notification_id, row.group_key, [])
            batch.rows.append(row)
        ready = []
        for (method_id, group_key), batch in batches.items():
            group = routing.groups.get(batch.rows[0].group_id or 0)
            interval = group.group_interval_seconds if group is not None else 0.0
            last = self._last_sent.get((method_id, group_key))
            if last is not None and interval > 0 and now - last < interval:
                continue
            ready.append(batch)
        return ready

    async def run_once(self) -> int:
        """One round: send what is due; returns how many messages were tried."""
        now = datetime.now(UTC)
        due, dropped, expired = await asyncio.to_thread(self._due, now)
        if dropped:
            await asyncio.to_thread(self._close, dropped, "dropped", "the notification method was deleted")
        if expired:
            await asyncio.to_thread(self._close, expired, "expired", f"not delivered within {self._max_age:g} s")
        if not due:
            return 0
        routing = self._routing()
        batches = self._batches(due, routing, now.timestamp())
        gate = asyncio.Semaphore(MAX_CONCURRENT_SENDS)

        async def one(batch: _Batch) -> tuple[_Batch, Answer]:
            method = routing.methods.get(batch.method_id)
            if method is None:
                return batch, Answer(False, 0, "the notification method no longer exists")
            async with gate:
                try:
                    answer = await self._senders.send(method, [r.payload for r in batch.rows], key=batch.key)
                except Exception as exc:  # a sender bug must not stop the outbox
                    log.exception("notification sender failed", extra={"notification_id": batch.method_id})
                    answer = Answer(False, 0, f"internal error: {type(exc).__name__}")
            return batch, answer

        results = await asyncio.gather(*(one(b) for b in batches))
        sent_at = datetime.now(UTC)
        for batch, answer in results:
            if answer.ok:
                self._last_sent[(batch.method_id, batch.group_key)] = sent_at.timestamp()
                self.sent += 1
            else:
                self.failed += 1
                log.warning(
                    "notification not delivered; will retry",
                    extra={"notification_id": batch.method_id, "rows": len(batch.rows), "status": answer.status_code},
                )
        await asyncio.to_thread(self._record, list(results), sent_at)
        return len(results)


def deliveries_of_event(meta: MetaStore, event_id: int) -> list[dict[str, Any]]:
    """The deliveries of one event with their tries, for the API."""
    with meta.session() as s:
        rows = list(
            s.scalars(select(AlertDelivery).where(AlertDelivery.event_id == event_id).order_by(AlertDelivery.id))
        )
        ids = [r.id for r in rows]
        tries: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
        if ids:
            for t in s.scalars(
                select(AlertDeliveryAttempt)
                .where(AlertDeliveryAttempt.delivery_id.in_(ids))
                .order_by(AlertDeliveryAttempt.id)
            ):
                tries[t.delivery_id].append(
                    {"at": _aware(t.at).isoformat(), "ok": t.ok, "status_code": t.status_code, "response": t.response}
                )
        return [delivery_json(r, tries[r.id]) for r in rows]


def delivery_json(r: AlertDelivery, tries: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "id": r.id,
        "event_id": r.event_id,
        "notification_id": r.notification_id,
        "notification_group_id": r.notification_group_id,
        "state": r.state,
        "idempotency_key": r.idempotency_key,
        "status": r.status,
        "attempts": r.attempts,
        "created_at": _aware(r.created_at).isoformat(),
        "next_attempt_at": _aware(r.next_attempt_at).isoformat() if r.status == "pending" else None,
        "sent_at": _aware(r.sent_at).isoformat() if r.sent_at else None,
        "last_error": r.last_error,
        **({"tries": tries} if tries is not None else {}),
    }


def event_exists(meta: MetaStore, event_id: int) -> AlertEvent | None:
    with meta.session() as s:
        return s.get(AlertEvent, event_id)
