"""ES bulk, NDJSON and Loki JSON bodies: the CnosDB seed's examples, the flattening rules, fuzzing."""

from __future__ import annotations

import contextlib
from typing import Any

import orjson
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from heron.core.batch import Batch
from heron.core.errors import ParseError
from heron.protocols.logs import (
    LogsResult,
    epoch_to_nanos,
    parse_es_bulk,
    parse_ndjson,
    parse_time_text,
)
from heron.protocols.loki import parse_loki_json
from tests.strategies import LOG_NOW_NS, LogCase, bulk_bodies, encode_ndjson, json_values, log_cases

NOW = LOG_NOW_NS


def rows(result: LogsResult) -> list[dict[str, Any]]:
    """Each row's non-null columns, in body order across batches, with the column kinds checked."""
    out: list[tuple[int, dict[str, Any]]] = []
    for batch in result.batches:
        assert batch.time.type == pa.int64() and batch.lines is not None and batch.lines.type == pa.int32()
        assert all(col.type == pa.string() for col in batch.tags.values())
        table = pa.table({"time": batch.time, **batch.tags, **batch.fields})
        for line, row in zip(batch.lines.to_pylist(), table.to_pylist(), strict=True):
            out.append((line, {k: v for k, v in row.items() if v is not None}))
    return [row for _, row in sorted(out, key=lambda pair: pair[0])]


def only(result: LogsResult) -> Batch:
    (batch,) = result.batches
    return batch


def columns(result: LogsResult) -> tuple[list[str], dict[str, str]]:
    batch = only(result)
    return list(batch.tags), {k: str(v.type) for k, v in batch.fields.items()}


# The CnosDB document's three /api/v1/es/_bulk examples, as their curl commands send them.
SEED_BULK = b"""{"create":{}}
{"date":"2024-03-27T02:51:11.687Z", "node_id":"1001", "operator_system":"linux", "msg":"test"}
{"index":{}}
{"date":"2024-03-28T02:51:11.688Z", "node_id":"2001", "operator_system":"linux", "msg":"test"}"""
SEED_LOKI = b"""
{"streams": [{ "stream": { "instance": "host123", "job": "app42" }, "values": [ [ "0", "foo fizzbuzz bar" ] ] }]}"""
SEED_NDJSON = b"""{"date":"2024-03-27T02:51:11.687Z", "node_id":"1001", "operator_system":"linux", "msg":"test"}
{"date":"2024-03-28T02:51:11.688Z", "node_id":"2001", "operator_system":"linux", "msg":"test"}"""
SEED_ROWS = [
    {"time": 1711507871687000000, "node_id": "1001", "operator_system": "linux", "msg": "test"},
    {"time": 1711594271688000000, "node_id": "2001", "operator_system": "linux", "msg": "test"},
]
SEED_OPTIONS: dict[str, Any] = {"table": "t1", "time_column": "date", "tag_columns": ["node_id", "operator_system"]}


def test_the_seed_bulk_example_makes_two_rows_with_tags() -> None:
    result = parse_es_bulk(SEED_BULK, now_ns=NOW, **SEED_OPTIONS)
    assert rows(result) == SEED_ROWS
    assert columns(result) == (["node_id", "operator_system"], {"msg": "string"})
    items = [(i.action, i.line, i.document_line, i.error) for i in result.items]
    assert items == [("create", 1, 2, None), ("index", 3, 4, None)]
    assert only(result).lines.to_pylist() == [2, 4]  # type: ignore[union-attr]


def test_the_seed_ndjson_example_makes_the_same_rows() -> None:
    result = parse_ndjson(SEED_NDJSON, now_ns=NOW, **SEED_OPTIONS)
    assert rows(result) == SEED_ROWS and result.errors == []


def test_the_seed_loki_example_makes_one_row_per_entry() -> None:
    result = parse_loki_json(SEED_LOKI, table="t1")
    assert rows(result) == [{"time": 0, "instance": "host123", "job": "app42", "line": "foo fizzbuzz bar"}]
    assert columns(result) == (["instance", "job"], {"line": "string"})


def test_nested_documents_flatten_and_arrays_become_json_text() -> None:
    doc = {
        "@timestamp": "2024-03-27T02:51:11Z",
        "host": {"name": "web01", "ip": ["10.0.0.1", "10.0.0.2"], "os": {"family": "debian"}},
        "http": {"status": 200, "ok": True, "empty": {}, "none": None},
        "tags": [],
    }
    result = parse_ndjson(orjson.dumps(doc), table="logs", tag_columns=["host.name"], now_ns=NOW)
    assert rows(result) == [
        {
            "time": 1711507871000000000,
            "host.name": "web01",
            "host.ip": '["10.0.0.1","10.0.0.2"]',
            "host.os.family": "debian",
            "http.status": 200.0,
            "http.ok": True,
            "tags": "[]",
        }
    ]
    assert columns(result) == (
        ["host.name"],
        {"host.ip": "string", "host.os.family": "string", "http.status": "double", "http.ok": "bool", "tags": "string"},
    )


def test_tags_take_the_text_of_any_value() -> None:
    body = b'{"a": 1001, "b": true, "c": 1.5, "d": [1], "e": "x"}'
    result = parse_ndjson(body, table="t", tag_columns=["a", "b", "c", "d", "e"], now_ns=NOW)
    assert rows(result) == [{"time": NOW, "a": "1001", "b": "true", "c": "1.5", "d": "[1]", "e": "x"}]


@pytest.mark.parametrize(
    ("doc", "time_column", "expected"),
    [
        ({"time": "2024-03-27T02:51:11.123456789+08:00"}, None, 1711479071123456789),
        ({"@timestamp": "2024-03-27 02:51:11"}, None, 1711507871000000000),
        ({"time": 1711507871}, None, 1711507871000000000),
        ({"time": 1711507871.25}, None, 1711507871250000000),
        ({"time": 1711507871687}, None, 1711507871687000000),
        ({"time": 1711507871687123}, None, 1711507871687123000),
        ({"time": 1711507871687123456}, None, 1711507871687123456),
        ({"time": "1711507871"}, None, 1711507871000000000),
        ({"date": "2024-03-27"}, "date", 1711497600000000000),
        ({"x": 1}, None, NOW),
        ({"time": 5, "@timestamp": "2024-03-27T00:00:00Z"}, None, 5_000_000_000),
    ],
)
def test_the_time_comes_from_rfc3339_or_an_epoch_of_any_unit(
    doc: dict[str, Any], time_column: str | None, expected: int
) -> None:
    result = parse_ndjson(orjson.dumps(doc), table="t", time_column=time_column, now_ns=NOW)
    assert result.errors == []
    assert only(result).time.to_pylist() == [expected]


def test_a_time_key_that_is_not_the_time_column_is_kept_as_underscore_time() -> None:
    result = parse_ndjson(b'{"date": 0, "time": "x", "TIME": 2}', table="t", time_column="date", now_ns=NOW)
    assert result.errors == []
    assert rows(result) == [{"time": 0, "_time": 2.0}]


def test_keys_that_differ_only_in_case_share_the_first_spelling() -> None:
    result = parse_ndjson(b'{"Msg": "a"}\n{"msg": "b"}\n{"MSG": "c", "x": 1}', table="t", now_ns=NOW)
    assert [r.get("Msg") for r in rows(result)] == ["a", "b", "c"]
    assert list(only(result).fields) == ["Msg", "x"]


# Documents rejected alone: each error names its line.
@pytest.mark.parametrize(
    ("body", "line", "reason"),
    [
        (b'{"a": 1, "A": "x"}', 1, "type conflict in column 'a': the document gives it as float field"),
        (b'{"a": 1}\n{"a": ', 2, "invalid JSON"),
        (b'{"a": 1}\n[1, 2]', 2, "a document must be a JSON object"),
        (b'{"time": "yesterday"}', 1, "cannot read 'time' as a time"),
        (b'{"time": true}', 1, "cannot read 'time' as a time"),
        (b'{"time": "2024-13-01T00:00:00Z"}', 1, "cannot read 'time' as a time"),
        (b'{"": 1}', 1, "a key is empty"),
        (b'{"a": ' * 70 + b"1" + b"}" * 70, 1, "nested deeper than 64 levels"),
        (b'\xff{"a": 1}', 1, "invalid JSON"),
    ],
)
def test_a_bad_ndjson_line_is_rejected_alone(body: bytes, line: int, reason: str) -> None:
    result = parse_ndjson(body, table="t", now_ns=NOW)
    assert result.rejected == 1
    assert result.errors[0].line == line and reason in result.errors[0].reason
    assert len(rows(result)) == (1 if line == 2 else 0)


def test_documents_that_disagree_on_a_type_go_to_separate_batches() -> None:
    result = parse_ndjson(b'{"a": 1}\n{"a": "x", "b": true}\n{"a": 2}\n{"b": false}', table="t", now_ns=NOW)
    assert result.errors == []
    assert [(b.lines.to_pylist(), {k: str(v.type) for k, v in b.fields.items()}) for b in result.batches] == [  # type: ignore[union-attr]
        ([1, 3, 4], {"a": "double", "b": "bool"}),
        ([2], {"a": "string", "b": "bool"}),
    ]


def test_a_bad_document_fails_its_bulk_item_only() -> None:
    body = (
        b'{"create":{"_id":"1"}}\n{"a": 1}\n'
        b'{"index":{"_index":"x","_id":7}}\n{"a": "text"}\n'
        b'{"create":{}}\n{"b": tru}\n'
    )
    result = parse_es_bulk(body, table="t", now_ns=NOW)
    assert [(i.action, i.index, i.id, i.document_line, i.error is None) for i in result.items] == [
        ("create", None, "1", 2, True),
        ("index", "x", "7", 4, True),
        ("create", None, None, 6, False),
    ]
    error = result.items[2].error
    assert error is not None and error.line == 6 and "invalid JSON" in error.reason
    assert rows(result) == [{"time": NOW, "a": 1.0}, {"time": NOW, "a": "text"}]
    assert len(result.batches) == 2


def test_delete_and_update_are_refused_per_item_and_keep_the_pairs_in_step() -> None:
    body = b'{"delete":{"_id":"1"}}\n{"update":{"_id":"2"}}\n{"doc":{"a":1}}\n{"index":{}}\n{"a":2}\n'
    result = parse_es_bulk(body, table="t", now_ns=NOW)
    assert [(i.action, i.document_line, i.error is None) for i in result.items] == [
        ("delete", 0, False),
        ("update", 3, False),
        ("index", 5, True),
    ]
    assert all("append-only" in i.error.reason for i in result.items[:2] if i.error is not None)
    assert rows(result) == [{"time": NOW, "a": 2.0}]


# A body that is not a bulk body fails whole, as in Elasticsearch.
@pytest.mark.parametrize(
    ("body", "line", "reason"),
    [
        (b"", 0, "no bulk actions"),
        (b"\n\n", 0, "no bulk actions"),
        (b'{"create":{}}', 1, "has no document on the next line"),
        (b'{"create":{}}\n\n{"a":1}', 1, "has no document on the next line"),
        (b'{"upsert":{}}\n{"a":1}', 1, "unknown bulk action"),
        (b'{"create":{},"index":{}}\n{"a":1}', 1, "malformed action line"),
        (b'{"a":1}\n{"create":{}}', 1, "unknown bulk action"),
        (b'{"create":[]}\n{"a":1}', 1, "must be an object"),
        (b'{"create":{"_index":5}}\n{"a":1}', 1, "'_index' must be a string"),
        (b'{"create":{}}\n{"a":1}\nnot json', 3, "invalid JSON"),
    ],
)
def test_a_malformed_bulk_body_fails_whole(body: bytes, line: int, reason: str) -> None:
    with pytest.raises(ParseError) as info:
        parse_es_bulk(body, table="t", now_ns=NOW)
    assert info.value.line == line and reason in info.value.reason


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"streams": [{"stream": {"a": 1}, "values": [["1", "x"]]}]}', "stream 1 is malformed"),
        (b'{"streams": [{"stream": {}, "values": [["x", "y"]]}]}', "cannot read the entry's timestamp"),
        (b'{"streams": [{"stream": {}, "values": [["1", 2]]}]}', "the log line must be a string"),
        (b'{"streams": [{"stream": {}, "values": [["1"]]}]}', "a Loki entry is"),
        (b'{"streams": [{"stream": {}, "values": [["1", "x", {"k": 1}]]}]}', "structured metadata"),
    ],
)
def test_a_bad_loki_entry_is_rejected_alone(body: bytes, reason: str) -> None:
    result = parse_loki_json(body, table="t")
    assert result.rejected == 1 and reason in result.errors[0].reason


def test_loki_metadata_labels_and_reserved_names() -> None:
    body = orjson.dumps(
        {
            "streams": [
                {
                    "stream": {"job": "a", "line": "l", "time": "t"},
                    "values": [["1", "one", {"trace_id": "abc", "job": "shadowed"}], ["2", "two"]],
                }
            ]
        }
    )
    result = parse_loki_json(body, table="t")
    assert rows(result) == [
        {"time": 1, "trace_id": "abc", "job": "a", "_line": "l", "_time": "t", "line": "one"},
        {"time": 2, "job": "a", "_line": "l", "_time": "t", "line": "two"},
    ]


@pytest.mark.parametrize("body", [b"", b"[]", b'{"streams": {}}', b"{", b'{"other": []}'])
def test_a_loki_body_without_streams_fails_whole(body: bytes) -> None:
    with pytest.raises(ParseError):
        parse_loki_json(body, table="t")


def test_time_helpers() -> None:
    assert parse_time_text("1970-01-01T00:00:00Z") == 0
    assert parse_time_text("1969-12-31T23:59:59.5-00:00") == -500_000_000
    assert parse_time_text("2024-02-30T00:00:00Z") is None
    assert parse_time_text("2024-03-27T24:00:00Z") is None
    assert parse_time_text("99999-01-01T00:00:00Z") is None
    assert epoch_to_nanos(1e30) is None and epoch_to_nanos(-5) == -5_000_000_000


# --- properties -----------------------------------------------------------------------------


def _check(case: LogCase, result: LogsResult) -> None:
    assert result.errors == []
    got = rows(result)
    assert [r.pop("time") for r in got] == case.times
    assert got == case.rows
    assert all(set(b.tags) <= set(case.tag_columns) for b in result.batches)


@given(log_cases())
def test_ndjson_round_trips(case: LogCase) -> None:
    body = encode_ndjson(case.docs)
    _check(case, parse_ndjson(body, table="t", time_column=case.time_column, tag_columns=case.tag_columns, now_ns=NOW))


@given(st.data(), log_cases())
def test_bulk_round_trips(data: st.DataObject, case: LogCase) -> None:
    body, actions = data.draw(bulk_bodies(case.docs))
    result = parse_es_bulk(body, table="t", time_column=case.time_column, tag_columns=case.tag_columns, now_ns=NOW)
    _check(case, result)
    expected = [(a, ident, 2 * n + 2, None) for n, (a, ident) in enumerate(actions)]
    assert [(i.action, i.id, i.document_line, i.error) for i in result.items] == expected


@given(st.binary(max_size=300))
def test_any_bytes_give_rows_or_parse_errors_only(body: bytes) -> None:
    parse_ndjson(body, table="t", tag_columns=["a"], now_ns=NOW)
    for parse in (
        lambda: parse_es_bulk(body, table="t", now_ns=NOW),
        lambda: parse_loki_json(body, table="t"),
    ):
        with contextlib.suppress(ParseError):
            parse()


@given(st.lists(json_values(), max_size=6))
def test_any_json_lines_give_rows_or_parse_errors_only(values: list[object]) -> None:
    body = b"\n".join(orjson.dumps(v) for v in values)
    parse_ndjson(body, table="t", time_column="timestamp", tag_columns=["tags"], now_ns=NOW)
    for parse in (
        lambda: parse_es_bulk(body, table="t", time_column="value", now_ns=NOW),
        lambda: parse_loki_json(orjson.dumps({"streams": values}), table="t"),
    ):
        with contextlib.suppress(ParseError):
            parse()


# --- the vectorised NDJSON reader ----------------------------------------------------------------


def canonical(result: LogsResult) -> dict[str, Any]:
    """Everything a result says, in an order-free form: rows by line (with each column's kind
    and type), errors and counts."""
    table_rows = []
    for batch in result.batches:
        assert batch.lines is not None
        kinds = {**{k: "tag" for k in batch.tags}, **{k: str(v.type) for k, v in batch.fields.items()}}
        table = pa.table({"time": batch.time, **batch.tags, **batch.fields})
        for line, row in zip(batch.lines.to_pylist(), table.to_pylist(), strict=True):
            time_ns = row.pop("time")
            cells = sorted((k, kinds[k], repr(v)) for k, v in row.items() if v is not None)
            table_rows.append((line, time_ns, cells))
    return {
        "rows": sorted(table_rows),
        "errors": [(e.message, e.line, e.column) for e in result.errors],
        "rejected": result.rejected,
    }


def both_readers(body: bytes, **options: Any) -> LogsResult:
    """Parse with and without the vectorised reader; the results must be the same."""
    fast = parse_ndjson(body, table="t", now_ns=NOW, **options)
    slow = parse_ndjson(body, table="t", now_ns=NOW, vectorised=False, **options)
    assert canonical(fast) == canonical(slow)
    return fast


@given(log_cases())
def test_the_vectorised_reader_reads_documents_as_the_loop_does(case: LogCase) -> None:
    both_readers(encode_ndjson(case.docs), time_column=case.time_column, tag_columns=case.tag_columns)


@given(st.lists(json_values(), max_size=6), st.sampled_from([None, "timestamp", "a.b"]))
def test_the_vectorised_reader_agrees_on_any_json_lines(values: list[object], time_column: str | None) -> None:
    both_readers(b"\n".join(orjson.dumps(v) for v in values), time_column=time_column, tag_columns=["tags"])


@given(st.binary(max_size=300))
def test_the_vectorised_reader_agrees_on_any_bytes(body: bytes) -> None:
    both_readers(body, tag_columns=["a"])


@pytest.mark.parametrize(
    "body",
    [
        SEED_NDJSON,
        b'{"@timestamp":"2024-03-27T02:51:11.687Z","host":{"name":"web-1","ip":["10.0.0.1","10.0.0.2"]},"n":3}\n\n'
        b'{"@timestamp":"2024-03-27T02:51:12+02:00","host":{"name":"web-2","ip":[]},"n":4.5,"ok":true}\r\n',
        b'{"time":"2024-02-29 23:59:60,123456789123","level":"warn","codes":[1,-2],"flags":[true]}\n',
    ],
)
def test_regular_bodies_take_the_vectorised_reader(body: bytes) -> None:
    from heron.protocols._logs_fast import read_regular_ndjson

    tags = frozenset({"node_id", "host.name", "level"})
    assert read_regular_ndjson(body, table="t", time_keys=("date", "@timestamp", "time"), tag_columns=tags, now_ns=NOW)
    for time_column in ("date", None):
        both_readers(body, time_column=time_column, tag_columns=list(tags))


@pytest.mark.parametrize(
    "body",
    [
        b'{"a":1}\n{"a":"x"}\n',  # a key changes type: the loop splits the batches
        b'{"a":1,"A":2}\n',  # names differing in case share a column
        b'{"a.b":1,"a":{"b":2}}\n',  # a dotted key meets a nested one
        b'{"time":"2024-02-30T00:00:00Z"}\n',  # no such date: the loop rejects the document
        b'{"time":1700000000}\n',  # an epoch number
        b'{"msg":["a\\"b"]}\n',  # a string JSON escapes inside an array
        b'{"x":"2024-01-01T00:00:00Z"}\n',  # Arrow would read a timestamp
        b"[1,2]\n",
        b'{"a":1}\n{"a":\n',
    ],
)
def test_irregular_bodies_go_to_the_loop_and_read_the_same(body: bytes) -> None:
    from heron.protocols._logs_fast import read_regular_ndjson

    assert read_regular_ndjson(body, table="t", time_keys=("time",), tag_columns=(), now_ns=NOW) is None
    both_readers(body)


@given(
    st.lists(
        st.tuples(
            st.integers(1, 9999),
            st.integers(0, 13),
            st.integers(0, 32),
            st.integers(0, 24),
            st.integers(0, 60),
            st.sampled_from(["", "Z", "z", "+05:30", "-0100", "+24:00", " Z"]),
            st.text("0123456789", max_size=12),
            st.sampled_from(["T", "t", " "]),
        ),
        min_size=1,
        max_size=5,
    )
)
def test_the_vectorised_reader_reads_times_as_the_loop_does(
    stamps: list[tuple[int, int, int, int, int, str, str, str]],
) -> None:
    lines = []
    for year, month, day, hour, second, zone, frac, sep in stamps:
        text = f"{year:04d}-{month:02d}-{day:02d}{sep}{hour:02d}:07:{second:02d}" + (f".{frac}" if frac else "") + zone
        lines.append(orjson.dumps({"time": text, "v": 1}))
    both_readers(b"\n".join(lines))


def both_bulk_readers(body: bytes, **options: Any) -> LogsResult | None:
    """ES bulk with and without the vectorised reader: the same rows, items and errors (or
    the same refusal of the whole body)."""
    outcomes = []
    for vectorised in (True, False):
        try:
            result = parse_es_bulk(body, table="t", now_ns=NOW, vectorised=vectorised, **options)
        except ParseError as exc:
            outcomes.append(("refused", exc.message, exc.line))
            continue
        items = [(i.action, i.index, i.id, i.line, i.document_line, i.error and i.error.message) for i in result.items]
        outcomes.append(("read", canonical(result), items))
    assert outcomes[0] == outcomes[1]
    return None


@given(st.data(), log_cases())
def test_the_vectorised_bulk_reader_reads_pairs_as_the_loop_does(data: st.DataObject, case: LogCase) -> None:
    body, _ = data.draw(bulk_bodies(case.docs))
    both_bulk_readers(body, time_column=case.time_column, tag_columns=case.tag_columns)


@given(st.lists(json_values(), max_size=6))
def test_the_vectorised_bulk_reader_agrees_on_any_json_lines(values: list[object]) -> None:
    both_bulk_readers(b"\n".join(orjson.dumps(v) for v in values), time_column="value")


@given(st.binary(max_size=300))
def test_the_vectorised_bulk_reader_agrees_on_any_bytes(body: bytes) -> None:
    both_bulk_readers(body)


def test_a_regular_bulk_body_takes_the_vectorised_reader() -> None:
    from heron.protocols import logs

    fast = logs._bulk_regular(
        SEED_BULK.split(b"\n"), {}, table="t1", keys=("date",), tags=frozenset({"node_id"}), now_ns=NOW
    )
    assert fast is not None and fast.batches[0].lines is not None
    assert fast.batches[0].lines.to_pylist() == [2, 4]
    both_bulk_readers(SEED_BULK, time_column="date", tag_columns=["node_id", "operator_system"])
