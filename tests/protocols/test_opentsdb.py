"""OpenTSDB: Nightingale's JSON put, CnosDB's JSON put and text lines, from the seeds' examples."""

from __future__ import annotations

from typing import Any

import orjson
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from heron.core.errors import ParseError
from heron.protocols.opentsdb import (
    MAX_FUTURE_NS,
    MetricsResult,
    parse_cnosdb_json,
    parse_opentsdb_json,
    parse_opentsdb_lines,
)
from tests.strategies import METRIC_NOW_S, cnosdb_points, json_values, opentsdb_items

NOW = METRIC_NOW_S * 1_000_000_000
SEC = 1_000_000_000

Row = tuple[str, int, int, dict[str, str], float]


def rows(result: MetricsResult) -> list[Row]:
    """Every accepted row as (table, item, time, tags, value), in item order."""
    out = []
    for batch in result.batches:
        assert batch.time.type == pa.int64() and batch.lines is not None and batch.lines.type == pa.int32()
        assert list(batch.fields) == ["value"] and batch.fields["value"].type == pa.float64()
        assert all(col.type == pa.string() for col in batch.tags.values())
        tags = {k: v.to_pylist() for k, v in batch.tags.items()}
        values = batch.fields["value"].to_pylist()
        for i, (line, time) in enumerate(zip(batch.lines.to_pylist(), batch.time.to_pylist(), strict=True)):
            out.append((batch.table, line, time, {k: v[i] for k, v in tags.items() if v[i] is not None}, values[i]))
    return sorted(out, key=lambda r: r[1])


def errors(result: MetricsResult) -> list[tuple[int, str]]:
    return [(e.line, e.reason) for e in result.errors]


def n9e(body: Any) -> MetricsResult:
    return parse_opentsdb_json(body if isinstance(body, bytes) else orjson.dumps(body), now_ns=NOW)


# The seed's two examples (Nightingale, "Push Example"), exactly as the document shows them.
SEED_ARRAY = b"""[
\t{
\t\t"metric": "cpu_usage_idle",
\t\t"timestamp": 1637732157,
\t\t"tags": {
\t\t\t"cpu": "cpu-total",
\t\t\t"ident": "c3-ceph01.bj"
\t\t},
\t\t"value": 30.5
\t},
\t{
\t\t"metric": "cpu_usage_util",
\t\t"timestamp": 1637732157,
\t\t"tags": {
\t\t\t"cpu": "cpu-total",
\t\t\t"ident": "c3-ceph01.bj"
\t\t},
\t\t"value": 69.5
\t}
]"""
SEED_OBJECT = b"""{
  "metric": "cpu_usage_idle",
  "timestamp": 1637732157,
  "tags": {
    "cpu": "cpu-total",
    "ident": "c3-ceph01.bj"
  },
  "value": 30.5
}"""
SEED_TAGS = {"cpu": "cpu-total", "ident": "c3-ceph01.bj"}


def test_the_seed_array_gives_one_table_per_metric() -> None:
    result = n9e(SEED_ARRAY)
    assert (result.items, result.rejected) == (2, 0)
    assert [b.table for b in result.batches] == ["cpu_usage_idle", "cpu_usage_util"]
    assert rows(result) == [
        ("cpu_usage_idle", 1, 1637732157 * SEC, SEED_TAGS, 30.5),
        ("cpu_usage_util", 2, 1637732157 * SEC, SEED_TAGS, 69.5),
    ]


@pytest.mark.parametrize("prefix", [b"", b" \n\t "])
def test_the_seed_object_is_one_item_even_after_blank_space(prefix: bytes) -> None:
    assert rows(n9e(prefix + SEED_OBJECT)) == [("cpu_usage_idle", 1, 1637732157 * SEC, SEED_TAGS, 30.5)]


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ({"host": "web01", "dc": "lga"}, {"ident": "web01", "dc": "lga"}),
        ({"host": "web01", "ident": "i-1"}, {"host": "web01", "ident": "i-1"}),
        ({"dc": "lga", "n": 3, "ok": True, "empty": ""}, {"dc": "lga", "n": "3", "ok": "true"}),
        (None, {}),
    ],
)
def test_host_becomes_ident_and_scalar_tags_become_text(tags: Any, expected: dict[str, str]) -> None:
    result = n9e({"metric": "m", "timestamp": 1, "value": 1, "tags": tags})
    assert rows(result)[0][3] == expected


@pytest.mark.parametrize(
    ("stamp", "expected"),
    [
        (1637732157, 1637732157 * SEC),
        (0xFFFFFFFF, NOW),  # seconds, but in 2106
        (0xFFFFFFFF + 1, (0xFFFFFFFF + 1) * 1_000_000),
        (1637732157123, 1637732157123 * 1_000_000),
        (1637732157.25, 1637732157250000000),
        (None, NOW),
        (METRIC_NOW_S + 300, NOW + MAX_FUTURE_NS),
        (METRIC_NOW_S + 301, NOW),
        ((METRIC_NOW_S + 3600) * 1000, NOW),
        (2**63, NOW),
    ],
)
def test_timestamps_are_seconds_or_milliseconds_and_never_far_ahead(stamp: Any, expected: int) -> None:
    item: dict[str, Any] = {"metric": "m", "value": 1}
    if stamp is not None:
        item["timestamp"] = stamp
    assert rows(n9e(item))[0][2] == expected


@pytest.mark.parametrize(
    ("value", "expected"), [(1, 1.0), (-2.5, -2.5), ("42", 42.0), ("-1.5e3", -1500.0), (".5", 0.5)]
)
def test_values_are_numbers_or_numeric_strings(value: Any, expected: float) -> None:
    assert rows(n9e({"metric": "m", "timestamp": 1, "value": value}))[0][4] == expected


@pytest.mark.parametrize(
    ("item", "reason"),
    [
        # the item itself
        (3, "expected a data point object"),
        ({"timestamp": 1, "value": 1}, "metric is blank"),
        ({"metric": "", "timestamp": 1, "value": 1}, "metric is blank"),
        ({"metric": 5, "timestamp": 1, "value": 1}, "metric must be a string"),
        # values
        ({"metric": "m", "timestamp": 1}, "value is not a number"),
        ({"metric": "m", "timestamp": 1, "value": True}, "value is not a number"),
        ({"metric": "m", "timestamp": 1, "value": "abc"}, "value is not a number"),
        ({"metric": "m", "timestamp": 1, "value": "NaN"}, "value is not a number"),
        ({"metric": "m", "timestamp": 1, "value": " 1"}, "value is not a number"),
        ({"metric": "m", "timestamp": 1, "value": "1" * 400}, "value out of range"),
        # timestamps
        ({"metric": "m", "timestamp": 0, "value": 1}, "timestamp must be positive"),
        ({"metric": "m", "timestamp": -5, "value": 1}, "timestamp must be positive"),
        ({"metric": "m", "timestamp": "1637732157", "value": 1}, "timestamp must be a number"),
        # tags
        ({"metric": "m", "value": 1, "tags": ["a"]}, "tags must be an object"),
        ({"metric": "m", "value": 1, "tags": {"a": {"b": 1}}}, "tag 'a' must be a string, got an object"),
        ({"metric": "m", "value": 1, "tags": {"": "x"}}, "empty tag name"),
        ({"metric": "m", "value": 1, "tags": {"Value": "x"}}, "'Value' cannot be a tag name"),
        ({"metric": "m", "value": 1, "tags": {"time": "x"}}, "'time' cannot be a tag name"),
        ({"metric": "m", "value": 1, "tags": {"dc": "a", "DC": "b"}}, "tag names 'dc' and 'DC' differ only in case"),
    ],
)
def test_an_invalid_item_is_skipped_and_counted_with_its_number(item: Any, reason: str) -> None:
    good = {"metric": "m", "timestamp": 1, "value": 1}
    result = n9e([good, item, good])
    assert (result.items, result.rejected) == (3, 1)
    assert [r[1] for r in rows(result)] == [1, 3]
    assert len(result.errors) == 1 and result.errors[0].line == 2
    assert result.errors[0].reason.startswith(reason)


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (b"[{", (1, 3)),
        (b'{"metric": "m",\n "value": }', (2, 11)),
        (b"\xff", (1, 1)),
    ],
)
def test_malformed_json_rejects_the_body_and_says_where(body: bytes, where: tuple[int, int]) -> None:
    with pytest.raises(ParseError) as info:
        n9e(body)
    assert (info.value.line, info.value.column) == where
    assert info.value.reason.startswith("malformed JSON")


@pytest.mark.parametrize("body", [b"", b"  \n", b"3", b'"x"', b"null"])
def test_a_body_that_is_not_an_object_or_array_is_rejected(body: bytes) -> None:
    with pytest.raises(ParseError):
        n9e(body)


def test_errors_are_capped_but_every_rejection_is_counted() -> None:
    result = parse_opentsdb_json(orjson.dumps([{"metric": ""}] * 250), now_ns=NOW, max_errors=10)
    assert (result.items, result.rejected, len(result.errors)) == (250, 250, 10)
    assert result.batches == []


def test_tag_names_that_differ_only_in_case_share_a_column_across_items() -> None:
    result = n9e([{"metric": "m", "value": 1, "tags": {"DC": "a"}}, {"metric": "m", "value": 2, "tags": {"dc": "b"}}])
    assert list(result.batches[0].tags) == ["DC"]
    assert result.batches[0].tags["DC"].to_pylist() == ["a", "b"]


# --- CnosDB JSON --------------------------------------------------------------------------------


def test_cnosdb_json_reads_timestamps_in_the_request_precision() -> None:
    body = orjson.dumps({"metric": "sys.cpu.nice", "timestamp": 1346846400, "value": 18, "tags": {"host": "web01"}})
    result = parse_cnosdb_json(body, precision_nanos=SEC)
    assert rows(result) == [("sys.cpu.nice", 1, 1346846400 * SEC, {"host": "web01"}, 18.0)]


@pytest.mark.parametrize(
    ("item", "reason"),
    [
        ({"metric": "m", "timestamp": 1, "value": 1}, "missing field 'tags'"),
        ({"metric": "m", "value": 1, "tags": {}}, "missing field 'timestamp'"),
        ({"metric": "m", "timestamp": 1, "value": "1", "tags": {}}, "value must be a JSON number"),
        ({"metric": "m", "timestamp": 1.5, "value": 1, "tags": {}}, "timestamp must be an integer"),
        ({"metric": "m", "timestamp": 2**62, "value": 1, "tags": {}}, "timestamp out of range"),
        ({"metric": "m", "timestamp": 1, "value": 1, "tags": {"a": 1}}, "tag 'a' must be a string"),
        ({"metric": "", "timestamp": 1, "value": 1, "tags": {}}, "metric must be a non-empty string"),
    ],
)
def test_cnosdb_json_rejects_what_its_schema_does_not_allow(item: Any, reason: str) -> None:
    result = parse_cnosdb_json(orjson.dumps([item]), precision_nanos=1000)
    assert result.rejected == 1 and result.errors[0].reason.startswith(reason)


# --- CnosDB text lines --------------------------------------------------------------------------


def test_the_cnosdb_seed_line_is_one_point_in_nanoseconds() -> None:
    result = parse_opentsdb_lines(b"sys.if.bytes.out 1666165200290401000 1 host=web01 interface=eth0")
    assert rows(result) == [("sys.if.bytes.out", 1, 1666165200290401000, {"host": "web01", "interface": "eth0"}, 1.0)]


def test_text_lines_take_put_commas_comments_blank_lines_and_crlf() -> None:
    body = b"# a comment\r\n\r\nput m 1 2 a=b,c=d\r\nm\t2\t3.5  e=f \r\n"
    result = parse_opentsdb_lines(body, precision_nanos=SEC)
    assert rows(result) == [("m", 3, SEC, {"a": "b", "c": "d"}, 2.0), ("m", 4, 2 * SEC, {"e": "f"}, 3.5)]


@pytest.mark.parametrize(
    ("line", "column", "reason"),
    [
        (b"m 1", 4, "incomplete line"),
        (b"m x 1 a=b", 3, "invalid timestamp"),
        (b"m 1.5 1 a=b", 3, "invalid timestamp"),
        (b"m 99999999999999999999 1 a=b", 3, "timestamp out of range"),
        (b"m 1 one a=b", 5, "value is not a number"),
        (b"m 1 nan a=b", 5, "value is not a number"),
        (b"m 1 1e999 a=b", 5, "value out of range"),
        (b"m 1 1 a", 7, "invalid tag"),
        (b"m 1 1 a=b c=", 11, "invalid tag"),
        (b"m 1 1 a=b=c", 7, "invalid tag"),
        (b"m 1 1 =b", 7, "invalid tag"),
        (b"m 1 1 value=3", 7, "'value' cannot be a tag name"),
        (b"\xc3\xa9 1 1 a=\xff", 10, "invalid UTF-8"),
        ("é x 1".encode(), 4, "invalid timestamp"),
    ],
)
def test_a_bad_text_line_is_rejected_with_its_line_and_column(line: bytes, column: int, reason: str) -> None:
    result = parse_opentsdb_lines(b"m 1 1 a=b\n" + line)
    assert (result.items, result.rejected) == (2, 1)
    err = result.errors[0]
    assert (err.line, err.column) == (2, column) and err.reason.startswith(reason), err


# --- properties ---------------------------------------------------------------------------------


def expected_n9e_rows(items: list[dict[str, Any]]) -> list[Row]:
    """Nightingale's rules, written out plainly: the model the parser must agree with."""
    out = []
    for n, item in enumerate(items, start=1):
        stamp = item.get("timestamp")
        time = NOW if stamp is None else stamp * (1_000_000 if stamp > 0xFFFFFFFF else SEC)
        tags = dict(item["tags"])
        if "host" in tags and "ident" not in tags:
            tags = {("ident" if k == "host" else k): v for k, v in tags.items()}
        out.append((item["metric"], n, time, tags, float(item["value"])))
    return out


@given(opentsdb_items())
def test_nightingale_items_round_trip(items: list[dict[str, Any]]) -> None:
    result = n9e(orjson.dumps(items))
    assert (result.items, result.rejected) == (len(items), 0)
    assert rows(result) == expected_n9e_rows(items)


@given(cnosdb_points())
def test_cnosdb_json_round_trips(points: list[tuple[str, int, float, dict[str, str]]]) -> None:
    body = orjson.dumps([{"metric": m, "timestamp": t, "value": v, "tags": tags} for m, t, v, tags in points])
    result = parse_cnosdb_json(body)
    assert result.rejected == 0
    assert rows(result) == [(m, n, t, tags, v) for n, (m, t, v, tags) in enumerate(points, start=1)]


@given(cnosdb_points(words=True), st.sampled_from(["\n", "\r\n"]))
def test_text_lines_round_trip(points: list[tuple[str, int, float, dict[str, str]]], newline: str) -> None:
    lines = [" ".join([m, str(t), repr(v), *(f"{k}={x}" for k, x in tags.items())]) for m, t, v, tags in points]
    result = parse_opentsdb_lines(newline.join(lines).encode())
    assert (result.items, result.rejected) == (len(points), 0)
    assert rows(result) == [(m, n, t, tags, v) for n, (m, t, v, tags) in enumerate(points, start=1)]


@given(st.binary() | json_values().map(orjson.dumps))
def test_any_bytes_give_batches_or_a_parse_error(body: bytes) -> None:
    for parse in (n9e, parse_cnosdb_json, parse_opentsdb_lines):
        try:
            result = parse(body)
        except ParseError:
            continue
        assert result.rows + result.rejected == result.items
        assert all(isinstance(e, ParseError) and e.line >= 1 for e in result.errors)
