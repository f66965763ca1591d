"""Rollups: per-database tiers of pre-aggregated data, kept up to date with compaction.

A database's rules (``ALTER DATABASE metrics SET ROLLUPS '5m:90d,1h:104w'``) name tiers: each
an interval and how long its rows are kept (the database's own TTL is the raw data's).
For every table, each tier is a table of its own, ``_heron_rollup_<seconds>s_<table>``
(``_heron_rollup_<seconds>s`` for the metric store, keyed by metric and series id), with one
row per series and interval:

* ordinary tables: ``time`` (the interval's start), the tag columns, and for each numeric
  field ``f``: ``f_min``, ``f_max``, ``f_sum``, ``f_count``, ``f_last`` and ``f_last_time``;
* the metric store: ``time``, ``__metric``, ``__series``, ``min``, ``max``, ``sum``,
  ``count``, ``last``, ``last_time`` (``avg`` is ``sum / count``).

Tiers are maintained by the compaction step of each settled window
(:func:`heron.tsdb.compaction.compact_window`), in the same transaction: the first tier's
intervals overlapping the window are computed again from the raw rows, each next tier's
from the tier before (min of mins, sum of sums, the last value of the latest ``last_time``),
so a tier stays exact even after raw rows have expired. Each interval must be a multiple of
the one before. Late rows make their window dirty again, and its intervals are recomputed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import duckdb

from heron.core.errors import BadRequest
from heron.core.timeprec import format_duration_seconds, parse_duration_seconds
from heron.tsdb import metrics as ms
from heron.tsdb.names import qualified, quote_ident
from heron.tsdb.store import describe_table

#: Prefix of every rollup table (inside the metric store's reserved prefix).
ROLLUP_PREFIX = "_heron_rollup_"
#: Field types a rollup aggregates.
NUMERIC_TYPES = frozenset({"DOUBLE", "BIGINT", "UBIGINT"})
#: Most tiers one database may have.
MAX_TIERS = 6

NS_PER_SECOND = 1_000_000_000


@dataclass(frozen=True, slots=True)
class RollupRule:
    """One tier: its interval and how long its rows are kept (0: forever)."""

    interval_seconds: int
    ttl_seconds: int

    @property
    def interval_ns(self) -> int:
        return self.interval_seconds * NS_PER_SECOND


def parse_rollups(text: str) -> tuple[RollupRule, ...]:
    """``'5m:90d,1h:104w'`` into rules; ``''`` is none. Raises ``BadRequest`` naming the problem."""
    rules: list[RollupRule] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        interval_text, sep, ttl_text = part.partition(":")
        if not sep:
            raise BadRequest(f"invalid rollup '{part}': expected INTERVAL:TTL such as '5m:90d'")
        interval = parse_duration_seconds(interval_text.strip())
        ttl = parse_duration_seconds(ttl_text.strip())
        if interval <= 0:
            raise BadRequest(f"invalid rollup '{part}': the interval must be a duration such as '5m', not INF")
        if rules:
            before = rules[-1].interval_seconds
            if interval <= before or interval % before:
                raise BadRequest(
                    f"invalid rollup '{part}': each interval must be a multiple of the one before "
                    f"({format_duration_seconds(before)}), got {format_duration_seconds(interval)}"
                )
        if 0 < ttl < interval:
            raise BadRequest(f"invalid rollup '{part}': its TTL is shorter than its interval")
        rules.append(RollupRule(interval, ttl))
    if len(rules) > MAX_TIERS:
        raise BadRequest(f"at most {MAX_TIERS} rollup tiers per database, got {len(rules)}")
    return tuple(rules)


def format_rollups(rules: tuple[RollupRule, ...]) -> str:
    """Inverse of :func:`parse_rollups`."""
    return ",".join(
        f"{format_duration_seconds(r.interval_seconds)}:{format_duration_seconds(r.ttl_seconds)}" for r in rules
    )


def rollup_table(table: str, rule: RollupRule) -> str:
    """The name of ``table``'s tier for ``rule``."""
    if table == ms.SAMPLES:
        return f"{ROLLUP_PREFIX}{rule.interval_seconds}s"
    return f"{ROLLUP_PREFIX}{rule.interval_seconds}s_{table}"


def is_rollup(table: str) -> bool:
    return table.lower().startswith(ROLLUP_PREFIX)


_TIER_NAME = re.compile(rf"{ROLLUP_PREFIX}(\d+)s(?:_(.+))?", re.S)


def tier_of(name: str) -> tuple[int, str | None] | None:
    """For a rollup table's name: its interval in seconds and its table (lower case; None
    for the metric store's tier); None for any other name."""
    m = _TIER_NAME.fullmatch(name.lower())
    return (int(m.group(1)), m.group(2)) if m else None


def _bucket(expr: str, interval_ns: int) -> str:
    """``expr`` (a TIMESTAMP_NS) moved down to the start of its interval (floor, also before 1970)."""
    ns = f"epoch_ns({expr})"
    return f"make_timestamp_ns({ns} - ((({ns} % {interval_ns}) + {interval_ns}) % {interval_ns}))"


def _range(lo_ns: int, hi_ns: int) -> str:
    return f"time >= make_timestamp_ns({lo_ns}) AND time < make_timestamp_ns({hi_ns})"


def aligned(lo_ns: int, hi_ns: int, interval_ns: int) -> tuple[int, int]:
    """The smallest span of whole intervals that covers ``[lo_ns, hi_ns)``."""
    lo = lo_ns - lo_ns % interval_ns
    hi = hi_ns + (-hi_ns) % interval_ns
    return lo, hi


def roll_up(
    con: duckdb.DuckDBPyConnection, schema: str, table: str, rules: tuple[RollupRule, ...], lo_ns: int, hi_ns: int
) -> None:
    """Recompute every tier of ``table`` over the intervals covering ``[lo_ns, hi_ns)``,
    inside the caller's transaction."""
    if not rules:
        return
    if table == ms.SAMPLES:
        keys = [ms.METRIC_ID, ms.SERIES_ID]
        fields = [ms.VALUE]
    else:
        columns = describe_table(con, schema, table)
        keys = [c.name for c in columns if c.kind == "tag"]
        fields = [c.name for c in columns if c.kind == "field" and c.sql_type in NUMERIC_TYPES]
        if not fields:
            return
    source = table
    for tier, rule in enumerate(rules):
        lo_ns, hi_ns = aligned(lo_ns, hi_ns, rule.interval_ns)
        target = rollup_table(table, rule)
        _ensure_table(con, schema, target, table, keys, fields)
        con.execute(f"DELETE FROM {qualified(schema, target)} WHERE {_range(lo_ns, hi_ns)}")
        aggregates = _from_raw(table, fields) if tier == 0 else _from_tier(table, fields)
        key_list = "".join(f", {quote_ident(k)}" for k in keys)
        con.execute(
            f"INSERT INTO {qualified(schema, target)} BY NAME"
            f" SELECT {_bucket('time', rule.interval_ns)} AS time{key_list}, {aggregates}"
            f" FROM (SELECT * FROM {qualified(schema, source)} WHERE {_range(lo_ns, hi_ns)})"
            f" GROUP BY {_bucket('time', rule.interval_ns)}{key_list}"
        )
        source = target


def _names(table: str, field: str) -> dict[str, str]:
    """Column names of one field's aggregates in a tier of ``table``."""
    if table == ms.SAMPLES:
        return {a: a for a in ("min", "max", "sum", "count", "last", "last_time")}
    return {a: f"{field}_{a}" for a in ("min", "max", "sum", "count", "last", "last_time")}


def _from_raw(table: str, fields: list[str]) -> str:
    parts = []
    for f in fields:
        n = {k: quote_ident(v) for k, v in _names(table, f).items()}
        v = quote_ident(f)
        parts += [
            f"min({v}) AS {n['min']}",
            f"max({v}) AS {n['max']}",
            f"sum({v}) AS {n['sum']}",
            f"count({v}) AS {n['count']}",
            f"arg_max({v}, time) FILTER (WHERE {v} IS NOT NULL) AS {n['last']}",
            f"max(time) FILTER (WHERE {v} IS NOT NULL) AS {n['last_time']}",
        ]
    return ", ".join(parts)


def _from_tier(table: str, fields: list[str]) -> str:
    parts = []
    for f in fields:
        n = {k: quote_ident(v) for k, v in _names(table, f).items()}
        parts += [
            f"min({n['min']}) AS {n['min']}",
            f"max({n['max']}) AS {n['max']}",
            f"sum({n['sum']}) AS {n['sum']}",
            f"sum({n['count']})::BIGINT AS {n['count']}",
            f"arg_max({n['last']}, {n['last_time']}) AS {n['last']}",
            f"max({n['last_time']}) AS {n['last_time']}",
        ]
    return ", ".join(parts)


def _ensure_table(
    con: duckdb.DuckDBPyConnection, schema: str, target: str, table: str, keys: list[str], fields: list[str]
) -> None:
    """Create the tier's table, or add the columns of tags and fields that are new since."""
    key_type = "BIGINT" if table == ms.SAMPLES else "VARCHAR"
    wanted: list[tuple[str, str]] = [(k, key_type) for k in keys]
    for f in fields:
        n = _names(table, f)
        wanted += [(n["min"], "DOUBLE"), (n["max"], "DOUBLE"), (n["sum"], "DOUBLE"), (n["count"], "BIGINT")]
        wanted += [(n["last"], "DOUBLE"), (n["last_time"], "TIMESTAMP_NS")]
    have = {c.name.lower() for c in describe_table(con, schema, target)}
    if not have:
        defs = "".join(f", {quote_ident(name)} {sql_type}" for name, sql_type in wanted)
        con.execute(f"CREATE TABLE IF NOT EXISTS {qualified(schema, target)} (time TIMESTAMP_NS NOT NULL{defs})")
        return
    for name, sql_type in wanted:
        if name.lower() not in have:
            con.execute(f"ALTER TABLE {qualified(schema, target)} ADD COLUMN {quote_ident(name)} {sql_type}")
