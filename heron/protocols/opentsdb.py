"""OpenTSDB data points: Nightingale's JSON put, and CnosDB's text lines and JSON.

OpenTSDB's HTTP put (http://opentsdb.net/docs/build/html/api_http/put.html), the shape
Nightingale's ``/opentsdb/put`` accepts too (ccfos/nightingale, pushgw/router/router_opentsdb.go)::

    {"metric": "sys.cpu.nice", "timestamp": 1346846400, "value": 18,
     "tags": {"host": "web01", "dc": "lga"}}

    body       one such object, or a JSON array of them
    metric     string, required
    timestamp  integer Unix time: seconds, or milliseconds when above 0xFFFFFFFF
    value      a number, or a string holding one ("42.5")
    tags       object of tag name to tag value

Nightingale skips and counts invalid items, renames the tag ``host`` to ``ident`` when the
item has no ``ident`` (the tag that registers a machine), and replaces a timestamp more than
five minutes ahead of the server's clock with the server's time.

CnosDB's ``/api/v1/opentsdb/write`` takes OpenTSDB's telnet lines, one point per line::

    <metric> <timestamp> <value> <tagk_1>=<tagv_1>[ <tagk_n>=<tagv_n>]

and ``/api/v1/opentsdb/put`` the JSON above with ``value`` a JSON number and ``tags`` required;
both read timestamps in the request's ``precision`` (nanoseconds by default).

Every format becomes one :class:`~heron.core.batch.Batch` per metric, with the tags as tag
columns and the sample as the float field ``value``. Where Heron deviates or pins things down:

* Names are kept as sent. Nightingale rewrites ``.`` and ``-`` to ``_`` because its store is
  Prometheus; Heron's tables are SQL tables, which can hold any name.
* A tag named ``time`` or ``value`` (in any case) is rejected: those are the table's own
  columns. So are two tags of one item whose names differ only in case, and metric and tag
  names that break Heron's rule for names (:mod:`heron.core.identifiers`: empty, control
  characters such as NUL, longer than 256 characters).
* An item without a timestamp is stamped with the server's time (Nightingale would store it
  at 1970, OpenTSDB rejects it); a timestamp of zero or less is rejected, as OpenTSDB does.
  Milliseconds keep their precision (Nightingale truncates them to seconds), and a JSON
  float is accepted with its fraction (OpenTSDB and Nightingale want an integer).
* Values must be finite: ``NaN`` and infinities are rejected, as OpenTSDB rejects them.
  A value string must be a plain decimal number (``"42"``, ``"-1.5e3"``).
* Tag values that are JSON numbers or booleans are kept as their JSON text; an empty tag
  value means the tag is absent (Nightingale's Prometheus semantics). Tags are optional.
* A text line may start with OpenTSDB's telnet ``put`` command word, which is skipped; a tag
  token may hold several ``k=v`` pairs separated by commas. Blank lines and ``#`` comments
  are skipped.

:class:`MetricRows` gathers the rows of any metric-style format (Open-Falcon and Datadog use
it too) and builds the batches.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import orjson
import pyarrow as pa

from heron.core.batch import Batch
from heron.core.errors import ParseError
from heron.core.identifiers import name_problem, show

__all__ = [
    "DEFAULT_MAX_ERRORS",
    "MAX_FUTURE_NS",
    "MetricRows",
    "MetricsResult",
    "clean_tags",
    "float_to_units",
    "json_items",
    "json_kind",
    "load_json",
    "n9e_time_ns",
    "parse_cnosdb_json",
    "parse_number",
    "parse_opentsdb_json",
    "parse_opentsdb_lines",
    "short_repr",
    "take_metric_value_time",
]

#: Default cap on the errors a result keeps; ``rejected`` still counts every bad item.
DEFAULT_MAX_ERRORS = 100

#: Nightingale replaces timestamps further ahead of the server's clock than this (5 minutes).
MAX_FUTURE_NS = 300 * 1_000_000_000

#: Above this a Nightingale timestamp is in milliseconds ("bigger than 32 bits").
_SECONDS_LIMIT = 0xFFFFFFFF
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_RESERVED_KEYS = frozenset({"time", "value"})
_NUMBER_TEXT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_INT_TEXT = re.compile(r"-?[0-9]+")
_TOKEN = re.compile(r"[^ \t]+")
_UNCHECKED = object()


@dataclass(frozen=True, slots=True)
class MetricsResult:
    """What one body parsed into: batches of the accepted rows, and the rejected items."""

    batches: list[Batch]  # one per metric (table), rows in input order
    errors: list[ParseError]  # the first rejected items (at most max_errors), in order
    items: int  # items (data points, series, lines) in the body
    rejected: int  # items rejected by the parser (may exceed len(errors))

    @property
    def rows(self) -> int:
        return sum(len(b) for b in self.batches)


@dataclass(slots=True)
class _TableRows:
    key_sets: dict[tuple[str, ...], None] = field(default_factory=dict)
    tags: list[dict[str, str]] = field(default_factory=list)
    times: list[int] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)


class MetricRows:
    """Rows of (metric, tags, time, value) collected item by item, then built into batches.

    ``line`` is the 1-based item (or line) a row came from; one item may give several rows.
    Tag names are checked once per distinct set of names, so a body of similar items pays
    for the check once.
    """

    def __init__(self, *, max_errors: int = DEFAULT_MAX_ERRORS) -> None:
        self._tables: dict[str, _TableRows] = {}
        self._verdicts: dict[tuple[str, ...], str | None] = {}
        self._max_errors = max_errors
        self.errors: list[ParseError] = []
        self.rejected = 0

    def reject(self, line: int, reason: str, expected: str = "", got: str = "", column: int = 0) -> None:
        """Count item ``line`` as rejected, keeping its error while under the cap."""
        self.rejected += 1
        if len(self.errors) < self._max_errors:
            self.errors.append(ParseError(reason, line=line, column=column, expected=expected, got=got))

    def check_names(self, metric: str, tags: dict[str, str]) -> str | None:
        """Why the metric or these tag names cannot be a table and its columns, or ``None``."""
        names = (metric, *tags)
        verdict = self._verdicts.get(names, _UNCHECKED)
        if verdict is _UNCHECKED:
            verdict = self._verdicts[names] = _check_names(metric, names[1:])
        assert verdict is None or isinstance(verdict, str)
        return verdict

    def add(self, line: int, table: str, tags: dict[str, str], time_ns: int, value: float) -> None:
        """Append one row; the caller has checked every argument (see :meth:`check_names`)."""
        rows = self._tables.get(table)
        if rows is None:
            rows = self._tables[table] = _TableRows()
        rows.key_sets[tuple(tags)] = None
        rows.tags.append(tags)
        rows.times.append(time_ns)
        rows.values.append(value)
        rows.lines.append(line)

    def result(self, items: int) -> MetricsResult:
        batches = [_build(table, rows) for table, rows in self._tables.items()]
        return MetricsResult(batches=batches, errors=self.errors, items=items, rejected=self.rejected)


def _check_names(metric: str, names: tuple[str, ...]) -> str | None:
    """Heron's rule for names (:mod:`heron.core.identifiers`), and the table's own columns."""
    problem = name_problem(metric)
    if problem is not None:
        return f"metric {show(metric)} {problem}"
    lowered: dict[str, str] = {}
    for name in names:
        if not name:
            return "empty tag name"
        problem = name_problem(name)
        if problem is not None:
            return f"tag name {show(name)} {problem}"
        low = name.lower()
        if low in _RESERVED_KEYS:
            return f"'{name}' cannot be a tag name: every table has its own '{low}' column"
        if low in lowered:
            return f"tag names '{lowered[low]}' and '{name}' differ only in case"
        lowered[low] = name
    return None


def _build(table: str, rows: _TableRows) -> Batch:
    """Columns for one table; tag names that differ only in case share the first spelling."""
    spellings: dict[str, list[str]] = {}
    for names in rows.key_sets:
        for name in names:
            same = spellings.setdefault(name.lower(), [])
            if name not in same:
                same.append(name)
    tags: dict[str, pa.Array] = {}
    for same in spellings.values():
        if len(same) == 1:
            key = same[0]
            column: list[str | None] = [t.get(key) for t in rows.tags]
        else:
            column = [next((t[s] for s in same if s in t), None) for t in rows.tags]
        tags[same[0]] = pa.array(column, pa.string())
    return Batch(
        table=table,
        time=pa.array(rows.times, pa.int64()),
        tags=tags,
        fields={"value": pa.array(rows.values, pa.float64())},
        lines=pa.array(rows.lines, pa.int32()),
    )


# --- pieces the JSON formats share ------------------------------------------------------------


def load_json(body: bytes) -> Any:
    """The body as JSON, or a :class:`ParseError` naming where it stops being JSON."""
    if not body.strip():
        raise ParseError("empty body", expected="JSON", got="no content")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ParseError(f"malformed JSON: {exc.msg}", line=exc.lineno, column=exc.colno) from None


def json_items(body: bytes) -> list[Any]:
    """A body holding one JSON object or an array of them, as a list of items."""
    doc = load_json(body)
    if isinstance(doc, list):
        return doc
    if isinstance(doc, dict):
        return [doc]
    raise ParseError("expected a JSON object or an array of objects", got=json_kind(doc))


def parse_number(value: object) -> float | str:
    """A sample given as a JSON number or a numeric string, or the reason it is not one."""
    kind = type(value)
    if kind is float or kind is int:
        try:
            number = float(value)  # type: ignore[arg-type]
        except OverflowError:
            return "value out of range"
    elif kind is str:
        assert isinstance(value, str)
        if not _NUMBER_TEXT.fullmatch(value):
            return "value is not a number"
        number = float(value)
    else:
        return "value is not a number"
    return number if math.isfinite(number) else "value out of range"


def n9e_time_ns(stamp: object, now_ns: int) -> int | str:
    """Nightingale's timestamp rules in nanoseconds, or the reason the stamp is invalid.

    Missing means now; seconds, or milliseconds above 0xFFFFFFFF (a float keeps its
    fraction); more than five minutes ahead of ``now_ns`` means now.
    """
    if stamp is None:
        return now_ns
    kind = type(stamp)
    if kind is not int and kind is not float:
        return "timestamp must be a number"
    assert isinstance(stamp, (int, float))
    if not stamp > 0:
        return "timestamp must be positive"
    scale = 1_000_000 if stamp > _SECONDS_LIMIT else 1_000_000_000
    if kind is float:
        if stamp * scale > now_ns + MAX_FUTURE_NS:  # also catches infinity before int() fails
            return now_ns
        nanos = float_to_units(stamp, scale)
    else:
        nanos = int(stamp) * scale
    return now_ns if nanos > now_ns + MAX_FUTURE_NS else nanos


def float_to_units(stamp: float, scale: int) -> int:
    """``stamp * scale`` as an integer, exact in the whole part (a float times 1e9 is not)."""
    whole = int(stamp)
    return whole * scale + round((stamp - whole) * scale)


def json_kind(value: object) -> str:
    """What kind of JSON value ``value`` is, for messages ("a string", "null", ...)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


def _tag_text(value: object) -> str | None:
    """A JSON scalar as tag text: strings as they are, numbers and booleans as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, (bool, int, float)):
        return orjson.dumps(value).decode()
    return None


def clean_tags(tags: dict[str, Any]) -> dict[str, str] | str:
    """Nightingale-style tags: scalars as text, empty values dropped; or why they are invalid."""
    out: dict[str, str] = {}
    for key, value in tags.items():
        text = _tag_text(value)
        if text is None:
            return f"tag '{key}' must be a string, got {json_kind(value)}"
        if text:
            out[key] = text
    return out


def take_metric_value_time(
    rows: MetricRows, line: int, item: dict[str, Any], now_ns: int
) -> tuple[str, float, int] | None:
    """The ``metric``, ``value`` and ``timestamp`` every Nightingale item carries, or None
    after rejecting the item with the reason (OpenTSDB JSON and Open-Falcon share this)."""
    metric = item.get("metric")
    if type(metric) is not str or not metric:
        rows.reject(line, "metric is blank" if metric in (None, "") else "metric must be a string")
        return None
    value = parse_number(item.get("value"))
    if isinstance(value, str):
        rows.reject(line, value, "a number or a numeric string", short_repr(item.get("value")))
        return None
    time_ns = n9e_time_ns(item.get("timestamp"), now_ns)
    if isinstance(time_ns, str):
        rows.reject(line, time_ns, "Unix seconds or milliseconds", short_repr(item.get("timestamp")))
        return None
    return metric, value, time_ns


# --- Nightingale / OpenTSDB JSON --------------------------------------------------------------


def parse_opentsdb_json(body: bytes, *, now_ns: int, max_errors: int = DEFAULT_MAX_ERRORS) -> MetricsResult:
    """Nightingale's ``/opentsdb/put``: skip and count invalid items; malformed JSON raises."""
    items = json_items(body)
    rows = MetricRows(max_errors=max_errors)
    for line, item in enumerate(items, start=1):
        if type(item) is not dict:
            rows.reject(line, "expected a data point object", got=json_kind(item))
            continue
        taken = take_metric_value_time(rows, line, item, now_ns)
        if taken is None:
            continue
        metric, value, time_ns = taken
        raw_tags = item.get("tags")
        if raw_tags is None:
            tags: dict[str, str] | str = {}
        elif type(raw_tags) is not dict:
            rows.reject(line, "tags must be an object", got=json_kind(raw_tags))
            continue
        elif all(type(v) is str and v for v in raw_tags.values()):
            tags = raw_tags
        else:
            tags = clean_tags(raw_tags)
        if isinstance(tags, str):
            rows.reject(line, tags)
            continue
        if "host" in tags and "ident" not in tags:
            tags = {("ident" if k == "host" else k): v for k, v in tags.items()}
        problem = rows.check_names(metric, tags)
        if problem is not None:
            rows.reject(line, problem)
            continue
        rows.add(line, metric, tags, time_ns, value)
    return rows.result(len(items))


# --- CnosDB JSON ------------------------------------------------------------------------------


def parse_cnosdb_json(body: bytes, *, precision_nanos: int = 1, max_errors: int = DEFAULT_MAX_ERRORS) -> MetricsResult:
    """CnosDB's ``/api/v1/opentsdb/put``: every field required, timestamps in ``precision``."""
    items = json_items(body)
    rows = MetricRows(max_errors=max_errors)
    for line, item in enumerate(items, start=1):
        if type(item) is not dict:
            rows.reject(line, "expected a data point object", got=json_kind(item))
            continue
        missing = [k for k in ("metric", "timestamp", "value", "tags") if k not in item]
        if missing:
            name = missing[0]
            rows.reject(line, f"missing field '{name}'", "metric, timestamp, value and tags", f"no '{name}'")
            continue
        metric, stamp, raw_value, tags = item["metric"], item["timestamp"], item["value"], item["tags"]
        if type(metric) is not str or not metric:
            rows.reject(line, "metric must be a non-empty string", got=short_repr(metric))
            continue
        if type(stamp) is not int:
            rows.reject(line, "timestamp must be an integer", got=short_repr(stamp))
            continue
        time_ns = stamp * precision_nanos
        if not _INT64_MIN <= time_ns <= _INT64_MAX:
            rows.reject(line, "timestamp out of range", "a time between the years 1677 and 2262", short_repr(stamp))
            continue
        value = parse_number(raw_value) if type(raw_value) is not str else "value must be a JSON number"
        if isinstance(value, str):
            rows.reject(line, value, "a JSON number", short_repr(raw_value))
            continue
        if type(tags) is not dict:
            rows.reject(line, "tags must be an object", got=json_kind(tags))
            continue
        bad = next((k for k, v in tags.items() if type(v) is not str), None)
        if bad is not None:
            rows.reject(line, f"tag '{bad}' must be a string", got=json_kind(tags[bad]))
            continue
        problem = rows.check_names(metric, tags)
        if problem is not None:
            rows.reject(line, problem)
            continue
        rows.add(line, metric, tags, time_ns, value)
    return rows.result(len(items))


# --- CnosDB text lines ------------------------------------------------------------------------


def parse_opentsdb_lines(
    body: bytes, *, precision_nanos: int = 1, max_errors: int = DEFAULT_MAX_ERRORS
) -> MetricsResult:
    """CnosDB's ``/api/v1/opentsdb/write``: one ``<metric> <timestamp> <value> k=v ...`` per line."""
    rows = MetricRows(max_errors=max_errors)
    items = 0
    for line, raw in enumerate(body.split(b"\n"), start=1):
        stripped = raw.strip(b" \t\r")
        if not stripped or stripped.startswith(b"#"):
            continue
        items += 1
        try:
            text = raw.rstrip(b"\r").decode()
        except UnicodeDecodeError as exc:
            rows.reject(line, "invalid UTF-8", "UTF-8 text", f"byte 0x{raw[exc.start]:02x}", exc.start + 1)
            continue
        _parse_text_line(rows, line, text, precision_nanos)
    return rows.result(items)


def _parse_text_line(rows: MetricRows, line: int, text: str, precision_nanos: int) -> None:
    tokens = [(m.group(), m.start()) for m in _TOKEN.finditer(text)]
    if tokens and tokens[0][0] == "put":
        tokens = tokens[1:]
    if len(tokens) < 3:
        where = _column(text, len(text))
        rows.reject(line, "incomplete line", "<metric> <timestamp> <value> [tag=value ...]", "end of line", where)
        return
    (metric, _), (stamp, stamp_at), (number, number_at) = tokens[:3]
    if not _INT_TEXT.fullmatch(stamp):
        rows.reject(line, "invalid timestamp", "an integer", repr(stamp), _column(text, stamp_at))
        return
    time_ns = int(stamp) * precision_nanos
    if not _INT64_MIN <= time_ns <= _INT64_MAX:
        expected = "a time between the years 1677 and 2262"
        rows.reject(line, "timestamp out of range", expected, repr(stamp), _column(text, stamp_at))
        return
    value = parse_number(number)
    if isinstance(value, str):
        rows.reject(line, value, "a finite decimal number", repr(number), _column(text, number_at))
        return
    tags: dict[str, str] = {}
    for token, at in tokens[3:]:
        for pair in token.split(","):
            key, sep, tag_value = pair.partition("=")
            if not sep or not key or not tag_value or "=" in tag_value:
                rows.reject(line, "invalid tag", "tag=value", repr(pair), _column(text, at))
                return
            tags[key] = tag_value
    problem = rows.check_names(metric, tags)
    if problem is not None:
        rows.reject(line, problem, column=_column(text, tokens[3][1]) if len(tokens) > 3 else 0)
        return
    rows.add(line, metric, tags, time_ns, value)


def _column(text: str, index: int) -> int:
    """1-based byte column of character ``index``."""
    return index + 1 if text.isascii() else len(text[:index].encode()) + 1


def short_repr(value: object) -> str:
    """A value as an error message quotes it: its JSON (or Python) text, cut at 60 characters."""
    text = orjson.dumps(value).decode() if not isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
