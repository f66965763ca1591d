"""Line protocol: the spec's examples, every kind of rejected line, and both parser paths agreeing."""

from __future__ import annotations

import random
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from heron.core.batch import type_name
from heron.core.errors import ParseError
from heron.protocols import _line_protocol_fast
from heron.protocols.line_protocol import LineProtocolResult, _parse_fast, _parse_slow, parse_line_protocol
from tests.strategies import Point, encode_points, lp_like_bodies, plain_bodies, point_lists

NOW = 1_700_000_000_000_000_000
TS = 1465839830100400200

Row = tuple[str, int, int, dict[str, str], dict[str, tuple[str, Any]]]


def parse(body: bytes, **options: Any) -> LineProtocolResult:
    """Parse with both paths, check they agree, and return the public API's result."""
    options.setdefault("now_ns", NOW)
    result = parse_line_protocol(body, **options)
    assert_same(result, _parse_slow(body, **options))
    assert_same(result, _parse_fast(body, min_group_lines=1, **options))
    return result


def rows(result: LineProtocolResult) -> list[Row]:
    """Every accepted point as (table, line, time, tags, fields) with null columns left out."""
    out = []
    for batch in result.batches:
        assert batch.time.type == pa.int64() and batch.lines is not None and batch.lines.type == pa.int32()
        assert all(col.type == pa.string() for col in batch.tags.values())
        tags = {k: v.to_pylist() for k, v in batch.tags.items()}
        fields = {k: (type_name(v.type), v.to_pylist()) for k, v in batch.fields.items()}
        for i, (line, time) in enumerate(zip(batch.lines.to_pylist(), batch.time.to_pylist(), strict=True)):
            row_tags = {k: v[i] for k, v in tags.items() if v[i] is not None}
            row_fields = {k: (kind, v[i]) for k, (kind, v) in fields.items() if v[i] is not None}
            out.append((batch.table, line, time, row_tags, row_fields))
    return out


def assert_same(a: LineProtocolResult, b: LineProtocolResult) -> None:
    """Equal results: same batches (names, column order, types, values) and same errors."""
    assert (a.points, a.rejected) == (b.points, b.rejected)
    assert [(e.line, e.column, str(e)) for e in a.errors] == [(e.line, e.column, str(e)) for e in b.errors]
    assert [x.table for x in a.batches] == [y.table for y in b.batches]
    for x, y in zip(a.batches, b.batches, strict=True):
        assert list(x.tags) == list(y.tags) and list(x.fields) == list(y.fields), x.table
        assert x.lines is not None and y.lines is not None and x.lines.equals(y.lines)
        assert x.time.equals(y.time)
        for k in x.tags:
            assert x.tags[k].equals(y.tags[k]), k
        for k in x.fields:
            assert x.fields[k].type == y.fields[k].type and x.fields[k].equals(y.fields[k]), k


def only_error(body: bytes, **options: Any) -> ParseError:
    result = parse(body, **options)
    assert result.points == 0 and result.rejected == 1 and len(result.errors) == 1, result
    return result.errors[0]


# --- valid input --------------------------------------------------------------------------

F = "float"
VALID: list[tuple[bytes, list[Row]]] = [
    # The CnosDB seed's curl example.
    (b"t1,foo=a,bar=b v=1", [("t1", 1, NOW, {"foo": "a", "bar": "b"}, {"v": (F, 1.0)})]),
    # InfluxDB 1.8 line protocol reference and tutorial.
    (
        b"weather,location=us-midwest temperature=82 1465839830100400200",
        [("weather", 1, TS, {"location": "us-midwest"}, {"temperature": (F, 82.0)})],
    ),
    (
        b"weather,location=us-midwest temperature=82",
        [("weather", 1, NOW, {"location": "us-midwest"}, {"temperature": (F, 82.0)})],
    ),
    (
        b"weather,location=us-midwest,season=summer temperature=82 1465839830100400200",
        [("weather", 1, TS, {"location": "us-midwest", "season": "summer"}, {"temperature": (F, 82.0)})],
    ),
    (
        b"weather temperature=82,humidity=71 1465839830100400200",
        [("weather", 1, TS, {}, {"temperature": (F, 82.0), "humidity": (F, 71.0)})],
    ),
    (
        b'weather,location=us-midwest temperature="too warm" 1465839830100400200',
        [("weather", 1, TS, {"location": "us-midwest"}, {"temperature": ("string", "too warm")})],
    ),
    (
        b"weather,location=us-midwest too_hot=true",
        [("weather", 1, NOW, {"location": "us-midwest"}, {"too_hot": ("boolean", True)})],
    ),
    (
        b"weather,location=us\\,midwest temperature=82",
        [("weather", 1, NOW, {"location": "us,midwest"}, {"temperature": (F, 82.0)})],
    ),
    (
        b"weather,location=us-midwest temp\\=rature=82",
        [("weather", 1, NOW, {"location": "us-midwest"}, {"temp=rature": (F, 82.0)})],
    ),
    (
        b"weather,location\\ place=us-midwest temperature=82",
        [("weather", 1, NOW, {"location place": "us-midwest"}, {"temperature": (F, 82.0)})],
    ),
    (
        b"wea\\,ther,location=us-midwest temperature=82",
        [("wea,ther", 1, NOW, {"location": "us-midwest"}, {"temperature": (F, 82.0)})],
    ),
    (
        b"wea\\ ther,location=us-midwest temperature=82",
        [("wea ther", 1, NOW, {"location": "us-midwest"}, {"temperature": (F, 82.0)})],
    ),
    (b'weather temperature="too\\"hot\\""', [("weather", 1, NOW, {}, {"temperature": ("string", 'too"hot"')})]),
    (
        b'weather temperature_str="too hot/cold"',
        [("weather", 1, NOW, {}, {"temperature_str": ("string", "too hot/cold")})],
    ),
    (
        b'weather temperature_str="too hot\\\\cold"',
        [("weather", 1, NOW, {}, {"temperature_str": ("string", "too hot\\cold")})],
    ),
    (
        b'weather temperature_str="too hot\\cold"',
        [("weather", 1, NOW, {}, {"temperature_str": ("string", "too hot\\cold")})],
    ),
    (
        b'weather temperature_str="too hot\\\\\\cold"',
        [("weather", 1, NOW, {}, {"temperature_str": ("string", "too hot\\\\cold")})],
    ),
    # Quotes around names are part of the names.
    (
        b'"weather",location="us-midwest" temperature=82',
        [('"weather"', 1, NOW, {"location": '"us-midwest"'}, {"temperature": (F, 82.0)})],
    ),
    # A string may hold commas, spaces, equals signs and field-like text.
    (b'm s="a, b=c d,e=1" 5', [("m", 1, 5, {}, {"s": ("string", "a, b=c d,e=1")})]),
    (b'm s=""', [("m", 1, NOW, {}, {"s": ("string", "")})]),
    # Other backslashes stay as written, with the byte after them.
    (b"m\\=x,t\\x=a\\b f\\y=1", [("m\\=x", 1, NOW, {"t\\x": "a\\b"}, {"f\\y": (F, 1.0)})]),
    (b"m,t=a\\\\ v=1", [("m", 1, NOW, {"t": "a\\\\"}, {"v": (F, 1.0)})]),
    (b"m=x v=1", [("m=x", 1, NOW, {}, {"v": (F, 1.0)})]),
    # Every numeric spelling.
    (
        b"m a=1,b=1.5,c=-1.5e10,d=.5,e=1.,f=1E5,g=-0,h=1e-3,i=007",
        [
            (
                "m",
                1,
                NOW,
                {},
                {k: (F, v) for k, v in zip("abcdefghi", [1, 1.5, -1.5e10, 0.5, 1, 1e5, 0, 1e-3, 7], strict=True)},
            )
        ],
    ),
    (
        b"m a=12i,b=-9223372036854775808i,c=9223372036854775807i,d=0u,e=18446744073709551615u",
        [
            (
                "m",
                1,
                NOW,
                {},
                {
                    "a": ("integer", 12),
                    "b": ("integer", -(2**63)),
                    "c": ("integer", 2**63 - 1),
                    "d": ("unsigned", 0),
                    "e": ("unsigned", 2**64 - 1),
                },
            )
        ],
    ),
    (
        b"m a=t,b=T,c=true,d=True,e=TRUE,f=f,g=F,h=false,i=False,j=FALSE",
        [("m", 1, NOW, {}, {k: ("boolean", k < "f") for k in "abcdefghij"})],
    ),
    # Timestamps: negative, zero, leading zeros.
    (
        b"m v=1 -1\nm v=1 0\nm v=1 0005",
        [("m", 1, -1, {}, {"v": (F, 1.0)}), ("m", 2, 0, {}, {"v": (F, 1.0)}), ("m", 3, 5, {}, {"v": (F, 1.0)})],
    ),
    # Blank lines, comments, CRLF, indentation, extra spaces: skipped or tolerated, lines still counted.
    (
        b"# a comment\r\n\r\n  \t\n\tm v=1\r\n   # indented comment\nm  v=2   7  \nm v=3 \n",
        [("m", 4, NOW, {}, {"v": (F, 1.0)}), ("m", 6, 7, {}, {"v": (F, 2.0)}), ("m", 7, NOW, {}, {"v": (F, 3.0)})],
    ),
    # A repeated key: the last value wins; a measurement may be called time.
    (b"m,t=a,t=b v=1,v=2i", [("m", 1, NOW, {"t": "b"}, {"v": ("integer", 2)})]),
    (b"time v=1", [("time", 1, NOW, {}, {"v": (F, 1.0)})]),
    # Several tables, interleaved, with rows lacking some columns.
    (
        b"a,x=1 v=1 1\nb w=2i 2\na,y=2 u=t 3\na v=4 4",
        [
            ("a", 1, 1, {"x": "1"}, {"v": (F, 1.0)}),
            ("a", 3, 3, {"y": "2"}, {"u": ("boolean", True)}),
            ("a", 4, 4, {}, {"v": (F, 4.0)}),
            ("b", 2, 2, {}, {"w": ("integer", 2)}),
        ],
    ),
    # Non-ASCII names and values.
    (b'm\xc3\xa9,t=\xe6\x97\xa5 v="\xc3\xa9"', [("mé", 1, NOW, {"t": "日"}, {"v": ("string", "é")})]),
    (b"", []),
    (b"\n\n", []),
]


@pytest.mark.parametrize(("body", "expected"), VALID)
def test_it_parses_valid_lines(body: bytes, expected: list[Row]) -> None:
    result = parse(body)
    assert (result.errors, result.rejected) == ([], 0)
    assert rows(result) == expected
    assert result.points == len(expected)


def test_it_orders_columns_by_first_sighting_and_fills_gaps_with_nulls() -> None:
    result = parse(b"m,b=1 y=1\nm,a=1,b=2 x=1,y=2\nm z=3")
    (batch,) = result.batches
    assert list(batch.tags) == ["b", "a"] and list(batch.fields) == ["y", "x", "z"]
    assert batch.tags["a"].to_pylist() == [None, "1", None]
    assert batch.fields["z"].to_pylist() == [None, None, 3.0]


# --- invalid input ------------------------------------------------------------------------

INVALID: list[tuple[bytes, int, int, str]] = [
    # Structure: the measurement, the tag set and the field set.
    (b"m", 1, 2, "missing field set (expected field=value, got end of line)"),
    (b"m ", 1, 3, "missing field set"),
    (b"m,t=a", 1, 6, "missing field set"),
    (b",t=a v=1", 1, 1, "missing measurement (expected a measurement name, got ',')"),
    (b"  ,t=a v=1", 1, 3, "missing measurement"),
    (b" =1", 1, 4, "missing field set"),  # "=1" is the measurement
    (b"m,=a v=1", 1, 3, "empty tag key (expected a tag key, got '=')"),
    (b"m, v=1", 1, 3, "empty tag key"),
    (b"m,t v=1", 1, 4, "tag 't' has no value (expected '=', got ' ')"),
    (b"m,t= v=1", 1, 5, "empty value for tag 't' (expected a tag value, got ' ')"),
    (b"m,t=a=b v=1", 1, 6, "unescaped '=' in the value of tag 't'"),
    (b"m =1", 1, 3, "empty field key (expected a field key, got '=')"),
    (b"m v=1,", 1, 7, "empty field key (expected a field key, got end of line)"),
    (b"m v=1,,w=2", 1, 7, "empty field key"),
    (b"m v", 1, 4, "field 'v' has no value (expected '=', got end of line)"),
    (b"m v,w=1", 1, 4, "field 'v' has no value (expected '=', got ',')"),
    (b"m v=", 1, 5, "missing value for field 'v'"),
    (b"m v=,w=1", 1, 5, "missing value for field 'v'"),
    (b"m v= 1", 1, 5, "missing value for field 'v'"),
    # Field values.
    (b"m v=abc", 1, 5, "invalid field value (expected a number, \"string\", t/f or 12i/12u, got 'abc')"),
    (b"m,host=a x=1,v=abc 5", 1, 16, "invalid field value"),
    (b"m v=1.2.3", 1, 5, "invalid field value"),
    (b"m v=1e", 1, 5, "invalid field value"),
    (b"m v=.", 1, 5, "invalid field value"),
    (b"m v=-", 1, 5, "invalid field value"),
    (b"m v=+1", 1, 5, "invalid field value"),
    (b"m v=0x10", 1, 5, "invalid field value"),
    (b"m v=1_000", 1, 5, "invalid field value"),
    (b"m v=NaN", 1, 5, "invalid field value (expected a number, \"string\", t/f or 12i/12u, got 'NaN')"),
    (b"m v=nan", 1, 5, "invalid field value"),
    (b"m v=inf", 1, 5, "invalid field value"),
    (b"m v=-Infinity", 1, 5, "invalid field value"),
    (b"m v=tRue", 1, 5, "invalid field value"),
    (b"m v=yes", 1, 5, "invalid field value"),
    (b"m v=12I", 1, 5, "invalid field value"),
    (b"m v=1.5i", 1, 5, "invalid field value"),
    (b"m v=+1i", 1, 5, "invalid field value"),
    (b"m v=-1u", 1, 5, "invalid field value"),
    (b"m v=1\\ 2", 1, 5, "invalid field value"),
    (b"m v=9223372036854775808i", 1, 5, "integer out of range (expected an integer from -9223372036854775808 to"),
    (b"m v=-9223372036854775809i", 1, 5, "integer out of range"),
    (b"m v=18446744073709551616u", 1, 5, "unsigned integer out of range"),
    (b"m v=1e400", 1, 5, "float out of range (expected a finite float, got '1e400')"),
    # String field values.
    (b'm v="abc', 1, 5, "unterminated string value for field 'v' (expected a closing '\"', got end of line)"),
    (b'm v="abc\\"', 1, 5, "unterminated string value"),
    (b'm v="a"b', 1, 8, "unexpected text after the value of field 'v' (expected ',' or ' ', got 'b')"),
    (b'm v="a\nb"', 1, 5, "unterminated string value"),
    # Timestamps.
    (b"m v=1 abc", 1, 7, "invalid timestamp (expected an integer, got 'abc')"),
    (b"m v=1 1.5", 1, 7, "invalid timestamp"),
    (b"m v=1 +5", 1, 7, "invalid timestamp"),
    (b"m v=1 0x10", 1, 7, "invalid timestamp"),
    (b"m v=1 1 2", 1, 9, "unexpected text after the timestamp (expected end of line, got '2')"),
    (b"m v=1 9223372036854775808", 1, 7, "timestamp out of range"),
    # Reserved and clashing keys.
    (b"m,time=1 v=1", 1, 3, "'time' cannot be a tag key"),
    (b"m time=1", 1, 3, "'time' cannot be a field key"),
    (b"m v=1,time=2", 1, 7, "'time' cannot be a field key"),
    (b"m,t=1 t=2", 1, 7, "'t' is both a tag and a field"),
    # Encoding: the line and the first bad byte.
    (b'm v="\xff"', 1, 6, "invalid UTF-8 (expected UTF-8 text, got byte 0xff)"),
    (b"m\xc3 v=1", 1, 2, "invalid UTF-8"),
    # Columns count bytes, not characters.
    (b"m\xc3\xa9 v=x", 1, 7, "invalid field value"),
    # Line numbers count every physical line, blank and comment lines included.
    (b"# c\n\nm v=1\r\nm v=x\r\n", 4, 5, "invalid field value"),
]


@pytest.mark.parametrize(("body", "line", "column", "message"), INVALID)
def test_it_rejects_invalid_lines_with_line_and_column(body: bytes, line: int, column: int, message: str) -> None:
    error = parse(body).errors[0]
    assert (error.line, error.column) == (line, column), str(error)
    assert str(error).startswith(f"line {line}, column {column}: {message}"), str(error)
    assert error.status == 400


def test_a_newline_ends_a_string_so_the_rest_is_a_line_of_its_own() -> None:
    result = parse(b'm v="a\nb"')
    assert [(e.line, e.column) for e in result.errors] == [(1, 5), (2, 3)]


def test_the_error_carries_expected_and_got() -> None:
    error = only_error(b"m v=abc")
    assert (error.reason, error.expected, error.got) == (
        "invalid field value",
        'a number, "string", t/f or 12i/12u',
        "'abc'",
    )


# Kinds that change across lines of one measurement: each change starts a further batch of
# the table, in line order; the writer, which knows the stored types, settles who wins.
KIND_CHANGES: list[tuple[bytes, list[dict[str, str]]]] = [
    (b"m v=1\nm v=1i", [{"v": "double"}, {"v": "int64"}]),
    (b"m v=1i\nm v=1", [{"v": "int64"}, {"v": "double"}]),
    (b'm v=t\nm x=1,v="s"', [{"v": "bool"}, {"x": "double", "v": "string"}]),
    (b"m v=1u\nm v=1i", [{"v": "uint64"}, {"v": "int64"}]),
    (b"m,h=a v=1\nm h=1", [{"h": "tag", "v": "double"}, {"h": "double"}]),
    (b"m v=1\nm v=1i\nm v=2", [{"v": "double"}, {"v": "int64"}]),
]


@pytest.mark.parametrize(("body", "expected"), KIND_CHANGES)
def test_a_key_that_changes_kind_starts_a_further_batch_of_the_table(
    body: bytes, expected: list[dict[str, str]]
) -> None:
    result = parse(body)
    assert result.rejected == 0 and result.points == body.count(b"\n") + 1
    kinds = [{**{k: "tag" for k in b.tags}, **{k: str(v.type) for k, v in b.fields.items()}} for b in result.batches]
    assert kinds == expected
    assert {b.table for b in result.batches} == {"m"}


def test_batches_keep_line_order_within_each_kind() -> None:
    result = parse(b"a v=1\nb v=1i\nc v=x\nc v=1i\nc v=1\nc v=2i")
    assert [(e.line, e.reason) for e in result.errors] == [(3, "invalid field value")]
    assert [(b.table, b.fields["v"].type, b.lines.to_pylist()) for b in result.batches if b.lines is not None] == [
        ("a", pa.float64(), [1]),
        ("b", pa.int64(), [2]),
        ("c", pa.int64(), [4, 6]),
        ("c", pa.float64(), [5]),
    ]


def test_it_keeps_the_valid_lines_of_a_partly_bad_body() -> None:
    result = parse(b"m v=1 1\nm v=oops 2\nm v=3 3")
    assert [r[1:3] for r in rows(result)] == [(1, 1), (3, 3)]
    assert [(e.line, e.column) for e in result.errors] == [(2, 5)]


def test_it_keeps_at_most_max_errors_but_counts_every_rejected_line() -> None:
    body = b"\n".join([b"m v=1"] + [b"m v=x"] * 5)
    result = parse(body, max_errors=2)
    assert (result.points, result.rejected) == (1, 5)
    assert [e.line for e in result.errors] == [2, 3]
    assert parse(body, max_errors=0).errors == []


# --- precision ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("precision_nanos", "timestamp", "expected"),
    [(1, 5, 5), (1_000, 5, 5_000), (1_000_000, -5, -5_000_000), (1_000_000_000, 1_700_000_000, 1_700_000_000 * 10**9)],
)
def test_timestamps_are_scaled_by_the_precision(precision_nanos: int, timestamp: int, expected: int) -> None:
    result = parse(f"m v=1 {timestamp}".encode(), precision_nanos=precision_nanos)
    assert rows(result)[0][2] == expected


def test_a_missing_timestamp_is_now_whatever_the_precision() -> None:
    assert rows(parse(b"m v=1", precision_nanos=10**9))[0][2] == NOW


def test_a_timestamp_that_overflows_int64_nanoseconds_is_rejected() -> None:
    error = only_error(b"m v=1 9300000000", precision_nanos=10**9)  # year 2264
    assert (error.line, error.column, error.reason) == (1, 7, "timestamp out of range")


# --- bodies whole, in bulk, and with trailing junk ------------------------------------------


def tsbs_body(lines: int, *, hosts: int = 10, seed: int = 1) -> bytes:
    """TSBS-style cpu lines: 10 tags, 10 float fields, a timestamp."""
    rng = random.Random(seed)
    names = ("user", "system", "idle", "nice", "iowait", "irq", "softirq", "steal", "guest", "guest_nice")
    fields = [f"usage_{name}" for name in names]
    prefixes = [
        f"cpu,hostname=host_{h},region=r{rng.randrange(9)},datacenter=d{rng.randrange(3)},rack={rng.randrange(100)},"
        f"os=Ubuntu16.04LTS,arch=x64,team=SF,service={rng.randrange(20)},service_version=1,service_environment=test"
        for h in range(hosts)
    ]
    out = []
    for i in range(lines):
        values = ",".join(f"{name}={rng.uniform(0, 100):.2f}" for name in fields)
        out.append(f"{prefixes[i % hosts]} {values} {TS + i // hosts * 10**10}")
    return ("\n".join(out) + "\n").encode()


def test_a_large_uniform_body_takes_the_vectorised_path_whole() -> None:
    body = tsbs_body(2000)
    split = _line_protocol_fast.split_body(body, precision_nanos=1, now_ns=NOW)
    assert split is not None
    batches, slow_lines = split
    assert slow_lines == [] and len(batches) == 1 and len(batches[0]) == 2000
    result = parse(body)
    assert (result.points, result.rejected, len(result.batches)) == (2000, 0, 1)
    assert list(result.batches[0].fields)[:2] == ["usage_user", "usage_system"]


def test_small_bodies_and_small_groups_are_left_to_the_reference_parser() -> None:
    assert _line_protocol_fast.split_body(b"m v=1\n" * 10, precision_nanos=1, now_ns=NOW) is None
    split = _line_protocol_fast.split_body(tsbs_body(100) + b"mem v=1\n" * 5, precision_nanos=1, now_ns=NOW)
    assert split is not None
    batches, slow_lines = split
    assert [len(b) for b in batches] == [100]
    assert slow_lines == [(line, b"mem v=1") for line in range(101, 106)]


def test_a_large_mixed_body_gives_the_same_result_on_both_paths() -> None:
    lines = tsbs_body(600).decode().splitlines()
    lines[10] = lines[10].replace("usage_user=", "usage_user=x")  # invalid value
    lines[20] = "# a comment"
    lines[30] = lines[30].replace("usage_idle=", 'usage_text="a, b", usage_idle=', 1).replace(", usage", ",usage")
    lines[40] = lines[40].replace("cpu,", "mem,", 1)
    lines[50] = lines[50].replace("hostname=", "host name=", 1)  # an extra space
    lines[60] = lines[60].replace("usage_nice=", "usage_nice=1i,x=", 1)  # another type: a further batch
    lines[70] = lines[70].replace("usage_nice=", "usage_nicer=", 1)  # a different key set
    lines[80] = lines[80] + " 12"  # junk after the timestamp
    body = "\r\n".join(lines).encode() + b"\r\n"
    result = parse(body)
    assert [e.line for e in result.errors] == [11, 51, 81]
    assert result.points == 600 - 4
    assert [b.table for b in result.batches] == ["cpu", "mem", "cpu"]  # line 61 starts a further cpu batch


def test_a_body_parses_the_same_whole_and_with_trailing_junk() -> None:
    body = tsbs_body(300, hosts=7)
    whole = parse(body)
    assert (whole.points, whole.rejected) == (300, 0)
    for junk in (b"cpu,hostname=x usage_user=", b"\x00\xff", b"cpu", b'cpu v="'):
        result = parse(body + junk)
        assert rows(result) == rows(whole)
        assert [e.line for e in result.errors] == [301]
    # Junk glued to the last line (no newline before it) spoils that line only.
    result = parse(body.rstrip(b"\n") + b"x")
    assert rows(result) == rows(whole)[:-1] and [e.line for e in result.errors] == [300]


# --- properties ---------------------------------------------------------------------------


def expected_rows(points: list[Point]) -> list[Row]:
    by_table: dict[str, list[Row]] = {}
    for line, p in enumerate(points, start=1):
        time = NOW if p.time is None else p.time
        by_table.setdefault(p.table, []).append((p.table, line, time, p.tags, p.fields))
    return [row for table_rows in by_table.values() for row in table_rows]


@settings(deadline=None, max_examples=200)
@given(point_lists(), st.sampled_from(["\n", "\r\n"]))
def test_encoded_points_parse_back_unchanged(points: list[Point], newline: str) -> None:
    result = parse(encode_points(points, newline=newline))
    assert result.errors == []
    assert rows(result) == expected_rows(points)


@settings(deadline=None, max_examples=200)
@given(point_lists(max_points=40), st.data())
def test_both_paths_agree_on_bodies_with_damaged_lines(points: list[Point], data: st.DataObject) -> None:
    body = bytearray(encode_points(points))
    for _ in range(data.draw(st.integers(0, 4))):
        at = data.draw(st.integers(0, len(body)))
        body[at:at] = data.draw(
            st.sampled_from([b"\n", b" ", b",", b"=", b'"', b"\\", b"\t", b"#", b"x", b"\xff", b"+", b"i"])
        )
    parse(bytes(body))


@settings(deadline=None, max_examples=200)
@given(st.binary())
@example(b"\xef\xbb\xbfm v=1")
@example(b"m v=1\r\rn")
def test_any_bytes_give_a_result_not_an_exception(body: bytes) -> None:
    result = parse(body)
    assert result.points + result.rejected <= body.count(b"\n") + 1
    assert len(result.errors) == min(result.rejected, 100)


@settings(deadline=None, max_examples=200)
@given(lp_like_bodies())
def test_almost_line_protocol_gives_the_same_result_on_both_paths(body: bytes) -> None:
    result = parse(body)
    assert all(e.line >= 1 and e.column >= 1 for e in result.errors)


@settings(deadline=None, max_examples=300)
@given(plain_bodies(), st.sampled_from([1, 1000, 10**9]))
@example(b"m,m=m n=1\nm,m=m m=1\n", 1)  # one pattern, two key sets, a final newline
def test_both_paths_agree_on_bodies_the_vectorised_path_takes(body: bytes, precision_nanos: int) -> None:
    parse(body, precision_nanos=precision_nanos)
