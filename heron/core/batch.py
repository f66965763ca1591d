"""Columnar batches: the one shape every wire format is parsed into."""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa

#: Heron's name for each Arrow type a field column may have, as error messages show it.
FIELD_TYPE_NAMES: dict[pa.DataType, str] = {
    pa.float64(): "float",
    pa.int64(): "integer",
    pa.uint64(): "unsigned",
    pa.string(): "string",
    pa.bool_(): "boolean",
}


def type_name(dtype: pa.DataType) -> str:
    """Name a column type the way line-protocol users know it (float, integer, ...)."""
    if dtype == pa.large_string():
        return "string"
    return FIELD_TYPE_NAMES.get(dtype, str(dtype))


@dataclass(frozen=True, slots=True)
class Batch:
    """Points of one table, as columns of equal length.

    ``time`` is int64 nanoseconds since the Unix epoch. ``tags`` are string columns and
    ``fields`` typed columns (float64, int64, uint64, string, bool); a row that lacks a
    tag or field holds null there. ``lines`` gives each row's 1-based line (or item) in
    the request, so a later type check can say where the offending value came from.
    """

    table: str
    time: pa.Array
    tags: dict[str, pa.Array] = field(default_factory=dict)
    fields: dict[str, pa.Array] = field(default_factory=dict)
    lines: pa.Array | None = None

    def __len__(self) -> int:
        return len(self.time)

    @property
    def values(self) -> int:
        """Number of non-null field values: the unit ingest rates are counted in."""
        return sum(len(col) - col.null_count for col in self.fields.values())

    def take(self, indices: pa.Array) -> Batch:
        """Rows at ``indices``, keeping every column."""
        return Batch(
            table=self.table,
            time=self.time.take(indices),
            tags={k: v.take(indices) for k, v in self.tags.items()},
            fields={k: v.take(indices) for k, v in self.fields.items()},
            lines=None if self.lines is None else self.lines.take(indices),
        )
