"""InfluxDB line protocol: request bodies into one columnar batch per measurement.

Spec: https://docs.influxdata.com/influxdb/v1.8/write_protocols/line_protocol_reference/ ::

    <measurement>[,<tag_key>=<tag_value>[,<tag_key>=<tag_value>]] <field_key>=<field_value>
        [,<field_key>=<field_value>] [<timestamp>]                       (all on one line)

    measurement   escapes "\\," and "\\ "
    tag key/value escapes "\\,", "\\=" and "\\ "; tag values may not be empty
    field key     escapes "\\,", "\\=" and "\\ "
    field value   float     1  1.5  -1.5e10  .5  1.
                  integer   12i       (signed 64-bit)
                  unsigned  12u       (unsigned 64-bit)
                  string    "..."     (escapes \\" and \\\\)
                  boolean   t T true True TRUE f F false False FALSE
    timestamp     a signed integer in the request's precision; absent means "now"

A backslash before any other byte stays as written, together with that byte (so ``a\\\\,b``
is the key ``a\\\\`` followed by a comma), as in InfluxDB's own scanner.

Where Heron deviates from, or pins down, what the reference leaves open:

* A line is accepted or rejected whole, and every rejected line gets its own
  :class:`~heron.core.errors.ParseError` with a 1-based line and a 1-based *byte* column.
* A newline always ends the line, even inside a string field value (InfluxDB 1.x does not
  support newlines in values either); a string missing its closing quote is an error.
  ``\\r\\n`` endings are accepted.
* Blank lines, lines of spaces and tabs, and lines whose first non-blank byte is ``#``
  are skipped. Sections are separated by one or more spaces; trailing spaces are allowed.
  Tabs are only skipped at the start of a line: elsewhere they are ordinary bytes.
* Floats must be decimal (``-?(digits[.digits]|.digits)([eE][+-]?digits)?``): NaN, infinity,
  a leading ``+``, hex, and values that overflow to infinity are rejected.
* An unescaped ``=`` inside a tag value is rejected rather than kept.
* A tag or field named ``time`` is rejected.
* Measurement, tag and field names follow Heron's rule for names
  (:mod:`heron.core.identifiers`): not empty, no control characters, at most 256
  characters, and no two keys of one line that differ only in case. A line that breaks it
  is rejected with the key and the reason; InfluxDB would drop a NUL from the key.
* Types across lines are not the parser's business: when a line gives a key another kind
  (tag vs field) or another field type than an earlier line of the same measurement, the
  line starts a further batch of that table. The writer, which knows the stored column
  types, then keeps what matches and reports the rest as a type conflict, so a body whose
  first line disagrees with the stored type loses that line only (InfluxDB's rule).
* A repeated tag or field key in one line: the last value wins.

Two paths give identical results: :mod:`heron.protocols._line_protocol_fast` parses the
regular lines of a body as CSV with Arrow, and the pure-Python reference parser here takes
every line the fast path is not sure of (and, as :func:`_parse_slow`, whole bodies in tests).
"""

from __future__ import annotations

import heapq
import math
import re
from dataclasses import dataclass, field
from itertools import chain
from operator import attrgetter

import pyarrow as pa

from heron.core.batch import FIELD_TYPE_NAMES, Batch
from heron.core.errors import ParseError
from heron.core.identifiers import MAX_NAME_CHARS, has_control, name_problem, show
from heron.protocols import _line_protocol_fast
from heron.protocols._line_protocol_fast import FALSE_WORDS, TRUE_WORDS

__all__ = ["LineProtocolResult", "parse_line_protocol"]

#: Default cap on the errors a result keeps; ``rejected`` still counts every bad line.
DEFAULT_MAX_ERRORS = 100

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_UINT64_MAX = 2**64 - 1

# A field's kind: an index into _FIELD_TYPES, or _TAG for a tag key.
_TAG = -1
_FLOAT, _INT, _UINT, _STRING, _BOOL = range(5)
_FIELD_TYPES = (pa.float64(), pa.int64(), pa.uint64(), pa.string(), pa.bool_())
_KIND_NAMES = {i: FIELD_TYPE_NAMES[t] for i, t in enumerate(_FIELD_TYPES)}
_KIND_OF_TYPE = {t: i for i, t in enumerate(_FIELD_TYPES)}

_BOOLEANS = {**dict.fromkeys(TRUE_WORDS, True), **dict.fromkeys(FALSE_WORDS, False)}
# A run of bytes up to an unescaped separator; a backslash takes the next character along.
_MEASUREMENT = re.compile(r"(?:[^\\, ]|\\.|\\$)*", re.S)
_KEY = re.compile(r"(?:[^\\,= ]|\\.|\\$)*", re.S)
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"', re.S)
_BARE_VALUE = re.compile(r"[^, ]*")
_FLOAT_TEXT = re.compile(r"-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_INT_TEXT = re.compile(r"-?[0-9]+")
_UINT_TEXT = re.compile(r"[0-9]+")
_ESCAPE_PAIR = re.compile(r"\\(.)", re.S)
_EXPECTED_VALUE = 'a number, "string", t/f or 12i/12u'


@dataclass(frozen=True, slots=True)
class LineProtocolResult:
    """What one body parsed into: the accepted points as batches, and the rejected lines."""

    batches: list[Batch]  # one Batch per measurement (table), rows in input order
    errors: list[ParseError]  # one per rejected line, in line order (at most max_errors kept)
    points: int  # number of accepted points (rows across batches)
    rejected: int  # number of rejected lines (may exceed len(errors))


def parse_line_protocol(
    body: bytes, *, precision_nanos: int = 1, now_ns: int, max_errors: int = DEFAULT_MAX_ERRORS
) -> LineProtocolResult:
    """Parse a whole line-protocol body; never raises for any bytes.

    ``precision_nanos`` turns the body's timestamps into nanoseconds (see
    :func:`heron.core.timeprec.precision_to_nanos`); ``now_ns`` stamps points without one.
    """
    return _parse_fast(
        body,
        precision_nanos=precision_nanos,
        now_ns=now_ns,
        max_errors=max_errors,
        min_group_lines=_line_protocol_fast.FAST_MIN_GROUP_LINES,
    )


def _parse_fast(
    body: bytes, *, precision_nanos: int = 1, now_ns: int, max_errors: int = DEFAULT_MAX_ERRORS, min_group_lines: int
) -> LineProtocolResult:
    """The vectorised path for what it can take, the reference parser for the rest.

    Groups of lines smaller than ``min_group_lines`` go to the reference parser; tests pass
    1 to put even one-line bodies through the vectorised path.
    """
    fast = _line_protocol_fast.split_body(
        body, precision_nanos=precision_nanos, now_ns=now_ns, min_group_lines=min_group_lines
    )
    if fast is None:
        return _parse_slow(body, precision_nanos=precision_nanos, now_ns=now_ns, max_errors=max_errors)
    fast_batches, slow_lines = fast
    errors: list[ParseError] = []
    slow_points: dict[str, list[_Point]] = {}
    for line_no, raw in slow_lines:
        parsed = _parse_line(raw, line_no, precision_nanos, now_ns)
        if isinstance(parsed, ParseError):
            errors.append(parsed)
        elif parsed is not None:
            slow_points.setdefault(parsed.table, []).append(parsed)
    pieces: dict[str, list[Batch]] = {}
    for batch in fast_batches:
        pieces.setdefault(batch.table, []).append(batch)

    raw_lines: list[bytes] | None = None
    batches = []
    for table in {**dict.fromkeys(pieces), **dict.fromkeys(slow_points)}:
        table_pieces, points = pieces.get(table, []), slow_points.get(table, [])
        if table_pieces and not _kinds_agree(table_pieces, points):
            # A conflict across lines: settle it line by line, as the reference parser does.
            raw_lines = raw_lines or body.split(b"\n")
            again = _reparse(table_pieces, raw_lines, precision_nanos, now_ns)
            if again is None:
                return _parse_slow(body, precision_nanos=precision_nanos, now_ns=now_ns, max_errors=max_errors)
            points = sorted(points + again, key=attrgetter("line"))
            table_pieces = []
        generations: list[_TableState] = []
        for point in points:
            _place(generations, point)
        if table_pieces:
            # Kinds agree across the table, so the reference points join the fast pieces.
            table_pieces.extend(g.build() for g in generations)
            batches.append(_line_protocol_fast.merge_batches(table_pieces))
        else:
            batches.extend(g.build() for g in generations)
    return _result(batches, errors, max_errors)


def _parse_slow(
    body: bytes, *, precision_nanos: int = 1, now_ns: int, max_errors: int = DEFAULT_MAX_ERRORS
) -> LineProtocolResult:
    """The reference parser: every line in Python, in order. Same result as the public API."""
    errors: list[ParseError] = []
    states: dict[str, list[_TableState]] = {}
    for line_no, raw in enumerate(body.split(b"\n"), start=1):
        parsed = _parse_line(raw, line_no, precision_nanos, now_ns)
        if isinstance(parsed, _Point):
            _place(states.setdefault(parsed.table, []), parsed)
        elif parsed is not None:
            errors.append(parsed)
    batches = [state.build() for generations in states.values() for state in generations]
    return _result(batches, errors, max_errors)


def _place(generations: list[_TableState], point: _Point) -> None:
    """Add ``point`` to the first batch of its table whose key kinds it agrees with."""
    for state in generations:
        if state.fits(point):
            state.add(point)
            return
    state = _TableState(point.table)
    state.add(point)
    generations.append(state)


def _result(batches: list[Batch], errors: list[ParseError], max_errors: int) -> LineProtocolResult:
    batches.sort(key=lambda b: b.lines[0].as_py() if b.lines is not None else 0)
    kept = heapq.nsmallest(max(max_errors, 0), errors, key=lambda e: e.line)
    return LineProtocolResult(batches=batches, errors=kept, points=sum(len(b) for b in batches), rejected=len(errors))


# --- one line ---------------------------------------------------------------------------


@dataclass(slots=True)
class _Point:
    """One line that parsed, before the checks that span lines.

    ``fields`` maps a key to ``(kind, value)``. ``raw`` is kept so that an error found
    later (a type conflict) can be located by parsing the line again, carefully.
    """

    line: int
    table: str
    tags: dict[str, str]
    fields: dict[str, tuple[int, object]]
    time: int
    raw: bytes


def _parse_line(raw: bytes, line_no: int, precision_nanos: int, now_ns: int) -> _Point | ParseError | None:
    """Parse one physical line (without its ``\\n``); ``None`` for blank and comment lines."""
    if raw.endswith(b"\r"):
        raw = raw[:-1]
    stripped = raw.lstrip(b" \t")
    if not stripped or stripped.startswith(b"#"):
        return None
    try:
        s = raw.decode()
    except UnicodeDecodeError as exc:
        return ParseError(
            "invalid UTF-8",
            line=line_no,
            column=exc.start + 1,
            expected="UTF-8 text",
            got=f"byte 0x{raw[exc.start]:02x}",
        )
    if "\\" not in s and '"' not in s:
        point = _parse_plain(s, line_no, precision_nanos, now_ns, raw)
        if point is not None:
            return point
    return _parse_careful(s, line_no, precision_nanos, now_ns, raw, {})


def _parse_plain(s: str, line_no: int, precision_nanos: int, now_ns: int, raw: bytes) -> _Point | None:
    """A shortcut for the usual line (no quotes, no backslashes, single spaces) using splits.

    It only ever accepts what :func:`_parse_careful` accepts, with the same result; for
    anything unusual, valid or not, it returns ``None`` and the careful scanner decides.
    """
    if has_control(s):
        return None  # a name may hold none; the careful scanner says which
    head, _, rest = s.partition(" ")
    field_text, space, time_text = rest.partition(" ")
    parts = head.split(",")
    table = parts[0]
    if not table or table[0] == "\t" or not field_text:
        return None
    tags: dict[str, str] = {}
    for pair in parts[1:]:
        key, _, text = pair.partition("=")
        if not key or not text or "=" in text or key == "time" or len(key) > MAX_NAME_CHARS:
            return None
        tags[key] = text
    fields: dict[str, tuple[int, object]] = {}
    for pair in field_text.split(","):
        key, _, text = pair.partition("=")
        if not key or not text or key == "time" or key in tags or len(key) > MAX_NAME_CHARS:
            return None
        value = _field_value(text)
        if isinstance(value, str):
            return None
        fields[key] = value
    if len(table) > MAX_NAME_CHARS or len({k.lower() for k in chain(tags, fields)}) != len(tags) + len(fields):
        return None
    time = now_ns
    if space:
        if not _INT_TEXT.fullmatch(time_text):
            return None
        time = int(time_text) * precision_nanos
        if not _INT64_MIN <= time <= _INT64_MAX:
            return None
    return _Point(line_no, table, tags, fields, time, raw)


def _parse_careful(
    s: str, line_no: int, precision_nanos: int, now_ns: int, raw: bytes, columns: dict[str, int]
) -> _Point | ParseError:
    """The definition of a valid line: scan ``s`` byte by byte, failing at the first error.

    Fills ``columns`` with the 1-based byte column of every tag and field key.
    """
    n = len(s)
    i = n - len(s.lstrip(" \t"))

    text, end = _scan(_MEASUREMENT, s, i)
    table = _unescape(text, ", ")
    if not table:
        return _fail(s, line_no, i, "missing measurement", "a measurement name", _got(s, i))
    problem = name_problem(table)
    if problem is not None:
        return _fail(s, line_no, i, f"measurement {show(table)} {problem}")
    i = end
    tags: dict[str, str] = {}
    spelled: dict[str, str] = {}  # lower-case key -> its first spelling in this line
    while i < n and s[i] == ",":
        start = i + 1
        text, i = _scan(_KEY, s, start)
        key = _unescape(text, ",= ")
        if not key:
            return _fail(s, line_no, start, "empty tag key", "a tag key", _got(s, start))
        if key == "time":
            return _fail(s, line_no, start, "'time' cannot be a tag key")
        problem = _key_problem("tag", key, spelled)
        if problem is not None:
            return _fail(s, line_no, start, problem)
        if i >= n or s[i] != "=":
            return _fail(s, line_no, i, f"tag '{key}' has no value", "'='", _got(s, i))
        text, i = _scan(_KEY, s, i + 1)
        if not text:
            return _fail(s, line_no, i, f"empty value for tag '{key}'", "a tag value", _got(s, i))
        if i < n and s[i] == "=":
            return _fail(s, line_no, i, f"unescaped '=' in the value of tag '{key}'", "',' or ' '", "'='")
        tags[key] = _unescape(text, ",= ")
        columns[key] = _column(s, start)
    while i < n and s[i] == " ":
        i += 1
    if i >= n:
        return _fail(s, line_no, i, "missing field set", "field=value", "end of line")

    fields: dict[str, tuple[int, object]] = {}
    while True:
        start = i
        text, i = _scan(_KEY, s, start)
        key = _unescape(text, ",= ")
        if not key:
            return _fail(s, line_no, start, "empty field key", "a field key", _got(s, start))
        if key == "time":
            return _fail(s, line_no, start, "'time' cannot be a field key")
        if key in tags:
            return _fail(s, line_no, start, f"'{key}' is both a tag and a field")
        problem = _key_problem("field", key, spelled)
        if problem is not None:
            return _fail(s, line_no, start, problem)
        if i >= n or s[i] != "=":
            return _fail(s, line_no, i, f"field '{key}' has no value", "'='", _got(s, i))
        i += 1
        if i < n and s[i] == '"':
            match = _QUOTED.match(s, i)
            if match is None:
                return _fail(
                    s, line_no, i, f"unterminated string value for field '{key}'", "a closing '\"'", "end of line"
                )
            value: tuple[int, object] = (_STRING, _unescape(match[1], '"\\'))
            i = match.end()
        else:
            token, _ = _scan(_BARE_VALUE, s, i)
            if not token:
                return _fail(s, line_no, i, f"missing value for field '{key}'", _EXPECTED_VALUE, _got(s, i))
            parsed = _field_value(token)
            if isinstance(parsed, str):
                return _fail(s, line_no, i, parsed, *_value_expectation(parsed, token))
            value, i = parsed, i + len(token)
        fields[key] = value  # a repeated key: the last value wins (in the first one's place)
        columns[key] = _column(s, start)
        if i >= n or s[i] == " ":
            break
        if s[i] != ",":
            return _fail(s, line_no, i, f"unexpected text after the value of field '{key}'", "',' or ' '", _got(s, i))
        i += 1

    while i < n and s[i] == " ":
        i += 1
    time = now_ns
    if i < n:
        token = s[i:].split(" ", 1)[0]
        if not _INT_TEXT.fullmatch(token):
            return _fail(s, line_no, i, "invalid timestamp", "an integer", repr(token))
        time = int(token) * precision_nanos
        if not _INT64_MIN <= time <= _INT64_MAX:
            return _fail(s, line_no, i, "timestamp out of range", "a time between the years 1677 and 2262", repr(token))
        i += len(token)
        while i < n and s[i] == " ":
            i += 1
        if i < n:
            return _fail(s, line_no, i, "unexpected text after the timestamp", "end of line", _got(s, i))
    return _Point(line_no, table, tags, fields, time, raw)


def _key_problem(kind: str, key: str, spelled: dict[str, str]) -> str | None:
    """Why a tag or field key cannot be a column; notes its spelling in ``spelled``."""
    problem = name_problem(key)
    if problem is not None:
        return f"{kind} key {show(key)} {problem}"
    first = spelled.setdefault(key.lower(), key)
    if first != key:
        return f"keys {show(first)} and {show(key)} differ only in case: they would be one column"
    return None


def _field_value(token: str) -> tuple[int, object] | str:
    """A bare (unquoted) field value as ``(kind, value)``, or the reason it is invalid."""
    last = token[-1]
    if last == "i" and _INT_TEXT.fullmatch(token, 0, len(token) - 1):
        number = int(token[:-1])
        return (_INT, number) if _INT64_MIN <= number <= _INT64_MAX else "integer out of range"
    if last == "u" and _UINT_TEXT.fullmatch(token, 0, len(token) - 1):
        number = int(token[:-1])
        return (_UINT, number) if number <= _UINT64_MAX else "unsigned integer out of range"
    boolean = _BOOLEANS.get(token)
    if boolean is not None:
        return (_BOOL, boolean)
    if _FLOAT_TEXT.fullmatch(token):
        real = float(token)
        return (_FLOAT, real) if math.isfinite(real) else "float out of range"
    return "invalid field value"


def _value_expectation(reason: str, token: str) -> tuple[str, str]:
    expected = {
        "integer out of range": f"an integer from {_INT64_MIN} to {_INT64_MAX}",
        "unsigned integer out of range": f"an unsigned integer up to {_UINT64_MAX}",
        "float out of range": "a finite float",
    }.get(reason, _EXPECTED_VALUE)
    return expected, repr(token)


def _scan(pattern: re.Pattern[str], s: str, index: int) -> tuple[str, int]:
    """The run ``pattern`` (which may match nothing) takes from ``index``, and its end."""
    match = pattern.match(s, index)
    assert match is not None
    return match[0], match.end()


def _unescape(token: str, escapable: str) -> str:
    """Drop the backslash of each escape pair whose second character is ``escapable``."""
    if "\\" not in token:
        return token
    return _ESCAPE_PAIR.sub(lambda m: m[1] if m[1] in escapable else m[0], token)


def _column(s: str, index: int) -> int:
    """1-based byte column of character ``index`` of the decoded line ``s``."""
    return index + 1 if s.isascii() else len(s[:index].encode()) + 1


def _got(s: str, index: int) -> str:
    return repr(s[index]) if index < len(s) else "end of line"


def _fail(s: str, line_no: int, index: int, reason: str, expected: str = "", got: str = "") -> ParseError:
    return ParseError(reason, line=line_no, column=_column(s, index), expected=expected, got=got)


# --- checks across lines, and columns ---------------------------------------------------


@dataclass(slots=True)
class _TableState:
    """The accepted points of one table so far, and what each key is (tag or field type).

    Columns are Python lists, padded with ``None`` as rows lacking a key go by, in the order
    their keys were first seen.
    """

    table: str
    kinds: dict[str, tuple[int, int]] = field(default_factory=dict)  # key -> (kind, line)
    lines: list[int] = field(default_factory=list)
    times: list[int] = field(default_factory=list)
    tags: dict[str, list[object]] = field(default_factory=dict)
    fields: dict[str, list[object]] = field(default_factory=dict)

    def rows(self) -> int:
        return len(self.lines)

    def fits(self, point: _Point) -> bool:
        """Whether every key of ``point`` has the kind (tag, field type) it has here."""
        kinds = self.kinds
        for key in point.tags:
            known = kinds.get(key)
            if known is not None and known[0] != _TAG:
                return False
        for key, (kind, _) in point.fields.items():
            known = kinds.get(key)
            if known is not None and known[0] != kind:
                return False
        return True

    def add(self, point: _Point) -> None:
        """Append ``point``'s values, padding columns it lacks (call :meth:`fits` first)."""
        row = len(self.lines)
        columns = self.tags
        for key, text in point.tags.items():
            column = columns.get(key)
            if column is None or len(column) != row:
                column = self._column(columns, key, row, _TAG, point.line)
            column.append(text)
        columns = self.fields
        for key, (kind, value) in point.fields.items():
            column = columns.get(key)
            if column is None or len(column) != row:
                column = self._column(columns, key, row, kind, point.line)
            column.append(value)
        self.lines.append(point.line)
        self.times.append(point.time)

    def _column(self, columns: dict[str, list[object]], key: str, row: int, kind: int, line: int) -> list[object]:
        """The column for ``key``, created (its kind noted) or padded to ``row`` values."""
        column = columns.get(key)
        if column is None:
            column = columns[key] = []
            self.kinds[key] = (kind, line)
        column.extend([None] * (row - len(column)))
        return column

    def build(self) -> Batch:
        """The rows so far as a batch; columns in first-seen order."""
        n = len(self.lines)
        tags = {k: pa.array(_padded(v, n), pa.string()) for k, v in self.tags.items()}
        fields = {k: pa.array(_padded(v, n), _FIELD_TYPES[self.kinds[k][0]]) for k, v in self.fields.items()}
        return Batch(
            table=self.table,
            time=pa.array(self.times, pa.int64()),
            tags=tags,
            fields=fields,
            lines=pa.array(self.lines, pa.int32()),
        )


def _padded(column: list[object], n: int) -> list[object]:
    return column + [None] * (n - len(column)) if len(column) < n else column


def _kinds_agree(pieces: list[Batch], points: list[_Point]) -> bool:
    """Whether every key of a table is always a tag, or always a field of one type."""
    kinds: dict[str, int] = {}
    pairs = chain(
        ((key, _TAG) for piece in pieces for key in piece.tags),
        ((key, _KIND_OF_TYPE[column.type]) for piece in pieces for key, column in piece.fields.items()),
        ((key, _TAG) for point in points for key in point.tags),
        ((key, kind) for point in points for key, (kind, _) in point.fields.items()),
    )
    return all(kinds.setdefault(key, kind) == kind for key, kind in pairs)


def _reparse(pieces: list[Batch], raw_lines: list[bytes], precision_nanos: int, now_ns: int) -> list[_Point] | None:
    """The fast path's points again, as reference-parser points (only when lines conflict).

    ``None`` if the reference parser rejects a line the fast path took, which the tests
    say cannot happen; the caller then parses the whole body the reference way.
    """
    points = []
    for piece in pieces:
        assert piece.lines is not None
        for line_no in piece.lines.to_pylist():
            parsed = _parse_line(raw_lines[line_no - 1], line_no, precision_nanos, now_ns)
            if not isinstance(parsed, _Point):
                return None
            points.append(parsed)
    return points
