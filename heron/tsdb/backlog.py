"""What the write-ahead log holds and DuckDB does not yet: the writer's backlog.

The writer acknowledges a write once its records are in the log, and applies the log to
DuckDB later in large transactions. A :class:`Backlog` is what one such transaction
applies: the records (each with its sequence number in the log), and the tables, columns
and metric definitions they need. It splits into independent :meth:`Backlog.units` (one per
ordinary table, one per database's metric store), so that a unit DuckDB refuses can be set
aside (:mod:`heron.tsdb.quarantine`) while the others are applied.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from heron.tsdb import metrics as ms
from heron.tsdb.wal import WalRecord

#: A table's key: its schema and its lower-case name (DuckDB names ignore ASCII case).
Key = tuple[str, str]
#: A record and its sequence number in the write-ahead log.
Logged = tuple[int, WalRecord]


@dataclass(slots=True)
class Column:
    name: str
    sql_type: str
    kind: str


@dataclass(slots=True)
class Table:
    name: str
    columns: dict[str, Column] = field(default_factory=dict)  # keyed by lower-case name
    view: bool = False  # a metric of the metric store (heron.tsdb.metrics)


@dataclass(slots=True)
class Backlog:
    """Logged records not yet in DuckDB, and the tables, columns and metric views they need."""

    new_tables: dict[Key, Table] = field(default_factory=dict)
    new_columns: dict[Key, list[Column]] = field(default_factory=dict)
    records: dict[Key, list[Logged]] = field(default_factory=dict)
    # Metrics whose definition changes (keyed by schema and lower-case name), and the
    # logged metric rows that carry those definitions, per schema.
    metric_defs: dict[Key, ms.MetricDef] = field(default_factory=dict)
    metric_records: dict[str, list[Logged]] = field(default_factory=dict)
    rows: int = 0

    def has_work(self) -> bool:
        return bool(self.records or self.new_tables or self.metric_defs)

    def add_record(self, key: Key, seq: int, record: WalRecord) -> None:
        self.records.setdefault(key, []).append((seq, record))
        self.rows += record.data.num_rows

    def extend(self, then: Backlog) -> None:
        """Add ``then`` after what is here (log order kept)."""
        for key, tbl in then.new_tables.items():
            self.new_tables.setdefault(key, tbl)
        for key, cols in then.new_columns.items():
            self.new_columns.setdefault(key, []).extend(cols)
        for key, logged in then.records.items():
            self.records.setdefault(key, []).extend(logged)
        self.metric_defs.update(then.metric_defs)
        for schema, logged in then.metric_records.items():
            self.metric_records.setdefault(schema, []).extend(logged)
        self.rows += then.rows

    def logged(self) -> list[Logged]:
        """Every record here, in log order."""
        out = [pair for pairs in self.records.values() for pair in pairs]
        out += [pair for pairs in self.metric_records.values() for pair in pairs]
        return sorted(out, key=lambda pair: pair[0])

    def units(self) -> list[Backlog]:
        """Parts that DuckDB can take or refuse independently: one per ordinary table, and
        one per schema for the metric store (its samples, series, metric rows and views
        depend on each other)."""
        by_unit: dict[Key, Backlog] = {}

        def unit_of(key: Key) -> Backlog:
            schema, name = key
            unit_key = (schema, ms.SAMPLES) if name in ms.INTERNAL_TABLES else key
            return by_unit.setdefault(unit_key, Backlog())

        for key, tbl in self.new_tables.items():
            unit_of(key).new_tables[key] = tbl
        for key, cols in self.new_columns.items():
            unit_of(key).new_columns[key] = list(cols)
        for key, logged in self.records.items():
            unit = unit_of(key)
            unit.records[key] = list(logged)
            unit.rows += sum(record.data.num_rows for _, record in logged)
        for key, mdef in self.metric_defs.items():
            unit_of((key[0], ms.SAMPLES)).metric_defs[key] = mdef
        for schema, logged in self.metric_records.items():
            unit_of((schema, ms.SAMPLES)).metric_records[schema] = list(logged)
        return list(by_unit.values())

    def describe(self) -> tuple[str, str]:
        """(schema, table) that a unit is about, for messages; the metric store is named as such."""
        keys = [*self.records, *self.new_tables, *self.new_columns, *self.metric_defs]
        if not keys:
            return "", ""
        schema, name = keys[0]
        if name in ms.INTERNAL_TABLES or any(k[1] in ms.INTERNAL_TABLES for k in keys) or self.metric_defs:
            return schema, "the metric store"
        table = self.new_tables.get(keys[0])
        if table is None and self.records.get(keys[0]):
            return schema, self.records[keys[0]][0][1].table
        return schema, table.name if table is not None else name


def joined(units: list[Backlog]) -> Backlog:
    """One backlog doing ``units`` in order."""
    out = Backlog()
    for unit in units:
        out.extend(unit)
    return out
