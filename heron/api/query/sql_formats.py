"""SQL results in the formats CnosDB clients ask for with ``Accept``.

CSV with a header row (no Accept, ``*/*``, ``text/csv``), TSV (``text/tsv``), a JSON array
of objects (``application/json``), NDJSON (``application/nd-json`` or
``application/x-ndjson``) and an aligned text table (``text/table``). Every encoder works
batch by batch, so a chunked response streams with bounded memory. Timestamps are written
as RFC 3339 without a zone (UTC), with nanoseconds.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from heron.core.errors import BadRequest

MEDIA_TYPES: dict[str, str] = {
    "*/*": "csv",
    "text/csv": "csv",
    "application/csv": "csv",
    "text/tsv": "tsv",
    "text/tab-separated-values": "tsv",
    "application/json": "json",
    "application/nd-json": "ndjson",
    "application/x-ndjson": "ndjson",
    "application/ndjson": "ndjson",
    "text/table": "table",
}
CONTENT_TYPES = {
    "csv": "text/csv",
    "tsv": "text/tsv",
    "json": "application/json",
    "ndjson": "application/nd-json",
    "table": "text/table",
}


def choose_format(accept: str | None) -> str:
    """The first media type in ``Accept`` that Heron can write; none known is a 400."""
    if not accept or not accept.strip():
        return "csv"
    offered = [part.split(";")[0].strip().lower() for part in accept.split(",")]
    for media in offered:
        if media in MEDIA_TYPES:
            return MEDIA_TYPES[media]
    raise BadRequest(
        f"unsupported Accept '{accept}': expected text/csv, text/tsv, application/json, "
        "application/nd-json, application/x-ndjson or text/table"
    )


def _python_columns(batch: pa.RecordBatch) -> list[list[Any]]:
    cols: list[list[Any]] = []
    for col in batch.columns:
        if pa.types.is_timestamp(col.type):
            col = pc.strftime(col, format="%Y-%m-%dT%H:%M:%S")
        cols.append(col.to_pylist())
    return cols


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return orjson.dumps(value, default=str).decode()
    return str(value)


def _json_default(value: Any) -> Any:
    return str(value)


def _rows(batch: pa.RecordBatch) -> Iterable[tuple[Any, ...]]:
    return zip(*_python_columns(batch), strict=True) if batch.num_columns else iter(())


class Encoder:
    """Turns a stream of record batches into bytes: ``start``, ``batch`` per batch, ``end``."""

    def __init__(self, fmt: str, schema: pa.Schema) -> None:
        self.fmt = fmt
        self.names = list(schema.names)
        self._first = True

    def start(self) -> bytes:
        if self.fmt in ("csv", "tsv") and self.names:
            return self._delimited([self.names])
        if self.fmt == "json":
            return b"["
        return b""

    def batch(self, batch: pa.RecordBatch) -> bytes:
        if batch.num_rows == 0:
            return b""
        if self.fmt in ("csv", "tsv"):
            return self._delimited([[_text(v) for v in row] for row in _rows(batch)])
        if self.fmt == "table":
            return self._table(batch)
        names = self.names
        docs = [dict(zip(names, row, strict=True)) for row in _rows(batch)]
        if self.fmt == "ndjson":
            return b"".join(orjson.dumps(d, default=_json_default) + b"\n" for d in docs)
        payload = b",".join(orjson.dumps(d, default=_json_default) for d in docs)
        if self._first:
            self._first = False
            return payload
        return b"," + payload

    def end(self) -> bytes:
        if self.fmt == "json":
            return b"]"
        if self.fmt == "table" and self._first:
            return self._table_lines([]) if self.names else b""
        return b""

    def _delimited(self, rows: list[list[str]]) -> bytes:
        buf = io.StringIO()
        writer = csv.writer(buf, delimiter="\t" if self.fmt == "tsv" else ",", lineterminator="\n")
        writer.writerows(rows)
        return buf.getvalue().encode("utf-8")

    def _table(self, batch: pa.RecordBatch) -> bytes:
        self._first = False
        return self._table_lines([[_text(v) for v in row] for row in _rows(batch)])

    def _table_lines(self, rows: list[list[str]]) -> bytes:
        widths = [len(n) for n in self.names]
        for row in rows:
            widths = [max(w, len(v)) for w, v in zip(widths, row, strict=True)]
        rule = "+" + "+".join("-" * (w + 2) for w in widths) + "+"

        def line(values: list[str]) -> str:
            return "|" + "|".join(f" {v:<{w}} " for v, w in zip(values, widths, strict=True)) + "|"

        out = [rule, line(self.names), rule, *(line(r) for r in rows), rule]
        return ("\n".join(out) + "\n").encode("utf-8")
