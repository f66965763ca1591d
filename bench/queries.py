"""TSBS devops queries over `cpu`, written as Heron SQL and as InfluxQL.

The names and shapes follow the Time Series Benchmark Suite's cpu-only query types:
``single-groupby-M-H-T`` is the MAX of M metrics for H random hosts over T hours, per
minute; ``double-groupby-1`` the mean of one metric per host and hour over 12 hours;
``lastpoint`` the latest point of every host; ``high-cpu-all`` every point of every host
with usage_user above 90 in 12 hours. Both spellings of one instance use the same hosts
and the same instants, drawn from a seeded generator, so the two systems answer exactly
the same questions.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from bench.timefmt import NS_PER_S, rfc3339, sql_timestamp
from bench.tsbs import DEFAULT_HOSTS, host_name

DAY_S = 86_400
MINUTE_S = 60
HOUR_S = 3_600
SINGLE_GROUPBY_METRICS = ("usage_user", "usage_system", "usage_idle", "usage_nice", "usage_iowait")


@dataclass(frozen=True, slots=True)
class QueryPair:
    """One query instance in both languages."""

    sql: str
    influxql: str


@dataclass(frozen=True, slots=True)
class QueryKind:
    """A TSBS query type and how to draw an instance of it."""

    name: str
    description: str
    draw: Callable[[random.Random, int], QueryPair]


def _window(rng: random.Random, day_start_ns: int, hours: int) -> tuple[int, int]:
    """A random window of ``hours`` within the day, starting on a whole minute."""
    minutes = (DAY_S - hours * HOUR_S) // MINUTE_S
    start = day_start_ns + rng.randrange(minutes + 1) * MINUTE_S * NS_PER_S
    return start, start + hours * HOUR_S * NS_PER_S


def _host(rng: random.Random) -> str:
    return host_name(rng.randrange(DEFAULT_HOSTS))


def _single_groupby(metrics: int, hours: int) -> Callable[[random.Random, int], QueryPair]:
    def draw(rng: random.Random, day_start_ns: int) -> QueryPair:
        host = _host(rng)
        start, end = _window(rng, day_start_ns, hours)
        names = SINGLE_GROUPBY_METRICS[:metrics]
        sql_aggregates = ", ".join(f"max({m}) AS max_{m}" for m in names)
        influx_aggregates = ", ".join(f"max({m})" for m in names)
        sql = (
            f"SELECT time_bucket(INTERVAL '1 minute', time) AS minute, {sql_aggregates} FROM cpu "
            f"WHERE hostname = '{host}' AND time >= {sql_timestamp(start)} AND time < {sql_timestamp(end)} "
            "GROUP BY minute ORDER BY minute"
        )
        influxql = (
            f"SELECT {influx_aggregates} FROM cpu WHERE hostname = '{host}' "
            f"AND time >= '{rfc3339(start)}' AND time < '{rfc3339(end)}' GROUP BY time(1m)"
        )
        return QueryPair(sql=sql, influxql=influxql)

    return draw


def _double_groupby(rng: random.Random, day_start_ns: int) -> QueryPair:
    start, end = _window(rng, day_start_ns, 12)
    sql = (
        "SELECT time_bucket(INTERVAL '1 hour', time) AS hour, hostname, avg(usage_user) AS mean_usage_user "
        f"FROM cpu WHERE time >= {sql_timestamp(start)} AND time < {sql_timestamp(end)} "
        "GROUP BY hour, hostname ORDER BY hostname, hour"
    )
    influxql = (
        f"SELECT mean(usage_user) FROM cpu WHERE time >= '{rfc3339(start)}' AND time < '{rfc3339(end)}' "
        "GROUP BY time(1h), hostname"
    )
    return QueryPair(sql=sql, influxql=influxql)


def _lastpoint(rng: random.Random, day_start_ns: int) -> QueryPair:
    """The newest point per host, the same question every time.

    SQL joins each host's max(time), as TSBS does for column stores (ClickHouse):
    ``DISTINCT ON (hostname) ... ORDER BY hostname, time DESC`` sorts the whole table in
    DuckDB and is 5-10x slower, which would measure the idiom rather than the server.
    """
    del rng, day_start_ns
    return QueryPair(
        sql=(
            "SELECT c.* FROM cpu c JOIN (SELECT hostname, max(time) AS time FROM cpu GROUP BY hostname) m "
            "ON c.hostname = m.hostname AND c.time = m.time"
        ),
        influxql="SELECT last(*) FROM cpu GROUP BY hostname",
    )


def _high_cpu_all(rng: random.Random, day_start_ns: int) -> QueryPair:
    start, end = _window(rng, day_start_ns, 12)
    sql = (
        f"SELECT * FROM cpu WHERE usage_user > 90.0 AND time >= {sql_timestamp(start)} AND time < {sql_timestamp(end)}"
    )
    influxql = f"SELECT * FROM cpu WHERE usage_user > 90.0 AND time >= '{rfc3339(start)}' AND time < '{rfc3339(end)}'"
    return QueryPair(sql=sql, influxql=influxql)


KINDS: tuple[QueryKind, ...] = (
    QueryKind("single-groupby-1-1-1", "max of 1 metric, 1 host, 1 hour, by minute", _single_groupby(1, 1)),
    QueryKind("single-groupby-5-1-12", "max of 5 metrics, 1 host, 12 hours, by minute", _single_groupby(5, 12)),
    QueryKind("double-groupby-1", "mean of 1 metric, all hosts, 12 hours, by hour and host", _double_groupby),
    QueryKind("lastpoint", "latest point of every host", _lastpoint),
    QueryKind("high-cpu-all", "all points with usage_user > 90, all hosts, 12 hours", _high_cpu_all),
)


def draw_instances(kind: QueryKind, *, count: int, day_start_ns: int, seed: int) -> list[QueryPair]:
    """``count`` seeded instances of ``kind``; the same seed gives the same queries."""
    rng = random.Random(f"{seed}:{kind.name}")
    return [kind.draw(rng, day_start_ns) for _ in range(count)]
