"""Staging: what the writer knows of the store, and how a request becomes a plan.

The writer thread keeps a :class:`StoreView`: DuckDB's catalog as committed, the metric
store's registries, and the two backlogs that the write-ahead log holds and DuckDB does not
yet (the one the applier is working on and the one filling up). Staging a request checks
its names and types against all of that, picks the columns and tables it adds (schema
evolution), gives new series their ids, and adds Arrow tables to a :class:`Plan`. The
writer then logs the plan (:mod:`heron.tsdb.writer`) and the plan joins the pending backlog.

Only the writer thread calls this module's methods; the applier reads the catalog and the
registries while the writer thread is not changing them (see :mod:`heron.tsdb.flusher`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field

import duckdb
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from heron.core.batch import Batch
from heron.core.errors import DatabaseNotFound, TypeConflict
from heron.core.identifiers import name_problem, printable
from heron.tsdb import metrics as ms
from heron.tsdb.backlog import Backlog, Column, Table
from heron.tsdb.names import INTERNAL_PREFIX
from heron.tsdb.quarantine import Quarantine
from heron.tsdb.store import describe_schemas, list_schemas, list_views
from heron.tsdb.wal import WalRecord

log = logging.getLogger(__name__)

#: DuckDB column type for each Arrow field type.
SQL_TYPES: dict[pa.DataType, str] = {
    pa.float64(): "DOUBLE",
    pa.int64(): "BIGINT",
    pa.uint64(): "UBIGINT",
    pa.string(): "VARCHAR",
    pa.bool_(): "BOOLEAN",
}

#: How an error message names each DuckDB column type (line-protocol words).
TYPE_WORDS: dict[str, str] = {
    "DOUBLE": "float",
    "BIGINT": "integer",
    "UBIGINT": "unsigned",
    "VARCHAR": "string",
    "BOOLEAN": "boolean",
}


@dataclass(frozen=True, slots=True)
class WriteResult:
    """What one request got: rows written, rows dropped and why (partial-write dialects)."""

    written: int
    dropped: int = 0
    conflicts: tuple[TypeConflict, ...] = ()


@dataclass(slots=True)
class WriteRequest:
    """One request waiting for the writer: its batches (or samples) and its future."""

    tenant: str
    database: str
    schema: str
    batches: list[Batch]
    atomic: bool
    rows: int
    future: Future[WriteResult]
    samples: ms.Samples | None = None
    metrics: bool = False  # the batches are metrics (table = metric, one float field "value")


@dataclass(slots=True)
class Plan:
    """What one group of requests adds: tables, columns, Arrow tables, metrics and series.

    Staged before the group is logged; once logged it joins the writer's backlog
    (:class:`~heron.tsdb.backlog.Backlog`) as records with their sequence numbers.
    """

    new_tables: dict[tuple[str, str], Table] = field(default_factory=dict)
    new_columns: dict[tuple[str, str], list[Column]] = field(default_factory=dict)
    appends: dict[tuple[str, str], list[pa.Table]] = field(default_factory=dict)
    rows: int = 0
    # The metric store: metrics whose definition changes (keyed by lower-case name), and
    # series first seen in this plan (key -> id, id -> metric id) per schema.
    metric_defs: dict[tuple[str, str], ms.MetricDef] = field(default_factory=dict)
    series: dict[str, dict[str, int]] = field(default_factory=dict)
    series_metric: dict[str, dict[int, int]] = field(default_factory=dict)


class StoreView:
    """The writer thread's picture of the store: committed catalog, registries, backlogs."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.catalog: dict[str, dict[str, Table]] = {}
        self._table_names: dict[str, frozenset[str]] = {}
        self.registries: dict[str, ms.Registry] = {}
        #: Logged, not yet handed to the applier; and what the applier is applying now.
        self.pending = Backlog()
        self.pending_since = 0.0
        self.applying: Backlog | None = None
        #: Counts changes of tables, columns and metrics in DuckDB, so readers can cache
        #: what they derive from the catalog (PromQL's metric names) until it changes.
        self.catalog_version = 0
        self.load_catalog(con)
        self.registries = {schema: ms.load_registry(con, schema) for schema in self.catalog}

    def table_names(self, schema: str) -> frozenset[str]:
        """Lower-case names of the committed tables of ``schema`` (a snapshot; see Writer)."""
        return self._table_names.get(schema, frozenset())

    def caught_up(self) -> bool:
        """Whether DuckDB holds everything logged (read from any thread; see Writer.caught_up)."""
        applying = self.applying
        return applying is None and not self.pending.has_work()

    def in_flight_rows(self) -> int:
        """Rows logged and not yet in DuckDB."""
        return self.pending.rows + (self.applying.rows if self.applying is not None else 0)

    def registry(self, schema: str) -> ms.Registry:
        registry = self.registries.get(schema)
        if registry is None:
            registry = self.registries[schema] = ms.Registry()
        return registry

    def lookup(self, plan: Plan, schema: str, table: str) -> Table | None:
        """The table as committed, as pending in the log, or as planned by this group."""
        key = (schema, table.lower())
        return (
            self.catalog.get(schema, {}).get(table.lower())
            or (self.applying.new_tables.get(key) if self.applying is not None else None)
            or self.pending.new_tables.get(key)
            or plan.new_tables.get(key)
        )

    def is_metric(self, plan: Plan, schema: str, table: str) -> bool:
        """Whether ``table`` is a metric of the store (logged, or planned in this group)."""
        low = table.lower()
        return low in self.registry(schema).metrics or (schema, low) in plan.metric_defs

    def columns_of(self, schema: str, key: str, plan: Plan) -> dict[str, tuple[str, str]]:
        """Every known column of a table (committed, pending, planned): lower name -> (kind, type)."""
        out: dict[str, tuple[str, str]] = {}
        table = self.catalog.get(schema, {}).get(key)
        if table is not None:
            out.update({k: (c.kind, c.sql_type) for k, c in table.columns.items()})
        for col in self.new_columns(schema, key, plan):
            out.setdefault(col.name.lower(), (col.kind, col.sql_type))
        return out

    def new_columns(self, schema: str, key: str, *plans: Plan) -> Iterator[Column]:
        """Columns of a table added by the plan being applied, the pending one and ``plans``, in that order."""
        for source in (self.applying, self.pending, *plans):
            if source is not None:
                yield from source.new_columns.get((schema, key), [])

    def stage(self, req: WriteRequest, plan: Plan) -> WriteResult:
        if req.schema not in self.catalog:
            raise DatabaseNotFound(req.tenant, req.database)
        conflicts: list[TypeConflict] = []
        written = dropped = 0
        tables: list[Batch] = []
        metric_batches: list[Batch] = []
        for batch in req.batches:
            if batch.table.lower().startswith(INTERNAL_PREFIX):
                conflicts.append(_reserved(batch))
                dropped += len(batch)
                continue
            bad_name = _bad_name(batch)
            if bad_name is not None:
                conflicts.append(bad_name)
                dropped += len(batch)
                continue
            if self.is_metric(plan, req.schema, batch.table):
                if ms.is_metric_batch(batch):
                    metric_batches.append(batch)
                else:
                    conflicts.append(_not_a_metric_row(batch))
                    dropped += len(batch)
                continue
            if req.metrics and ms.is_metric_batch(batch) and self.lookup(plan, req.schema, batch.table) is None:
                metric_batches.append(batch)
            else:
                tables.append(batch)
        sample_sets = [s for s in (req.samples,) if s is not None and len(s)]
        if metric_batches:
            sample_sets.append(ms.samples_from_batches(metric_batches))
        to_store: list[tuple[ms.Samples, npt.NDArray[np.int64]]] = []
        for samples in sample_sets:
            ids, table_rows, refused = self._series_ids(req.schema, samples, plan)
            if len(table_rows):
                tables += samples.take(table_rows).to_batches()
            if len(refused):
                for batch in samples.take(refused).to_batches():
                    conflicts.append(_refused_series(batch))
                dropped += len(refused)
            to_store.append((samples, ids))
        if conflicts and req.atomic:
            raise conflicts[0]
        result = self._stage_tables(req, tables, plan)  # raises its own conflicts when atomic
        for samples, ids in to_store:
            written += self._stage_samples(req.schema, samples, ids, plan)
        return WriteResult(
            written=written + result.written,
            dropped=dropped + result.dropped,
            conflicts=tuple(conflicts) + result.conflicts,
        )

    def _series_ids(
        self, schema: str, samples: ms.Samples, plan: Plan
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """The id of each series of ``samples`` (new ones are created in ``plan``).

        Also the rows that belong in ordinary tables (their metric is one already) and the
        rows refused (a metric name Heron reserves); their series get id -1.
        """
        registry = self.registry(schema)
        get = registry.series.get
        found = [get(s.key, -1) for s in samples.series]
        ids = np.array(found, dtype=np.int64)
        misses = np.flatnonzero(ids < 0)
        if not len(misses):
            return ids, _NO_ROWS, _NO_ROWS
        new = plan.series.setdefault(schema, {})
        new_metric = plan.series_metric.setdefault(schema, {})
        rows: list[ms.SeriesDef] = []
        row_ids: list[int] = []
        row_metrics: list[int] = []
        elsewhere = np.zeros(len(ids), dtype=bool)
        refused = np.zeros(len(ids), dtype=bool)
        new_columns = plan.new_columns.setdefault((schema, ms.SERIES), [])
        planned_columns = {c.name.lower(): c.name for c in new_columns}
        for i in misses.tolist():
            s = samples.series[i]
            sid = new.get(s.key)
            if sid is not None:
                ids[i] = sid
                continue
            low = s.metric.lower()
            if low.startswith(INTERNAL_PREFIX) or not _storable_series(s):
                refused[i] = True
                continue
            mdef = plan.metric_defs.get((schema, low)) or registry.metrics.get(low)
            if mdef is None:
                table = self.lookup(plan, schema, s.metric)
                if table is not None and not table.view:
                    elsewhere[i] = True
                    continue
                mdef = ms.MetricDef(registry.next_metric, s.metric, [])
                registry.next_metric += 1
            tags = {t.lower() for t in mdef.tags}
            added: list[str] = []
            for label, _ in s.labels:
                name = ms.stored_label(label)
                low_label = name.lower()
                column = registry.columns.get(low_label) or planned_columns.get(low_label)
                if column is None:
                    column = planned_columns[low_label] = name
                    new_columns.append(Column(name, "VARCHAR", "tag"))
                if low_label not in tags:
                    tags.add(low_label)
                    added.append(column)
            if added or ((schema, low) not in plan.metric_defs and low not in registry.metrics):
                mdef = ms.MetricDef(mdef.id, mdef.name, sorted([*mdef.tags, *added], key=str.lower))
                plan.metric_defs[(schema, low)] = mdef
            sid = registry.next_series
            registry.next_series += 1
            ids[i] = new[s.key] = sid
            new_metric[sid] = mdef.id
            rows.append(s)
            row_ids.append(sid)
            row_metrics.append(mdef.id)
        if not new_columns:
            del plan.new_columns[(schema, ms.SERIES)]
        if rows:
            self._plan_internal_tables(schema, plan)
            plan.appends.setdefault((schema, ms.SERIES), []).append(
                _series_rows(rows, row_ids, row_metrics, registry.columns | planned_columns)
            )
        row_is = elsewhere[samples.index]
        row_refused = refused[samples.index]
        return ids, np.flatnonzero(row_is), np.flatnonzero(row_refused)

    def _plan_internal_tables(self, schema: str, plan: Plan) -> None:
        for name in (ms.SAMPLES, ms.SERIES):
            key = (schema, name)
            if self.lookup(plan, schema, name) is None:
                plan.new_tables.setdefault(key, Table(name))

    def _stage_samples(self, schema: str, samples: ms.Samples, ids: npt.NDArray[np.int64], plan: Plan) -> int:
        """Append the rows whose series has an id; return how many."""
        registry = self.registry(schema)
        metric = np.zeros(len(ids), dtype=np.int64)
        known = (ids >= 0) & (ids < len(registry.series_metric))
        metric[known] = registry.series_metric[ids[known]]
        planned = plan.series_metric.get(schema, {})
        for at in np.flatnonzero((ids >= 0) & (metric == 0)).tolist():  # series new in this plan
            metric[at] = planned[int(ids[at])]
        row_series = ids[samples.index]
        row_metric = metric[samples.index]
        keep = row_series >= 0
        count = int(np.count_nonzero(keep))
        if not count:
            return 0
        self._plan_internal_tables(schema, plan)
        time_ns, value = samples.time, samples.value
        if count != len(row_series):
            row_series, row_metric, time_ns, value = row_series[keep], row_metric[keep], time_ns[keep], value[keep]
        data = pa.table(
            {
                # view, not cast: int64 nanoseconds and timestamp[ns] share one layout.
                "time": pa.array(time_ns, pa.int64()).view(pa.timestamp("ns")),
                ms.METRIC_ID: pa.array(row_metric, pa.int64()),
                ms.SERIES_ID: pa.array(row_series, pa.int64()),
                ms.VALUE: pa.array(value, pa.float64()),
            }
        )
        plan.appends.setdefault((schema, ms.SAMPLES), []).append(data)
        return count

    def _stage_tables(self, req: WriteRequest, batches: list[Batch], plan: Plan) -> WriteResult:
        """Batches for ordinary tables: type checks, new columns, Arrow tables."""
        local = Plan()
        conflicts: list[TypeConflict] = []
        written = dropped = 0
        for batch in batches:
            existing = self.lookup(plan, req.schema, batch.table) or self.lookup(local, req.schema, batch.table)
            table_name = existing.name if existing else batch.table
            known = dict(existing.columns) if existing else {}
            for col in self.new_columns(req.schema, table_name.lower(), plan, local):
                known.setdefault(col.name.lower(), col)

            keep: pa.Array | None = None
            arrays: dict[str, pa.Array] = {}
            additions: list[Column] = []
            wanted = [(k, v, "tag", "VARCHAR") for k, v in batch.tags.items()]
            wanted += [(k, v, "field", SQL_TYPES.get(v.type, "VARCHAR")) for k, v in batch.fields.items()]
            for name, array, kind, sql_type in wanted:
                found = known.get(name.lower())
                if found is None:
                    col = known[name.lower()] = Column(name, sql_type, kind)
                    additions.append(col)
                else:
                    col = found
                if col.kind != kind or col.sql_type != sql_type or name.lower() == "time":
                    present = pc.is_valid(array)
                    first = _first_line(batch, present)
                    conflicts.append(
                        TypeConflict(
                            table=table_name,
                            column=name,
                            existing=_describe(col.kind, col.sql_type) if name.lower() != "time" else "the timestamp",
                            got=_describe(kind, sql_type),
                            line=first,
                        )
                    )
                    absent = pc.invert(present)
                    keep = absent if keep is None else pc.and_(keep, absent)
                    continue
                same = arrays.get(col.name)
                # Keys that differ only in case (from different lines) share one column.
                arrays[col.name] = array if same is None else pc.coalesce(same, array)

            if conflicts and req.atomic:
                raise conflicts[0]
            rows = len(batch)
            # view, not cast: int64 nanoseconds and timestamp[ns] share one layout (no copy).
            table = pa.table({"time": batch.time.view(pa.timestamp("ns")), **arrays})
            if keep is not None:
                table = table.filter(keep)
                dropped += rows - table.num_rows
            written += table.num_rows
            if table.num_rows == 0:
                continue
            key = (req.schema, table_name.lower())
            if existing is None and key not in local.new_tables:
                local.new_tables[key] = Table(table_name)
            local.new_columns.setdefault(key, []).extend(a for a in additions if a.name in arrays)
            local.appends.setdefault(key, []).append(table)

        for key, tbl in local.new_tables.items():
            plan.new_tables.setdefault(key, tbl)
        for key, cols in local.new_columns.items():
            plan.new_columns.setdefault(key, []).extend(cols)
        for key, tables in local.appends.items():
            plan.appends.setdefault(key, []).extend(tables)
        return WriteResult(written=written, dropped=dropped, conflicts=tuple(conflicts))

    def merge(self, plan: Backlog) -> None:
        """DuckDB holds ``plan`` now: its tables, columns and metric views join the catalog."""
        for (schema, key), tbl in plan.new_tables.items():
            self.catalog.setdefault(schema, {}).setdefault(key, tbl)
        for (schema, key), cols in plan.new_columns.items():
            tbl = self.catalog[schema][key]
            for col in cols:
                tbl.columns.setdefault(col.name.lower(), col)
        for (schema, low), mdef in plan.metric_defs.items():
            view = Table(mdef.name, view=True)
            view.columns = {t.lower(): Column(t, "VARCHAR", "tag") for t in mdef.tags}
            view.columns[ms.VALUE] = Column(ms.VALUE, "DOUBLE", "field")
            self.catalog.setdefault(schema, {})[low] = view
        if plan.new_tables or plan.metric_defs:
            self._publish_table_names()
        if plan.new_tables or plan.new_columns or plan.metric_defs:
            self.catalog_version += 1

    def _publish_table_names(self) -> None:
        self._table_names = {schema: frozenset(tables) for schema, tables in self.catalog.items()}

    def load_catalog(self, con: duckdb.DuckDBPyConnection) -> None:
        """Read DuckDB's catalog again (at start, after DDL, after a failed or partial apply)."""
        started = time.perf_counter()
        catalog: dict[str, dict[str, Table]] = {schema: {} for schema in list_schemas(con)}
        views = list_views(con)
        for schema, tables in describe_schemas(con).items():
            for name, infos in tables.items():
                tbl = Table(name, view=(schema, name) in views)
                for info in infos:
                    if info.kind != "time":
                        tbl.columns[info.name.lower()] = Column(info.name, info.sql_type, info.kind)
                catalog.setdefault(schema, {})[name.lower()] = tbl
        self.catalog = catalog
        for schema in set(self.registries) - set(catalog):
            del self.registries[schema]  # the database was dropped
        self._publish_table_names()
        self.catalog_version += 1
        log.debug("catalog loaded", extra={"seconds": round(time.perf_counter() - started, 4)})

    def learn_metrics(self, plan: Plan) -> None:
        """Series, label columns and metric definitions are in the log now: remember them."""
        for schema, new in plan.series.items():
            registry = self.registry(schema)
            registry.series.update(new)
            pairs = plan.series_metric[schema]
            registry.set_series_metric(
                np.fromiter(pairs.keys(), dtype=np.int64, count=len(pairs)),
                np.fromiter(pairs.values(), dtype=np.int64, count=len(pairs)),
            )
        for (schema, key), cols in plan.new_columns.items():
            if key == ms.SERIES:
                registry = self.registry(schema)
                for col in cols:
                    registry.columns.setdefault(col.name.lower(), col.name)
        for (schema, low), mdef in plan.metric_defs.items():
            self.registry(schema).metrics[low] = mdef

    def stage_logged(self, seq: int, record: WalRecord) -> None:
        """Add a record already in the log to the pending backlog, with the tables and
        columns it needs (replay at start, requeue from the quarantine)."""
        key = (record.schema, record.table.lower())
        if record.schema not in self.catalog:
            log.warning("dropping logged rows of a database that no longer exists", extra={"schema": record.schema})
            return
        pending = self.pending
        if key[1] in ms.INTERNAL_TABLES:
            registry = self.registry(record.schema)
            if key[1] == ms.METRICS:
                for mdef in registry.add_metric_rows(record.data):
                    pending.metric_defs[(record.schema, mdef.name.lower())] = mdef
                pending.metric_records.setdefault(record.schema, []).append((seq, record))
                return
            if key[1] == ms.SERIES:
                registry.add_series_rows(record.data)
        existing = self.catalog[record.schema].get(key[1])
        if existing is None and key not in pending.new_tables:
            pending.new_tables[key] = Table(record.table)
        known = dict(existing.columns) if existing else {}
        for col in pending.new_columns.get(key, []):
            known.setdefault(col.name.lower(), col)
        for name, (kind, sql_type) in record.columns.items():
            if name.lower() not in known:
                col = Column(name, sql_type, kind)
                known[name.lower()] = col
                pending.new_columns.setdefault(key, []).append(col)
        pending.add_record(key, seq, record)

    def reserve_quarantined_ids(self, quarantine: Quarantine) -> None:
        """Keep the ids of quarantined series and metrics from being given out again, so a
        requeue cannot make two series (or metrics) share one."""
        try:
            held = list(quarantine.records())
        except (OSError, ValueError) as exc:
            log.warning("could not read the quarantine", extra={"error": str(exc)})
            return
        for entry, record in held:
            low = entry.table.lower()
            if low not in (ms.SERIES, ms.METRICS):
                continue
            registry = self.registry(entry.schema)
            if not record.data.num_rows:
                continue
            if low == ms.SERIES:
                top_series = max(record.data.column(ms.SERIES_ID).to_pylist())
                registry.next_series = max(registry.next_series, int(top_series) + 1)
            top_metric = max(record.data.column(ms.METRIC_ID).to_pylist())
            registry.next_metric = max(registry.next_metric, int(top_metric) + 1)


_NO_ROWS = np.zeros(0, dtype=np.int64)


def _bad_name(batch: Batch) -> TypeConflict | None:
    """A batch whose table or column names the store cannot hold (the parsers check this;
    this is the last line before the log, so a parser's slip fails a request, not the store)."""
    for kind, name in (
        ("table", batch.table),
        *(("tag", t) for t in batch.tags),
        *(("field", f) for f in batch.fields),
    ):
        problem = name_problem(name)
        if problem is not None:
            return TypeConflict(
                table=printable(batch.table),
                column=printable(name) if kind != "table" else "time",
                existing="a name the store can hold",
                got=f"a {kind} name that {problem}",
                line=_first_line(batch, pc.is_valid(batch.time)),
            )
    return None


def _storable_series(series: ms.SeriesDef) -> bool:
    """Whether a series' metric and label names are ones the store can hold, each label in
    a column of its own (``time`` is stored as ``label_time``, so both cannot be labels)."""
    if name_problem(series.metric) is not None:
        return False
    columns = set()
    for name, _ in series.labels:
        if name_problem(name) is not None:
            return False
        columns.add(ms.stored_label(name).lower())
    return len(columns) == len(series.labels)


def _refused_series(batch: Batch) -> TypeConflict:
    """Why series of one metric were refused (see :func:`_storable_series`)."""
    if batch.table.lower().startswith(INTERNAL_PREFIX):
        return _reserved(batch)
    bad = _bad_name(batch)
    if bad is not None:
        return bad
    return TypeConflict(
        table=batch.table,
        column=next(iter(batch.tags), "value"),
        existing="a label of its own (labels 'time' and 'value' are stored as 'label_time' and 'label_value')",
        got="two labels that would share one column",
        line=_first_line(batch, pc.is_valid(batch.time)),
    )


def _reserved(batch: Batch) -> TypeConflict:
    return TypeConflict(
        table=batch.table,
        column="time",
        existing=f"part of Heron's metric store (names starting with '{INTERNAL_PREFIX}' are reserved)",
        got="a write",
        line=_first_line(batch, pc.is_valid(batch.time)),
    )


def _not_a_metric_row(batch: Batch) -> TypeConflict:
    other = next((n for n in batch.fields if n != ms.VALUE), ms.VALUE)
    got = batch.fields[other].type if other in batch.fields else "no value"
    return TypeConflict(
        table=batch.table,
        column=other,
        existing="not a column of this metric (a metric holds tags and one float field 'value')",
        got=f"a {got} field",
        line=_first_line(batch, pc.is_valid(batch.time)),
    )


def _series_rows(series: list[ms.SeriesDef], ids: list[int], metrics: list[int], columns: dict[str, str]) -> pa.Table:
    """Rows of the series table: id, metric, key, and each label in its column."""
    values: dict[str, list[str | None]] = {}
    for row, s in enumerate(series):
        for name, value in s.labels:
            column = columns[ms.stored_label(name).lower()]
            values.setdefault(column, [None] * len(series))[row] = value
    return pa.table(
        {
            ms.SERIES_ID: pa.array(ids, pa.int64()),
            ms.METRIC_ID: pa.array(metrics, pa.int64()),
            ms.SERIES_KEY: pa.array([s.key for s in series], pa.string()),
            **{name: pa.array(col, pa.string()) for name, col in values.items()},
        }
    )


def _describe(kind: str, sql_type: str) -> str:
    if kind == "tag":
        return "a tag"
    return f"{TYPE_WORDS.get(sql_type, sql_type.lower())} field"


def _first_line(batch: Batch, mask: pa.Array) -> int:
    if batch.lines is None:
        return 0
    hit = batch.lines.filter(mask)
    return int(hit[0].as_py()) if len(hit) else 0
