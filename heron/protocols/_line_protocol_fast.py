"""The vectorised path of the line-protocol parser: most lines of a body, parsed as CSV.

Pure-Python parsing tops out near 100,000 lines/s, far below what the ingest benchmark needs.
Most real bodies are regular, though: every line of a TSBS or Telegraf body has the same
shape, no quotes and no backslashes. For such a line the separators ``,``, ``=`` and space
never occur inside a token, so

1. deleting every byte but the separators gives the line's *pattern* (``,=,= =,= `` for
   ``m,a=1,b=2 x=1,y=2 123``); lines with equal patterns have their tokens at equal places,
2. turning ``=`` and space into ``,`` makes a group of such lines a CSV file with a fixed
   number of columns, which Arrow's multi-threaded CSV reader parses in C++,
3. the measurement and key columns must be constant in a group, and each value column
   must convert to one Arrow type.

Anything this path is not sure about -- quotes, backslashes, comments, tabs, blank lines,
odd patterns, a cast that fails, an empty token, a key named ``time``, NaN -- sends the line
(or its whole group) to the reference parser in ``line_protocol.py``, so that errors come
from one place with exact columns and both paths give identical results. The test suite
checks that they do.

This module never sees a rejected line through to the end: it returns the groups it could
parse as :class:`~heron.core.batch.Batch` es (one per group, several per table possible)
and the lines it leaves to the reference parser; ``line_protocol.py`` merges the two and
runs the checks that span lines (type conflicts, a key used as tag and field).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from heron.core.batch import Batch
from heron.core.identifiers import case_clash, name_problem

#: Boolean spellings of line protocol; the reference parser uses the same words.
TRUE_WORDS = ("t", "T", "true", "True", "TRUE")
FALSE_WORDS = ("f", "F", "false", "False", "FALSE")

#: Groups of fewer lines go to the reference parser: a group costs the CSV reader and a few
#: dozen Arrow calls (~0.3-0.8 ms) whatever its size, about what 50 lines cost in Python.
FAST_MIN_GROUP_LINES = 64

_SEPARATORS = b", =\n"
_NOT_SEPARATORS = bytes(b for b in range(256) if b not in _SEPARATORS)
_TO_CSV = bytes.maketrans(b"= ", b",,")
#: Bytes that make a line unfit for this path. Each is looked for with one ``in`` over the
#: body (memchr speed); one that occurs is kept in the patterns, which its lines then fail.
#: ``"`` and ``\\`` need the real grammar; ``#`` may start a comment; a tab is trimmed by
#: Arrow's number parsing (``1\t`` would pass); a ``\r`` left inside a line ends a CSV row.
_SPECIAL_BYTES = b'"\\#\t\r'
#: A well-formed pattern: tags, one space, fields, optionally a space and a timestamp.
_PATTERN = re.compile(rb"((?:,=)*) =((?:,=)*)( ?)\n?")

_INT_TEXT = re.compile(r"^-?[0-9]+$")

# Field kinds of a group's first line, which decide each value column's CSV type.
_FLOAT, _INT, _UINT, _BOOL = range(4)

_Shape = tuple[int, int, bool]  # tags, fields, has timestamp
_SlowLines = list[tuple[int, bytes]]  # (1-based line number, raw bytes)


class _Options(NamedTuple):
    precision_nanos: int
    now_ns: int
    min_group_lines: int
    floats_as_text: bool


class _NotFast(Exception):
    """A group this path cannot vouch for; its lines go to the reference parser."""


class _KeysDiffer(Exception):
    """A group whose lines share a pattern but not their keys; it is split and retried."""

    def __init__(self, key_columns: list[pa.ChunkedArray]) -> None:
        super().__init__()
        self.key_columns = key_columns


def split_body(
    body: bytes, *, precision_nanos: int, now_ns: int, min_group_lines: int = FAST_MIN_GROUP_LINES
) -> tuple[list[Batch], _SlowLines] | None:
    """Parse what this path can; return its batches and the lines left over, in order.

    Only groups of at least ``min_group_lines`` lines of one pattern are worth this path.
    Returns ``None`` when there is no such group: the caller then parses the whole body
    with the reference parser.
    """
    if b"\r" in body:
        crlf = body.replace(b"\r\n", b"\n")
        if b"\r" not in crlf:
            body = crlf  # every \r ended a line: dropping them moves no column
    # A special byte is kept in the patterns, which then match no shape: its lines go slow.
    specials = bytes(c for c in _SPECIAL_BYTES if c in body)
    seps = body.translate(None, _NOT_SEPARATORS if not specials else _deletions(_SEPARATORS + specials))
    if not body.endswith(b"\n"):
        seps += b"\n"  # so that every line's pattern ends with one
    # Arrow's float parsing takes a leading "+", line protocol does not; only when a "+"
    # occurs anywhere are float columns read as text and checked before the cast.
    options = _Options(precision_nanos, now_ns, max(min_group_lines, 1), floats_as_text=b"+" in body)
    first = seps[: seps.index(b"\n") + 1]
    count = len(seps) // len(first)
    shape = _shape(first)
    # The common case: one pattern for the whole body; no splitting into lines at all.
    if shape is not None and first * count == seps:
        if count < options.min_group_lines:
            return None
        slow_rows: list[int] = []
        batches = _parse_group(body.translate(_TO_CSV), np.arange(count), shape, options, slow_rows)
        raw_lines = body.split(b"\n") if slow_rows else []
        return batches, [(i + 1, raw_lines[i]) for i in sorted(slow_rows)]

    raw_lines = body.split(b"\n")
    if raw_lines[-1] == b"":  # a final newline ends the last line; it starts none
        raw_lines.pop()
    groups: dict[bytes, list[int]] = {}
    for index, pattern in enumerate(seps.split(b"\n")[: len(raw_lines)]):
        groups.setdefault(pattern, []).append(index)
    shapes = {pattern: _shape(pattern) for pattern in groups}
    if not any(shapes[p] is not None and len(rows) >= options.min_group_lines for p, rows in groups.items()):
        return None
    tlines = body.translate(_TO_CSV).split(b"\n")
    batches = []
    slow: list[int] = []
    for pattern, rows in groups.items():
        group_shape = shapes[pattern]
        if group_shape is None or len(rows) < options.min_group_lines:
            slow.extend(rows)
            continue
        tbody = b"\n".join([tlines[i] for i in rows])
        batches.extend(_parse_group(tbody, np.asarray(rows), group_shape, options, slow))
    slow.sort()
    return batches, [(i + 1, raw_lines[i]) for i in slow]


def _deletions(keep: bytes) -> bytes:
    """The bytes ``bytes.translate`` should delete to keep only ``keep``."""
    return bytes(b for b in range(256) if b not in keep)


def _shape(pattern: bytes) -> _Shape | None:
    """Tags, fields and timestamp presence of a well-formed pattern; ``None`` otherwise."""
    match = _PATTERN.fullmatch(pattern)
    if match is None:
        return None
    return len(match[1]) // 2, len(match[2]) // 2 + 1, bool(match[3])


def _parse_group(tbody: bytes, rows: np.ndarray, shape: _Shape, options: _Options, slow: list[int]) -> list[Batch]:
    """Batches for the lines of one pattern group: ``tbody`` in CSV form, ``rows`` their
    0-based line indices. Rows this path gives up on are appended to ``slow``.
    """
    try:
        return [_read_group(tbody, rows, shape, options)]
    except _NotFast:
        slow.extend(rows.tolist())
        return []
    except _KeysDiffer as differ:
        subgroups = _rows_by_keys(differ.key_columns)
    # Same pattern, different keys (``disk,path=/ used=1`` and ``net,name=eth0 rx=2``):
    # each set of keys is a group of its own.
    tlines = tbody.split(b"\n")
    batches = []
    for positions in subgroups:
        sub_rows = rows[positions]
        if len(positions) < options.min_group_lines:
            slow.extend(sub_rows.tolist())
            continue
        try:
            sub = b"\n".join([tlines[p] for p in positions.tolist()])
            batches.append(_read_group(sub, sub_rows, shape, options))
        except (_NotFast, _KeysDiffer):
            slow.extend(sub_rows.tolist())
    return batches


def _rows_by_keys(key_columns: list[pa.ChunkedArray]) -> list[np.ndarray]:
    """Positions of the rows sharing each combination of keys, in order of first sighting."""
    joined = _combine(pc.binary_join_element_wise(*key_columns, "\n"))  # no token holds "\n"
    codes = joined.dictionary_encode().indices.to_numpy()
    order = np.argsort(codes, kind="stable")
    return np.split(order, np.flatnonzero(np.diff(codes[order])) + 1)


def _read_group(tbody: bytes, rows: np.ndarray, shape: _Shape, options: _Options) -> Batch:
    """One batch from CSV lines whose keys must all equal those of the first line."""
    n_tags, n_fields, has_time = shape
    tokens = tbody.partition(b"\n")[0].split(b",")
    try:
        texts = [t.decode() for t in tokens]
    except UnicodeDecodeError:
        raise _NotFast from None
    table = texts[0]
    tag_keys = texts[1 : 2 * n_tags : 2]
    field_keys = texts[2 * n_tags + 1 : 2 * (n_tags + n_fields) : 2]
    keys = [table, *tag_keys, *field_keys]
    # Empty, reserved, repeated or clashing keys need the reference parser's messages.
    if not all(keys) or "time" in keys[1:] or len(set(keys[1:])) != len(keys) - 1:
        raise _NotFast
    if any(name_problem(k) for k in keys) or case_clash(keys[1:]):
        raise _NotFast
    kinds = [_kind(texts[2 * n_tags + 2 + 2 * i]) for i in range(n_fields)]

    names = [f"c{i}" for i in range(len(tokens))]
    types: dict[str, pa.DataType] = {}
    key_columns = [0, *range(1, 2 * (n_tags + n_fields), 2)]
    for i in key_columns:
        types[names[i]] = pa.string()
    for i in range(n_tags):
        types[names[2 + 2 * i]] = pa.string()
    for i, kind in enumerate(kinds):
        types[names[2 * n_tags + 2 + 2 * i]] = _csv_type(kind, options.floats_as_text)
    if has_time:
        types[names[-1]] = pa.string()
    table_data = _read_csv(tbody, names, types)

    for i, expected in zip(key_columns, keys, strict=True):
        if not pc.all(pc.equal(table_data.column(i), pa.scalar(expected))).as_py():
            raise _KeysDiffer([table_data.column(k) for k in key_columns])
    tags = {key: _combine(table_data.column(2 + 2 * i)) for i, key in enumerate(tag_keys)}
    fields = {}
    for i, (key, kind) in enumerate(zip(field_keys, kinds, strict=True)):
        fields[key] = _convert(_combine(table_data.column(2 * n_tags + 2 + 2 * i)), kind)
    if has_time:
        time = _integers(_combine(table_data.column(len(names) - 1)), pa.int64())
        if options.precision_nanos != 1:
            time = _checked(pc.multiply_checked, time, pa.scalar(options.precision_nanos, pa.int64()))
    else:
        time = pa.array(np.full(len(rows), options.now_ns, dtype=np.int64))
    return Batch(table=table, time=time, tags=tags, fields=fields, lines=pa.array(rows + 1, pa.int32()))


def _kind(token: str) -> int:
    """Guess a value column's kind from its first value; the conversion checks every row."""
    if token.endswith("i"):
        return _INT
    if token.endswith("u"):
        return _UINT
    if token in TRUE_WORDS or token in FALSE_WORDS:
        return _BOOL
    return _FLOAT


def _csv_type(kind: int, floats_as_text: bool) -> pa.DataType:
    """What the CSV reader parses a value column as; integers keep their suffix, so text."""
    if kind == _BOOL:
        return pa.bool_()
    if kind == _FLOAT and not floats_as_text:
        return pa.float64()
    return pa.string()


def _read_csv(tbody: bytes, names: list[str], types: dict[str, pa.DataType]) -> pa.Table:
    """Arrow's CSV reader with nothing but splitting on commas and newlines.

    Empty tokens become nulls so that one ``null_count`` tells whether any token was empty;
    every other string stays as written (no quotes, escapes or ``NA``-like null words).
    """
    try:
        data = pacsv.read_csv(
            pa.py_buffer(tbody),
            read_options=pacsv.ReadOptions(column_names=names, use_threads=True, block_size=_block_size(tbody)),
            parse_options=pacsv.ParseOptions(quote_char=False, escape_char=False, double_quote=False),
            convert_options=pacsv.ConvertOptions(
                column_types=types,
                null_values=[""],
                strings_can_be_null=True,
                true_values=list(TRUE_WORDS),
                false_values=list(FALSE_WORDS),
            ),
        )
    except pa.ArrowException:  # a value of the wrong kind, invalid UTF-8, ...
        raise _NotFast from None
    if any(column.null_count for column in data.columns):
        raise _NotFast
    return data


def _block_size(tbody: bytes) -> int:
    """About four blocks, so both cores get work, each large enough to pay for itself."""
    return max(1 << 18, min(1 << 20, len(tbody) // 4 + 1))


def _combine(column: pa.ChunkedArray) -> pa.Array:
    return column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)


def _convert(column: pa.Array, kind: int) -> pa.Array:
    """Typed field values from a CSV column, or ``_NotFast`` if any value is doubtful."""
    if kind == _BOOL:
        return column  # the reader accepted exactly TRUE_WORDS and FALSE_WORDS
    if kind == _FLOAT:
        values = column
        if column.type == pa.string():
            if pc.any(pc.starts_with(column, "+")).as_py():
                raise _NotFast  # Arrow accepts "+1", line protocol does not
            values = _checked(pc.cast, column, pa.float64())
        if not pc.all(pc.is_finite(values)).as_py():
            raise _NotFast  # "nan", "inf", "1e999": rejected by the reference parser
        return values
    suffix = "i" if kind == _INT else "u"
    if not pc.all(pc.ends_with(column, suffix)).as_py():
        raise _NotFast
    digits = pc.utf8_slice_codeunits(column, 0, -1)
    return _integers(digits, pa.int64() if kind == _INT else pa.uint64())


def _integers(column: pa.Array, dtype: pa.DataType) -> pa.Array:
    """Decimal integers only: Arrow would also take ``0x1f`` and surrounding blanks."""
    if not pc.all(pc.ascii_is_decimal(column)).as_py() and (
        dtype != pa.int64() or not pc.all(pc.match_substring_regex(column, _INT_TEXT.pattern)).as_py()
    ):
        raise _NotFast
    return _checked(pc.cast, column, dtype)  # out of range raises


def _checked(function: Callable[..., pa.Array], *args: object) -> pa.Array:
    """Call an Arrow compute function; an invalid value or an overflow means ``_NotFast``."""
    try:
        return function(*args)
    except pa.ArrowException:
        raise _NotFast from None


def merge_batches(pieces: list[Batch]) -> Batch:
    """One table's batches as one: rows in line order, columns in first-seen order, gaps null."""
    if len(pieces) == 1:
        return pieces[0]
    tag_order = _first_seen(pieces, tags=True)
    field_order = _first_seen(pieces, tags=False)
    field_types = {k: c.type for p in pieces for k, c in p.fields.items()}

    def column(piece: Batch, columns: dict[str, pa.Array], key: str, dtype: pa.DataType) -> pa.Array:
        return columns[key] if key in columns else pa.nulls(len(piece), dtype)

    merged = Batch(
        table=pieces[0].table,
        time=pa.concat_arrays([p.time for p in pieces]),
        tags={k: pa.concat_arrays([column(p, p.tags, k, pa.string()) for p in pieces]) for k in tag_order},
        fields={k: pa.concat_arrays([column(p, p.fields, k, field_types[k]) for p in pieces]) for k in field_order},
        lines=pa.concat_arrays([p.lines for p in pieces]),
    )
    return merged.take(pc.sort_indices(merged.lines))


def _first_seen(pieces: list[Batch], *, tags: bool) -> list[str]:
    """Keys ordered by the first line that has them, then by their place in that line."""
    seen: dict[str, tuple[int, int]] = {}
    for piece in pieces:
        assert piece.lines is not None
        lines = piece.lines.to_numpy()
        for position, (key, column) in enumerate((piece.tags if tags else piece.fields).items()):
            valid = np.flatnonzero(column.is_valid().to_numpy(zero_copy_only=False))
            first = (int(lines[valid[0]]), position)
            if key not in seen or first < seen[key]:
                seen[key] = first
    return sorted(seen, key=seen.__getitem__)
