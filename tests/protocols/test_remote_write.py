"""Remote-write bodies: encoded with Heron's generated classes (and by hand, byte by byte),
decoded by both decoders, checked row by row."""

from __future__ import annotations

import contextlib
import math
import struct
from dataclasses import dataclass, field
from typing import Any

import cramjam
import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from heron.core.errors import BadRequest, ParseError, PayloadTooLarge
from heron.protocols import remote_write as rw
from heron.protocols._pb import remote_write_v1_pb2 as v1
from heron.protocols._pb import remote_write_v2_pb2 as v2
from heron.protocols.remote_write import (
    WRITE_REQUEST_V1,
    WRITE_REQUEST_V2,
    RemoteWriteResult,
    _parse,
    decompress_snappy_block,
)

STALE_NAN = struct.unpack("<d", struct.pack("<Q", 0x7FF0000000000002))[0]
T0 = 1_700_000_000_000  # ms


@dataclass
class Series:
    """A series as a test writes it: labels in order (repeats allowed), samples (value, ms)."""

    labels: list[tuple[str, str]]
    samples: list[tuple[float, int]] = field(default_factory=list)
    exemplars: int = 0
    histograms: int = 0


def encode_v1(series: list[Series], *, metadata: int = 0) -> bytes:
    request = v1.WriteRequest()
    for s in series:
        ts = request.timeseries.add()
        for name, value in s.labels:
            ts.labels.add(name=name, value=value)
        for value, ms in s.samples:
            ts.samples.add(value=value, timestamp=ms)
        for i in range(s.exemplars):
            ts.exemplars.add(value=1.0, timestamp=ms, labels=[v1.Label(name="trace_id", value=str(i))])
        for _ in range(s.histograms):
            ts.histograms.add(count_int=3, sum=1.5, schema=1, timestamp=T0)
    for i in range(metadata):
        request.metadata.add(type=v1.MetricMetadata.COUNTER, metric_family_name=f"m{i}", help="help")
    return request.SerializeToString()


def encode_v2(series: list[Series]) -> bytes:
    request = v2.Request()
    symbols: dict[str, int] = {"": 0}
    request.symbols.append("")

    def ref(text: str) -> int:
        if text not in symbols:
            symbols[text] = len(symbols)
            request.symbols.append(text)
        return symbols[text]

    for s in series:
        ts = request.timeseries.add()
        for name, value in s.labels:
            ts.labels_refs.extend([ref(name), ref(value)])
        for value, ms in s.samples:
            ts.samples.add(value=value, timestamp=ms)
        for _ in range(s.exemplars):
            ts.exemplars.add(value=1.0, timestamp=T0, labels_refs=[ref("trace_id"), ref("abc")])
        for _ in range(s.histograms):
            ts.histograms.add(count_int=3, sum=1.5, timestamp=T0)
        ts.metadata.type = v2.Metadata.METRIC_TYPE_GAUGE
        ts.metadata.help_ref = ref("a help text")
    return request.SerializeToString()


def both(body: bytes, message: str = WRITE_REQUEST_V1, ident_fallback: str | None = None) -> RemoteWriteResult:
    """Decode with the reference decoder and with the fast path, its scan compiled and in
    numpy, each with a cold and a warm cache of known series; all must agree exactly."""
    slow = _parse(body, message=message, ident_fallback=ident_fallback, max_problems=10, reference=True)
    expected = summary(slow)
    fast = slow
    for compiled in (True, False):
        rw._KNOWN.map(ident_fallback).clear()
        fast = _parse(
            body, message=message, ident_fallback=ident_fallback, max_problems=10, reference=False, compiled=compiled
        )
        assert summary(fast) == expected, f"compiled={compiled}, cold cache"
        # The second time, series the first one described come from the cache of known series.
        again = _parse(
            body, message=message, ident_fallback=ident_fallback, max_problems=10, reference=False, compiled=compiled
        )
        assert summary(again) == expected, f"compiled={compiled}, warm cache"
    return fast


def summary(result: RemoteWriteResult) -> dict[str, Any]:
    """Everything a result says, with NaN made comparable."""
    batches = []
    for b in result.batches:
        values = [struct.pack("<d", v) for v in b.fields["value"].to_pylist()]
        tags = {k: v.to_pylist() for k, v in b.tags.items()}
        lines = b.lines.to_pylist() if b.lines is not None else None
        batches.append((b.table, b.time.to_pylist(), tags, values, lines, list(b.fields)))
    return {
        "batches": batches,
        "counts": (result.samples, result.dropped_samples, result.dropped_series),
        "ignored": (result.exemplars, result.histograms, result.metadata),
        "problems": result.problems,
        "idents": result.idents,
    }


def rows(result: RemoteWriteResult) -> list[dict[str, Any]]:
    """Rows as dicts (nulls left out), batch by batch."""
    out = []
    for b in result.batches:
        assert b.time.type == pa.int64() and b.fields["value"].type == pa.float64()
        table = pa.table({"time": b.time, **b.tags, **b.fields})
        out += [{"table": b.table, **{k: v for k, v in r.items() if v is not None}} for r in table.to_pylist()]
    return out


# --- what a request turns into --------------------------------------------------------------


def test_each_metric_is_a_table_labels_are_tags_and_ms_become_ns() -> None:
    body = encode_v1(
        [
            Series([("__name__", "up"), ("instance", "a:9100"), ("job", "node")], [(1.0, T0), (0.0, T0 + 15_000)]),
            Series([("__name__", "node_load1"), ("instance", "a:9100")], [(0.25, T0)]),
            Series([("__name__", "up"), ("instance", "b:9100"), ("job", "node")], [(1.0, T0)]),
        ]
    )
    result = both(body)
    assert [b.table for b in result.batches] == ["up", "node_load1"]
    assert rows(result) == [
        {"table": "up", "time": T0 * 10**6, "instance": "a:9100", "job": "node", "value": 1.0},
        {"table": "up", "time": (T0 + 15_000) * 10**6, "instance": "a:9100", "job": "node", "value": 0.0},
        {"table": "up", "time": T0 * 10**6, "instance": "b:9100", "job": "node", "value": 1.0},
        {"table": "node_load1", "time": T0 * 10**6, "instance": "a:9100", "value": 0.25},
    ]
    up, load = result.batches
    assert up.lines is not None and up.lines.to_pylist() == [1, 1, 3]  # the series number
    assert list(load.tags) == ["instance"]  # no column for a label the metric never has
    assert (result.samples, result.dropped_samples, result.dropped_series) == (4, 0, 0)


def test_version_2_resolves_label_references_into_the_symbols() -> None:
    series = [
        Series([("__name__", "http_requests_total"), ("code", "200"), ("method", "GET")], [(12.0, T0)]),
        Series([("__name__", "http_requests_total"), ("code", "500"), ("method", "GET")], [(1.0, T0)]),
    ]
    result = both(encode_v2(series), WRITE_REQUEST_V2)
    assert rows(result) == [
        {"table": "http_requests_total", "time": T0 * 10**6, "code": "200", "method": "GET", "value": 12.0},
        {"table": "http_requests_total", "time": T0 * 10**6, "code": "500", "method": "GET", "value": 1.0},
    ]
    assert result.metadata == 2
    assert rows(both(encode_v1(series))) == rows(result)


def test_an_empty_label_value_means_the_label_is_absent() -> None:
    result = both(encode_v1([Series([("__name__", "m"), ("a", ""), ("b", "x")], [(1.0, T0)])]))
    assert rows(result) == [{"table": "m", "time": T0 * 10**6, "b": "x", "value": 1.0}]
    assert list(result.batches[0].tags) == ["b"]


@pytest.mark.parametrize(
    ("labels", "reason"),
    [
        ([("job", "x")], "series 1 has no __name__ label"),
        ([("__name__", "")], "series 1 has no __name__ label"),
        ([("__name__", "m"), ("a", "1"), ("a", "2")], "series 1 has the label 'a' more than once"),
        ([("__name__", "m"), ("", "x")], "series 1 has a label with an empty name"),
        ([("__name__", "m"), ("Host", "a"), ("host", "b")], "series 1 has the label 'Host' more than once"),
    ],
)
def test_an_invalid_series_is_dropped_and_counted_and_the_rest_kept(labels: list[tuple[str, str]], reason: str) -> None:
    good = Series([("__name__", "ok"), ("k", "v")], [(2.0, T0)])
    result = both(encode_v1([Series(labels, [(1.0, T0), (1.5, T0 + 1)]), good]))
    assert rows(result) == [{"table": "ok", "time": T0 * 10**6, "k": "v", "value": 2.0}]
    assert (result.samples, result.dropped_samples, result.dropped_series) == (1, 2, 1)
    assert result.problems == [reason]


def test_labels_named_like_the_columns_are_renamed() -> None:
    result = both(encode_v1([Series([("__name__", "m"), ("time", "t"), ("Value", "v")], [(1.0, T0)])]))
    assert rows(result) == [{"table": "m", "time": T0 * 10**6, "label_time": "t", "label_Value": "v", "value": 1.0}]


def test_label_names_differing_in_case_share_one_column() -> None:
    result = both(
        encode_v1(
            [
                Series([("__name__", "m"), ("Host", "a")], [(1.0, T0)]),
                Series([("__name__", "m"), ("host", "b")], [(2.0, T0)]),
            ]
        )
    )
    assert [list(b.tags) for b in result.batches] == [["Host"]]
    assert [r["Host"] for r in rows(result)] == ["a", "b"]


def test_agent_hostname_becomes_ident_only_when_asked_and_only_without_an_ident() -> None:
    body = encode_v1(
        [
            Series([("__name__", "m"), ("agent_hostname", "web01")], [(1.0, T0)]),
            Series([("__name__", "m"), ("agent_hostname", "x"), ("ident", "web02")], [(2.0, T0)]),
            Series([("__name__", "m"), ("ident", "")], [(3.0, T0)]),
        ]
    )
    n9e = both(body, ident_fallback="agent_hostname")
    assert [(r.get("ident"), r.get("agent_hostname")) for r in rows(n9e)] == [
        ("web01", None),
        ("web02", "x"),
        (None, None),
    ]
    assert n9e.idents == ["web01", "web02"]
    plain = both(body)
    assert [(r.get("ident"), r.get("agent_hostname")) for r in rows(plain)] == [
        (None, "web01"),
        ("web02", "x"),
        (None, None),
    ]
    assert plain.idents == ["web02"]


def test_exemplars_histograms_and_metadata_are_counted_not_stored() -> None:
    series = [
        Series([("__name__", "m")], [(1.0, T0)], exemplars=2, histograms=1),
        Series([("__name__", "h")], histograms=3),
    ]
    for result in (both(encode_v1(series, metadata=4)), both(encode_v2(series), WRITE_REQUEST_V2)):
        assert rows(result) == [{"table": "m", "time": T0 * 10**6, "value": 1.0}]
        assert (result.exemplars, result.histograms) == (2, 4)
    assert both(encode_v1([], metadata=4)).metadata == 4


def test_a_metadata_only_request_has_no_batches_and_drops_nothing() -> None:
    result = both(encode_v1([], metadata=3))
    assert (result.batches, result.samples, result.dropped_samples) == ([], 0, 0)


def test_staleness_markers_and_special_floats_are_kept_bit_for_bit() -> None:
    values = [STALE_NAN, math.inf, -math.inf, -0.0, 5e-324]
    result = both(encode_v1([Series([("__name__", "m")], [(v, T0 + i) for i, v in enumerate(values)])]))
    got = result.batches[0].fields["value"].to_numpy()
    assert [struct.pack("<d", v) for v in got] == [struct.pack("<d", v) for v in values]


def test_a_timestamp_beyond_int64_nanoseconds_drops_the_sample_not_the_series() -> None:
    too_late = 2**63 // 10**6 + 1
    result = both(encode_v1([Series([("__name__", "m")], [(1.0, too_late), (2.0, -too_late), (3.0, 0)])]))
    assert rows(result) == [{"table": "m", "time": 0, "value": 3.0}]
    assert (result.samples, result.dropped_samples, result.dropped_series) == (1, 2, 0)
    assert result.problems[0] == f"series 1: the timestamp {too_late} ms is out of range"


def test_an_empty_body_is_an_empty_request() -> None:
    for message in (WRITE_REQUEST_V1, WRITE_REQUEST_V2):
        result = both(b"", message)
        assert (result.batches, result.samples, result.dropped_series) == ([], 0, 0)


# --- encodings Prometheus does not use, and damage ----------------------------------------


def varint(n: int) -> bytes:
    n &= 2**64 - 1
    out = bytearray()
    while n >= 0x80:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def record(number: int, wire: int, payload: bytes) -> bytes:
    if wire == 2:
        payload = varint(len(payload)) + payload
    return varint(number << 3 | wire) + payload


def test_fields_in_any_order_unknown_fields_and_long_strings_decode_alike() -> None:
    long_value = "v" * 300
    label_a = record(2, 2, b"x") + record(1, 2, b"a")  # value before name
    label_b = record(1, 2, b"b") + record(7, 0, varint(5)) + record(2, 2, long_value.encode())
    sample = record(2, 0, varint(T0)) + record(1, 1, struct.pack("<d", 4.5))
    series = (
        record(2, 2, sample)
        + record(1, 2, label_a)
        + record(20, 5, b"\x00\x00\x00\x00")
        + record(1, 2, record(1, 2, b"__name__") + record(2, 2, b"m"))
        + record(1, 2, label_b)
    )
    body = record(9, 1, bytes(8)) + record(1, 2, series) + record(30, 0, varint(1))
    result = both(body)
    assert rows(result) == [{"table": "m", "time": T0 * 10**6, "a": "x", "b": long_value, "value": 4.5}]


def test_a_field_given_twice_takes_its_last_value() -> None:
    label = record(1, 2, b"__name__") + record(2, 2, b"first") + record(2, 2, b"last")
    sample = record(1, 1, struct.pack("<d", 1.0)) + record(1, 1, struct.pack("<d", 2.0))
    body = record(1, 2, record(1, 2, label) + record(2, 2, sample))
    assert rows(both(body)) == [{"table": "last", "time": 0, "value": 2.0}]


def test_unpacked_label_references_decode_like_packed_ones() -> None:
    symbols = record(4, 2, b"") + record(4, 2, b"__name__") + record(4, 2, b"m")
    refs = record(1, 0, varint(1)) + record(1, 0, varint(2))
    body = symbols + record(5, 2, refs + record(2, 2, record(1, 1, struct.pack("<d", 1.0))))
    assert rows(both(body, WRITE_REQUEST_V2)) == [{"table": "m", "time": 0, "value": 1.0}]


@pytest.mark.parametrize(
    ("body", "message", "words"),
    [
        (b"\x0a\x05abc", WRITE_REQUEST_V1, "not a valid prometheus.WriteRequest"),
        (record(1, 2, record(1, 2, record(1, 2, b"\xff\xfe"))), WRITE_REQUEST_V1, "not a valid"),
        (b"\x0b\x08\x01", WRITE_REQUEST_V1, "not a valid"),  # a group that never ends
        (record(4, 2, b"") + record(5, 2, record(1, 2, b"\x00\x05")), WRITE_REQUEST_V2, "refers to symbol 5"),
        (record(4, 2, b"") + record(5, 2, record(1, 2, b"\x00")), WRITE_REQUEST_V2, "odd number of label references"),
        (record(5, 2, b"\xff"), WRITE_REQUEST_V2, "not a valid io.prometheus.write.v2.Request"),
    ],
)
def test_damaged_bodies_are_parse_errors_that_say_what_is_wrong(body: bytes, message: str, words: str) -> None:
    for reference in (False, True):
        with pytest.raises(ParseError, match=words) as caught:
            _parse(body, message=message, ident_fallback=None, max_problems=10, reference=reference)
        assert caught.value.status == 400


# --- snappy -------------------------------------------------------------------------------


def test_snappy_blocks_decode_within_the_limit() -> None:
    body = encode_v1([Series([("__name__", "m")], [(1.0, T0)])])
    assert decompress_snappy_block(bytes(cramjam.snappy.compress_raw(body)), max_bytes=len(body)) == body
    assert decompress_snappy_block(b"", max_bytes=10) == b""


def test_a_snappy_block_announcing_too_much_is_refused_before_decoding() -> None:
    with pytest.raises(PayloadTooLarge, match="2000000000 bytes"):
        decompress_snappy_block(varint(2_000_000_000) + b"\x00" * 10, max_bytes=1000)


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        (b"\xff\xff\xff\xff\xff\xff", "not valid snappy"),
        (varint(50) + b"\x00", "not valid snappy"),
        (bytes(cramjam.snappy.compress(b"framed")), "framed snappy"),
    ],
)
def test_damaged_snappy_is_a_bad_request(raw: bytes, words: str) -> None:
    with pytest.raises(BadRequest, match=words):
        decompress_snappy_block(raw, max_bytes=1000)


# --- properties -----------------------------------------------------------------------------

_label_names = st.from_regex(r"[a-z_][a-z0-9_]{0,6}", fullmatch=True).filter(
    lambda n: n not in ("__name__", "time", "value")
)


@st.composite
def series_lists(draw: st.DrawFn) -> list[Series]:
    out = []
    # Metric names follow Heron's rule for names (heron.core.identifiers): no control characters.
    names = st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")), min_size=1, max_size=6)
    metrics = draw(st.lists(names, min_size=1, max_size=3))
    for _ in range(draw(st.integers(0, 8))):
        labels = draw(st.dictionaries(_label_names, st.text(max_size=5), max_size=4))
        name = draw(st.sampled_from([*metrics, ""]))
        pairs = sorted([("__name__", name), *labels.items()])
        samples = draw(
            st.lists(
                st.tuples(
                    st.floats(allow_nan=False),
                    st.integers(-((2**63 - 1) // 10**6), (2**63 - 1) // 10**6),
                ),
                max_size=3,
            )
        )
        out.append(Series(pairs, samples))
    return out


def expected_rows(series: list[Series]) -> list[dict[str, Any]]:
    out = []
    for s in series:
        labels = {k: v for k, v in s.labels if v}
        name = labels.pop("__name__", "")
        for value, ms in s.samples if name else ():
            out.append({"table": name, "time": ms * 10**6, **labels, "value": value})
    # Batches come in the order their metrics first appear among the series.
    order = list(dict.fromkeys(dict(s.labels).get("__name__", "") for s in series))
    return sorted(out, key=lambda r: order.index(r["table"]))


@given(series_lists())
def test_encoded_series_decode_to_their_rows(series: list[Series]) -> None:
    for message, body in ((WRITE_REQUEST_V1, encode_v1(series)), (WRITE_REQUEST_V2, encode_v2(series))):
        result = both(body, message)
        assert rows(result) == expected_rows(series)
        assert result.samples + result.dropped_samples == sum(len(s.samples) for s in series)


#: Millisecond times that take six varint bytes (1971-2109): the layout Prometheus sends.
_PROMETHEUS_MS = st.integers(2**35, 2**42 - 1)


@given(series_lists(), st.lists(_PROMETHEUS_MS, min_size=1, max_size=3), st.sampled_from([None, "agent_hostname"]))
def test_known_series_read_from_the_cache_match_the_reference(
    series: list[Series], stamps: list[int], fallback: str | None
) -> None:
    """Bodies in Prometheus's layout (one sample per series, six-byte times) take the cached
    path; sent twice, with new values and times, they still decode exactly as the reference
    decoder says, whatever the labels (repeats, empty names, reserved names)."""
    for ms in stamps:
        shaped = [Series(s.labels, [(float(i) + ms % 7, ms)]) for i, s in enumerate(series)]
        body = encode_v1(shaped)
        result = both(body, ident_fallback=fallback)
        assert result.samples + result.dropped_samples == len(shaped)


def test_a_series_that_gains_a_sample_before_its_last_one_is_not_misread() -> None:
    """The cache keys a series by the bytes before its final sample; when those bytes hold
    another sample, the series must be decoded in full, not read as labels."""
    labels = [("__name__", "up"), ("job", "a")]
    one = encode_v1([Series(labels, [(1.0, T0)])])
    both(one)
    two = encode_v1([Series(labels, [(1.0, T0), (2.0, T0 + 1000)])])
    assert [r["value"] for r in rows(both(two))] == [1.0, 2.0]


@given(series_lists(), st.randoms(use_true_random=False), st.booleans())
def test_both_decoders_agree_on_reordered_encodings(series: list[Series], rnd: Any, junk: bool) -> None:
    encoded = []
    for s in series:
        parts = [record(1, 2, record(1, 2, k.encode()) + record(2, 2, v.encode())) for k, v in s.labels]
        parts += [record(2, 2, record(2, 0, varint(ms)) + record(1, 1, struct.pack("<d", v))) for v, ms in s.samples]
        if junk:
            parts.append(record(15, 0, varint(rnd.randrange(2**40))))
        rnd.shuffle(parts)
        encoded.append(record(1, 2, b"".join(parts)))
    shuffled, plain = rows(both(b"".join(encoded))), rows(both(encode_v1(series)))
    # Samples and labels may have moved: compare rows as sets, columns in any order.
    assert sorted(repr(sorted(r.items())) for r in shuffled) == sorted(repr(sorted(r.items())) for r in plain)


@given(st.binary(max_size=300), st.sampled_from([WRITE_REQUEST_V1, WRITE_REQUEST_V2]), st.booleans())
def test_any_bytes_give_a_result_or_a_parse_error(body: bytes, message: str, compiled: bool) -> None:
    with contextlib.suppress(ParseError):
        _parse(body, message=message, ident_fallback=None, max_problems=10, reference=False, compiled=compiled)


def test_the_compiled_scanner_is_built_here() -> None:
    """``pip install`` builds it where a compiler is present (as on Heron's machines), so the
    tests above compare it with the numpy scan; without one the numpy scan does its work."""
    assert rw._rwscan is not None


@given(st.binary(max_size=400), st.booleans())
def test_the_compiled_scanner_takes_any_bytes(body: bytes, known: bool) -> None:
    """Any bytes give None or a scan whose arrays have one entry per series."""
    assert rw._rwscan is not None
    cache: dict[bytes, Any] = {b"": "known"} if known else {}
    scanned = rw._rwscan.scan_v1(body, cache)
    if scanned is not None:
        entries, keys, firsts, lasts, values, stamps, _ = scanned
        n = len(entries)
        assert n == len(keys) and all(len(b) == 8 * n for b in (firsts, lasts, values, stamps))


@given(series_lists(), st.lists(_PROMETHEUS_MS, min_size=1, max_size=2))
def test_both_scans_find_the_same_series_values_and_times(series: list[Series], stamps: list[int]) -> None:
    assert rw._rwscan is not None
    for ms in stamps:
        body = encode_v1([Series(s.labels, [(float(i) - 0.5, ms)]) for i, s in enumerate(series)])
        cache: dict[bytes, Any] = {}
        compiled, numpy_scan = rw._rwscan.scan_v1(body, cache), rw._scan_v1(body, cache)
        if numpy_scan is not None:
            assert compiled == numpy_scan


@given(series_lists(), st.data())
def test_damaged_requests_give_a_result_or_a_parse_error(series: list[Series], data: st.DataObject) -> None:
    body = bytearray(encode_v1(series) or b"\x0a\x00")
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.integers(0, len(body) - 1))
        body[at] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(body)))
    for message in (WRITE_REQUEST_V1, WRITE_REQUEST_V2):
        for compiled in (True, False):
            with contextlib.suppress(ParseError):
                _parse(
                    bytes(body[:cut]),
                    message=message,
                    ident_fallback=None,
                    max_problems=10,
                    reference=False,
                    compiled=compiled,
                )


def test_a_large_request_decodes_alike_on_both_paths() -> None:
    rng = np.random.default_rng(7)
    series = [
        Series(
            [("__name__", f"metric_{i % 37}"), ("instance", f"host-{i % 11}:9100"), ("shard", str(i))],
            [(float(rng.normal()), T0 + 15_000 * k) for k in range(i % 3)],
        )
        for i in range(3_000)
    ]
    result = both(encode_v1(series))
    assert result.samples == sum(len(s.samples) for s in series)
    assert rows(result) == expected_rows(series)


@pytest.mark.parametrize("shift", [0, 1, 3, 5])
def test_a_value_whose_bytes_look_like_a_sample_does_not_cut_a_series(shift: int) -> None:
    """The vectorised reader finds series by the bytes their final sample starts with
    (12 10 09); a double containing them must not shift a single span."""
    raw = bytearray(struct.pack("<d", 1.5))
    raw[shift : shift + 3] = b"\x12\x10\x09"
    tricky = struct.unpack("<d", bytes(raw))[0]
    series = [Series([("__name__", "up"), ("job", str(i))], [(tricky if i % 2 else 2.0, T0 + i)]) for i in range(6)]
    result = both(encode_v1(series))
    assert [struct.pack("<d", r["value"]) for r in rows(result)] == [
        struct.pack("<d", tricky if i % 2 else 2.0) for i in range(6)
    ]
