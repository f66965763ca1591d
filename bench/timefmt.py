"""Nanosecond timestamps spelled for each query language, so both sides see the same instant."""

from __future__ import annotations

from datetime import UTC, datetime

NS_PER_S = 1_000_000_000


def _clock(ns: int) -> str:
    seconds, fraction = divmod(ns, NS_PER_S)
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{fraction:09d}"


def rfc3339(ns: int) -> str:
    """An RFC 3339 string with nanoseconds, as InfluxQL accepts in single quotes."""
    return _clock(ns) + "Z"


def sql_timestamp(ns: int) -> str:
    """A DuckDB ``TIMESTAMP_NS`` literal (UTC, as Heron stores time)."""
    return f"TIMESTAMP_NS '{_clock(ns).replace('T', ' ')}'"
