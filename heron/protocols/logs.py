"""Log documents in: Elasticsearch bulk and NDJSON bodies, as batches of rows.

With Loki's JSON (:mod:`heron.protocols.loki`, which shares :class:`LogRows`), this is what
CnosDB's ``POST /api/v1/es/_bulk?log_type=bulk|ndjson|loki`` takes. The formats:

* ES bulk (https://www.elastic.co/guide/en/elasticsearch/reference/current/docs-bulk.html)::

      action_and_meta_data\\n        {"create": {"_index": "...", "_id": "..."}}   also "index"
      optional_source\\n             {"field": "value", "nested": {"a": 1}}
      ...                            "delete" has no source line; "update" has one

* NDJSON (https://jsonlines.org/): one JSON object per line.

How a document becomes a row:

* Nested objects flatten to dotted column names (``{"a": {"b": 1}}`` → ``a.b``); an empty
  object adds nothing; ``null`` is an absent value; arrays are stored as their JSON text.
* The time comes from the ``time_column`` key (flattened name): an RFC 3339 string
  (``2024-03-27T02:51:11.687Z``; a space instead of ``T`` and a missing offset, read as UTC,
  are accepted), or an epoch number or digit string whose unit follows from its size (below
  1e11 seconds, below 1e14 milliseconds, below 1e17 microseconds, else nanoseconds). CnosDB
  reads numbers as nanoseconds only; a shipper's epoch seconds would land in 1970 there.
  Without ``time_column`` the key ``time`` is used, else ``@timestamp`` (what Vector, Filebeat
  and Fluent Bit send), else the time of the request.
* Keys named in ``tag_columns`` are tags (their values as text: ``1001`` → ``"1001"``); every
  other key is a field: strings and arrays VARCHAR, ``true``/``false`` BOOLEAN, and every
  number DOUBLE (as CnosDB does, so ``1`` and ``1.5`` never conflict across requests).
* A key spelled ``time`` in any case that is not the time column is stored as ``_time``: the
  name belongs to the timestamp column of every table.
* Column names are case-insensitive in the store, so keys that differ only in case share the
  column of the spelling seen first in the body.
* A document with a key that breaks Heron's rule for names (:mod:`heron.core.identifiers`:
  empty, a control character such as NUL, longer than 256 characters) is rejected, naming
  the key; the other documents are kept.
* A column has one type. Documents that disagree on it go to separate batches, so that the
  writer keeps those matching the table (or, for a new table, the body's first) and refuses
  the others with an error naming the line, the column and both types. A document that gives
  one column two types itself (``{"a": 1, "A": "x"}``) is rejected here.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from heron.core.batch import Batch
from heron.core.errors import ParseError
from heron.core.identifiers import name_problem, show
from heron.protocols._logs_fast import read_regular_ndjson

__all__ = [
    "BulkItem",
    "LogRows",
    "LogsResult",
    "decode_json",
    "epoch_to_nanos",
    "json_kind",
    "logs_result",
    "parse_es_bulk",
    "parse_ndjson",
    "parse_time_text",
]

#: Default cap on the errors a result keeps; ``rejected`` still counts every bad document.
DEFAULT_MAX_ERRORS = 100
#: Documents nested deeper than this are rejected (and Python's recursion stays bounded).
MAX_DEPTH = 64
#: The keys tried for the time when no ``time_column`` is given.
DEFAULT_TIME_KEYS = ("time", "@timestamp")
#: The actions of an ES bulk body; only the first two add documents.
BULK_ACTIONS = ("create", "index", "update", "delete")

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_NANOS = 1_000_000_000
_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()
_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})"
    r"(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?"
    r"\s*(?:([Zz])|([+-])(\d{2}):?(\d{2}))?"
)
_DIGITS = re.compile(r"-?\d{1,20}")
_ARROW_TYPES = {"string": pa.string(), "float": pa.float64(), "boolean": pa.bool_()}
_TYPE_WORDS = {"tag": "a tag", "string": "string field", "float": "float field", "boolean": "boolean field"}


@dataclass(frozen=True, slots=True)
class BulkItem:
    """One action of an ES bulk body and what became of it.

    ``line`` is the action's line and ``document_line`` its document's (0 for ``delete``):
    the row's value in its batch's ``lines``. ``error`` says why the document was not taken;
    None means it is a row. ``index`` and ``id`` are the action's ``_index`` and ``_id``.
    """

    action: str
    index: str | None
    id: str | None
    line: int
    document_line: int = 0
    error: ParseError | None = None


@dataclass(frozen=True, slots=True)
class LogsResult:
    """What one body parsed into: the accepted rows, and the rejected documents.

    Rows come as one batch, or as several when documents disagree on a column's type.
    """

    batches: list[Batch]
    errors: list[ParseError]  # one per rejected document, in body order (at most max_errors kept)
    rejected: int  # every rejected document (may exceed len(errors))
    items: list[BulkItem] = field(default_factory=list)  # ES bulk only: one per action


class _Part:
    """Rows whose columns agree on their kinds: one batch."""

    def __init__(self) -> None:
        self.times: list[int] = []
        self.lines: list[int] = []
        self.columns: dict[str, list[Any]] = {}  # canonical name -> values (padded lazily)
        self.kinds: dict[str, str] = {}  # canonical name -> "tag" | "string" | "float" | "boolean"

    def accepts(self, row: Mapping[str, tuple[str, Any]]) -> bool:
        return all(self.kinds.get(name, kind) == kind for name, (kind, _) in row.items())

    def append(self, time_ns: int, line: int, row: Mapping[str, tuple[str, Any]]) -> None:
        n = len(self.times)
        for name, (kind, value) in row.items():
            column = self.columns.get(name)
            if column is None:
                column = self.columns[name] = []
                self.kinds[name] = kind
            if len(column) < n:
                column.extend([None] * (n - len(column)))
            column.append(value)
        self.times.append(time_ns)
        self.lines.append(line)

    def build(self, table: str) -> Batch:
        n = len(self.times)
        tags: dict[str, pa.Array] = {}
        fields: dict[str, pa.Array] = {}
        for name, column in self.columns.items():
            if len(column) < n:
                column.extend([None] * (n - len(column)))
            kind = self.kinds[name]
            if kind == "tag":
                tags[name] = pa.array(column, pa.string())
            else:
                fields[name] = pa.array(column, _ARROW_TYPES[kind])
        return Batch(
            table=table,
            time=pa.array(self.times, pa.int64()),
            tags=tags,
            fields=fields,
            lines=pa.array(self.lines, pa.int32()),
        )


class LogRows:
    """Rows gathered as columns, each column with one kind: a tag, or a typed field.

    Used by every log format (and by :mod:`heron.protocols.loki`) so that all of them obey
    the same naming and typing rules. A row whose kinds differ from earlier rows' (``"a": 1``
    after ``"a": "x"``) starts another batch instead of being refused here: which kind is
    right is the table's to say, so the writer decides, and names the line if it refuses.
    """

    def __init__(self, table: str) -> None:
        self.table = table
        self._parts: list[_Part] = []
        self._by_lower: dict[str, str] = {}  # lower-case name -> canonical name
        self._exact: dict[str, str] = {}  # every spelling seen -> canonical name (a cache)

    def __len__(self) -> int:
        return sum(len(part.times) for part in self._parts)

    def add(self, time_ns: int, line: int, values: Mapping[str, tuple[str, Any]]) -> ParseError | None:
        """Append one row of ``name -> (kind, value)``.

        Keys that differ only in case are one column; the row is refused if it gives such a
        column two kinds itself.
        """
        resolved: dict[str, tuple[str, Any]] = {}
        first_seen: dict[str, str] = {}
        spellings: list[tuple[str, str]] = []
        for name, (kind, value) in values.items():
            canon = self._exact.get(name)
            if canon is None:
                problem = name_problem(name)
                if problem is not None:
                    return ParseError(f"the key {show(name)} cannot be a column: it {problem}", line=line)
                lower = name.lower()
                canon = self._by_lower.get(lower) or first_seen.setdefault(lower, name)
                spellings.append((name, canon))
            have = resolved.get(canon)
            if have is not None and have[0] != kind:
                return ParseError(
                    f"type conflict in column '{canon}': the document gives it as {_TYPE_WORDS[have[0]]} "
                    f"and, as '{name}', as {_TYPE_WORDS[kind]}",
                    line=line,
                )
            resolved[canon] = (kind, value)
        self._by_lower.update(first_seen)
        self._exact.update(spellings)
        part = next((p for p in self._parts if p.accepts(resolved)), None)
        if part is None:
            part = _Part()
            self._parts.append(part)
        part.append(time_ns, line, resolved)
        return None

    def build(self) -> list[Batch]:
        """The rows as batches (usually one), every column padded with nulls to the same length."""
        return [part.build(self.table) for part in self._parts]


# --- time ----------------------------------------------------------------------------------


def epoch_to_nanos(value: float) -> int | None:
    """Nanoseconds from an epoch number in s, ms, us or ns (told apart by size); None if out of range.

    A float is scaled as the decimal it prints as (``1711507871.687`` is exactly .687 s), not
    as its binary value, so what the client wrote is what is stored.
    """
    magnitude = abs(value)
    if magnitude < 1e11:
        scale = _NANOS
    elif magnitude < 1e14:
        scale = 1_000_000
    elif magnitude < 1e17:
        scale = 1_000
    else:
        scale = 1
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        nanos = int((Decimal(repr(value)) * scale).to_integral_value(ROUND_HALF_EVEN))
    else:
        nanos = value * scale
    return nanos if _INT64_MIN <= nanos <= _INT64_MAX else None


def parse_time_text(text: str) -> int | None:
    """Nanoseconds from RFC 3339 text or an epoch digit string; None if it is neither."""
    if _DIGITS.fullmatch(text):
        return epoch_to_nanos(int(text))
    m = _RFC3339.fullmatch(text.strip())
    if m is None:
        return None
    year, month, day, hour, minute, second, frac, _zulu, sign, off_h, off_m = m.groups()
    try:
        days = dt.date(int(year), int(month), int(day)).toordinal() - _EPOCH_ORDINAL
    except ValueError:
        return None
    h, mi, s = int(hour or 0), int(minute or 0), int(second or 0)
    if h > 23 or mi > 59 or s > 60:
        return None
    seconds = days * 86_400 + h * 3_600 + mi * 60 + s
    if sign:
        oh, om = int(off_h), int(off_m)
        if oh > 23 or om > 59:
            return None
        offset = oh * 3_600 + om * 60
        seconds -= offset if sign == "+" else -offset
    nanos = seconds * _NANOS + (int(frac[:9].ljust(9, "0")) if frac else 0)
    return nanos if _INT64_MIN <= nanos <= _INT64_MAX else None


def _time_of(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return epoch_to_nanos(value)
    if isinstance(value, str):
        return parse_time_text(value)
    return None


# --- documents -----------------------------------------------------------------------------


def _flatten(obj: dict[str, Any], prefix: str, out: dict[str, Any], depth: int) -> None:
    """Dotted keys for nested objects; ``null`` and ``{}`` add nothing."""
    if depth > MAX_DEPTH:
        raise ValueError(f"the document is nested deeper than {MAX_DEPTH} levels")
    for key, value in obj.items():
        if not key:
            raise ValueError("a key is empty")
        name = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict):
            _flatten(value, name, out, depth + 1)
        elif value is not None:
            out[name] = value


def _as_json(value: Any) -> str:
    return orjson.dumps(value).decode()


def _document_values(
    doc: Any, line: int, time_keys: tuple[str, ...], tag_columns: Collection[str], now_ns: int
) -> tuple[int, dict[str, tuple[str, Any]]] | ParseError:
    """One decoded document as (time, values for :meth:`LogRows.add`), or why it is rejected."""
    if not isinstance(doc, dict):
        return ParseError("a document must be a JSON object", line=line, expected="{...}", got=json_kind(doc))
    flat: dict[str, Any] = {}
    try:
        _flatten(doc, "", flat, 1)
    except ValueError as exc:
        return ParseError(str(exc), line=line)
    time_ns = now_ns
    time_key = next((k for k in time_keys if k in flat), None)
    if time_key is not None:
        raw_time = flat.pop(time_key)
        parsed = _time_of(raw_time)
        if parsed is None:
            return ParseError(
                f"cannot read '{time_key}' as a time",
                line=line,
                expected="RFC 3339 text or an epoch number",
                got=json_kind(raw_time) if not isinstance(raw_time, str) else repr(raw_time[:40]),
            )
        time_ns = parsed
    values: dict[str, tuple[str, Any]] = {}
    try:
        for key, value in flat.items():
            name = "_time" if key.lower() == "time" else key
            if key in tag_columns:
                values[name] = ("tag", value if isinstance(value, str) else _as_json(value))
            elif isinstance(value, str):
                values[name] = ("string", value)
            elif isinstance(value, bool):
                values[name] = ("boolean", value)
            elif isinstance(value, int | float):
                values[name] = ("float", float(value))
            else:
                values[name] = ("string", _as_json(value))
    except orjson.JSONEncodeError as exc:
        return ParseError(f"cannot store the value of '{key}': {exc}", line=line)
    return time_ns, values


def json_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    return "a number"


def decode_json(raw: bytes, line: int) -> Any:
    """One JSON text; malformed JSON raises ParseError with the line and the column."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ParseError(f"invalid JSON: {exc.msg}", line=line, column=exc.colno if exc.lineno == 1 else 0) from exc


def _is_blank(raw: bytes) -> bool:
    return not raw.strip()


def _time_keys(time_column: str | None) -> tuple[str, ...]:
    return DEFAULT_TIME_KEYS if not time_column else (time_column,)


def logs_result(
    rows: LogRows, errors: list[ParseError], max_errors: int, items: list[BulkItem] | None = None
) -> LogsResult:
    kept = errors[: max(max_errors, 0)]
    return LogsResult(batches=rows.build(), errors=kept, rejected=len(errors), items=items or [])


# --- NDJSON ---------------------------------------------------------------------------------


def parse_ndjson(
    body: bytes,
    *,
    table: str,
    time_column: str | None = None,
    tag_columns: Collection[str] = (),
    now_ns: int,
    max_errors: int = DEFAULT_MAX_ERRORS,
    vectorised: bool = True,
) -> LogsResult:
    """One row per non-blank line; never raises: bad lines are in ``errors``.

    A regular body is read at once by :mod:`heron.protocols._logs_fast` (``vectorised``),
    with the same result; any other goes through the loop below, document by document.
    """
    keys = _time_keys(time_column)
    tags = frozenset(tag_columns)
    if vectorised:
        batch = read_regular_ndjson(body, table=table, time_keys=keys, tag_columns=tags, now_ns=now_ns)
        if batch is not None:
            return LogsResult(batches=[batch], errors=[], rejected=0)
    rows = LogRows(table)
    errors: list[ParseError] = []
    for line_no, raw in enumerate(body.split(b"\n"), start=1):
        if _is_blank(raw):
            continue
        try:
            doc = decode_json(raw, line_no)
        except ParseError as exc:
            errors.append(exc)
            continue
        outcome = _document_values(doc, line_no, keys, tags, now_ns)
        error = outcome if isinstance(outcome, ParseError) else rows.add(outcome[0], line_no, outcome[1])
        if error is not None:
            errors.append(error)
    return logs_result(rows, errors, max_errors)


# --- ES bulk --------------------------------------------------------------------------------


_Action = tuple[str, str | None, str | None]  # (action, _index, _id)


def _action(raw: bytes, line: int, cache: dict[bytes, _Action]) -> _Action:
    """(action, _index, _id) of an action line; a malformed one fails the whole body, as in ES."""
    known = cache.get(raw)
    if known is not None:
        return known
    doc = decode_json(raw, line)
    if not isinstance(doc, dict) or len(doc) != 1:
        raise ParseError(
            "malformed action line",
            line=line,
            expected='one of {"create": {...}}, index, update or delete',
            got=json_kind(doc) if not isinstance(doc, dict) else f"an object with {len(doc)} keys",
        )
    ((action, meta),) = doc.items()
    if action not in BULK_ACTIONS:
        raise ParseError("unknown bulk action", line=line, expected="create, index, update or delete", got=repr(action))
    if not isinstance(meta, dict):
        raise ParseError(f"the metadata of '{action}' must be an object", line=line, got=json_kind(meta))
    index, ident = meta.get("_index"), meta.get("_id")
    if index is not None and not isinstance(index, str):
        raise ParseError("'_index' must be a string", line=line, got=json_kind(index))
    if ident is not None and (isinstance(ident, bool) or not isinstance(ident, str | int)):
        raise ParseError("'_id' must be a string", line=line, got=json_kind(ident))
    parsed = (action, index, None if ident is None else str(ident))
    if len(cache) < 1024:
        cache[raw] = parsed
    return parsed


def parse_es_bulk(
    body: bytes,
    *,
    table: str,
    time_column: str | None = None,
    tag_columns: Collection[str] = (),
    now_ns: int,
    max_errors: int = DEFAULT_MAX_ERRORS,
    vectorised: bool = True,
) -> LogsResult:
    """Action/document pairs into rows; one :class:`BulkItem` per action, in order.

    Rows go to ``table``; when it is empty, to the table named by each action's ``_index``
    (an action without one fails its item). A document that cannot be stored fails its item
    only (as Elasticsearch answers per item);
    ``delete`` and ``update`` are refused per item, since logs are append-only here. A body
    that is not a sequence of actions (a malformed action line, an action without its
    document line, an empty body) raises :class:`ParseError`, as Elasticsearch rejects the
    whole request then. A regular body (only ``create``/``index``, documents the vectorised
    reader takes) is read at once (``vectorised``), with the same result.
    """
    keys = _time_keys(time_column)
    tags = frozenset(tag_columns)
    cache: dict[bytes, _Action] = {}
    lines = body.split(b"\n")
    if vectorised and table:  # one table for every document: the vectorised reader can take it
        fast = _bulk_regular(lines, cache, table=table, keys=keys, tags=tags, now_ns=now_ns)
        if fast is not None:
            return fast
    tables: dict[str, LogRows] = {}
    errors: list[ParseError] = []
    items: list[BulkItem] = []
    i, n = 0, len(lines)
    while i < n:
        raw, line_no = lines[i], i + 1
        i += 1
        if _is_blank(raw):
            continue
        action, index, ident = _action(raw, line_no, cache)
        if action == "delete":
            refused = ParseError("the 'delete' action is not supported: logs are append-only", line=line_no)
            items.append(BulkItem(action, index, ident, line_no, error=refused))
            errors.append(refused)
            continue
        if i >= n or _is_blank(lines[i]):
            raise ParseError(f"the '{action}' action has no document on the next line", line=line_no)
        raw, doc_line = lines[i], i + 1
        i += 1
        if action == "update":
            refused = ParseError("the 'update' action is not supported: logs are append-only", line=line_no)
            items.append(BulkItem(action, index, ident, line_no, doc_line, error=refused))
            errors.append(refused)
            continue
        target = table or index or ""
        outcome: tuple[int, dict[str, tuple[str, Any]]] | ParseError
        try:
            if not target:
                raise ParseError("the action names no table: give it an _index, or the request a ?table=", line=line_no)
            problem = name_problem(target)
            if problem is not None:
                raise ParseError(f"the table name {show(target)} {problem}", line=line_no)
            outcome = _document_values(decode_json(raw, doc_line), doc_line, keys, tags, now_ns)
        except ParseError as exc:
            outcome = exc
        if isinstance(outcome, ParseError):
            error: ParseError | None = outcome
        else:
            rows = tables.get(target)
            if rows is None:
                rows = tables[target] = LogRows(target)
            error = rows.add(outcome[0], doc_line, outcome[1])
        if error is not None:
            errors.append(error)
        items.append(BulkItem(action, index, ident, line_no, doc_line, error=error))
    if not items:
        raise ParseError("the body holds no bulk actions", expected="action and document lines", got="nothing")
    batches = [batch for rows in tables.values() for batch in rows.build()]
    return LogsResult(batches=batches, errors=errors[: max(max_errors, 0)], rejected=len(errors), items=items)


def _bulk_regular(
    lines: list[bytes],
    cache: dict[bytes, _Action],
    *,
    table: str,
    keys: tuple[str, ...],
    tags: frozenset[str],
    now_ns: int,
) -> LogsResult | None:
    """An ES bulk body of ``create``/``index`` pairs whose documents the vectorised reader
    takes, read at once; None for any other body (the loop then reads it, errors and all)."""
    items: list[BulkItem] = []
    documents: list[bytes] = []
    i, n = 0, len(lines)
    try:
        while i < n:
            raw, line_no = lines[i], i + 1
            i += 1
            if _is_blank(raw):
                continue
            action, index, ident = _action(raw, line_no, cache)
            if action not in ("create", "index") or i >= n or _is_blank(lines[i]):
                return None
            documents.append(lines[i])
            items.append(BulkItem(action, index, ident, line_no, i + 1))
            i += 1
    except ParseError:
        return None
    if not items:
        return None
    batch = read_regular_ndjson(b"\n".join(documents), table=table, time_keys=keys, tag_columns=tags, now_ns=now_ns)
    if batch is None:
        return None
    doc_lines = pa.array([item.document_line for item in items], pa.int32())
    assert batch.lines is not None
    placed = Batch(batch.table, batch.time, batch.tags, batch.fields, lines=doc_lines.take(pc.subtract(batch.lines, 1)))
    return LogsResult(batches=[placed], errors=[], rejected=0, items=items)
