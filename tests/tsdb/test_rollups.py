"""Rollups: each tier equals the aggregate of the raw rows over the same intervals."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import duckdb
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from heron.core.batch import Batch
from heron.core.errors import BadRequest
from heron.tsdb import metrics as ms
from heron.tsdb.compaction import NS_PER_SECOND, Compactor
from heron.tsdb.rollups import RollupRule, format_rollups, parse_rollups, rollup_table, tier_of
from heron.tsdb.store import create_schema, open_store
from heron.tsdb.writer import Writer

SCHEMA = "cnosdb/public"
RULES = (RollupRule(10, 0), RollupRule(30, 0), RollupRule(90, 0))
_TABLES = itertools.count()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[duckdb.DuckDBPyConnection, Writer]]:
    path = tmp_path_factory.mktemp("rollups")
    con = open_store(path / "tsdb.duckdb")
    create_schema(con, SCHEMA)
    compactor = Compactor(window_seconds=20, delay_seconds=0, max_step_rows=40)
    compactor.set_rollups(SCHEMA, RULES)
    writer = Writer(con, wal_dir=path / "wal", compactor=compactor)
    yield con, writer
    writer.close()
    con.close()


def _compact_all(writer: Writer) -> None:
    while (future := writer.compact_next()) is not None:
        future.result(30)


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple[object, ...]]:
    return con.cursor().execute(sql).fetchall()


def _bucket(ns: int) -> str:
    return f"make_timestamp_ns(epoch_ns(time) - (((epoch_ns(time) % {ns}) + {ns}) % {ns}))"


# Values are multiples of 1/4 within +-2^20, so sums are exact in any order; times are
# unique per series, so "the last value" names one row.
values = st.one_of(st.none(), st.integers(min_value=-(2**22), max_value=2**22).map(lambda i: i / 4))
points = st.lists(
    st.tuples(st.sampled_from(["a", "b", "c"]), st.integers(min_value=-200, max_value=400), values),
    min_size=1,
    max_size=80,
    unique_by=lambda p: (p[0], p[1]),
)


@settings(max_examples=15)
@given(points=points, parts=st.integers(min_value=1, max_value=3))
def test_each_tier_equals_the_aggregate_of_raw_rows(
    store: tuple[duckdb.DuckDBPyConnection, Writer], points: list[tuple[str, int, float | None]], parts: int
) -> None:
    con, writer = store
    table = f"r{next(_TABLES)}"
    size = -(-len(points) // parts)
    for start in range(0, len(points), size):
        chunk = points[start : start + size]
        batch = Batch(
            table=table,
            time=pa.array([p[1] * NS_PER_SECOND for p in chunk], pa.int64()),
            tags={"host": pa.array([p[0] for p in chunk])},
            fields={"v": pa.array([p[2] for p in chunk], pa.float64())},
        )
        writer.submit(tenant="cnosdb", database="public", schema=SCHEMA, batches=[batch], atomic=False).result(30)
        writer.sync().result(30)
    _compact_all(writer)
    writer.sync().result(30)
    raw = f'"{SCHEMA}".{table}'
    for rule in RULES:
        b = _bucket(rule.interval_ns)
        expected = _rows(
            con,
            f"SELECT {b} AS t, host, min(v), max(v), sum(v), count(v),"
            f" arg_max(v, time) FILTER (WHERE v IS NOT NULL), max(time) FILTER (WHERE v IS NOT NULL)"
            f" FROM {raw} GROUP BY ALL ORDER BY t, host",
        )
        tier = f'"{SCHEMA}"."{rollup_table(table, rule)}"'
        got = _rows(
            con, f"SELECT time, host, v_min, v_max, v_sum, v_count, v_last, v_last_time FROM {tier} ORDER BY 1, 2"
        )
        assert got == expected, f"tier {rule.interval_seconds}s"


def test_metric_store_tiers_follow_late_samples(store: tuple[duckdb.DuckDBPyConnection, Writer]) -> None:
    """A sample arriving for a window already rolled up makes its intervals be computed again."""
    con, writer = store

    def push(host: str, second: int, value: float) -> None:
        batch = Batch(
            table="m_roll",
            time=pa.array([second * NS_PER_SECOND], pa.int64()),
            tags={"host": pa.array([host])},
            fields={ms.VALUE: pa.array([value])},
        )
        writer.submit(
            tenant="cnosdb", database="public", schema=SCHEMA, batches=[batch], atomic=False, metrics=True
        ).result(30)
        writer.sync().result(30)

    for second in range(0, 60, 3):
        push("a", second, float(second))
    _compact_all(writer)
    push("a", 1, 100.0)  # late: into the first window, rolled up already
    _compact_all(writer)
    writer.sync().result(30)
    samples = f'"{SCHEMA}"."{ms.SAMPLES}"'
    for rule in RULES:
        b = _bucket(rule.interval_ns)
        expected = _rows(
            con,
            f"SELECT {b} AS t, {ms.METRIC_ID}, {ms.SERIES_ID}, min(value), max(value), sum(value), count(value)"
            f" FROM {samples} GROUP BY ALL ORDER BY ALL",
        )
        tier = f'"{SCHEMA}"."{rollup_table(ms.SAMPLES, rule)}"'
        got = _rows(
            con, f"SELECT time, {ms.METRIC_ID}, {ms.SERIES_ID}, min, max, sum, count FROM {tier} ORDER BY ALL"
        )
        assert got == expected
    first = _rows(con, f'SELECT max FROM "{SCHEMA}"."{rollup_table(ms.SAMPLES, RULES[0])}" ORDER BY time LIMIT 1')
    assert first == [(100.0,)]


@pytest.mark.parametrize(
    ("text", "rules"),
    [
        ("", ()),
        ("5m:90d", (RollupRule(300, 90 * 86400),)),
        ("5m:90d, 1h:104w", (RollupRule(300, 90 * 86400), RollupRule(3600, 104 * 7 * 86400))),
        ("1m:INF,1h:INF", (RollupRule(60, 0), RollupRule(3600, 0))),
    ],
)
def test_rules_parse_and_print(text: str, rules: tuple[RollupRule, ...]) -> None:
    assert parse_rollups(text) == rules
    assert parse_rollups(format_rollups(rules)) == rules


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("5m", "expected INTERVAL:TTL"),
        ("INF:1d", "not INF"),
        ("5m:1d,7m:1d", "multiple of the one before"),
        ("1h:1d,5m:1d", "multiple of the one before"),
        ("1h:30m", "shorter than its interval"),
        ("5x:1d", "invalid duration"),
    ],
)
def test_bad_rules_are_refused_naming_the_problem(text: str, message: str) -> None:
    with pytest.raises(BadRequest, match=message):
        parse_rollups(text)


def test_tier_names_say_their_interval_and_table() -> None:
    assert tier_of(rollup_table("cpu", RULES[0])) == (10, "cpu")
    assert tier_of(rollup_table(ms.SAMPLES, RULES[1])) == (30, None)
    assert tier_of("cpu") is None
