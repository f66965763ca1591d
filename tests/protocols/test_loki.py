"""Loki push bodies: protobuf + snappy built with Heron's generated classes, label syntax, bounds."""

from __future__ import annotations

import contextlib
from typing import Any

import cramjam
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from heron.core.errors import ParseError, PayloadTooLarge
from heron.protocols._pb import loki_push_pb2 as pb
from heron.protocols.logs import LogsResult
from heron.protocols.loki import parse_label_set, parse_loki_protobuf, parse_loki_push, snappy_declared_length
from tests.strategies import LokiStream, encode_loki_json, encode_loki_protobuf, label_set_text, loki_streams


def rows(result: LogsResult) -> list[dict[str, Any]]:
    if not result.batches:
        return []
    (batch,) = result.batches
    table = pa.table({"time": batch.time, **batch.tags, **batch.fields})
    return [{k: v for k, v in row.items() if v is not None} for row in table.to_pylist()]


def snappy(message: Any) -> bytes:
    return bytes(cramjam.snappy.compress_raw(message.SerializeToString()))


def test_a_protobuf_push_makes_one_row_per_entry_with_labels_and_metadata() -> None:
    request = pb.PushRequest()
    stream = request.streams.add(labels='{job="varlogs", host="web01", "k8s.pod"="api-1"}')
    first = stream.entries.add(line="GET / 200")
    first.timestamp.seconds, first.timestamp.nanos = 1_700_000_000, 123
    first.structuredMetadata.add(name="trace_id", value="0242ac120002")
    second = stream.entries.add(line="GET /x 404")
    second.timestamp.seconds = 1_700_000_001
    result = parse_loki_push(snappy(request), content_type="application/x-protobuf", table="logs")
    assert result.errors == []
    assert rows(result) == [
        {
            "time": 1_700_000_000_000_000_123,
            "trace_id": "0242ac120002",
            "job": "varlogs",
            "host": "web01",
            "k8s.pod": "api-1",
            "line": "GET / 200",
        },
        {
            "time": 1_700_000_001_000_000_000,
            "job": "varlogs",
            "host": "web01",
            "k8s.pod": "api-1",
            "line": "GET /x 404",
        },
    ]
    (batch,) = result.batches
    assert set(batch.tags) == {"trace_id", "job", "host", "k8s.pod"} and list(batch.fields) == ["line"]


def test_a_stream_with_bad_labels_is_rejected_alone() -> None:
    request = pb.PushRequest()
    request.streams.add(labels="{job=unquoted}").entries.add(line="x")
    request.streams.add(labels='{job="ok"}').entries.add(line="y")
    result = parse_loki_protobuf(snappy(request), table="logs")
    assert [r["line"] for r in rows(result)] == ["y"]
    assert result.rejected == 1 and "stream 1" in result.errors[0].reason


@pytest.mark.parametrize(
    ("text", "labels"),
    [
        ("", {}),
        ("{}", {}),
        ('{a="b"}', {"a": "b"}),
        ('{ a = "b" , c="d", }', {"a": "b", "c": "d"}),
        ('{a="q\\"uote\\\\back\\nline"}', {"a": 'q"uote\\back\nline'}),
        ('{"service.name"="x"}', {"service.name": "x"}),
    ],
)
def test_label_sets_in_prometheus_syntax(text: str, labels: dict[str, str]) -> None:
    assert parse_label_set(text) == labels


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('a="b"', "labels must be in braces"),
        ('{a="b"', "labels must end with '}'"),
        ('{a="b"} x', "labels must end with '}'"),
        ('{a="b" c="d"}', "separated by commas"),
        ("{a}", "has no value"),
        ("{a=b}", "must be quoted"),
        ('{a="\\z"}', "unknown escape"),
        ('{1a="b"}', "expected a label name"),
        ('{a="b}', "must be quoted"),
    ],
)
def test_malformed_label_sets(text: str, reason: str) -> None:
    with pytest.raises(ParseError) as info:
        parse_label_set(text)
    assert reason in info.value.reason


def test_the_declared_length_is_checked_before_decompressing() -> None:
    big = bytes(cramjam.snappy.compress_raw(b"\x00" * (2 << 20)))
    assert snappy_declared_length(big) == 2 << 20
    with pytest.raises(PayloadTooLarge):
        parse_loki_protobuf(big, table="t", max_uncompressed_bytes=1 << 20)
    liar = bytes([0x80, 0x80, 0x80, 0x80, 0x01]) + b"\x00" * 8  # 13 bytes announcing 256 MiB
    assert snappy_declared_length(liar) == 1 << 28
    with pytest.raises(ParseError, match="impossible for its size"):
        parse_loki_protobuf(liar, table="t", max_uncompressed_bytes=1 << 30)


@pytest.mark.parametrize(
    "body",
    [b"", b"\xff\xff\xff\xff\xff\xff", b'{"streams": []}', bytes(cramjam.snappy.compress_raw(b"\x0a\x05abc"))],
)
def test_a_body_that_is_not_snappy_protobuf_fails_whole(body: bytes) -> None:
    with pytest.raises(ParseError):
        parse_loki_protobuf(body, table="t")


def test_content_type_chooses_json_as_loki_does() -> None:
    body = b'{"streams": [{"stream": {"a": "b"}, "values": [["1", "x"]]}]}'
    assert len(rows(parse_loki_push(body, content_type="application/json; charset=utf-8", table="t"))) == 1
    with pytest.raises(ParseError, match="snappy"):
        parse_loki_push(body, content_type=None, table="t")


# --- properties -----------------------------------------------------------------------------


def _expected(streams: list[LokiStream]) -> list[dict[str, Any]]:
    return [{"time": t, **meta, **s.labels, "line": line} for s in streams for t, line, meta in s.entries]


@given(loki_streams())
def test_both_encodings_round_trip_to_the_same_rows(streams: list[LokiStream]) -> None:
    from_json = parse_loki_push(encode_loki_json(streams), content_type="application/json", table="t")
    from_protobuf = parse_loki_push(encode_loki_protobuf(streams), content_type="application/x-protobuf", table="t")
    assert from_json.errors == [] and from_protobuf.errors == []
    assert rows(from_json) == rows(from_protobuf) == _expected(streams)


@given(st.dictionaries(st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_]{0,5}", fullmatch=True), st.text(max_size=8)))
def test_label_sets_round_trip(labels: dict[str, str]) -> None:
    assert parse_label_set(label_set_text(labels)) == labels


@given(st.binary(max_size=300))
def test_any_bytes_give_rows_or_parse_errors_only(body: bytes) -> None:
    for content_type in ("application/x-protobuf", "application/json"):
        with contextlib.suppress(ParseError):
            parse_loki_push(body, content_type=content_type, table="t")
    with contextlib.suppress(ParseError):
        parse_loki_protobuf(bytes(cramjam.snappy.compress_raw(body)), table="t")


@given(st.text(max_size=30))
def test_any_label_text_parses_or_fails_cleanly(text: str) -> None:
    with contextlib.suppress(ParseError):
        parse_label_set(text)
