"""Hypothesis strategies for the wire formats, and encoders that write them.

Line protocol: :func:`point_lists` draws points whose tables have a consistent schema (a key
is always a tag or always a field of one type), with names and values that need escaping;
:func:`encode_points` writes them as a body that must parse back to the same points.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from hypothesis import strategies as st

#: Field kinds as Heron names them (``heron.core.batch.FIELD_TYPE_NAMES``).
FIELD_KINDS = ("float", "integer", "unsigned", "string", "boolean")

# Letters, digits, the separators and quote and backslash, some non-ASCII, and a control
# character that Arrow might treat as blank. No newline (it ends a line), no tab (skipped
# at the start of a line), no \r (dropped at the end of a line).
_NAME_ALPHABET = st.sampled_from([*"abcxyz019_-.", ",", "=", " ", '"', "\\", "#", "é", "日", "\x0b", "\x00"])
# A backslash followed by an escapable character, by another backslash or by nothing has
# no spelling in line protocol: "\\," reads back as a literal "\\" and then a separator.
_UNSPELLABLE = re.compile(r"\\([,= \\]|$)")


def _spellable(text: str) -> bool:
    return not _UNSPELLABLE.search(text)


def names(*, min_size: int = 1, max_size: int = 8) -> st.SearchStrategy[str]:
    """Tag values that line protocol can spell (control characters included)."""
    return st.text(_NAME_ALPHABET, min_size=min_size, max_size=max_size).filter(_spellable)


def _identifiers() -> st.SearchStrategy[str]:
    """Names a column or table may have (heron.core.identifiers): no control characters."""
    return names().filter(lambda name: "\x00" not in name and "\x0b" not in name)


def measurements() -> st.SearchStrategy[str]:
    """Names that do not start a comment (``#``) when they begin a line."""
    return _identifiers().filter(lambda name: not name.startswith("#"))


def keys() -> st.SearchStrategy[str]:
    return _identifiers().filter(lambda name: name != "time")


def field_values(kind: str) -> st.SearchStrategy[object]:
    """Values of one field kind, across its whole range."""
    if kind == "float":
        return st.floats(allow_nan=False, allow_infinity=False)
    if kind == "integer":
        return st.integers(-(2**63), 2**63 - 1)
    if kind == "unsigned":
        return st.integers(0, 2**64 - 1)
    if kind == "string":
        return st.text(st.characters(codec="utf-8", exclude_characters="\n"), max_size=12)
    return st.booleans()


@dataclass(frozen=True)
class Point:
    """One point as a test expects to read it back; ``time`` None means "now"."""

    table: str
    tags: dict[str, str]
    fields: dict[str, tuple[str, object]]  # key -> (kind, value)
    time: int | None = None
    spellings: dict[str, str] = field(default_factory=dict, compare=False)  # key -> raw value text


@st.composite
def point_lists(draw: st.DrawFn, *, max_tables: int = 3, max_points: int = 12) -> list[Point]:
    """Points of a few tables; each table's keys keep one role and one type throughout."""
    tables = draw(st.lists(measurements(), min_size=1, max_size=max_tables, unique=True))
    schemas = {}
    for table in tables:
        all_keys = draw(st.lists(keys(), min_size=1, max_size=5, unique_by=str.lower))
        n_tags = draw(st.integers(0, len(all_keys) - 1))
        kinds = {key: draw(st.sampled_from(FIELD_KINDS)) for key in all_keys[n_tags:]}
        schemas[table] = (all_keys[:n_tags], kinds)
    points = []
    for _ in range(draw(st.integers(1, max_points))):
        table = draw(st.sampled_from(tables))
        tag_keys, kinds = schemas[table]
        tags = {key: draw(names()) for key in tag_keys if draw(st.booleans())}
        chosen = [key for key in kinds if draw(st.booleans())] or [next(iter(kinds))]
        fields = {key: (kinds[key], draw(field_values(kinds[key]))) for key in chosen}
        spellings = {key: _spell(draw, kind, value) for key, (kind, value) in fields.items()}
        time = draw(st.none() | st.integers(-(2**63), 2**63 - 1))
        points.append(Point(table, tags, fields, time, spellings))
    return points


def _spell(draw: st.DrawFn, kind: str, value: object) -> str:
    """One of the ways line protocol may write ``value``."""
    if kind == "boolean":
        words = ("t", "T", "true", "True", "TRUE") if value else ("f", "F", "false", "False", "FALSE")
        return draw(st.sampled_from(words))
    if kind == "float":
        assert isinstance(value, float) and math.isfinite(value)
        spellings = [repr(value)]
        if value.is_integer() and abs(value) < 1e15:
            spellings += [str(int(value)), f"{int(value)}."]
        return draw(st.sampled_from(spellings))
    return encode_value(kind, value)


def escape(text: str, special: str) -> str:
    """Backslash every character of ``special`` in ``text``."""
    return "".join("\\" + c if c in special else c for c in text)


def encode_value(kind: str, value: object) -> str:
    if kind == "float":
        return repr(value)
    if kind == "integer":
        return f"{value}i"
    if kind == "unsigned":
        return f"{value}u"
    if kind == "string":
        assert isinstance(value, str)
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return "true" if value else "false"


def encode_point(point: Point) -> str:
    """One line of line protocol, without its newline."""
    line = escape(point.table, ", ")
    for key, text in point.tags.items():
        line += f",{escape(key, ',= ')}={escape(text, ',= ')}"
    values = []
    for key, (kind, value) in point.fields.items():
        values.append(f"{escape(key, ',= ')}={point.spellings.get(key) or encode_value(kind, value)}")
    line += " " + ",".join(values)
    if point.time is not None:
        line += f" {point.time}"
    return line


def encode_points(points: list[Point], *, newline: str = "\n") -> bytes:
    """A body with one line per point, in order."""
    return newline.join(encode_point(p) for p in points).encode()


#: Bytes that exercise line protocol's corners, for bodies that are almost line protocol.
LP_ALPHABET = b'ab =,"\\\n\r\t#.-+01eiux9TtF'


def lp_like_bodies() -> st.SearchStrategy[bytes]:
    """Short bodies made of line protocol's own characters: mostly invalid, in odd ways."""
    return st.lists(st.sampled_from([bytes([c]) for c in LP_ALPHABET] + [b"m v=1", b" 123", b"\xff"])).map(b"".join)


# Tokens for lines the vectorised path takes (no quotes, backslashes or tabs), including
# values that Arrow's parsers accept but line protocol does not ("+1", "nan", "0x3i", ...).
_PLAIN_NAMES = st.sampled_from(["m", "n", "a", "b", "time", "é", "x\x0b", "", "0x1", "t"])
_PLAIN_VALUES = st.sampled_from(
    [
        *("1", "1.5", "-2", ".5", "1.", "+1", "nan", "inf", "1e999", "1e+5", "0", "00", "-0", "x", "", "١"),
        *("3i", "-3i", "+3i", "0x3i", "99999999999999999999i", "3u", "-3u", "18446744073709551616u"),
        *("t", "TRUE", "tRue", "\x0b1", "1\x0b", "1\x00"),
    ]
)
_PLAIN_TIMES = st.sampled_from(
    ["", " 1", " -1", " 0x10", " +1", " 99999999999999999999", " 9223372036854775807", " ", "  5", " 1 2", " 1\x0b"]
)


@st.composite
def plain_lines(draw: st.DrawFn) -> str:
    """One line of only the tokens above: valid or not, always without quotes or escapes."""
    tags = "".join(f",{draw(_PLAIN_NAMES)}={draw(_PLAIN_NAMES)}" for _ in range(draw(st.integers(0, 2))))
    fields = ",".join(f"{draw(_PLAIN_NAMES)}={draw(_PLAIN_VALUES)}" for _ in range(draw(st.integers(1, 3))))
    return f"{draw(_PLAIN_NAMES)}{tags} {fields}{draw(_PLAIN_TIMES)}"


@st.composite
def plain_bodies(draw: st.DrawFn) -> bytes:
    """Mostly one repeated line, as real bodies are, with a few other lines mixed in."""
    template = draw(plain_lines())
    lines = [template] * draw(st.integers(1, 30))
    for _ in range(draw(st.integers(0, 4))):
        lines.insert(draw(st.integers(0, len(lines))), draw(plain_lines()))
    return ("\n".join(lines) + draw(st.sampled_from(["", "\n"]))).encode()


# --- Metric-style pushes: OpenTSDB, Open-Falcon, Datadog ------------------------------------------
#
# Each strategy draws valid items as the client sends them (dicts ready for JSON, or text lines);
# the protocol tests derive the rows they expect from the items with the format's own rules.

#: The server's clock in the metric tests (Unix seconds): timestamps are drawn before it.
METRIC_NOW_S = 1_700_000_000

_RESERVED_TAGS = frozenset({"time", "value", "host", "ident"})
_JSON_TEXT = st.text(st.characters(codec="utf-8"), min_size=1, max_size=10)
#: Metric and tag names: no control characters (heron.core.identifiers); values may hold them.
_NAME_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")), min_size=1, max_size=10)
# Text lines split on spaces and tabs, and tags on "," and "=": keep those out of names.
_WORD_TEXT = st.text(
    st.characters(codec="utf-8", exclude_characters=" \t\r\n,=", exclude_categories=("Cc", "Cs")),
    min_size=1,
    max_size=10,
)


def metric_values() -> st.SearchStrategy[float]:
    return st.floats(allow_nan=False, allow_infinity=False)


def tag_name_pools(names: st.SearchStrategy[str] = _NAME_TEXT) -> st.SearchStrategy[list[str]]:
    """Tag names of one body: none reserved, none equal to another but for case."""
    plain = names.filter(lambda n: n.lower() not in _RESERVED_TAGS and n.lower() == n.lower().strip())
    return st.lists(plain, max_size=4, unique_by=str.lower)


@st.composite
def tag_sets(draw: st.DrawFn, pool: list[str], values: st.SearchStrategy[str] = _JSON_TEXT) -> dict[str, str]:
    return {name: draw(values) for name in pool if draw(st.booleans())}


@st.composite
def n9e_timestamps(draw: st.DrawFn) -> int | None:
    """None (means now), Unix seconds, or milliseconds, never ahead of METRIC_NOW_S."""
    return draw(st.none() | st.integers(1, METRIC_NOW_S) | st.integers(0xFFFFFFFF + 1, METRIC_NOW_S * 1000))


@st.composite
def opentsdb_items(draw: st.DrawFn) -> list[dict[str, object]]:
    """Nightingale/OpenTSDB data points: values as numbers or numeric strings, host or ident."""
    pool = draw(tag_name_pools()) + draw(st.sampled_from([[], ["host"], ["ident"], ["host", "ident"]]))
    items = []
    for _ in range(draw(st.integers(0, 8))):
        value = draw(metric_values())
        item: dict[str, object] = {
            "metric": draw(_NAME_TEXT),
            "value": draw(st.sampled_from([value, repr(value)])),
            "tags": draw(tag_sets(pool)),
        }
        stamp = draw(n9e_timestamps())
        if stamp is not None:
            item["timestamp"] = stamp
        items.append(item)
    return items


@st.composite
def cnosdb_points(draw: st.DrawFn, *, words: bool = False) -> list[tuple[str, int, float, dict[str, str]]]:
    """(metric, timestamp in ns, value, tags) for CnosDB's JSON, or its text lines with ``words``."""
    names = _WORD_TEXT if words else _NAME_TEXT
    metrics = names.filter(lambda n: n != "put" and not n.startswith("#")) if words else names
    pool = draw(tag_name_pools(names))
    return [
        (draw(metrics), draw(st.integers(-(2**63), 2**63 - 1)), draw(metric_values()), draw(tag_sets(pool, names)))
        for _ in range(draw(st.integers(0, 8)))
    ]


_FALCON_TEXT = _NAME_TEXT.filter(lambda n: n == n.strip() and "," not in n and "=" not in n)


@st.composite
def openfalcon_items(draw: st.DrawFn) -> list[dict[str, object]]:
    """Open-Falcon metrics with an endpoint or not, and tags as "k=v,k2=v2" (maybe with ident)."""
    pool = draw(tag_name_pools(_FALCON_TEXT)) + draw(st.sampled_from([[], ["ident"]]))
    items = []
    for _ in range(draw(st.integers(0, 8))):
        tags = draw(tag_sets(pool, _FALCON_TEXT))
        item: dict[str, object] = {
            "metric": draw(_NAME_TEXT),
            "value": draw(metric_values()),
            "step": 60,
            "counterType": draw(st.sampled_from(["GAUGE", "COUNTER"])),
            "tags": ",".join(f"{k}={v}" for k, v in tags.items()),
        }
        endpoint = draw(st.none() | _JSON_TEXT)
        if endpoint is not None:
            item["endpoint"] = endpoint
        stamp = draw(n9e_timestamps())
        if stamp is not None:
            item["timestamp"] = stamp
        items.append(item)
    return items


@st.composite
def datadog_series(draw: st.DrawFn, *, version: int) -> list[dict[str, object]]:
    """Datadog series (v1 or v2 JSON) with a host or not, tags as "key:value"."""
    names = _NAME_TEXT.filter(lambda n: ":" not in n)
    pool = draw(tag_name_pools(names))
    series = []
    for _ in range(draw(st.integers(1, 6))):
        tags = draw(tag_sets(pool))
        stamps = st.integers(1, METRIC_NOW_S) | st.floats(1, METRIC_NOW_S)
        points = [(draw(stamps), draw(metric_values())) for _ in range(draw(st.integers(0, 4)))]
        host = draw(st.none() | _JSON_TEXT)
        item: dict[str, object] = {"metric": draw(_NAME_TEXT), "tags": [f"{k}:{v}" for k, v in tags.items()]}
        if version == 1:
            item.update(points=[[t, v] for t, v in points], type="gauge", interval=10)
            if host is not None:
                item["host"] = host
        else:
            item.update(points=[{"timestamp": t, "value": v} for t, v in points], type=3)
            if host is not None:
                item["resources"] = [{"type": "host", "name": host}]
        series.append(item)
    return series


def json_values() -> st.SearchStrategy[object]:
    """Any JSON document, for bodies that are JSON but not the expected shape."""
    scalars = st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | metric_values() | _JSON_TEXT
    keys = st.sampled_from(["metric", "timestamp", "value", "tags", "series", "points", "host", "endpoint", "x"])
    return st.recursive(
        scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=5), max_leaves=20
    )


# --- Logs and traces: ES bulk, NDJSON, Loki, OTLP -------------------------------------------------
#
# Log documents come with the rows they must become (see heron/protocols/logs.py for the rules):
# keys never differ only by case, never contain "." and are never "time", so each flattened name
# is one column; each key keeps one kind, so no document is rejected.

#: The server's clock in the log tests (ns); documents without a time get it.
LOG_NOW_NS = 1_700_000_000_123_456_789

_LOG_KEY = st.text(st.sampled_from([*"abcxyzABé日_-@ 0"]), min_size=1, max_size=6).filter(
    lambda k: k.lower() not in ("time", "_time") and k.lower() == k.lower().strip()
)
_LOG_TEXT = st.text(st.characters(codec="utf-8"), max_size=12)
_LOG_KINDS = ("string", "float", "integer", "boolean", "array", "tag")


def _log_value(kind: str) -> st.SearchStrategy[object]:
    if kind in ("string", "tag"):
        return _LOG_TEXT if kind == "string" else _LOG_TEXT | st.integers(-(2**53), 2**53) | st.booleans()
    if kind == "float":
        return st.floats(allow_nan=False, allow_infinity=False)
    if kind == "integer":
        return st.integers(-(2**63), 2**63 - 1)
    if kind == "boolean":
        return st.booleans()
    return st.lists(st.integers(-100, 100) | _LOG_TEXT, max_size=3)


def _expected_value(kind: str, value: object) -> object:
    """What the parser stores for ``value`` (tags as text, numbers as float, arrays as JSON text)."""
    import orjson

    if kind == "tag":
        return value if isinstance(value, str) else orjson.dumps(value).decode()
    if kind in ("float", "integer"):
        assert isinstance(value, int | float)
        return float(value)
    if kind == "array":
        return orjson.dumps(value).decode()
    return value


@dataclass(frozen=True)
class LogCase:
    """Documents as a client sends them, and the rows (non-null columns) they must become."""

    docs: list[dict[str, object]]
    rows: list[dict[str, object]]
    times: list[int]
    tag_columns: list[str]
    time_column: str | None


@st.composite
def log_cases(draw: st.DrawFn) -> LogCase:
    """Flat and nested documents with a consistent schema, a time column or none."""
    top = draw(st.lists(_LOG_KEY, min_size=1, max_size=5, unique_by=str.lower))
    leaves: dict[tuple[str, ...], str] = {}
    for key in top:
        if draw(st.integers(0, 3)) == 0:
            for child in draw(st.lists(_LOG_KEY, min_size=1, max_size=3, unique_by=str.lower)):
                leaves[(key, child)] = draw(st.sampled_from(_LOG_KINDS))
        else:
            leaves[(key,)] = draw(st.sampled_from(_LOG_KINDS))
    time_column = draw(st.sampled_from([None, "ts", "meta.at"]))
    tag_columns = [".".join(path) for path, kind in leaves.items() if kind == "tag"]
    docs, rows, times = [], [], []
    for _ in range(draw(st.integers(1, 8))):
        doc: dict[str, object] = {}
        row: dict[str, object] = {}
        for path, kind in leaves.items():
            if not draw(st.booleans()):
                continue
            value = draw(st.none() | _log_value(kind)) if draw(st.booleans()) else draw(_log_value(kind))
            target = doc
            for part in path[:-1]:
                target = target.setdefault(part, {})  # type: ignore[assignment]
            target[path[-1]] = value
            if value is not None:
                row[".".join(path)] = _expected_value(kind, value)
        stamp = LOG_NOW_NS
        if draw(st.booleans()):
            stamp = draw(st.integers(10**17, 4 * 10**18))
            spelled = draw(st.sampled_from(["int", "rfc3339"]))
            value = stamp if spelled == "int" else _rfc3339(stamp)
            key = time_column or draw(st.sampled_from(["time", "@timestamp"]))
            if key == "meta.at":
                doc.setdefault("meta", {})["at"] = value  # type: ignore[index]
            else:
                doc[key] = value
        docs.append(doc)
        rows.append(row)
        times.append(stamp)
    return LogCase(docs, rows, times, tag_columns, time_column)


def _rfc3339(nanos: int) -> str:
    import datetime as dt

    seconds, frac = divmod(nanos, 10**9)
    moment = dt.datetime.fromtimestamp(seconds, tz=dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{frac:09d}Z"


def encode_ndjson(docs: list[dict[str, object]]) -> bytes:
    import orjson

    return b"\n".join(orjson.dumps(d) for d in docs) + b"\n"


@st.composite
def bulk_bodies(draw: st.DrawFn, docs: list[dict[str, object]]) -> tuple[bytes, list[tuple[str, str | None]]]:
    """An ES bulk body for ``docs`` (create or index, maybe with _index/_id), and each (action, _id)."""
    import orjson

    lines, actions = [], []
    for doc in docs:
        action = draw(st.sampled_from(["create", "index"]))
        meta: dict[str, object] = {}
        if draw(st.booleans()):
            meta["_index"] = draw(st.sampled_from(["logs", "app-2024.03.27"]))
        ident = draw(st.none() | st.text("abc123", min_size=1, max_size=6))
        if ident is not None:
            meta["_id"] = ident
        lines += [orjson.dumps({action: meta}), orjson.dumps(doc)]
        actions.append((action, ident))
    return b"\n".join(lines) + b"\n", actions


# Loki: label and metadata names are identifiers, all distinct but for case, never "line"/"time".
_LOKI_NAME = st.from_regex(r"[a-z_][a-z0-9_]{0,6}", fullmatch=True).filter(lambda n: n not in ("line", "time"))


@dataclass(frozen=True)
class LokiStream:
    labels: dict[str, str]
    entries: list[tuple[int, str, dict[str, str]]]  # (ns, line, structured metadata)


@st.composite
def loki_streams(draw: st.DrawFn) -> list[LokiStream]:
    names = draw(st.lists(_LOKI_NAME, max_size=6, unique=True))
    half = len(names) // 2
    label_names, meta_names = names[:half], names[half:]
    streams = []
    for _ in range(draw(st.integers(0, 3))):
        labels = {n: draw(_LOG_TEXT) for n in label_names if draw(st.booleans())}
        entries = [
            (
                draw(st.integers(0, 2**63 - 1)),
                draw(_LOG_TEXT),
                {n: draw(_LOG_TEXT) for n in meta_names if draw(st.booleans())},
            )
            for _ in range(draw(st.integers(0, 4)))
        ]
        streams.append(LokiStream(labels, entries))
    return streams


def label_set_text(labels: dict[str, str]) -> str:
    """Prometheus label syntax, as Loki clients write a stream's labels."""

    def quote(text: str) -> str:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'

    return "{" + ", ".join(f"{name}={quote(value)}" for name, value in labels.items()) + "}"


def encode_loki_json(streams: list[LokiStream]) -> bytes:
    import orjson

    return orjson.dumps(
        {
            "streams": [
                {
                    "stream": s.labels,
                    "values": [[str(t), line, meta] if meta else [str(t), line] for t, line, meta in s.entries],
                }
                for s in streams
            ]
        }
    )


def encode_loki_protobuf(streams: list[LokiStream]) -> bytes:
    """A snappy-compressed ``PushRequest``, built with Heron's generated classes."""
    import cramjam

    from heron.protocols._pb import loki_push_pb2 as pb

    request = pb.PushRequest()
    for s in streams:
        stream = request.streams.add(labels=label_set_text(s.labels))
        for t, line, meta in s.entries:
            entry = stream.entries.add(line=line)
            entry.timestamp.seconds, entry.timestamp.nanos = divmod(t, 10**9)
            for name, value in meta.items():
                entry.structuredMetadata.add(name=name, value=value)
    return bytes(cramjam.snappy.compress_raw(request.SerializeToString()))


# OTLP: spans as the SDK would send them, with random attributes of every AnyValue kind.
_ATTR_KEY = st.text(st.sampled_from([*"abc.xyz_"]), min_size=1, max_size=6)


def _any_values() -> st.SearchStrategy[object]:
    scalars = (
        st.text(max_size=8)
        | st.booleans()
        | st.integers(-(2**63), 2**63 - 1)
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.binary(max_size=4)
    )
    return st.recursive(
        scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_ATTR_KEY, inner, max_size=3), max_leaves=6
    )


def attribute_dicts() -> st.SearchStrategy[dict[str, object]]:
    return st.dictionaries(_ATTR_KEY, _any_values(), max_size=4)


def set_any_value(target: object, value: object) -> None:
    """Fill an OTLP ``AnyValue`` message from a Python value."""
    if isinstance(value, bool):
        target.bool_value = value  # type: ignore[attr-defined]
    elif isinstance(value, int):
        target.int_value = value  # type: ignore[attr-defined]
    elif isinstance(value, float):
        target.double_value = value  # type: ignore[attr-defined]
    elif isinstance(value, str):
        target.string_value = value  # type: ignore[attr-defined]
    elif isinstance(value, bytes):
        target.bytes_value = value  # type: ignore[attr-defined]
    elif isinstance(value, list):
        target.array_value.SetInParent()  # type: ignore[attr-defined]
        for item in value:
            set_any_value(target.array_value.values.add(), item)  # type: ignore[attr-defined]
    else:
        assert isinstance(value, dict)
        target.kvlist_value.SetInParent()  # type: ignore[attr-defined]
        for key, item in value.items():
            kv = target.kvlist_value.values.add(key=key)  # type: ignore[attr-defined]
            set_any_value(kv.value, item)


def plain_attributes(value: object) -> object:
    """What Heron stores for an attribute value (bytes as base64)."""
    import base64

    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, list):
        return [plain_attributes(v) for v in value]
    if isinstance(value, dict):
        return {k: plain_attributes(v) for k, v in value.items()}
    return value


@dataclass(frozen=True)
class SpanCase:
    service: str | None
    scope: tuple[str, str]
    trace_id: bytes
    span_id: bytes
    parent: bytes
    name: str
    kind: int
    start: int
    end: int
    status: tuple[int, str]
    attributes: dict[str, object]


_IDS = {8: st.binary(min_size=8, max_size=8), 16: st.binary(min_size=16, max_size=16)}


@st.composite
def span_cases(draw: st.DrawFn) -> list[SpanCase]:
    spans = []
    for _ in range(draw(st.integers(0, 6))):
        start = draw(st.integers(0, 2**62))
        spans.append(
            SpanCase(
                service=draw(st.none() | st.text(max_size=8)),
                scope=(draw(st.text(max_size=6)), draw(st.text(max_size=6))),
                trace_id=draw(_IDS[16].filter(any)),
                span_id=draw(_IDS[8].filter(any)),
                parent=draw(st.just(b"") | _IDS[8]),
                name=draw(st.text(max_size=10)),
                kind=draw(st.integers(0, 5)),
                start=start,
                end=start + draw(st.integers(0, 10**12)),
                status=(draw(st.integers(0, 2)), draw(st.text(max_size=8))),
                attributes=draw(attribute_dicts()),
            )
        )
    return spans


def traces_request(spans: list[SpanCase]) -> object:
    """An ``ExportTraceServiceRequest`` with one resource per span (so each keeps its service)."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    request = ExportTraceServiceRequest()
    for case in spans:
        resource_spans = request.resource_spans.add()
        if case.service is not None:
            kv = resource_spans.resource.attributes.add(key="service.name")
            kv.value.string_value = case.service
        scope_spans = resource_spans.scope_spans.add()
        scope_spans.scope.name, scope_spans.scope.version = case.scope
        span = scope_spans.spans.add(
            trace_id=case.trace_id,
            span_id=case.span_id,
            parent_span_id=case.parent,
            name=case.name,
            kind=case.kind,  # type: ignore[arg-type]
            start_time_unix_nano=case.start,
            end_time_unix_nano=case.end,
        )
        span.status.code, span.status.message = case.status  # type: ignore[assignment]
        for key, value in case.attributes.items():
            set_any_value(span.attributes.add(key=key).value, value)
    return request


def otlp_json(request: object) -> bytes:
    """OTLP/JSON: the proto3 JSON mapping with hex ids and enums as numbers."""
    import base64

    import orjson
    from google.protobuf import json_format

    doc = json_format.MessageToDict(request, use_integers_for_enums=True)  # type: ignore[arg-type]
    for resource_spans in doc.get("resourceSpans", []):
        for scope_spans in resource_spans.get("scopeSpans", []):
            for span in scope_spans.get("spans", []):
                for key in ("traceId", "spanId", "parentSpanId"):
                    if key in span:
                        span[key] = base64.b64decode(span[key]).hex().upper()
    return orjson.dumps(doc)
