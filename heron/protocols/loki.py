"""Loki's push API: ``POST /loki/api/v1/push`` bodies in JSON and in snappy-compressed protobuf.

Spec: https://grafana.com/docs/loki/latest/reference/loki-http-api/#ingest-logs. JSON::

    {"streams": [{"stream": {"label": "value"},
                  "values": [["<unix ns as a string>", "<line>", {"meta": "value"}], ...]}]}

Protobuf: a ``logproto.PushRequest`` (see ``_pb/loki_push.proto``) compressed with snappy's
block format (https://github.com/google/snappy/blob/main/format_description.txt), whose
stream labels are one string in Prometheus syntax::

    {job="app", instance="host:9100", "dotted.name"="v"}     value escapes: \\\\ \\" \\n \\t \\r

Loki's content-type rule: ``application/json`` is JSON; anything else, or nothing, is protobuf.
Both make the same rows, one per entry, with :class:`heron.protocols.logs.LogRows` naming
rules: stream labels and structured metadata as tags (a metadata key that is also a stream
label keeps the label's value), the text in the field ``line``, the entry's timestamp as the
time. Labels named ``line`` or ``time`` are stored as ``_line`` and ``_time``. Metadata are
tags rather than fields so that one name is never a tag in one push and a field in another.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import cramjam
from google.protobuf.message import DecodeError

from heron.core.errors import ParseError, PayloadTooLarge
from heron.protocols._pb import loki_push_pb2
from heron.protocols.logs import (
    DEFAULT_MAX_ERRORS,
    LogRows,
    LogsResult,
    decode_json,
    json_kind,
    logs_result,
    parse_time_text,
)

__all__ = ["parse_label_set", "parse_loki_json", "parse_loki_protobuf", "parse_loki_push", "snappy_declared_length"]

#: Default bound on a decompressed protobuf body (the API passes its own body limit).
DEFAULT_MAX_UNCOMPRESSED_BYTES = 64 * 1024 * 1024
# Snappy expands at most ~21x (a 3-byte copy of 64 bytes); a larger declared size is corrupt
# and is refused before anything is allocated.
_MAX_SNAPPY_RATIO = 24

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_DIGITS = re.compile(r"-?\d{1,20}")
#: The field that holds an entry's text.
LINE_FIELD = "line"
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"', re.S)
_ESCAPES = {"\\": "\\", '"': '"', "n": "\n", "t": "\t", "r": "\r", "'": "'"}
_ESCAPE = re.compile(r"\\(.)", re.S)


def is_json_content_type(content_type: str | None) -> bool:
    """Loki's rule: JSON only when the client says so."""
    return (content_type or "").split(";", 1)[0].strip().lower() == "application/json"


def parse_loki_push(
    body: bytes,
    *,
    content_type: str | None,
    table: str,
    max_uncompressed_bytes: int = DEFAULT_MAX_UNCOMPRESSED_BYTES,
    max_errors: int = DEFAULT_MAX_ERRORS,
) -> LogsResult:
    """A push body in the encoding its Content-Type names."""
    if is_json_content_type(content_type):
        return parse_loki_json(body, table=table, max_errors=max_errors)
    return parse_loki_protobuf(body, table=table, max_uncompressed_bytes=max_uncompressed_bytes, max_errors=max_errors)


def snappy_declared_length(raw: bytes) -> int:
    """The uncompressed length a snappy block announces in its varint preamble."""
    value = shift = 0
    for i, byte in enumerate(raw[:5]):
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            if value > 0xFFFFFFFF:
                break
            return value
        shift += 7
        if i == 4:
            break
    raise ParseError(
        "the body is not snappy-compressed protobuf",
        expected="a snappy block (send Content-Type: application/json for JSON)",
        got="a malformed length preamble",
    )


def _unsnappy(raw: bytes, max_bytes: int) -> bytes:
    declared = snappy_declared_length(raw)
    if declared > _MAX_SNAPPY_RATIO * len(raw) + 64:
        raise ParseError("the body is not valid snappy: its declared length is impossible for its size")
    if declared > max_bytes:
        raise PayloadTooLarge(f"the decompressed body of {declared} bytes exceeds the limit of {max_bytes} bytes")
    try:
        out = bytes(cramjam.snappy.decompress_raw(raw))
    except cramjam.DecompressionError as exc:
        raise ParseError(
            f"the body is not valid snappy: {exc}", expected="a snappy block (or Content-Type: application/json)"
        ) from exc
    if len(out) != declared:
        raise ParseError("the body is not valid snappy: its length differs from the declared length")
    return out


def parse_loki_protobuf(
    body: bytes,
    *,
    table: str,
    max_uncompressed_bytes: int = DEFAULT_MAX_UNCOMPRESSED_BYTES,
    max_errors: int = DEFAULT_MAX_ERRORS,
) -> LogsResult:
    """A snappy-compressed ``PushRequest``; a stream whose labels do not parse is rejected alone.

    Raises :class:`ParseError` for a body that is not snappy or not the message, and
    :class:`PayloadTooLarge` when it announces more than ``max_uncompressed_bytes``.
    """
    data = _unsnappy(body, max_uncompressed_bytes)
    try:
        request = loki_push_pb2.PushRequest.FromString(data)
    except DecodeError as exc:
        raise ParseError(f"the body is not a Loki PushRequest: {exc}", expected="logproto.PushRequest") from exc
    rows = LogRows(table)
    errors: list[ParseError] = []
    ordinal = 0
    for number, stream in enumerate(request.streams, start=1):
        try:
            labels = parse_label_set(stream.labels)
        except ParseError as exc:
            ordinal += 1
            errors.append(ParseError(f"stream {number}: {exc.reason}", line=ordinal, column=exc.column))
            ordinal += max(len(stream.entries) - 1, 0)
            continue
        for entry in stream.entries:
            ordinal += 1
            ts = entry.timestamp
            time_ns = ts.seconds * 1_000_000_000 + ts.nanos
            if not _INT64_MIN <= time_ns <= _INT64_MAX:
                errors.append(ParseError("the entry's timestamp is out of range", line=ordinal))
                continue
            metadata = {pair.name: pair.value for pair in entry.structuredMetadata}
            error = loki_row(rows, time_ns=time_ns, ordinal=ordinal, labels=labels, metadata=metadata, line=entry.line)
            if error is not None:
                errors.append(error)
    return logs_result(rows, errors, max_errors)


def parse_label_set(text: str) -> dict[str, str]:
    """``{a="b", "c.d"="e"}`` as a dict; an empty string or ``{}`` is no labels."""
    s = text.strip()
    if not s:
        return {}
    if not s.startswith("{"):
        raise ParseError("labels must be in braces", column=1, expected="'{'", got=repr(s[:1]))
    labels: dict[str, str] = {}
    i = _skip_space(s, 1)
    while i < len(s) and s[i] != "}":
        if labels:
            if s[i] != ",":
                raise ParseError("labels are separated by commas", column=i + 1, expected="','", got=repr(s[i]))
            i = _skip_space(s, i + 1)
            if i < len(s) and s[i] == "}":
                break
        name, i = _label_name(s, i)
        i = _skip_space(s, i)
        if i >= len(s) or s[i] != "=":
            raise ParseError(f"label '{name}' has no value", column=i + 1, expected="'='", got=_got(s, i))
        i = _skip_space(s, i + 1)
        m = _QUOTED.match(s, i)
        if m is None:
            raise ParseError(
                f"the value of label '{name}' must be quoted", column=i + 1, expected="'\"'", got=_got(s, i)
            )
        labels[name] = _unescape(m[1], i)
        i = _skip_space(s, m.end())
    if i >= len(s) or s[i] != "}" or s[i + 1 :].strip():
        raise ParseError("labels must end with '}'", column=i + 1, expected="'}'", got=_got(s, i))
    return labels


def _skip_space(s: str, i: int) -> int:
    while i < len(s) and s[i].isspace():
        i += 1
    return i


def _label_name(s: str, i: int) -> tuple[str, int]:
    m = _NAME.match(s, i)
    if m is not None:
        return m[0], m.end()
    q = _QUOTED.match(s, i)
    if q is not None and q[1]:
        return _unescape(q[1], i), q.end()
    raise ParseError("expected a label name", column=i + 1, expected="a name or a quoted name", got=_got(s, i))


def _unescape(text: str, at: int) -> str:
    if "\\" not in text:
        return text

    def one(m: re.Match[str]) -> str:
        replacement = _ESCAPES.get(m[1])
        if replacement is None:
            raise ParseError("unknown escape in a label", column=at + m.start() + 2, got=repr(m[0]))
        return replacement

    return _ESCAPE.sub(one, text)


def _got(s: str, i: int) -> str:
    return repr(s[i]) if i < len(s) else "end of labels"


# --- JSON ------------------------------------------------------------------------------


def loki_row(
    rows: LogRows, *, time_ns: int, ordinal: int, labels: Mapping[str, str], metadata: Mapping[str, str], line: str
) -> ParseError | None:
    """Add one Loki entry: labels, then metadata not shadowed by a label, as tags; the text as ``line``."""
    values: dict[str, tuple[str, Any]] = {}
    for key, value in metadata.items():
        values[_loki_name(key)] = ("tag", value)
    for key, value in labels.items():
        values[_loki_name(key)] = ("tag", value)
    values[LINE_FIELD] = ("string", line)
    return rows.add(time_ns, ordinal, values)


def _loki_name(key: str) -> str:
    lower = key.lower()
    return f"_{key}" if lower in ("time", LINE_FIELD) else key


def loki_timestamp(value: Any) -> int | None:
    """A Loki entry's time: nanoseconds as a digit string (or number), or RFC 3339 text."""
    if isinstance(value, str):
        if _DIGITS.fullmatch(value):
            nanos = int(value)
            return nanos if _INT64_MIN <= nanos <= _INT64_MAX else None
        return parse_time_text(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value if _INT64_MIN <= value <= _INT64_MAX else None
    return None


def _string_map(value: Any) -> dict[str, str] | None:
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        return None
    return value


def parse_loki_json(body: bytes, *, table: str, max_errors: int = DEFAULT_MAX_ERRORS) -> LogsResult:
    """Loki's JSON push body; an entry that cannot be stored is rejected alone.

    A body that is not ``{"streams": [...]}`` raises :class:`ParseError`. Errors name the
    entry by its 1-based position in the body (as ``line``), since the JSON may be one line.
    """
    doc = decode_json(body, 1)
    streams = doc.get("streams") if isinstance(doc, dict) else None
    if not isinstance(streams, list):
        raise ParseError("a Loki push body is an object with a 'streams' array", expected='{"streams": [...]}')
    rows = LogRows(table)
    errors: list[ParseError] = []
    ordinal = 0
    for number, stream in enumerate(streams, start=1):
        labels = _string_map(stream.get("stream", {})) if isinstance(stream, dict) else None
        values = stream.get("values") if isinstance(stream, dict) else None
        if labels is None or not isinstance(values, list):
            ordinal += 1
            errors.append(
                ParseError(
                    f"stream {number} is malformed",
                    line=ordinal,
                    expected='{"stream": {"label": "value"}, "values": [["<ns>", "<line>"]]}',
                    got=json_kind(stream),
                )
            )
            continue
        for entry in values:
            ordinal += 1
            error = _loki_entry(rows, entry, ordinal, labels)
            if error is not None:
                errors.append(error)
    return logs_result(rows, errors, max_errors)


def _loki_entry(rows: LogRows, entry: Any, ordinal: int, labels: dict[str, str]) -> ParseError | None:
    if not isinstance(entry, list) or len(entry) not in (2, 3):
        return ParseError(
            "a Loki entry is [timestamp, line] or [timestamp, line, metadata]", line=ordinal, got=json_kind(entry)
        )
    time_ns = loki_timestamp(entry[0])
    if time_ns is None:
        return ParseError("cannot read the entry's timestamp", line=ordinal, expected="nanoseconds as a string")
    if not isinstance(entry[1], str):
        return ParseError("the log line must be a string", line=ordinal, got=json_kind(entry[1]))
    metadata = _string_map(entry[2]) if len(entry) == 3 else {}
    if metadata is None:
        return ParseError("structured metadata must map names to strings", line=ordinal, got=json_kind(entry[2]))
    return loki_row(rows, time_ns=time_ns, ordinal=ordinal, labels=labels, metadata=metadata, line=entry[1])
