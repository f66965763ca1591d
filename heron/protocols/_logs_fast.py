"""The vectorised NDJSON reader: a regular body in one pass of Arrow's JSON reader.

:func:`heron.protocols.logs.parse_ndjson` reads a body document by document in Python
(decode, flatten, type, gather), about 30,000 documents per second. Most bodies a shipper
sends are regular: every line an object, every key with one JSON type across the body,
times as RFC 3339 text. Such a body is read here at once with ``pyarrow.json`` (C++,
multi-threaded): nested objects become struct columns and are flattened to dotted names,
numbers become DOUBLE, the time column is parsed with Arrow string kernels and numpy.

The result must be exactly what the document loop makes of the same body, so this reader
takes only what it can read the same way, and returns ``None`` for everything else (the
caller then runs the loop, which also produces the per-line errors): a line that is not an
object or not valid JSON, a key whose values change type, arrays, numbers as times,
strings Arrow would read as timestamps, names the loop would reject, rename or merge (case
differences, ``time``, a dotted key meeting a nested one), tags that are not strings, and
times that do not parse.
"""

from __future__ import annotations

import io
from collections.abc import Collection

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from heron.core.batch import Batch
from heron.core.identifiers import name_problem

#: The RFC 3339 forms the document loop accepts (``logs._RFC3339``), for RE2, ASCII digits
#: only (the loop's ``\d`` also takes other scripts' digits: those bodies go to the loop).
_RFC3339 = (
    r"^(?P<y>[0-9]{4})-(?P<mo>[0-9]{2})-(?P<d>[0-9]{2})"
    r"(?:[Tt ](?P<h>[0-9]{2}):(?P<mi>[0-9]{2})(?::(?P<s>[0-9]{2})(?:[.,](?P<f>[0-9]+))?)?)?"
    r"[ \t]*(?:(?P<z>[Zz])|(?P<sign>[+-])(?P<oh>[0-9]{2}):?(?P<om>[0-9]{2}))?$"
)
_NANOS = 1_000_000_000
_INT64_MAX = 2**63 - 1
#: Deeper documents are the loop's to reject (logs.MAX_DEPTH).
_MAX_DEPTH = 64
_SPACE = frozenset(b" \t\r")


class _Irregular(Exception):
    """The body is not one this reader takes the loop's way."""


def read_regular_ndjson(
    body: bytes,
    *,
    table: str,
    time_keys: tuple[str, ...],
    tag_columns: Collection[str],
    now_ns: int,
) -> Batch | None:
    """The rows of a regular NDJSON body as one batch, or None (see the module docstring)."""
    try:
        return _read(body, table=table, time_keys=time_keys, tag_columns=tag_columns, now_ns=now_ns)
    except (_Irregular, pa.ArrowException, UnicodeDecodeError, ValueError, OverflowError):
        return None


def _line_numbers(body: bytes) -> np.ndarray:
    """1-based numbers of the lines holding a document; blank lines are skipped."""
    buf = np.frombuffer(body, dtype=np.uint8)
    ends = np.flatnonzero(buf == 0x0A)
    starts = np.concatenate(([0], ends + 1))
    stops = np.concatenate((ends, [len(buf)]))
    filled = np.flatnonzero(stops > starts)
    first = buf[np.minimum(starts[filled], max(len(buf) - 1, 0))] if len(buf) else np.zeros(0, dtype=np.uint8)
    objects = first == 0x7B  # "{"
    for at in filled[~objects].tolist():  # rare: blank lines, or a line that is not an object
        if not all(c in _SPACE for c in body[int(starts[at]) : int(stops[at])]):
            raise _Irregular("a line that does not start with '{'")
    numbers: np.ndarray = (filled[objects] + 1).astype(np.int32)
    return numbers


def _read(
    body: bytes, *, table: str, time_keys: tuple[str, ...], tag_columns: Collection[str], now_ns: int
) -> Batch | None:
    if b"\x0b" in body or b"\x0c" in body:
        raise _Irregular("vertical tab or form feed (blank to the loop, not to Arrow)")
    lines = _line_numbers(body)
    if not len(lines):
        raise _Irregular("no documents")
    # Top-level time keys are read as text, so Arrow does not turn them into timestamps.
    explicit = pa.schema([(k, pa.string()) for k in time_keys if "." not in k])
    data = pj.read_json(
        io.BytesIO(body),
        read_options=pj.ReadOptions(use_threads=True),
        parse_options=pj.ParseOptions(explicit_schema=explicit, newlines_in_values=False),
    )
    if data.num_rows != len(lines):
        raise _Irregular("Arrow and the line count disagree")
    columns = _flatten(data)
    _check_names(columns)
    times = np.full(len(lines), now_ns, dtype=np.int64)
    present = [k for k in time_keys if k in columns and columns[k].null_count < len(columns[k])]
    if len(present) > 1:
        raise _Irregular("two time keys")
    if present:
        raw = columns.pop(present[0])
        if not pa.types.is_string(raw.type):
            raise _Irregular("a time that is not text")
        parsed = _parse_rfc3339(raw)
        valid = pc.is_valid(raw).to_numpy(zero_copy_only=False)
        times[valid] = parsed[valid]
    for key in list(columns):
        if key in time_keys:
            del columns[key]  # all null: absent
    tags: dict[str, pa.Array] = {}
    fields: dict[str, pa.Array] = {}
    for name, column in columns.items():
        kind = column.type
        if pa.types.is_null(kind):
            continue
        if name.lower() == "time":
            raise _Irregular("a key named time (the loop renames it)")
        if pa.types.is_list(kind):
            column = _list_json(column)
            kind = column.type
        if name in tag_columns:
            if not pa.types.is_string(kind):
                raise _Irregular("a tag that is not text")
            tags[name] = column
        elif pa.types.is_string(kind) or pa.types.is_boolean(kind):
            fields[name] = column
        elif pa.types.is_floating(kind) or pa.types.is_integer(kind):
            fields[name] = pc.cast(column, pa.float64(), safe=False)
        else:
            raise _Irregular(f"a column of type {kind}")
    return Batch(
        table=table,
        time=pa.array(times, pa.int64()),
        tags=tags,
        fields=fields,
        lines=pa.array(lines, pa.int32()),
    )


#: Characters JSON text escapes (orjson: quote, backslash, controls); a list holding one
#: is left to the loop.
_NEEDS_ESCAPE = r'["\\\x00-\x1f]'


def _list_json(array: pa.ListArray) -> pa.Array:
    """Arrays as the JSON text the loop stores (``orjson.dumps``): lists of plain strings,
    integers or booleans; any other list raises :class:`_Irregular`."""
    items = array.flatten()
    if items.null_count:
        raise _Irregular("a null inside an array")
    kind = items.type
    if pa.types.is_string(kind):
        if len(items) and pc.any(pc.match_substring_regex(items, _NEEDS_ESCAPE)).as_py():
            raise _Irregular("a string in an array that JSON escapes")
        quoted = pc.binary_join_element_wise('"', items, '"', "")
    elif pa.types.is_integer(kind):
        quoted = pc.cast(items, pa.string())
    elif pa.types.is_boolean(kind):
        quoted = pc.if_else(items, "true", "false")
    elif pa.types.is_null(kind) and not len(items):
        quoted = pa.array([], pa.string())
    else:
        raise _Irregular(f"an array of {kind}")
    lists = pa.ListArray.from_arrays(array.offsets, quoted, mask=pc.is_null(array))
    joined = pc.binary_join(lists, ",")
    return pc.binary_join_element_wise("[", joined, "]", "")


def _flatten(data: pa.Table) -> dict[str, pa.Array]:
    """Struct columns into dotted names, empty structs dropped, depth bounded."""
    out: dict[str, pa.Array] = {}

    def walk(prefix: str, array: pa.Array, depth: int) -> None:
        if depth > _MAX_DEPTH:
            raise _Irregular("nested too deeply")
        if pa.types.is_struct(array.type):
            if array.null_count:
                # {"a": null} beside {"a": {...}}: the loop skips the null, Arrow keeps a null
                # struct whose children are null: the same, but only if no child says otherwise.
                array = _struct_children_nulls(array)
            for index in range(array.type.num_fields):
                child = array.type.field(index)
                if not child.name:
                    raise _Irregular("an empty key")
                walk(f"{prefix}.{child.name}" if prefix else child.name, array.field(index), depth + 1)
            return
        if prefix in out:
            raise _Irregular("a dotted key meets a nested one")
        out[prefix] = array

    for name, column in zip(data.column_names, data.columns, strict=True):
        if not name:
            raise _Irregular("an empty key")
        walk(name, column.combine_chunks(), 1)
    return out


def _struct_children_nulls(array: pa.StructArray) -> pa.StructArray:
    """A struct array whose null rows have null children (as the loop reads them)."""
    valid = pc.is_valid(array)
    children = [
        pc.if_else(valid, array.field(i), pa.nulls(len(array), array.type.field(i).type))
        for i in range(array.type.num_fields)
    ]
    return pa.StructArray.from_arrays(children, fields=list(array.type))


def _check_names(columns: dict[str, pa.Array]) -> None:
    """Names the loop takes as they are: valid, and not equal to another but for case."""
    seen: set[str] = set()
    for name in columns:
        if name_problem(name) is not None:
            raise _Irregular("a name the loop rejects")
        low = name.lower()
        if low in seen:
            raise _Irregular("names differing only in case")
        seen.add(low)


def _parse_rfc3339(text: pa.Array) -> np.ndarray:
    """Nanoseconds of each RFC 3339 value (nulls give 0); raises if one does not parse."""
    valid = pc.is_valid(text)
    parts = pc.extract_regex(pc.fill_null(text, "1970-01-01"), _RFC3339)
    if parts.null_count:
        raise _Irregular("a time the loop may not read")

    def number(name: str, default: str = "0") -> np.ndarray:
        values = pc.fill_null(parts.field(name), default)
        values = pc.if_else(pc.equal(pc.utf8_length(values), 0), default, values)
        out: np.ndarray = pc.cast(values, pa.int64()).to_numpy()
        return out

    year, month, day = number("y"), number("mo"), number("d")
    hour, minute, second = number("h"), number("mi"), number("s")
    if np.any(year < 1) or np.any(hour > 23) or np.any(minute > 59) or np.any(second > 60):
        raise _Irregular("a time out of range")
    if np.any(month < 1) or np.any(month > 12) or np.any(day < 1) or np.any(day > _days_in_month(year, month)):
        raise _Irregular("no such date")
    days = _days_from_civil(year, month, day)
    seconds = days * 86_400 + hour * 3_600 + minute * 60 + second
    sign = pc.fill_null(parts.field("sign"), "").to_numpy(zero_copy_only=False)
    off_h, off_m = number("oh"), number("om")
    if np.any(off_h > 23) or np.any(off_m > 59):
        raise _Irregular("an offset out of range")
    offset = off_h * 3_600 + off_m * 60
    seconds = seconds - np.where(sign == "+", offset, np.where(sign == "-", -offset, 0))
    frac_text = pc.fill_null(parts.field("f"), "")
    frac = pc.utf8_rpad(pc.utf8_slice_codeunits(frac_text, 0, 9), width=9, padding="0")
    fraction = pc.cast(frac, pa.int64()).to_numpy()
    if np.any(np.abs(seconds) > _INT64_MAX // _NANOS - 1):
        raise _Irregular("a time out of int64 nanoseconds")
    nanos = seconds * _NANOS + fraction
    return np.where(valid.to_numpy(zero_copy_only=False), nanos, 0)


def _days_in_month(year: np.ndarray, month: np.ndarray) -> np.ndarray:
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    lengths = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)[month]
    out: np.ndarray = lengths + ((month == 2) & leap)
    return out


def _days_from_civil(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 of proleptic Gregorian dates (years from 1; H. Hinnant's
    ``days_from_civil``, http://howardhinnant.github.io/date_algorithms.html)."""
    y = year - (month <= 2)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * ((month + 9) % 12) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    out: np.ndarray = era * 146_097 + doe - 719_468
    return out
