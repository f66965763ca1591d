"""One series model over everything a database holds, and reading it from DuckDB.

PromQL sees every numeric column as series (DESIGN.md §6b):

* the metric store (:mod:`heron.tsdb.metrics`: remote write, OpenTSDB, Open-Falcon,
  Datadog): each metric by its name, with its labels;
* an ordinary table (line protocol, logs): each numeric or boolean field as
  ``<table>_<field>`` with the row's tags as labels, VictoriaMetrics' mapping; a field
  named ``value`` is the metric ``<table>`` itself, as metric protocols write it;
* the server status history (``server_status``): each field as ``heron_server_<field>``
  labelled ``server`` (the server's name) and ``server_id``;
* the service monitors' results (``service_results``): ``heron_service_up`` (1 or 0),
  ``heron_service_latency_seconds``, and each detail as ``heron_service_<detail>`` (times in
  milliseconds as ``…_seconds``), labelled ``service`` and ``service_id`` (the monitor),
  ``server`` and ``server_id`` (the vantage point that checked) and ``kind``.

Names that are not valid Prometheus names (``nd.system.cpu.user``) are reachable with
Prometheus 3's quoted form, ``{"nd.system.cpu.user"}``.

Selection runs in DuckDB: label matchers become ``WHERE`` conditions on the series table
or the table's tag columns (regular expressions with DuckDB's RE2, as Prometheus's), time
bounds prune row groups, and rows come back sorted by series and time as Arrow columns.
Python runs once per metric name and once per series, never per sample.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import duckdb
import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from heron.promql.errors import BadData, ExecutionError
from heron.promql.regex import compile_full
from heron.promql.values import F64, I64, NAME, Labels
from heron.tsdb import metrics as ms
from heron.tsdb.names import INTERNAL_PREFIX, qualified, quote_ident
from heron.tsdb.store import describe_schemas, list_tables, list_views

#: Column types whose values PromQL reads as floats (booleans as 0 and 1).
NUMERIC_TYPES = ("DOUBLE", "FLOAT", "BIGINT", "UBIGINT", "INTEGER", "SMALLINT", "TINYINT", "HUGEINT", "BOOLEAN")
#: Prefix of the metric names of the server status history.
SERVER_PREFIX = "heron_server_"
_SERVER_LABELS = {"server_name": "server"}
#: Prefix of the metric names of the service results, and their labels' names.
SERVICE_PREFIX = "heron_service_"
_SERVICE_LABELS = {"server_name": "server", "service_name": "service"}
#: Service result columns whose series have their own name (the rest: ``heron_service_<column>``).
_SERVICE_NAMES = {"delay_ms": "latency_seconds", "cert_expires_at": "cert_expiry_timestamp_seconds"}


@dataclass(frozen=True, slots=True)
class Matcher:
    """One label matcher: ``op`` is ``=``, ``!=``, ``=~`` or ``!~``."""

    op: str
    name: str
    value: str

    def matches(self, text: str) -> bool:
        if self.op == "=":
            return text == self.value
        if self.op == "!=":
            return text != self.value
        hit = _regex(self.value).match(text) is not None
        return hit if self.op == "=~" else not hit


def _regex(pattern: str) -> re.Pattern[str]:
    try:
        return compile_full(pattern)
    except re.error as exc:
        raise BadData(f"invalid regular expression {pattern!r}: {exc}") from None


@dataclass(frozen=True, slots=True)
class Source:
    """Where the samples of one metric name live.

    ``kind`` is ``store`` (a metric of the metric store, ``metric_id``) or ``table`` (the
    column ``column`` of the table ``table``). ``labels`` maps each label name to the
    column holding it.
    """

    name: str
    kind: str
    table: str = ""
    column: str = ""
    metric_id: int = 0
    labels: dict[str, str] = field(default_factory=dict)
    #: Factor applied to the column's values (service times are stored in ms, read in seconds).
    scale: float = 1.0

    def column_of(self, label: str) -> str | None:
        found = self.labels.get(label)
        if found is not None:
            return found
        low = label.lower()
        return next((c for name, c in self.labels.items() if name.lower() == low), None)


@dataclass(slots=True)
class Catalog:
    """Every metric name of one database and where it lives."""

    schema: str
    sources: dict[str, list[Source]]

    def names(self) -> list[str]:
        return sorted(self.sources)

    def matching(self, matchers: list[Matcher]) -> list[Source]:
        """The sources whose name passes the ``__name__`` matchers."""
        on_name = [m for m in matchers if m.name == NAME]
        exact = next((m.value for m in on_name if m.op == "="), None)
        names = [exact] if exact is not None else self.names()
        out: list[Source] = []
        for name in names:
            if all(m.matches(name) for m in on_name):
                out.extend(self.sources.get(name, ()))
        return out


def _service_series(column: str) -> tuple[str, float]:
    """The metric name of a ``service_results`` column and the factor to its unit."""
    if column in _SERVICE_NAMES:
        return SERVICE_PREFIX + _SERVICE_NAMES[column], 0.001 if column.endswith("_ms") else 1.0
    if column.endswith("_ms"):
        return SERVICE_PREFIX + column[: -len("_ms")] + "_seconds", 0.001
    return SERVICE_PREFIX + column, 1.0


def load_catalog(
    cur: duckdb.DuckDBPyConnection,
    schema: str,
    *,
    status_table: str | None = None,
    service_table: str | None = None,
) -> Catalog:
    """What ``schema`` holds, as metric names: two catalog queries and the metric list.

    ``status_table`` and ``service_table`` name the server status and service results tables
    when ``schema`` is the one they live in.
    """
    sources: dict[str, list[Source]] = {}
    tables = set(list_tables(cur, schema))
    if ms.METRICS in tables:
        rows = cur.execute(f"SELECT {ms.METRIC_ID}, name, tags FROM {qualified(schema, ms.METRICS)}").fetchall()
        for metric_id, name, tags in rows:
            labels = {_label_of_stored(t): t for t in orjson.loads(tags)}
            sources.setdefault(name, []).append(Source(name, "store", metric_id=int(metric_id), labels=labels))
    described = describe_schemas(cur, schema=schema).get(schema, {})
    views = {name for s, name in list_views(cur) if s == schema}
    for table, columns in described.items():
        if table.startswith(INTERNAL_PREFIX) or table in views:
            continue
        tags = [c.name for c in columns if c.kind == "tag"]
        status = table == status_table
        service = table == service_table
        renames = _SERVER_LABELS if status else _SERVICE_LABELS if service else {}
        labels = {renames.get(t, t): t for t in tags}
        for col in columns:
            if col.kind != "field" or not col.sql_type.upper().startswith(NUMERIC_TYPES):
                continue
            scale = 1.0
            if service:
                name, scale = _service_series(col.name)
            elif status:
                name = SERVER_PREFIX + col.name
            elif col.name.lower() == ms.VALUE:
                name = table
            else:
                name = f"{table}_{col.name}"
            sources.setdefault(name, []).append(
                Source(name, "table", table=table, column=col.name, labels=labels, scale=scale)
            )
    return Catalog(schema, sources)


def _label_of_stored(column: str) -> str:
    """The label a series-table column holds (reserved names are stored as ``label_<name>``)."""
    prefix = ms.RENAMED_LABEL_PREFIX
    if column.lower().startswith(prefix) and column[len(prefix) :].lower() in ms.RESERVED_LABELS:
        return column[len(prefix) :]
    return column


@dataclass(slots=True)
class Selected:
    """Series and their samples, sorted by series then time (ms)."""

    labels: list[Labels]
    series: I64
    times: I64
    values: F64

    @classmethod
    def empty(cls) -> Selected:
        return cls([], np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))


def _conditions(source: Source, matchers: list[Matcher], *, prefix: str = "") -> tuple[list[str], list[str]] | None:
    """SQL conditions and parameters for the label matchers; None when no series can match."""
    sql: list[str] = []
    params: list[str] = []
    for m in matchers:
        if m.name == NAME:
            continue
        column = source.column_of(m.name)
        if column is None:
            if not m.matches(""):
                return None
            continue
        ref = f"COALESCE({prefix}{quote_ident(column)}, '')"
        if m.op in ("=", "!="):
            sql.append(f"{ref} {'=' if m.op == '=' else '<>'} ?")
            params.append(m.value)
        else:
            _regex(m.value)
            sql.append(f"{'' if m.op == '=~' else 'NOT '}regexp_full_match({ref}, ?)")
            params.append("(?s)" + m.value)
    return sql, params


class SeriesReader:
    """Reads series of one database for PromQL, on one DuckDB cursor."""

    def __init__(
        self,
        cur: duckdb.DuckDBPyConnection,
        catalog: Catalog,
        *,
        max_samples: int,
        labels: dict[int, Labels] | None = None,
    ) -> None:
        self._cur = cur
        self._catalog = catalog
        # Labels of metric-store series by id, kept by the caller across queries (a series'
        # labels never change), so a repeated dashboard query reads only samples.
        self._labels: dict[int, Labels] = {} if labels is None else labels
        self._schema = catalog.schema
        self._max_samples = max_samples
        self.samples_read = 0

    @property
    def catalog(self) -> Catalog:
        return self._catalog

    def select(self, groups: list[list[Matcher]], start_ms: int, end_ms: int) -> Selected:
        """Samples in ``[start_ms, end_ms]`` of the series any group of matchers selects."""
        parts: list[Selected] = []
        seen: set[Labels] = set()
        for matchers in groups:
            for source in self._catalog.matching(matchers):
                part = self._read(source, matchers, start_ms, end_ms)
                if part is not None and part.labels:
                    if len(groups) > 1:
                        part = _unseen(part, seen)
                    parts.append(part)
        return _concat(parts)

    def series(self, groups: list[list[Matcher]], start_ms: int | None, end_ms: int | None) -> list[Labels]:
        """Label sets of the series the matchers select (with a sample in the range, when given)."""
        found: dict[Labels, None] = {}
        for matchers in groups:
            for source in self._catalog.matching(matchers):
                for labels in self._series_of(source, matchers, start_ms, end_ms):
                    found[labels] = None
        return list(found)

    def _run(self, sql: str, params: list[object]) -> pa.Table:
        try:
            relation = self._cur.sql(sql, params=params)
            return relation.to_arrow_table() if relation is not None else pa.table({})
        except duckdb.Error as exc:
            text = str(exc)
            if "regex" in text.lower():
                raise BadData(f"invalid regular expression: {text.splitlines()[0]}") from exc
            raise

    def count(self, rows: int) -> None:
        """Count ``rows`` samples against the query's limit (a 422 past it)."""
        self.samples_read += rows
        if self.samples_read > self._max_samples:
            raise ExecutionError(
                f"query processing would load too many samples into memory (more than {self._max_samples})"
            )

    def check_cells(self, series: int, steps: int) -> None:
        """Refuse (422) an evaluation of ``series`` at ``steps`` steps larger than the sample limit."""
        if series * steps > self._max_samples:
            raise ExecutionError(
                f"query processing would hold {series} series at {steps} steps, more than"
                f" {self._max_samples} points; select fewer series or use a larger step"
            )

    def _read(self, source: Source, matchers: list[Matcher], start_ms: int, end_ms: int) -> Selected | None:
        if source.kind == "store":
            return self._read_store(source, matchers, start_ms, end_ms)
        return self._read_table(source, matchers, start_ms, end_ms)

    def _store_series_sql(self, source: Source, matchers: list[Matcher]) -> tuple[str, list[object]] | None:
        cond = _conditions(source, matchers)
        if cond is None:
            return None
        where, params = cond
        clause = "".join(f" AND {c}" for c in where)
        sql = f"SELECT {ms.SERIES_ID}, {ms.SERIES_KEY} FROM {qualified(self._schema, ms.SERIES)}"
        return sql + f" WHERE {ms.METRIC_ID} = {source.metric_id}{clause}", list(params)

    def _read_store(self, source: Source, matchers: list[Matcher], start_ms: int, end_ms: int) -> Selected | None:
        found = self._store_series_sql(source, matchers)
        if found is None:
            return None
        series_sql, params = found
        samples = self._run(
            f"SELECT d.{ms.SERIES_ID} AS s, epoch_ns(d.time) // 1000000 AS t, d.value AS v"
            f" FROM {qualified(self._schema, ms.SAMPLES)} AS d"
            f" WHERE d.{ms.METRIC_ID} = {source.metric_id}"
            " AND d.time >= make_timestamp_ns(?) AND d.time <= make_timestamp_ns(?)"
            f" AND d.{ms.SERIES_ID} IN (SELECT {ms.SERIES_ID} FROM ({series_sql}))"
            " ORDER BY 1, 2",
            [start_ms * 1_000_000, end_ms * 1_000_000 + 999_999, *params],
        )
        self.count(samples.num_rows)
        if not samples.num_rows:
            return None
        sid = samples.column("s").to_numpy().astype(np.int64)
        # Rows come sorted by series: a new series starts where the id changes.
        starts = np.empty(len(sid), dtype=bool)
        starts[0] = True
        np.not_equal(sid[1:], sid[:-1], out=starts[1:])
        ids = sid[starts]
        missing = [i for i in ids.tolist() if i not in self._labels]
        if missing:
            rows = self._run(
                f"SELECT {ms.SERIES_ID}, {ms.SERIES_KEY} FROM {qualified(self._schema, ms.SERIES)}"
                f" WHERE {ms.SERIES_ID} IN (SELECT unnest(?::BIGINT[]))",
                [missing],
            )
            for i, key in zip(rows.column(0).to_pylist(), rows.column(1).to_pylist(), strict=True):
                self._labels[int(i)] = _store_labels(source.name, key)
        labels = [self._labels[i] for i in ids.tolist()]
        return _dedupe(
            Selected(
                labels,
                np.cumsum(starts, dtype=np.int64) - 1,
                samples.column("t").to_numpy().astype(np.int64),
                samples.column("v").to_numpy(zero_copy_only=False).astype(np.float64),
            )
        )

    def _table_sql(self, source: Source, matchers: list[Matcher]) -> tuple[list[str], str, list[object]] | None:
        cond = _conditions(source, matchers)
        if cond is None:
            return None
        where, params = cond
        tag_columns = list(dict.fromkeys(source.labels.values()))
        clause = "".join(f" AND {c}" for c in where)
        return tag_columns, f"{quote_ident(source.column)} IS NOT NULL{clause}", list(params)

    def _read_table(self, source: Source, matchers: list[Matcher], start_ms: int, end_ms: int) -> Selected | None:
        found = self._table_sql(source, matchers)
        if found is None:
            return None
        tag_columns, where, params = found
        tags = "".join(f"{quote_ident(c)}, " for c in tag_columns)
        scaled = f" * {source.scale!r}" if source.scale != 1.0 else ""
        data = self._run(
            f"SELECT {tags}epoch_ns(time) // 1000000 AS __t,"
            f" CAST({quote_ident(source.column)} AS DOUBLE){scaled} AS __v"
            f" FROM {qualified(self._schema, source.table)}"
            f" WHERE time >= make_timestamp_ns(?) AND time <= make_timestamp_ns(?) AND {where}",
            [start_ms * 1_000_000, end_ms * 1_000_000 + 999_999, *params],
        )
        self.count(data.num_rows)
        if not data.num_rows:
            return None
        codes, labels = _series_codes(data, source, tag_columns)
        times = data.column("__t").to_numpy().astype(np.int64)
        values = data.column("__v").to_numpy(zero_copy_only=False).astype(np.float64)
        order = np.lexsort((times, codes))
        return _dedupe(Selected(labels, codes[order], times[order], values[order]))

    def _series_of(
        self, source: Source, matchers: list[Matcher], start_ms: int | None, end_ms: int | None
    ) -> list[Labels]:
        bounded = start_ms is not None and end_ms is not None
        if source.kind == "store":
            found = self._store_series_sql(source, matchers)
            if found is None:
                return []
            sql, params = found
            if bounded:
                sql += (
                    f" AND {ms.SERIES_ID} IN (SELECT DISTINCT {ms.SERIES_ID} FROM {qualified(self._schema, ms.SAMPLES)}"
                    f" WHERE {ms.METRIC_ID} = {source.metric_id}"
                    " AND time >= make_timestamp_ns(?) AND time <= make_timestamp_ns(?))"
                )
                params += [start_ms * 1_000_000, end_ms * 1_000_000 + 999_999]  # type: ignore[operator]
            rows = self._run(sql, params)
            return [_store_labels(source.name, key) for key in rows.column(1).to_pylist()]
        table = self._table_sql(source, matchers)
        if table is None:
            return []
        tag_columns, where, params = table
        if bounded:
            where += " AND time >= make_timestamp_ns(?) AND time <= make_timestamp_ns(?)"
            params += [start_ms * 1_000_000, end_ms * 1_000_000 + 999_999]  # type: ignore[operator]
        select = ", ".join(quote_ident(c) for c in tag_columns) or "1 AS __one"
        data = self._run(f"SELECT DISTINCT {select} FROM {qualified(self._schema, source.table)} WHERE {where}", params)
        if not data.num_rows:
            return []
        _codes, labels = _series_codes(data, source, tag_columns)
        return labels


def _store_labels(name: str, key: str) -> Labels:
    flat = orjson.loads(key)
    pairs = {flat[i]: flat[i + 1] for i in range(1, len(flat) - 1, 2)}
    pairs = {_label_of_stored(k): v for k, v in pairs.items() if v != ""}
    pairs[NAME] = name
    return tuple(sorted(pairs.items()))


def _series_codes(data: pa.Table, source: Source, tag_columns: list[str]) -> tuple[I64, list[Labels]]:
    """A series number per row (rows with equal tags share one) and each series' labels."""
    n = data.num_rows
    if not tag_columns:
        return np.zeros(n, dtype=np.int64), [((NAME, source.name),)]
    parts = [ms._escaped(data.column(c).combine_chunks()) for c in tag_columns]
    joined = pc.binary_join_element_wise(*parts, "\x1f", null_handling="replace", null_replacement="\x1e")
    encoded = pc.dictionary_encode(joined)
    codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    _, first = np.unique(codes, return_index=True)
    rows = pa.array(first)
    columns = {c: data.column(c).take(rows).to_pylist() for c in tag_columns}
    label_of = {column: label for label, column in source.labels.items()}
    labels: list[Labels] = []
    for j in range(len(first)):
        pairs = {label_of[c]: columns[c][j] for c in tag_columns if columns[c][j] not in (None, "")}
        pairs[NAME] = source.name
        labels.append(tuple(sorted(pairs.items())))
    return codes, labels


def _dedupe(sel: Selected) -> Selected:
    """One sample per series and time: the last written wins, as an overwrite does."""
    if len(sel.times) < 2:
        return sel
    same = (sel.series[1:] == sel.series[:-1]) & (sel.times[1:] == sel.times[:-1])
    if not same.any():
        return sel
    keep = np.append(~same, True)
    return Selected(sel.labels, sel.series[keep], sel.times[keep], sel.values[keep])


def _unseen(part: Selected, seen: set[Labels]) -> Selected:
    """Drop series an earlier ``or`` group selected already."""
    fresh = [i for i, lab in enumerate(part.labels) if lab not in seen]
    seen.update(part.labels)
    if len(fresh) == len(part.labels):
        return part
    remap = np.full(len(part.labels), -1, dtype=np.int64)
    remap[fresh] = np.arange(len(fresh))
    keep = remap[part.series] >= 0
    return Selected([part.labels[i] for i in fresh], remap[part.series[keep]], part.times[keep], part.values[keep])


def _concat(parts: Iterable[Selected]) -> Selected:
    parts = [p for p in parts if p.labels]
    if not parts:
        return Selected.empty()
    if len(parts) == 1:
        return parts[0]
    labels: list[Labels] = []
    series: list[I64] = []
    for part in parts:
        series.append(part.series + len(labels))
        labels.extend(part.labels)
    return Selected(
        labels,
        np.concatenate(series),
        np.concatenate([p.times for p in parts]),
        np.concatenate([p.values for p in parts]),
    )
