"""Open-Falcon pushes: endpoint to ident, "k=v" tag strings, skip-and-count, and any bytes."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from heron.core.errors import ParseError
from heron.protocols.openfalcon import parse_openfalcon_json, parse_tag_string
from heron.protocols.opentsdb import MetricsResult
from tests.protocols.test_opentsdb import NOW, SEC, Row, rows
from tests.strategies import json_values, openfalcon_items


def falcon(body: Any) -> MetricsResult:
    return parse_openfalcon_json(body if isinstance(body, bytes) else orjson.dumps(body), now_ns=NOW)


# Open-Falcon's own push example (book.open-falcon.org, "data push"), one metric of two.
FALCON_EXAMPLE = [
    {
        "endpoint": "test-endpoint",
        "metric": "test-metric",
        "timestamp": 1637732157,
        "step": 60,
        "value": 1,
        "counterType": "GAUGE",
        "tags": "idc=lg,loc=beijing",
    },
    {
        "endpoint": "test-endpoint",
        "metric": "test-metric2",
        "timestamp": 1637732157,
        "step": 60,
        "value": 2,
        "counterType": "GAUGE",
        "tags": "idc=lg,loc=beijing",
    },
]


def test_the_open_falcon_example_registers_its_endpoint_as_ident() -> None:
    tags = {"idc": "lg", "loc": "beijing", "ident": "test-endpoint"}
    assert rows(falcon(FALCON_EXAMPLE)) == [
        ("test-metric", 1, 1637732157 * SEC, tags, 1.0),
        ("test-metric2", 2, 1637732157 * SEC, tags, 2.0),
    ]


def test_one_object_is_one_item() -> None:
    assert len(rows(falcon(FALCON_EXAMPLE[0]))) == 1


def test_an_ident_tag_wins_and_the_endpoint_is_kept_as_a_tag() -> None:
    item = {"endpoint": "e1", "metric": "m", "timestamp": 1, "value": "3.5", "tags": "ident=i-9"}
    assert rows(falcon(item)) == [("m", 1, SEC, {"ident": "i-9", "endpoint": "e1"}, 3.5)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", {}),
        ("a=b", {"a": "b"}),
        (" a = b , c=d ", {"a": "b", "c": "d"}),
        ("a=b,,novalue,c=", {"a": "b"}),
        ("url=http://x/?q=1", {"url": "http://x/?q=1"}),
        ("a=1,a=2", {"a": "2"}),
    ],
)
def test_tag_strings_split_on_commas_and_the_first_equals_sign(text: str, expected: dict[str, str]) -> None:
    assert parse_tag_string(text) == expected


@pytest.mark.parametrize(
    ("item", "reason"),
    [
        ([], "expected a metric object"),
        ({"value": 1}, "metric is blank"),
        ({"metric": "m"}, "value is not a number"),
        ({"metric": "m", "value": "x"}, "value is not a number"),
        ({"metric": "m", "value": 1, "timestamp": -1}, "timestamp must be positive"),
        ({"metric": "m", "value": 1, "tags": {"a": "b"}}, 'tags must be a string of "k=v" pairs'),
        ({"metric": "m", "value": 1, "endpoint": 7}, "endpoint must be a string"),
        ({"metric": "m", "value": 1, "tags": "=x"}, "empty tag name"),
        ({"metric": "m", "value": 1, "tags": "time=x"}, "'time' cannot be a tag name"),
    ],
)
def test_an_invalid_item_is_skipped_and_counted(item: Any, reason: str) -> None:
    result = falcon([{"metric": "ok", "value": 1}, item])
    assert (result.items, result.rejected) == (2, 1)
    assert result.errors[0].line == 2 and result.errors[0].reason.startswith(reason)


def test_malformed_json_raises() -> None:
    with pytest.raises(ParseError):
        falcon(b'[{"metric": "m",')


def expected_rows(items: list[dict[str, Any]]) -> list[Row]:
    out = []
    for n, item in enumerate(items, start=1):
        stamp = item.get("timestamp")
        time = NOW if stamp is None else stamp * (1_000_000 if stamp > 0xFFFFFFFF else SEC)
        tags = dict(pair.split("=", 1) for pair in item["tags"].split(",")) if item["tags"] else {}
        if item.get("endpoint"):
            tags["endpoint" if "ident" in tags else "ident"] = item["endpoint"]
        out.append((item["metric"], n, time, tags, item["value"]))
    return out


@given(openfalcon_items())
def test_items_round_trip(items: list[dict[str, Any]]) -> None:
    result = falcon(items)
    assert (result.items, result.rejected) == (len(items), 0)
    assert rows(result) == expected_rows(items)


@given(st.binary() | json_values().map(orjson.dumps))
def test_any_bytes_give_batches_or_a_parse_error(body: bytes) -> None:
    try:
        result = falcon(body)
    except ParseError:
        return
    assert result.rows + result.rejected == result.items
