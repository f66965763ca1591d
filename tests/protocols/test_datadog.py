"""Datadog series, v1 and v2 JSON: Nightingale's host and tag rules, rejected series, any bytes."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from heron.core.errors import ParseError
from heron.protocols.datadog import parse_datadog_v1, parse_datadog_v2, parse_tag_list
from heron.protocols.opentsdb import MetricsResult
from tests.protocols.test_opentsdb import SEC, Row, rows
from tests.strategies import datadog_series, json_values


def v1(body: Any) -> MetricsResult:
    return parse_datadog_v1(body if isinstance(body, bytes) else orjson.dumps(body))


def v2(body: Any) -> MetricsResult:
    return parse_datadog_v2(body if isinstance(body, bytes) else orjson.dumps(body))


# Datadog's "submit metrics" examples, v1 and v2, with the agent's host.
V1_EXAMPLE = {
    "series": [
        {
            "metric": "system.load.1",
            "type": "gauge",
            "interval": 20,
            "points": [[1636629071, 0.7], [1636629091.5, 1.1]],
            "host": "web01",
            "tags": ["environment:test", "role:db", "standalone"],
        }
    ]
}
V2_EXAMPLE = {
    "series": [
        {
            "metric": "system.load.1",
            "type": 0,
            "points": [{"timestamp": 1636629071, "value": 0.7}],
            "resources": [{"name": "dummyhost", "type": "host"}],
        }
    ]
}


def test_the_v1_example_gives_one_row_per_point_with_host_as_ident() -> None:
    tags = {"environment": "test", "role": "db", "ident": "web01"}
    assert rows(v1(V1_EXAMPLE)) == [
        ("system.load.1", 1, 1636629071 * SEC, tags, 0.7),
        ("system.load.1", 1, 1636629091500000000, tags, 1.1),
    ]


def test_the_v2_example_takes_the_host_from_its_resources() -> None:
    assert rows(v2(V2_EXAMPLE)) == [("system.load.1", 1, 1636629071 * SEC, {"ident": "dummyhost"}, 0.7)]


@pytest.mark.parametrize(
    ("tags", "host", "expected"),
    [
        (["a:b", "plain"], "", {"a": "b"}),
        (["host:h1"], "", {"ident": "h1"}),
        (["host:h1"], "h2", {"ident": "h2"}),
        (["ident:i1"], "h2", {"ident": "i1", "host": "h2"}),
        (["url:http://x:80"], "", {"url": "http://x:80"}),
        (["a:1", "a:2", "b:x", "b:"], "", {"a": "2"}),
    ],
)
def test_tags_follow_nightingale(tags: list[str], host: str, expected: dict[str, str]) -> None:
    assert parse_tag_list(tags, host) == expected


def test_v1_device_becomes_a_tag() -> None:
    series = {"series": [{"metric": "disk.used", "points": [[1, 2]], "device": "sda"}]}
    assert rows(v1(series))[0][3] == {"device": "sda"}


@pytest.mark.parametrize(
    ("item", "reason"),
    [
        ("x", "expected a series object"),
        ({"points": [[1, 1]]}, "metric is blank"),
        ({"metric": "m"}, "points must be an array"),
        ({"metric": "m", "points": [[1, 1], [1]]}, "point 2: expected a [timestamp, value] pair"),
        ({"metric": "m", "points": [[0, 1]]}, "point 1: timestamp must be positive"),
        ({"metric": "m", "points": [[1e12, 1]]}, "point 1: timestamp must be positive"),
        ({"metric": "m", "points": [[1, None]]}, "point 1: value is not a number"),
        ({"metric": "m", "points": [[1, "1"]]}, "point 1: value is not a number"),
        ({"metric": "m", "points": [], "tags": "a:b"}, "tags must be an array"),
        ({"metric": "m", "points": [], "host": 3}, "host and device must be strings"),
        ({"metric": "m", "points": [], "tags": ["value:x"]}, "'value' cannot be a tag name"),
    ],
)
def test_a_series_with_any_invalid_part_is_rejected_whole(item: Any, reason: str) -> None:
    result = v1({"series": [{"metric": "ok", "points": [[1, 1]]}, item]})
    assert (result.items, result.rejected) == (2, 1)
    assert [r[1] for r in rows(result)] == [1]
    assert result.errors[0].line == 2 and result.errors[0].reason.startswith(reason)


@pytest.mark.parametrize(
    "item",
    [
        {"metric": "m", "points": [[1, 1]]},
        {"metric": "m", "points": [{"timestamp": 1}]},
        {"metric": "m", "points": [], "resources": {"type": "host"}},
        {"metric": "m", "points": [], "resources": [{"type": "host", "name": 5}]},
    ],
)
def test_v2_rejects_v1_points_and_bad_resources(item: Any) -> None:
    result = v2({"series": [item]})
    assert result.rejected == 1


@pytest.mark.parametrize("body", [b"[]", b'{"series": {}}', b'{"series": []}', b"{", b""])
def test_v1_needs_an_object_with_series(body: bytes) -> None:
    with pytest.raises(ParseError):
        v1(body)


def test_v2_takes_an_empty_series() -> None:
    assert v2({"series": []}).items == 0


def expected_rows(series: list[dict[str, Any]], version: int) -> list[Row]:
    out = []
    for n, item in enumerate(series, start=1):
        tags = dict(tag.split(":", 1) for tag in item["tags"])
        host = item.get("host") if version == 1 else (item.get("resources") or [{}])[0].get("name")
        if host:
            tags["ident"] = host
        for point in item["points"]:
            stamp, value = point if version == 1 else (point["timestamp"], point["value"])
            out.append((item["metric"], n, round(Fraction(stamp) * SEC), tags, value))
    return out


def close(a: list[Row], b: list[Row]) -> bool:
    """Equal rows, allowing a float timestamp one nanosecond of rounding."""
    return len(a) == len(b) and all(
        x[:2] == y[:2] and abs(x[2] - y[2]) <= 1 and x[3:] == y[3:] for x, y in zip(a, b, strict=True)
    )


@given(st.sampled_from([1, 2]).flatmap(lambda v: st.tuples(st.just(v), datadog_series(version=v))))
def test_series_round_trip(drawn: tuple[int, list[dict[str, Any]]]) -> None:
    version, series = drawn
    result = (v1 if version == 1 else v2)({"series": series})
    assert (result.items, result.rejected) == (len(series), 0)
    assert close(rows(result), expected_rows(series, version))


@given(st.binary() | json_values().map(lambda doc: orjson.dumps({"series": doc})) | json_values().map(orjson.dumps))
def test_any_bytes_give_batches_or_a_parse_error(body: bytes) -> None:
    for parse in (v1, v2):
        try:
            result = parse(body)
        except ParseError:
            continue
        assert result.rejected <= result.items and len(result.errors) == result.rejected
