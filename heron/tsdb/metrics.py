"""The metric store: where metric-style protocols keep their samples.

Prometheus remote write, OpenTSDB, Open-Falcon and Datadog send samples of named series:
a metric name, labels, a time and one float. Storing each metric as its own table costs
DuckDB about 5 ms per table per append, and one remote-write request commonly spans
hundreds of metrics, so per-metric tables capped ingest near 40,000 samples/s. Here every
database keeps them in three tables instead:

* ``_heron_samples (time, __metric, __series, value)``: one narrow row per sample, sorted
  by metric and series at each flush so DuckDB's zone maps skip other metrics' row groups;
* ``_heron_series (__series, __metric, __key, <one VARCHAR column per label name>)``: one
  row per series, written once when it first appears;
* ``_heron_metrics (__metric, name, tags)``: the metric's name and label names.

Each metric is still a table to SQL: a view named after the metric joins its samples with
its series and shows ``time``, one column per label and ``value``, so
``SELECT * FROM cpu_usage WHERE host = 'web01'`` reads as it always did. The view's
comment lists its tag columns, as a table's does.

A series is identified by its key, a canonical string of the metric and its sorted labels;
the writer maps keys to ids (:class:`Registry`), so a request whose series are known costs a
dictionary lookup per series and one narrow append.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any

import duckdb
import numpy as np
import numpy.typing as npt
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from heron.core.batch import Batch
from heron.tsdb.names import qualified, quote_ident
from heron.tsdb.store import list_tables

SAMPLES = "_heron_samples"
SERIES = "_heron_series"
METRICS = "_heron_metrics"
INTERNAL_TABLES = frozenset({SAMPLES, SERIES, METRICS})

METRIC_ID = "__metric"
SERIES_ID = "__series"
SERIES_KEY = "__key"
VALUE = "value"
#: Label names a series table or view cannot take as they are; stored as ``label_<name>``.
RESERVED_LABELS = frozenset({"time", VALUE, METRIC_ID, SERIES_ID, SERIES_KEY})
RENAMED_LABEL_PREFIX = "label_"

#: Column specs (kind, SQL type) of the store's tables as the write-ahead log records them.
SAMPLE_COLUMNS: dict[str, tuple[str, str]] = {
    METRIC_ID: ("field", "BIGINT"),
    SERIES_ID: ("field", "BIGINT"),
    VALUE: ("field", "DOUBLE"),
}
METRIC_COLUMNS: dict[str, tuple[str, str]] = {
    METRIC_ID: ("field", "BIGINT"),
    "name": ("field", "VARCHAR"),
    "tags": ("field", "VARCHAR"),
}
SERIES_BASE_COLUMNS: dict[str, tuple[str, str]] = {
    SERIES_ID: ("field", "BIGINT"),
    METRIC_ID: ("field", "BIGINT"),
    SERIES_KEY: ("field", "VARCHAR"),
}

Labels = tuple[tuple[str, str], ...]


def stored_label(name: str) -> str:
    """The column a label is stored in: its own name unless that is reserved."""
    return RENAMED_LABEL_PREFIX + name if name.lower() in RESERVED_LABELS else name


def series_key(metric: str, labels: Labels) -> str:
    """The canonical identity of a series: metric and labels (sorted by name), as JSON.

    JSON keeps any name or value unambiguous; the same series gets the same key whichever
    protocol sent it.
    """
    flat: list[str] = [metric]
    for name, value in labels:
        flat += (name, value)
    return orjson.dumps(flat).decode()


@dataclass(frozen=True, slots=True)
class SeriesDef:
    """One series: its key, metric, labels (stored names, sorted) and the host it names."""

    key: str
    metric: str
    labels: Labels
    ident: str | None = None

    @classmethod
    def of(cls, metric: str, labels: Iterable[tuple[str, str]], *, ident_label: str = "ident") -> SeriesDef:
        ordered = tuple(sorted(labels))
        ident = next((v for k, v in ordered if k == ident_label), None)
        return cls(series_key(metric, ordered), metric, ordered, ident)


@dataclass(frozen=True, slots=True)
class Samples:
    """Samples in long form: each row points at its series in ``series``.

    ``time`` is int64 nanoseconds, ``value`` float64; ``lines`` gives the 1-based item or
    series number each row came from, for error messages.
    """

    series: list[SeriesDef]
    index: npt.NDArray[np.int64]
    time: npt.NDArray[np.int64]
    value: npt.NDArray[np.float64]
    lines: npt.NDArray[np.int32] | None = None

    def __len__(self) -> int:
        return len(self.index)

    def take(self, rows: npt.NDArray[np.int64]) -> Samples:
        return Samples(
            self.series,
            self.index[rows],
            self.time[rows],
            self.value[rows],
            None if self.lines is None else self.lines[rows],
        )

    def idents(self) -> list[str]:
        """Distinct hosts named by the series of this request (sorted)."""
        return sorted({s.ident for s in self.series if s.ident})

    def to_batches(self) -> list[Batch]:
        """One batch per metric (rows in request order): the shape of a table of its own.

        Used where a metric already exists as an ordinary table, and by tests.
        """
        by_metric: dict[str, list[int]] = {s.metric: [] for s in self.series}  # in order of first series
        metric_of = [s.metric for s in self.series]
        for row, i in enumerate(self.index.tolist()):
            by_metric[metric_of[i]].append(row)
        batches = []
        for metric, rows in by_metric.items():
            if not rows:
                continue
            picked = np.array(rows, dtype=np.int64)
            series = [self.series[i] for i in self.index[picked].tolist()]
            names: dict[str, None] = {}
            for s in series:
                names.update(dict.fromkeys(k for k, _ in s.labels))
            maps = [dict(s.labels) for s in series]
            tags = {name: pa.array([m.get(name) for m in maps], pa.string()) for name in sorted(names)}
            batches.append(
                Batch(
                    table=metric,
                    time=pa.array(self.time[picked], pa.int64()),
                    tags=tags,
                    fields={VALUE: pa.array(self.value[picked], pa.float64())},
                    lines=None if self.lines is None else pa.array(self.lines[picked], pa.int32()),
                )
            )
        return batches


def samples_from_batches(batches: Iterable[Batch], *, ident_label: str = "ident") -> Samples:
    """Metric batches (table = metric, tags = labels, one float field ``value``) in long form.

    Series are told apart per row by one joined string per row (Arrow, no Python per row);
    Python runs once per distinct series.
    """
    series: list[SeriesDef] = []
    index_parts, time_parts, value_parts, line_parts = [], [], [], []
    for batch in batches:
        n = len(batch)
        if not n:
            continue
        names = sorted(batch.tags)
        known: dict[str, SeriesDef] = _MEMO.map((batch.table, tuple(names)))
        if names:
            parts = [_escaped(batch.tags[name]) for name in names]
            joined = pc.binary_join_element_wise(*parts, "\x1f", null_handling="replace", null_replacement="\x1e")
            encoded = pc.dictionary_encode(joined)
            codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
            distinct: list[str] = encoded.dictionary.to_pylist()
        else:
            codes = np.zeros(n, dtype=np.int64)
            distinct = [""]
        found = list(map(known.get, distinct))
        missing = [k for k, d in enumerate(found) if d is None]
        if missing:
            # The first row of each new series gives its labels (codes count up from 0 in
            # order of first appearance, so np.unique's first indices line up with them).
            _, first = np.unique(codes, return_index=True)
            rows = pa.array(first[missing])
            columns = [batch.tags[name].take(rows).to_pylist() for name in names]
            for j, k in enumerate(missing):
                labels = [(name, col[j]) for name, col in zip(names, columns, strict=True) if col[j] is not None]
                found[k] = known[distinct[k]] = SeriesDef.of(batch.table, labels, ident_label=ident_label)
            _MEMO.added(len(missing))
        base = len(series)
        series.extend(found)  # type: ignore[arg-type]  # every entry is a SeriesDef now
        index_parts.append(codes + base)
        time_parts.append(batch.time.to_numpy(zero_copy_only=False).astype(np.int64))
        value = batch.fields[VALUE]
        value_parts.append(pc.cast(value, pa.float64()).to_numpy(zero_copy_only=False))
        line_parts.append(
            batch.lines.to_numpy(zero_copy_only=False).astype(np.int32)
            if batch.lines is not None
            else np.zeros(n, dtype=np.int32)
        )
    if not index_parts:
        empty = np.zeros(0, dtype=np.int64)
        return Samples([], empty, empty, np.zeros(0), np.zeros(0, dtype=np.int32))
    return Samples(
        series,
        np.concatenate(index_parts),
        np.concatenate(time_parts),
        np.concatenate(value_parts).astype(np.float64),
        np.concatenate(line_parts),
    )


class SeriesMemo:
    """Series already described, so a body naming them again costs a lookup each.

    Protocols send the same series again and again; building a description (sorting
    labels, a JSON key) per series per request cost more than parsing. Descriptions are kept
    in maps by a caller's key (the metric and tag names; a remote-write route's ident rule),
    each mapping something the body holds (joined tag values; the bytes of the labels) to a
    :class:`SeriesDef` or, for remote write, the reason the series is refused. Bounded: past
    ``limit`` entries in all the maps, it starts over.
    """

    def __init__(self, limit: int) -> None:
        self._maps: dict[Hashable, dict[Any, Any]] = {}
        self._size = 0
        self._limit = limit
        self._lock = threading.Lock()

    def map(self, key: Hashable) -> dict[Any, Any]:
        with self._lock:
            found = self._maps.get(key)
            if found is None:
                found = self._maps[key] = {}
            return found

    def added(self, count: int) -> None:
        """Count entries a caller put in its map."""
        with self._lock:
            self._size += count
            if self._size > self._limit:
                self._maps.clear()
                self._size = 0


#: Descriptions kept before a memo starts over (about 1-2 KB each).
SERIES_MEMO_LIMIT = 100_000
_MEMO = SeriesMemo(SERIES_MEMO_LIMIT)


def _escaped(column: pa.Array) -> pa.Array:
    """Values with the separators of :func:`samples_from_batches` escaped, so joins are unique."""
    text = pc.cast(column, pa.string())
    text = pc.replace_substring(text, "\\", "\\\\")
    text = pc.replace_substring(text, "\x1f", "\\u001f")
    return pc.replace_substring(text, "\x1e", "\\u001e")


def is_metric_batch(batch: Batch) -> bool:
    """Whether a batch has the metric shape: fields are exactly one float ``value``."""
    return list(batch.fields) == [VALUE] and batch.fields[VALUE].type == pa.float64()


# --- the registry ------------------------------------------------------------------------


@dataclass(slots=True)
class MetricDef:
    """A metric's id, the spelling its view has, and its tag columns (in view order)."""

    id: int
    name: str
    tags: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Registry:
    """Series and metrics of one database, as far as the write-ahead log holds them.

    Owned by the writer thread. ``columns`` maps lower-case label names to the spelling of
    their column in the series table (DuckDB names ignore case).
    """

    series: dict[str, int] = field(default_factory=dict)
    series_metric: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(1024, dtype=np.int64))
    metrics: dict[str, MetricDef] = field(default_factory=dict)  # keyed by lower-case name
    columns: dict[str, str] = field(default_factory=dict)
    next_series: int = 1
    next_metric: int = 1

    def set_series_metric(self, ids: npt.NDArray[np.int64], metrics: npt.NDArray[np.int64]) -> None:
        top = int(ids.max()) if len(ids) else 0
        if top >= len(self.series_metric):
            grown = np.zeros(max(top + 1, 2 * len(self.series_metric)), dtype=np.int64)
            grown[: len(self.series_metric)] = self.series_metric
            self.series_metric = grown
        self.series_metric[ids] = metrics

    def add_series_rows(self, data: pa.Table) -> None:
        """Learn series from rows of the series table (at start, and when replaying the log)."""
        if not data.num_rows:
            return
        ids = data.column(SERIES_ID).to_numpy().astype(np.int64)
        metrics = data.column(METRIC_ID).to_numpy().astype(np.int64)
        self.series.update(zip(data.column(SERIES_KEY).to_pylist(), ids.tolist(), strict=True))
        self.set_series_metric(ids, metrics)
        self.next_series = max(self.next_series, int(ids.max()) + 1)
        for name in data.column_names:
            if name not in SERIES_BASE_COLUMNS:
                self.columns.setdefault(name.lower(), name)

    def add_metric_rows(self, data: pa.Table) -> list[MetricDef]:
        """Learn metrics from rows of the metrics table; returns their definitions."""
        defs = [
            MetricDef(int(mid), name, list(orjson.loads(tags)))
            for mid, name, tags in zip(
                data.column(METRIC_ID).to_pylist(),
                data.column("name").to_pylist(),
                data.column("tags").to_pylist(),
                strict=True,
            )
        ]
        for mdef in defs:
            self.metrics[mdef.name.lower()] = mdef
            self.next_metric = max(self.next_metric, mdef.id + 1)
        return defs


def create_tables(con: duckdb.DuckDBPyConnection, schema: str) -> None:
    """The store's three tables in ``schema`` (idempotent)."""
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {qualified(schema, SAMPLES)} "
        f"(time TIMESTAMP_NS NOT NULL, {METRIC_ID} BIGINT NOT NULL, {SERIES_ID} BIGINT NOT NULL, value DOUBLE)"
    )
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {qualified(schema, SERIES)} "
        f"({SERIES_ID} BIGINT NOT NULL, {METRIC_ID} BIGINT NOT NULL, {SERIES_KEY} VARCHAR NOT NULL)"
    )
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {qualified(schema, METRICS)} "
        f"({METRIC_ID} BIGINT NOT NULL, name VARCHAR NOT NULL, tags VARCHAR NOT NULL)"
    )


def load_registry(con: duckdb.DuckDBPyConnection, schema: str) -> Registry:
    """What DuckDB holds of one database's store (empty when it has none yet)."""
    registry = Registry()
    present = set(list_tables(con, schema))
    if SERIES in present:
        registry.add_series_rows(con.sql(f"SELECT * FROM {qualified(schema, SERIES)}").to_arrow_table())
    if METRICS in present:
        registry.add_metric_rows(con.sql(f"SELECT * FROM {qualified(schema, METRICS)}").to_arrow_table())
    return registry


def view_sql(schema: str, metric: MetricDef, columns: dict[str, str]) -> str:
    """``CREATE OR REPLACE VIEW`` for one metric: time, its tag columns, value."""
    tags = "".join(f", r.{quote_ident(columns[t.lower()])} AS {quote_ident(t)}" for t in metric.tags)
    return (
        f"CREATE OR REPLACE VIEW {qualified(schema, metric.name)} AS SELECT d.time{tags}, d.value"
        f" FROM {qualified(schema, SAMPLES)} AS d JOIN {qualified(schema, SERIES)} AS r"
        f" ON r.{SERIES_ID} = d.{SERIES_ID}"
        f" WHERE d.{METRIC_ID} = {metric.id} AND r.{METRIC_ID} = {metric.id}"
    )


def metric_rows(defs: Iterable[MetricDef]) -> pa.Table:
    """Rows of the metrics table for ``defs``."""
    defs = list(defs)
    return pa.table(
        {
            METRIC_ID: pa.array([d.id for d in defs], pa.int64()),
            "name": pa.array([d.name for d in defs], pa.string()),
            "tags": pa.array([orjson.dumps(d.tags).decode() for d in defs], pa.string()),
        }
    )
