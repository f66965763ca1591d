"""Daily uptime and incidents of servers, from the history the inventory writes.

A server counts as up during a minute in which it reported at least once (agents report every
few seconds). A day's uptime is its minutes with a report over the minutes it could have
reported: the whole day, less the part before its first report in the window, and, for
today, the part not yet lived. A day before the first report has no bar value (``None``),
so a server added yesterday does not show 89 red days. Incidents are ``offline`` events
of ``server_events`` with the ``online`` event that ended them.

The SQL builders put only integers into the text; the callers run it through the sandbox.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

MINUTE_MS = 60_000
DAY_MS = 86_400_000
#: Days a bar covers (Uptime Kuma and the issue: 90).
BAR_DAYS = 90
#: Most incidents a page shows.
MAX_INCIDENTS = 10


@dataclass(frozen=True, slots=True)
class DayBar:
    """One day of one server: its start (Unix ms, UTC) and uptime percent, ``None`` without data."""

    day_ms: int
    percent: float | None


@dataclass(frozen=True, slots=True)
class Incident:
    """A server was offline from ``started_ms`` until ``ended_ms`` (``None``: still offline)."""

    server_id: int
    started_ms: int
    ended_ms: int | None


def _ids(server_ids: Iterable[int]) -> str:
    return ", ".join(f"'{int(i)}'" for i in server_ids)


def daily_minutes_sql(table: str, server_ids: list[int], *, since_ms: int) -> str:
    """Per server and UTC day: minutes with a report and the first report's time."""
    return (
        "SELECT CAST(server_id AS BIGINT) AS server_id, "
        "epoch_ms(date_trunc('day', CAST(time AS TIMESTAMP))) AS day_ms, "
        "count(DISTINCT date_trunc('minute', CAST(time AS TIMESTAMP))) AS minutes, "
        "epoch_ms(min(CAST(time AS TIMESTAMP))) AS first_ms "
        f"FROM {table} WHERE time >= make_timestamp({int(since_ms) * 1000}) "
        f"AND server_id IN ({_ids(server_ids)}) GROUP BY 1, 2"
    )


def events_sql(table: str, server_ids: list[int], *, since_ms: int) -> str:
    """Online and offline changes of the servers since ``since_ms``, oldest first."""
    return (
        "SELECT CAST(server_id AS BIGINT) AS server_id, epoch_ms(CAST(time AS TIMESTAMP)) AS at_ms, event, "
        "CAST(coalesce(last_active, 0) * 1000 AS BIGINT) AS last_active_ms "
        f"FROM {table} WHERE time >= make_timestamp({int(since_ms) * 1000}) "
        f"AND server_id IN ({_ids(server_ids)}) ORDER BY time"
    )


def day_start_ms(at_ms: int) -> int:
    return at_ms - at_ms % DAY_MS


def daily_bars(
    rows: Iterable[tuple[int, int, int, int]], server_ids: list[int], *, now_ms: int, days: int = BAR_DAYS
) -> dict[int, list[DayBar]]:
    """``days`` bars per server, oldest first, from ``(server_id, day_ms, minutes, first_ms)`` rows."""
    today = day_start_ms(now_ms)
    first_day = today - (days - 1) * DAY_MS
    minutes: dict[tuple[int, int], int] = {}
    first_seen: dict[int, int] = {}
    for server_id, day_ms, count, first_ms in rows:
        minutes[(server_id, day_ms)] = count
        first_seen[server_id] = min(first_seen.get(server_id, first_ms), first_ms)
    bars: dict[int, list[DayBar]] = {}
    for server_id in server_ids:
        seen = first_seen.get(server_id)
        out = []
        for day in range(first_day, today + DAY_MS, DAY_MS):
            start = max(day, seen - seen % MINUTE_MS) if seen is not None else None
            end = min(day + DAY_MS, now_ms)
            if start is None or start >= end:
                out.append(DayBar(day, None))
                continue
            possible = max(1, -(-(end - start) // MINUTE_MS))
            up = minutes.get((server_id, day), 0)
            out.append(DayBar(day, round(min(100.0, 100.0 * up / possible), 2)))
        bars[server_id] = out
    return bars


def overall_percent(bars: list[DayBar]) -> float | None:
    """The mean of the days with data, or ``None`` when no day has any."""
    known = [b.percent for b in bars if b.percent is not None]
    return round(sum(known) / len(known), 2) if known else None


def incidents(events: Iterable[tuple[int, int, str, int]], *, limit: int = MAX_INCIDENTS) -> list[Incident]:
    """Pair each ``offline`` with the next ``online`` of the same server; newest first, at most ``limit``.

    Rows are ``(server_id, at_ms, event, last_active_ms)``. An outage starts at the server's last
    report, not when the sweep noticed the silence a timeout later.
    """
    open_since: dict[int, int] = {}
    found: list[Incident] = []
    for server_id, at_ms, event, last_active_ms in events:
        if event == "offline" and server_id not in open_since:
            open_since[server_id] = last_active_ms if 0 < last_active_ms <= at_ms else at_ms
        elif event == "online" and server_id in open_since:
            found.append(Incident(server_id, open_since.pop(server_id), at_ms))
    found.extend(Incident(server_id, started, None) for server_id, started in open_since.items())
    found.sort(key=lambda i: i.started_ms, reverse=True)
    return found[:limit]
